/**
 * Safe paths under allow-listed roots: users name data files and model directories relative to
 * a root the operator chose (AUTOPEFT_DATA_ROOT, AUTOPEFT_MODEL_ROOT), and nothing they write
 * reaches outside it, neither by `..`, nor by an absolute path, nor through a symlink.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { DataPathError } from './errors.js';

function isInside(child: string, root: string): boolean {
  return child === root || child.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/**
 * The real path of `relativePath` under `root`, after following every symlink.
 * @throws DataPathError for an empty, absolute or `..`-containing path, one that does not exist,
 * or one that resolves (through a symlink) outside the root. Messages name the relative path only,
 * never the server's directories.
 */
export async function resolveUnderRoot(root: string, relativePath: string, what = 'data'): Promise<string> {
  if (!root) throw new DataPathError(`no ${what} root is configured, so ${what} paths cannot be used`);
  const shown = JSON.stringify(relativePath);
  if (relativePath.trim() === '') throw new DataPathError(`${what} path is empty`);
  if (relativePath.includes('\0')) throw new DataPathError(`${what} path ${shown} contains a NUL character`);
  if (path.isAbsolute(relativePath) || path.win32.isAbsolute(relativePath) || /^[A-Za-z]:/.test(relativePath)) {
    throw new DataPathError(`${what} path ${shown} is absolute; give a path relative to the ${what} root`);
  }
  if (relativePath.split(/[\\/]/).includes('..')) {
    throw new DataPathError(`${what} path ${shown} contains "..", which could leave the ${what} root`);
  }
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch {
    throw new DataPathError(`the ${what} root does not exist`);
  }
  let real: string;
  try {
    real = await realpath(path.resolve(realRoot, relativePath));
  } catch {
    throw new DataPathError(`${what} path ${shown} does not exist under the ${what} root`);
  }
  if (!isInside(real, realRoot)) {
    throw new DataPathError(`${what} path ${shown} resolves outside the ${what} root (through a symlink)`);
  }
  return real;
}

/** Model names: one or two segments (`my-bert` or `org/my-bert`) of letters, digits, `.`, `_`, `-`. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;

/**
 * The real directory of the model `name` under `modelRoot` (Hugging Face layout), checked to
 * contain a `config.json` that also lies inside the root.
 * @throws DataPathError for a malformed name, an escape, a missing directory or a missing config.json.
 */
export async function resolveModelDir(modelRoot: string, name: string): Promise<string> {
  if (!MODEL_NAME.test(name) || name.split('/').some((s) => s === '.' || s === '..')) {
    throw new DataPathError(
      `model name ${JSON.stringify(name)} is not valid: use letters, digits, ".", "_" and "-", optionally as "org/name"`,
    );
  }
  const dir = await resolveUnderRoot(modelRoot, name, 'model');
  if (!(await stat(dir)).isDirectory()) throw new DataPathError(`model ${JSON.stringify(name)} is not a directory`);
  const config = await resolveUnderRoot(modelRoot, `${name}/config.json`, 'model').catch(() => {
    throw new DataPathError(`model ${JSON.stringify(name)} has no config.json (expected a Hugging Face model directory)`);
  });
  if (!(await stat(config)).isFile()) throw new DataPathError(`model ${JSON.stringify(name)}: config.json is not a file`);
  return dir;
}
