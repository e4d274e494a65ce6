/**
 * Finds a base model by name: a built-in from the catalog, else a Hugging Face directory of that
 * name under the configured model root, registered on first use.
 */
import { resolveModelDir } from '../data/paths.js';
import { InvalidTrialError } from '../errors.js';
import type { BaseModelEntry } from './catalog.js';
import { BASE_MODELS, findBaseModel, hfDirEntry, registerBaseModel } from './catalog.js';

/**
 * The entry of base model `name`.
 * @throws InvalidTrialError naming the model and what is wrong (unknown, unsafe name, no config.json).
 */
export async function resolveBaseModel(name: string, modelRoot?: string): Promise<BaseModelEntry> {
  const known = findBaseModel(name);
  if (known) return known;
  if (!modelRoot) {
    throw new InvalidTrialError(`unknown base model "${name}"; available: ${Object.keys(BASE_MODELS).join(', ')} (or a model directory under AUTOPEFT_MODEL_ROOT)`);
  }
  const dir = await resolveModelDir(modelRoot, name);
  let entry: BaseModelEntry;
  try {
    entry = hfDirEntry(dir, `Hugging Face model directory "${name}" under the model root`);
  } catch (error) {
    throw new InvalidTrialError(`base model "${name}": ${error instanceof Error ? error.message.replace(dir, name) : String(error)}`);
  }
  registerBaseModel(name, entry);
  return entry;
}
