/**
 * The project's own configuration JSON for a trial: complete enough to rebuild and retrain
 * the model (base model, PEFT modules, training settings) and to judge it (metrics, sizes).
 */
import type { EncoderShape } from '../search/types.js';
import type { StudyRecord, TrialRecord } from './types.js';

/** Format tag and version of the configuration JSON. */
export const CONFIG_FORMAT = 'autopeft.trial-config/v1';

/** Builds the downloadable configuration of one complete trial. */
export function buildTrialConfig(study: StudyRecord, trial: TrialRecord, shape: EncoderShape) {
  return {
    format: CONFIG_FORMAT,
    study: { id: study.id, name: study.spec.name },
    trial: trial.number,
    task: study.spec.task,
    baseModel: { name: study.spec.task.baseModel, shape, params: study.baseParams },
    peft: trial.peft,
    training: trial.training,
    searchPoint: trial.params,
    metric: { name: study.spec.task.metric, value: trial.metric, all: trial.metrics, majorityBaseline: trial.majorityBaseline },
    trainableParams: trial.trainableParams,
    trainablePercent: trial.trainablePercent,
    /** The trained adapter's files (project config, weights, AdapterHub, PEFT), by API path. */
    downloads: Object.fromEntries((trial.artifact?.files ?? []).map((file) => [file, `/api/studies/${study.id}/trials/${trial.number}/files/${file}`])),
    exportNotes: trial.artifact?.notes ?? [],
  };
}
