/**
 * Request checks that run before any route: the Host allow-list (DNS rebinding), the Origin
 * and CORS policy (cross-site requests), and bearer-token authentication with scopes.
 *
 * The dashboard sends its token in the Authorization header, never in a cookie, so a page on
 * another origin cannot make the browser send it: a forged request arrives without a token and
 * is refused.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ForbiddenError, UnauthorizedError } from './errors.js';
import { scopeAllows } from './tokens.js';
import type { Scope, TokenRecord, TokenStore } from './tokens.js';

/** The host part of a Host header (no port, lower case, IPv6 without brackets), or undefined. */
export function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const value = header.trim().toLowerCase();
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    return end > 1 ? value.slice(1, end) : undefined;
  }
  const colon = value.indexOf(':');
  const host = colon < 0 ? value : value.slice(0, colon);
  return host || undefined;
}

/**
 * Hosts a request may name: the bound host, the loopback names, and `extra`
 * (AUTOPEFT_ALLOWED_HOSTS). A wildcard bind (0.0.0.0, ::) adds nothing: name the public host
 * in AUTOPEFT_ALLOWED_HOSTS.
 */
export function allowedHosts(boundHost: string, extra: readonly string[]): Set<string> {
  const hosts = new Set(['localhost', '127.0.0.1', '::1', ...extra.map((h) => h.trim().toLowerCase()).filter(Boolean)]);
  const bound = hostName(boundHost.includes(':') && !boundHost.startsWith('[') ? `[${boundHost}]` : boundHost);
  if (bound && bound !== '0.0.0.0' && bound !== '::') hosts.add(bound);
  return hosts;
}

/** Refuses (403 `forbidden_host`) a request whose Host header is not in `hosts`. */
export function hostCheck(hosts: ReadonlySet<string>): RequestHandler {
  return (req, res, next) => {
    const host = hostName(req.headers.host);
    if (host && hosts.has(host)) return next();
    res.status(403).json({
      error: { code: 'forbidden_host', message: `Host "${req.headers.host ?? ''}" is not served here; add it to AUTOPEFT_ALLOWED_HOSTS if it should be` },
    });
  };
}

/**
 * Cross-origin policy. Without `origins` no CORS header is sent, so browsers keep other sites'
 * pages from reading answers; requests that carry an Origin other than this server's own and
 * not in `origins` are refused outright (403 `forbidden_origin`), so they cannot change
 * anything either. Listed origins get CORS headers and preflight answers.
 */
export function originPolicy(origins: readonly string[]): RequestHandler {
  const listed = new Set(origins.map((o) => o.trim().replace(/\/+$/, '').toLowerCase()).filter(Boolean));
  return (req: Request, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    if (origin === undefined) return next();
    const normalised = origin.toLowerCase();
    const own = `http://${(req.headers.host ?? '').toLowerCase()}`;
    if (normalised === own || normalised === own.replace(/^http:/, 'https:')) return next();
    if (!listed.has(normalised)) {
      res.status(403).json({ error: { code: 'forbidden_origin', message: `requests from origin "${origin}" are not allowed; list it in AUTOPEFT_CORS_ORIGINS to allow it` } });
      return;
    }
    res.set({ 'Access-Control-Allow-Origin': origin, Vary: 'Origin' });
    if (req.method === 'OPTIONS') {
      res.set({
        'Access-Control-Allow-Methods': 'GET, HEAD, POST, DELETE',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type, Content-Encoding',
        'Access-Control-Max-Age': '600',
      });
      res.status(204).end();
      return;
    }
    next();
  };
}

/** The token of an authenticated request. */
export function callerOf(res: Response): TokenRecord {
  const token = res.locals['token'] as TokenRecord | undefined;
  if (!token) throw new UnauthorizedError('this endpoint needs a token');
  return token;
}

/** The secret of a request's `Authorization: Bearer` header, or undefined. */
function bearerSecret(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer[ \t]+(\S{1,256})[ \t]*$/i.exec(header);
  return match?.[1];
}

/**
 * Authenticates every request it sees: a valid bearer token goes on `res.locals.token`,
 * anything else is a 401 `unauthorized`.
 */
export function authenticate(tokens: TokenStore): RequestHandler {
  return (req, res, next) => {
    const secret = bearerSecret(req);
    if (!secret) {
      next(new UnauthorizedError('this endpoint needs a token: send "Authorization: Bearer <token>" (an admin creates one with `autopeft token create`)'));
      return;
    }
    tokens.verify(secret).then((token) => {
      if (!token) return next(new UnauthorizedError('the token is not valid (unknown or revoked)'));
      res.locals['token'] = token;
      next();
    }, next);
  };
}

/** Lets the request through only if its token's scope covers `scope` (403 `forbidden` otherwise). */
export function requireScope(scope: Scope): RequestHandler {
  return (_req, res, next) => {
    const token = callerOf(res);
    if (scopeAllows(token.scope, scope)) return next();
    next(new ForbiddenError(`token "${token.name}" has scope ${token.scope}; this needs ${scope}`));
  };
}
