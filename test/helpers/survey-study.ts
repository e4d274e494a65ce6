/** A `survey`-preset study on the bundled model, run on a test stack (used by a test and a benchmark). */
import type { StudyView, TrialRecord } from '../../scheduler/types.js';
import type { SearchPoint } from '../../search/types.js';
import type { TestStack } from './stack.js';
import { waitFor } from './stack.js';

/** One point per family (and three reparameterised methods), trained first so every family is seen. */
export const SURVEY_WARM_START: SearchPoint[] = [
  { family: 'additive', 'additive.size': 16, 'layer.0': true, 'layer.1': true },
  { family: 'selective', 'selective.method': 'rocoft', 'rocoft.k': 2, 'layer.0': true, 'layer.1': true },
  { family: 'reparameterised', 'reparameterised.method': 'vera', 'vera.rank': 64, 'layer.0': true, 'layer.1': true },
  { family: 'reparameterised', 'reparameterised.method': 'pissa', 'reparameterised.rank': 4, 'layer.0': true, 'layer.1': true },
  { family: 'hybrid', 'hybrid.prefix': 8, 'hybrid.parallel': 16, 'layer.0': true, 'layer.1': true },
  { family: 'reparameterised', 'reparameterised.method': 'adalora', 'reparameterised.rank': 4, 'layer.0': true, 'layer.1': true },
];

/** Size of the study. */
export interface SurveyStudySize {
  maxTrials: number;
  steps: number;
  trainExamples: number;
  devExamples: number;
  seed?: number;
}

/** Submits the study and waits for it to complete. */
export async function runSurveyStudy(stack: TestStack, size: SurveyStudySize, timeoutMs: number): Promise<StudyView> {
  const spec = {
    name: 'survey families',
    task: { dataset: 'spam-assassin', baseModel: 'brown-bert-small', metric: 'accuracy' },
    preset: 'survey',
    algorithm: { name: 'auto', seed: size.seed ?? 3 },
    budget: { maxTrials: size.maxTrials, maxParallel: 1 },
    pruner: { type: 'none' },
    warmStart: { configurations: SURVEY_WARM_START.slice(0, size.maxTrials) },
    training: { steps: size.steps, batchSize: 16, learningRate: 0.002, evalEvery: size.steps, maxSeqLength: 48, trainExamples: size.trainExamples, devExamples: size.devExamples },
  };
  const response = await stack.api('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
  if (response.status !== 201) throw new Error(`study refused: ${response.status} ${await response.text()}`);
  const { id } = (await response.json()) as { id: string };
  return waitFor(async () => {
    const view = (await (await stack.api(`/api/studies/${id}`)).json()) as StudyView;
    return view.state === 'completed' ? view : undefined;
  }, timeoutMs, `survey study ${id} to complete`);
}

/** The family of a trial's point. */
export const familyOf = (trial: TrialRecord): string => String(trial.params.family);
