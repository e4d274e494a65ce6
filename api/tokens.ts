/**
 * API tokens: random bearer secrets with a scope, stored in RedisClient only as a SHA-256 hash.
 *
 * Layout under prefix P:
 *   P:tokens   hash: sha256(secret) hex -> JSON of the TokenRecord
 *   P:token-names  hash: token name -> sha256(secret) hex (names are unique)
 *
 * A hash of a 256-bit random secret needs no salt or slow KDF: nothing can be guessed from it,
 * and a fast hash keeps the per-request check to one HGET.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '../workers/redis-connection.js';
import { z } from 'zod';

/** What a token may do: `read` views, `submit` also creates (and cancels/deletes its own), `admin` everything. */
export const SCOPES = ['read', 'submit', 'admin'] as const;
/** One of {@link SCOPES}. */
export type Scope = (typeof SCOPES)[number];

const SCOPE_RANK: Record<Scope, number> = { read: 0, submit: 1, admin: 2 };

/** Whether a token of scope `held` may do what needs scope `needed`. */
export function scopeAllows(held: Scope, needed: Scope): boolean {
  return SCOPE_RANK[held] >= SCOPE_RANK[needed];
}

/** Per-token limits; an absent field falls back to the service's default. */
export const quotasSchema = z.strictObject({
  /** Studies queued or running at once. */
  runningStudies: z.number().int().min(0).max(100_000).optional(),
  /** `budget.maxTrials` of one study. */
  trialsPerStudy: z.number().int().min(1).max(10_000).optional(),
  /** Bytes of uploaded datasets kept at once. */
  uploadBytes: z.number().int().min(0).optional(),
});
/** Per-token limits (see {@link quotasSchema}). */
export type Quotas = z.infer<typeof quotasSchema>;
/** Names of the quotas, as they appear in errors. */
export type QuotaName = keyof Quotas;

/** Limits of a token that sets none of its own. */
export type DefaultQuotas = Required<Quotas>;

/** Quotas when the configuration gives none. */
export const DEFAULT_QUOTAS: DefaultQuotas = { runningStudies: 10, trialsPerStudy: 1000, uploadBytes: 200 * 1024 * 1024 };

/** The effective quotas of a token, or undefined for an admin (unlimited unless it sets its own). */
export function quotasOf(token: TokenRecord, defaults: DefaultQuotas): Quotas | undefined {
  if (token.scope === 'admin' && !token.quotas) return undefined;
  return { ...defaults, ...token.quotas };
}

/** Token names: what studies record as their creator and `token revoke` takes. */
export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** The body of `POST /api/tokens` (and the options of `autopeft token create`). */
export const tokenRequestSchema = z.strictObject({
  name: z.string().regex(TOKEN_NAME_PATTERN, 'must be 1 to 64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit'),
  scope: z.enum(SCOPES),
  quotas: quotasSchema.optional(),
});

/** A stored token, without its secret. */
export interface TokenRecord {
  name: string;
  scope: Scope;
  createdAt: string;
  /** Last time a request used it (updated at most once a minute). */
  lastUsedAt?: string;
  quotas?: Quotas;
}

/** A name already taken by another token. */
export class TokenNameTakenError extends Error {
  override readonly name = 'TokenNameTakenError';
}

/** Secrets start with this, so a leaked one is easy to recognise in logs and scanners. */
const SECRET_PREFIX = 'apt_';

/** A new random secret: 256 bits, base64url. */
export function newTokenSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** The stored form of a secret. */
export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

const LAST_USE_INTERVAL_MS = 60_000;

/** Reads and writes tokens in Redis. */
export class TokenStore {
  /** hash -> time its last use was last written, so a busy token costs one write a minute. */
  private readonly lastUseWritten = new Map<string, number>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private get tokensKey(): string {
    return `${this.prefix}:tokens`;
  }

  private get namesKey(): string {
    return `${this.prefix}:token-names`;
  }

  /**
   * Creates a token and returns its secret (shown once; only its hash is kept).
   * @throws TokenNameTakenError if a token of that name exists.
   */
  async create(name: string, scope: Scope, quotas?: Quotas): Promise<{ secret: string; record: TokenRecord }> {
    const secret = newTokenSecret();
    const record: TokenRecord = { name, scope, createdAt: new Date().toISOString(), ...(quotas ? { quotas } : {}) };
    if (!(await this.put(hashToken(secret), record))) throw new TokenNameTakenError(`a token named "${name}" exists; revoke it first or pick another name`);
    return { secret, record };
  }

  /**
   * Makes `secret` a token named `name` of scope `scope` (for AUTOPEFT_ADMIN_TOKEN and the local
   * token of `serve`): replaces a token of that name, keeps its creation time if the secret is
   * the same.
   */
  async ensure(name: string, scope: Scope, secret: string): Promise<TokenRecord> {
    const hash = hashToken(secret);
    const [oldHash, existing] = await Promise.all([this.redis.hget(this.namesKey, name), this.redis.hget(this.tokensKey, hash)]);
    const previous = existing ? (JSON.parse(existing) as TokenRecord) : undefined;
    const record: TokenRecord = { name, scope, createdAt: previous?.name === name ? previous.createdAt : new Date().toISOString() };
    const multi = this.redis.multi();
    if (oldHash && oldHash !== hash) multi.hdel(this.tokensKey, oldHash);
    if (previous && previous.name !== name) multi.hdel(this.namesKey, previous.name);
    await multi.hset(this.tokensKey, hash, JSON.stringify(record)).hset(this.namesKey, name, hash).exec();
    return record;
  }

  /** Stores a record under a hash unless the name is taken; true if stored. */
  private async put(hash: string, record: TokenRecord): Promise<boolean> {
    const stored = await this.redis.eval(
      `if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
       redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) return 1`,
      2,
      this.tokensKey,
      this.namesKey,
      record.name,
      hash,
      JSON.stringify(record),
    );
    return stored === 1;
  }

  /** The token a secret stands for, or undefined; records the use. */
  async verify(secret: string): Promise<TokenRecord | undefined> {
    const hash = hashToken(secret);
    const json = await this.redis.hget(this.tokensKey, hash);
    if (json === null) return undefined;
    const record = JSON.parse(json) as TokenRecord;
    const now = Date.now();
    if (now - (this.lastUseWritten.get(hash) ?? 0) >= LAST_USE_INTERVAL_MS) {
      this.lastUseWritten.set(hash, now);
      record.lastUsedAt = new Date(now).toISOString();
      // Only if the token still exists: a revoke in between must win.
      await this.redis.eval(
        `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return 0`,
        1,
        this.tokensKey,
        hash,
        JSON.stringify(record),
      );
    }
    return record;
  }

  /** Every token, by name. */
  async list(): Promise<TokenRecord[]> {
    const all = await this.redis.hvals(this.tokensKey);
    return all.map((json) => JSON.parse(json) as TokenRecord).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Revokes the token of that name; false if there is none. */
  async revoke(name: string): Promise<boolean> {
    const hash = await this.redis.hget(this.namesKey, name);
    if (hash === null) return false;
    await this.redis.multi().hdel(this.tokensKey, hash).hdel(this.namesKey, name).exec();
    this.lastUseWritten.delete(hash);
    return true;
  }
}
