/**
 * One optimiser step of a model with PEFT modules, with the modules' training hooks: the loss
 * plus every module's `regularizationLoss`, the AdamW update, then every module's
 * `afterOptimizerStep` with its own gradients. The trial loop and the per-method tests both
 * train through it, so a method's hooks run wherever it trains.
 */
import type { Scalar, Tensor } from '@tensorflow/tfjs';
import type { Tf } from '../backend.js';
import type { PeftModule } from '../peft/peft-module.js';
import type { AdamW } from './adamw.js';

/** Where in training a step is. */
export interface StepPosition {
  /** The step being taken, from 1. */
  step: number;
  totalSteps: number;
}

/** The task loss plus every module's regularisation term. */
export function regularizedLoss(tf: Tf, modules: readonly PeftModule[], taskLoss: () => Scalar): () => Scalar {
  const regularizing = modules.filter((m) => m.regularizationLoss !== undefined);
  if (regularizing.length === 0) return taskLoss;
  return () => {
    let total = taskLoss();
    for (const module of regularizing) {
      const term = module.regularizationLoss!();
      if (term) total = tf.add(total, term);
    }
    return total;
  };
}

/** Runs the modules' after-step hooks, giving each the gradients of its own variables by its own names. */
export function runAfterStepHooks(modules: readonly PeftModule[], gradients: ReadonlyMap<string, Tensor>, position: StepPosition): void {
  for (const module of modules) {
    if (!module.afterOptimizerStep) continue;
    const own = new Map<string, Tensor>();
    for (const [name, variable] of module.variables) {
      const gradient = gradients.get(variable.name);
      if (gradient) own.set(name, gradient);
    }
    module.afterOptimizerStep({ ...position, gradients: own });
  }
}

/**
 * One training step: minimises the task loss plus the modules' regularisers at `learningRate`,
 * then runs their after-step hooks. Returns the loss (regularisers included; the caller
 * disposes it) when `returnLoss`.
 */
export function peftTrainingStep(
  tf: Tf,
  optimizer: AdamW,
  modules: readonly PeftModule[],
  taskLoss: () => Scalar,
  learningRate: number,
  position: StepPosition,
  returnLoss: boolean,
): Scalar | undefined {
  const hooked = modules.some((m) => m.afterOptimizerStep !== undefined);
  const afterStep = hooked ? (gradients: ReadonlyMap<string, Tensor>): void => runAfterStepHooks(modules, gradients, position) : undefined;
  return optimizer.minimize(regularizedLoss(tf, modules, taskLoss), learningRate, returnLoss, afterStep);
}
