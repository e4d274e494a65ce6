/**
 * Built-in datasets by name, each loaded at most once per process (loading the corpus costs
 * about a second and ~100 MB, far too much to repeat per trial).
 */
import { InvalidTrialError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { loadSpamAssassin, SPAM_ASSASSIN } from './spam-assassin.js';

const LOADERS: Readonly<Record<string, () => Promise<Dataset>>> = {
  [SPAM_ASSASSIN]: loadSpamAssassin,
};

const cache = new Map<string, Promise<Dataset>>();

/** Names of the built-in datasets. */
export function knownDatasets(): string[] {
  return Object.keys(LOADERS);
}

/**
 * The dataset of that name, from the process cache after the first call. Throws
 * {@link InvalidTrialError} naming the dataset and listing the known ones if it does not exist.
 */
export function loadDataset(name: string): Promise<Dataset> {
  const loader = Object.hasOwn(LOADERS, name) ? LOADERS[name] : undefined;
  if (!loader) {
    return Promise.reject(
      new InvalidTrialError(`Unknown dataset "${name}"; known datasets: ${knownDatasets().join(', ')}`),
    );
  }
  let pending = cache.get(name);
  if (!pending) {
    pending = loader();
    // A failed load is not cached, so a later trial can try again.
    pending.catch(() => cache.delete(name));
    cache.set(name, pending);
  }
  return pending;
}
