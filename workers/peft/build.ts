/** Turns a declarative {@link PeftConfig} into the modules the encoder runs. */
import type { EncoderShape, PeftConfig } from '../../search/types.js';
import type { Tf } from '../backend.js';
import { deriveSeed } from '../random.js';
import { LoraModule } from './lora.js';
import type { PeftModule } from './peft-module.js';

// Per-method salts keep the methods' random streams apart for the same trial seed.
const LORA_SALT = 0x10ca;

/**
 * Builds (and validates) every module of the configuration, in the order the encoder applies
 * them. An empty configuration gives no modules (only the task head trains).
 * Throws `InvalidTrialError` for a configuration that cannot be built.
 */
export function buildPeftModules(tf: Tf, peft: PeftConfig, shape: EncoderShape, seed: number): PeftModule[] {
  const modules: PeftModule[] = [];
  try {
    if (peft.lora) modules.push(new LoraModule(tf, peft.lora, shape, deriveSeed(seed, LORA_SALT)));
  } catch (error) {
    // A later module failing validation must not leak the variables of earlier ones.
    for (const module of modules) module.dispose();
    throw error;
  }
  return modules;
}
