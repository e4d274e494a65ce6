/**
 * The local admin token of `autopeft serve`: kept in a file only this user can read, so that
 * `npm start` prints a dashboard URL that works (as Jupyter does) and the CLI on the same
 * machine needs no set-up. Redis keeps only its hash.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { newTokenSecret } from './tokens.js';

/** The local token in the file at `path` (Config.tokenFile), or undefined if there is none (or it cannot be read). */
export async function readLocalToken(path: string): Promise<string | undefined> {
  try {
    const secret = (await readFile(path, 'utf8')).trim();
    return /^\S{16,256}$/.test(secret) ? secret : undefined;
  } catch {
    return undefined;
  }
}

/** The local token, created (mode 0600) if there is none. */
export async function ensureLocalToken(path: string): Promise<string> {
  const existing = await readLocalToken(path);
  if (existing) return existing;
  const secret = newTokenSecret();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${secret}\n`, { mode: 0o600 });
  return secret;
}
