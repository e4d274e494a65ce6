/**
 * Honest warnings about a study's results: a study whose every trial scored within noise of the
 * majority-class baseline learned nothing, and its "best" trial is only the smallest; a study
 * whose trials all scored the same cannot rank configurations. Pure: the scheduler stores what
 * this returns on the study, and the API, the dashboard and `autopeft status` show it.
 */
import type { StudyWarning, TrialRecord } from './types.js';

/** What usually helps a study whose models did not learn. */
const ADVICE = 'more training steps (training.steps), a higher learning rate (training.learningRate), or more training examples (training.trainExamples)';

/**
 * Half-width of the band around the majority-class baseline that counts as noise for a dev set
 * of `n` examples: two standard errors of a proportion at its widest (p = 0.5), 2·0.5/√n.
 */
export function noiseBand(n: number): number {
  return 1 / Math.sqrt(Math.max(1, n));
}

/**
 * The warnings `trials` call for. `finished`: whether the study has ended (then a single complete
 * trial is enough to judge; while it runs, two are needed).
 */
export function studyWarnings(trials: readonly TrialRecord[], metric: string, finished: boolean): StudyWarning[] {
  const scored = trials.filter((t): t is TrialRecord & { metric: number } => t.state === 'complete' && t.metric !== undefined);
  if (scored.length === 0 || (!finished && scored.length < 2)) return [];
  const warnings: StudyWarning[] = [];
  const metrics = scored.map((t) => t.metric);
  const best = Math.max(...metrics);
  const baselines = scored.map((t) => t.majorityBaseline).filter((b): b is number => b !== undefined);
  if (baselines.length > 0) {
    const baseline = Math.max(...baselines);
    const band = noiseBand(Math.min(...scored.map((t) => t.training.devExamples)));
    if (best <= baseline + band) {
      warnings.push({
        code: 'no-learning',
        message: `every complete trial (${scored.length}) scored within noise of the majority-class baseline: best ${metric} ${best.toFixed(4)}, baseline ${baseline.toFixed(4)} ± ${band.toFixed(3)}; the models learned little or nothing, and the "best" trial is not evidence for its configuration`,
        advice: ADVICE,
      });
    }
  }
  if (scored.length >= 2 && best - Math.min(...metrics) < 1e-9) {
    warnings.push({
      code: 'equal-metrics',
      message: `all ${scored.length} complete trials scored the same ${metric} (${best.toFixed(4)}): the search cannot tell the configurations apart and ranks them by size alone`,
      advice: ADVICE,
    });
  }
  return warnings;
}
