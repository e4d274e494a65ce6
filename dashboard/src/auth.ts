/**
 * The dashboard's API token. `autopeft serve` prints the dashboard URL with `?token=...`; the
 * page moves it into session storage (so it leaves the address bar and the history) and sends
 * it in the Authorization header of every request. No cookie is ever set, so a page on
 * another site cannot make the browser send the token (no CSRF).
 */

const STORAGE_KEY = 'autopeft-token';

/** Takes a `?token=` from the address into session storage and removes it from the URL. */
export function adoptTokenFromUrl(): void {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (token === null) return;
  if (token.trim()) setToken(token.trim());
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
}

/** The stored token, or undefined. */
export function getToken(): string | undefined {
  try {
    return window.sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Stores a token for this tab (or forgets it, given undefined). */
export function setToken(token: string | undefined): void {
  try {
    if (token) window.sessionStorage.setItem(STORAGE_KEY, token);
    else window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage refused (private mode): the token lasts until the page is reloaded.
  }
}

/** Headers that authenticate a request (none without a token). */
export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

type Listener = (reason: string) => void;
const listeners: Listener[] = [];

/** Calls `listener` whenever the API refuses the token (401). */
export function onTokenRefused(listener: Listener): void {
  listeners.push(listener);
}

/** Reports that the API refused the token; the page asks for another. */
export function tokenRefused(reason: string): void {
  for (const listener of listeners) listener(reason);
}
