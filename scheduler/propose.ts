/**
 * Asking the search for a study's next points. Pure: the same study, history and trial numbers
 * give the same points, so it can run in a background thread ({@link ProposalThread}) and a
 * restarted scheduler proposes what the old one would have.
 */
import { countHeadParams } from '../search/param-count.js';
import { getPreset, presetObjectives } from '../search/presets.js';
import { createSampler } from '../search/sampler.js';
import type { TrialObservation } from '../search/sampler.js';
import type { SearchPoint } from '../search/types.js';
import { BackgroundThread, serveInThread } from './background-thread.js';
import type { StudyRecord } from './types.js';

/** What a proposal needs: the study, its history, and the numbers of the trials to propose. */
export interface ProposalRequest {
  study: StudyRecord;
  history: TrialObservation[];
  numbers: number[];
  /** Configurations trained first, in order (a warm start); trial i is configuration i. */
  configurations?: SearchPoint[];
}

/** The proposed points, or the sampler's message when it cannot propose. */
export type ProposalOutcome = { ok: true; points: SearchPoint[] } | { ok: false; message: string };

/** The study's sampler's next points for `numbers`. */
export function proposePoints({ study, history, numbers, configurations }: ProposalRequest): ProposalOutcome {
  const { baseShape: shape, headOutputs: numLabels, spec } = study;
  const preset = getPreset(spec.preset);
  // Enqueued configurations (warmStart) come first, in order; the sampler sees them as pending.
  const enqueued = configurations ?? (spec.warmStart && 'configurations' in spec.warmStart ? spec.warmStart.configurations : []);
  const toAsk = numbers.filter((n) => n >= enqueued.length);
  const queued: TrialObservation[] = numbers.filter((n) => n < enqueued.length).map((n) => ({ number: n, point: enqueued[n]!, state: 'pending' }));
  if (toAsk.length === 0) return { ok: true, points: numbers.map((n) => enqueued[n]!) };
  try {
    const asked = createSampler(spec.algorithm.name).ask({
      space: spec.searchSpace,
      seed: spec.algorithm.seed,
      history: [...history, ...queued],
      numbers: toAsk,
      objectives: presetObjectives(preset, shape, {
        extraParams: countHeadParams(shape, numLabels),
        ...(spec.objectives.maxTrainablePercent !== undefined ? { maxTrainablePercent: spec.objectives.maxTrainablePercent } : {}),
      }),
      isValid: (point) => preset.isValid(point),
      budget: spec.budget.maxTrials,
      ...(study.reference ? { referencePoint: study.reference.point } : spec.objectives.referencePoint ? { referencePoint: spec.objectives.referencePoint } : {}),
    });
    return { ok: true, points: numbers.map((n) => (n < enqueued.length ? enqueued[n]! : asked[toAsk.indexOf(n)]!)) };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

serveInThread<ProposalRequest, ProposalOutcome>(import.meta.url, proposePoints);

/** Runs {@link proposePoints} in a background thread: a GP fit never blocks the event loop. */
export class ProposalThread {
  private readonly thread = new BackgroundThread<ProposalRequest, ProposalOutcome>(new URL(import.meta.url));

  /** The proposal, computed in the thread. */
  propose(request: ProposalRequest): Promise<ProposalOutcome> {
    return this.thread.run(request);
  }

  /** Stops the thread. */
  close(): Promise<void> {
    return this.thread.close();
  }
}
