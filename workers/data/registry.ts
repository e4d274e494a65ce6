/**
 * Datasets by reference: a built-in name (`spam-assassin`), an upload (`upload:<id>`, read from
 * Redis through the context) or a path under the data root (`file:<relative path>`, optionally
 * with parsing options as a query: `file:reviews.csv?textField=review&labelField=stars`).
 * Loaded datasets are cached per process: loading a corpus costs about a second, far too much
 * to repeat per trial.
 */
import { InvalidTrialError } from '../errors.js';
import { loadBrownGenre, loadBrownNextSentence, BROWN_GENRE, BROWN_NEXT_SENTENCE } from './brown.js';
import type { Dataset, TaskKind } from './dataset.js';
import { DataPathError, DatasetError } from './errors.js';
import { normaliseFormat } from './formats.js';
import { loadSpamAssassin, SPAM_ASSASSIN } from './spam-assassin.js';
import { parseStoredDataset, UPLOAD_ID_PATTERN } from './stored.js';
import type { UserDataOptions } from './user-data.js';
import { loadDatasetFromPath } from './user-data.js';

// spam-assassin first: error messages list the known datasets in this order.
const LOADERS: Readonly<Record<string, () => Promise<Dataset>>> = {
  [SPAM_ASSASSIN]: loadSpamAssassin,
  [BROWN_GENRE]: loadBrownGenre,
  [BROWN_NEXT_SENTENCE]: loadBrownNextSentence,
};

/** Where datasets other than the built-ins come from; both optional. */
export interface DatasetContext {
  /** The allow-listed directory `file:` references are relative to (AUTOPEFT_DATA_ROOT). */
  dataRoot?: string;
  /** The stored JSON of an upload, or undefined if there is none (a Redis GET in production). */
  fetchUpload?: (id: string) => Promise<string | undefined>;
}

/** A parsed dataset reference. */
export type DatasetRef =
  | { type: 'builtin'; name: string }
  | { type: 'upload'; id: string }
  | { type: 'file'; path: string; options: UserDataOptions };

/** Names of the built-in datasets. */
export function knownDatasets(): string[] {
  return Object.keys(LOADERS);
}

const FILE_OPTIONS = ['format', 'textField', 'textPairField', 'labelField', 'kind', 'labels', 'devFraction', 'splitSeed'];

/**
 * Parses the parsing options of a `file:` reference's query or an upload's query parameters.
 * @throws DatasetError naming the option and the problem.
 */
export function parseUserDataOptions(params: URLSearchParams, where: string): UserDataOptions {
  const options: UserDataOptions = {};
  const fail = (problem: string): never => {
    throw new DatasetError({ file: where }, problem);
  };
  for (const key of params.keys()) {
    if (!FILE_OPTIONS.includes(key)) fail(`unknown option "${key}"; options: ${FILE_OPTIONS.join(', ')}`);
  }
  const format = params.get('format');
  if (format) options.format = normaliseFormat(format, where);
  for (const key of ['textField', 'textPairField', 'labelField'] as const) {
    const value = params.get(key);
    if (value !== null) {
      if (value === '') fail(`option ${key} is empty`);
      options[key] = value;
    }
  }
  const kind = params.get('kind');
  if (kind !== null) {
    if (kind !== 'classification' && kind !== 'regression') fail(`option kind must be classification or regression, got "${kind}"`);
    options.kind = kind as TaskKind;
  }
  const labels = params.get('labels');
  if (labels !== null) options.labels = labels.split(',').map((l) => l.trim());
  const devFraction = params.get('devFraction');
  if (devFraction !== null) {
    const value = Number(devFraction);
    if (!(value > 0 && value < 1)) fail(`option devFraction must be a number in (0, 1), got "${devFraction}"`);
    options.devFraction = value;
  }
  const splitSeed = params.get('splitSeed');
  if (splitSeed !== null) {
    const value = Number(splitSeed);
    if (!Number.isSafeInteger(value) || value < 0) fail(`option splitSeed must be a non-negative integer, got "${splitSeed}"`);
    options.splitSeed = value;
  }
  return options;
}

/**
 * Parses a dataset reference without touching any file or store.
 * @throws InvalidTrialError for an unknown built-in name or a malformed reference.
 */
export function parseDatasetRef(ref: string): DatasetRef {
  if (ref.startsWith('upload:')) {
    const id = ref.slice('upload:'.length);
    if (!UPLOAD_ID_PATTERN.test(id)) throw new InvalidTrialError(`Dataset reference "${ref}": "${id}" is not an upload id`);
    return { type: 'upload', id };
  }
  if (ref.startsWith('file:')) {
    const rest = ref.slice('file:'.length);
    const q = rest.indexOf('?');
    const relativePath = q < 0 ? rest : rest.slice(0, q);
    if (relativePath === '') throw new DataPathError(`Dataset reference "${ref}": the path is empty`);
    const options = q < 0 ? {} : parseUserDataOptions(new URLSearchParams(rest.slice(q + 1)), ref);
    return { type: 'file', path: relativePath, options };
  }
  if (!Object.hasOwn(LOADERS, ref)) {
    throw new InvalidTrialError(
      `Unknown dataset "${ref}"; known datasets: ${knownDatasets().join(', ')} (or upload:<id>, file:<path under the data root>)`,
    );
  }
  return { type: 'builtin', name: ref };
}

/** Uploads are immutable and built-ins fixed, so both cache forever; a few file datasets are kept. */
const cache = new Map<string, Promise<Dataset>>();
const FILE_CACHE_SIZE = 4;
const fileKeys: string[] = [];

function cached(key: string, load: () => Promise<Dataset>): Promise<Dataset> {
  let pending = cache.get(key);
  if (!pending) {
    pending = load();
    // A failed load is not cached, so a later trial can try again.
    pending.catch(() => cache.delete(key));
    cache.set(key, pending);
  }
  return pending;
}

/**
 * The dataset a reference names, from the process cache after the first call. `file:` datasets
 * are re-read each call once evicted, so an edited file is seen by later trials; within a study
 * use immutable data (or an upload).
 * @throws InvalidTrialError (or its kinds DatasetError, DataPathError) naming the problem: an
 * unknown built-in, a missing upload, a path outside the data root, malformed content.
 */
export function loadDataset(ref: string, context: DatasetContext = {}): Promise<Dataset> {
  let parsed: DatasetRef;
  try {
    parsed = parseDatasetRef(ref);
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
  switch (parsed.type) {
    case 'builtin':
      return cached(ref, LOADERS[parsed.name]!);
    case 'upload': {
      const { fetchUpload } = context;
      if (!fetchUpload) return Promise.reject(new InvalidTrialError(`Dataset "${ref}": this process cannot read uploads (no store)`));
      return cached(ref, async () => {
        const json = await fetchUpload(parsed.id);
        if (json === undefined) throw new InvalidTrialError(`Dataset "${ref}": no upload with id "${parsed.id}"`);
        return parseStoredDataset(json, parsed.id);
      });
    }
    case 'file': {
      const { dataRoot } = context;
      if (!dataRoot) return Promise.reject(new DataPathError(`Dataset "${ref}": no data root is configured (AUTOPEFT_DATA_ROOT)`));
      const key = `${dataRoot}\0${ref}`;
      if (!cache.has(key)) {
        fileKeys.push(key);
        if (fileKeys.length > FILE_CACHE_SIZE) cache.delete(fileKeys.shift()!);
      }
      return cached(key, () => loadDatasetFromPath(dataRoot, parsed.path, parsed.options));
    }
  }
}
