/**
 * Turns a declarative {@link PeftConfig} into the modules the encoder runs, and moves their
 * weights in and out (the stored form an exported adapter keeps).
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { EncoderShape, PeftConfig } from '../../search/types.js';
import type { Tf } from '../backend.js';
import { InvalidTrialError } from '../errors.js';
import type { EncoderWeights } from '../model/weights.js';
import { deriveSeed } from '../random.js';
import { ParallelAdapterModule, SerialAdapterModule } from './adapters.js';
import { BitFitModule } from './bitfit.js';
import { Ia3Module } from './ia3.js';
import { LoraModule } from './lora.js';
import type { PeftModule } from './peft-module.js';
import type { BuildMode } from './prefix.js';
import { PrefixTuningModule } from './prefix.js';
import { PromptTuningModule } from './prompt.js';

export type { BuildMode } from './prefix.js';

// Per-method salts keep the methods' random streams apart for the same trial seed.
const SALT = { lora: 0x10ca, serial: 0x5e7a, parallel: 0x9a7a, prefix: 0x9ef1, prompt: 0x9707 } as const;

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
 * Builds (and validates) every module of the configuration, in the order the encoder applies
 * them: BitFit, LoRA, (IA)3, prefix-tuning, parallel adapter, serial adapter, prompt tuning.
 * An empty configuration gives no modules (only the task head trains). Throws
 * `InvalidTrialError` for a configuration that cannot be built.
 */
export function buildPeftModules(tf: Tf, peft: PeftConfig, shape: EncoderShape, seed: number, options: BuildPeftOptions = {}): PeftModule[] {
  const modules: PeftModule[] = [];
  const gates = peft.gates ?? {};
  try {
    if (peft.bitfit) {
      if (!options.weights) throw new InvalidTrialError('BitFit needs the base weights to copy its biases from');
      modules.push(new BitFitModule(tf, peft.bitfit, shape, options.weights));
    }
    if (peft.lora) modules.push(new LoraModule(tf, peft.lora, shape, deriveSeed(seed, SALT.lora), gates.lora === true));
    if (peft.ia3) modules.push(new Ia3Module(tf, peft.ia3, shape));
    if (peft.prefix) {
      modules.push(
        new PrefixTuningModule(tf, peft.prefix, shape, deriveSeed(seed, SALT.prefix), { mode: options.mode, gated: gates.prefix === true }),
      );
    }
    if (peft.parallelAdapter) modules.push(new ParallelAdapterModule(tf, peft.parallelAdapter, shape, deriveSeed(seed, SALT.parallel)));
    if (peft.serialAdapter) {
      modules.push(new SerialAdapterModule(tf, peft.serialAdapter, shape, deriveSeed(seed, SALT.serial), gates.serialAdapter === true));
    }
    if (peft.promptTuning) modules.push(new PromptTuningModule(tf, peft.promptTuning, shape, deriveSeed(seed, SALT.prompt)));
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
