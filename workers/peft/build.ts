/**
 * Turns a declarative {@link PeftConfig} into the modules the encoder runs, and moves their
 * weights in and out (the stored form an exported adapter keeps).
 */
import type { Tensor } from '@tensorflow/tfjs';
import { presentMethods } from '../methods/registry.js';
import type { EncoderShape, PeftConfig } from '../../search/types.js';
import type { Tf } from '../backend.js';
import { InvalidTrialError } from '../errors.js';
import type { EncoderWeights } from '../model/weights.js';
import { deriveSeed } from '../random.js';
import type { PeftModule } from './peft-module.js';
import type { BuildMode } from './prefix.js';

export type { BuildMode } from './prefix.js';

/** Options of {@link buildPeftModules}. */
export interface BuildPeftOptions {
  /** The base weights; needed by BitFit, whose biases start as copies of them. */
  weights?: EncoderWeights;
  /**
   * `training` builds what trains (prefix-tuning's MLP); `stored` builds the form an exported
   * adapter keeps, ready for {@link loadPeftWeights}. @defaultValue 'training'
   */
  mode?: BuildMode;
}

/**
 * Builds (and validates) every module of the configuration, in registry order, the order the
 * encoder applies them (see methods/registry.ts). Each method's random stream is the trial seed
 * salted with the method's own salt. An empty configuration gives no modules (only the task
 * head trains). Throws `InvalidTrialError` for a configuration that cannot be built.
 */
export function buildPeftModules(tf: Tf, peft: PeftConfig, shape: EncoderShape, seed: number, options: BuildPeftOptions = {}): PeftModule[] {
  const modules: PeftModule[] = [];
  const ctx = { tf, shape, weights: options.weights, mode: options.mode ?? 'training', gates: peft.gates ?? {} } as const;
  try {
    for (const { method, config } of presentMethods(peft)) {
      if (config === null || typeof config !== 'object') throw new InvalidTrialError(`Invalid ${method.title} configuration: it must be an object`);
      const module = method.build(config, { ...ctx, seed: deriveSeed(seed, method.salt) });
      if (module) modules.push(module);
    }
  } catch (error) {
    // A later module failing validation must not leak the variables of earlier ones.
    for (const module of modules) module.dispose();
    throw error;
  }
  return modules;
}

/**
 * The weights an exported adapter keeps, by name (new tensors: dispose them). Their total size
 * is `countPeftParams(peft, shape, 'stored')`.
 */
export function storedPeftWeights(tf: Tf, modules: readonly PeftModule[]): Map<string, Tensor> {
  const stored = new Map<string, Tensor>();
  for (const module of modules) {
    const weights = module.storedWeights ? module.storedWeights() : new Map([...module.variables].map(([name, v]) => [name, tf.clone(v)]));
    for (const [name, tensor] of weights) stored.set(name, tensor);
  }
  return stored;
}

/**
 * Assigns stored weights (e.g. read back from an export) to modules built in `stored` mode.
 * Every variable must be present with its shape; an error names the first that is not, and
 * names that belong to no module are reported too.
 */
export function loadPeftWeights(modules: readonly PeftModule[], weights: ReadonlyMap<string, Tensor>): void {
  const used = new Set<string>();
  for (const module of modules) {
    for (const [name, variable] of module.variables) {
      const tensor = weights.get(name);
      if (!tensor) throw new InvalidTrialError(`adapter weights lack "${name}"`);
      if (tensor.shape.join(',') !== variable.shape.join(',')) {
        throw new InvalidTrialError(`adapter weight "${name}" has shape [${tensor.shape.join(', ')}], expected [${variable.shape.join(', ')}]`);
      }
      variable.assign(tensor);
      used.add(name);
    }
  }
  const unknown = [...weights.keys()].filter((name) => !used.has(name) && !name.startsWith('classifier.'));
  if (unknown.length > 0) throw new InvalidTrialError(`adapter weights have tensors no module uses: ${unknown.slice(0, 5).join(', ')}`);
}
