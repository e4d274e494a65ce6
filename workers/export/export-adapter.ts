/** Every download of a trained adapter at once: project files, AdapterHub and (where possible) PEFT files. */
import { adapterHubConfig } from './adapterhub.js';
import { ExportError } from './errors.js';
import { hfPeftExport } from './hf-peft.js';
import type { ProjectConfigInput } from './project-config.js';
import { ADAPTER_WEIGHTS_FILE, projectConfig } from './project-config.js';
import { adapterWeightsFile } from './weights.js';

/** What {@link exportTrainedAdapter} needs: the project configuration input plus a name. */
export interface ExportInput extends ProjectConfigInput {
  /** Adapter name (AdapterHub `name`). */
  adapterName: string;
}

/** Files by relative path, plus notes on formats left out or approximated. */
export interface ExportBundle {
  files: Record<string, string | Uint8Array>;
  notes: string[];
}

/**
 * `autopeft_config.json` + `adapter_weights.safetensors` always; `adapterhub/adapter_config.json`
 * when AdapterHub can describe the configuration; `hf-peft/adapter_config.json` +
 * `hf-peft/adapter_model.safetensors` when it is a single method PEFT has. Each left-out format
 * gets a note saying why.
 */
export function exportTrainedAdapter(input: ExportInput): ExportBundle {
  const files: Record<string, string | Uint8Array> = {
    'autopeft_config.json': JSON.stringify(projectConfig(input), null, 2),
    [ADAPTER_WEIGHTS_FILE]: adapterWeightsFile(input.weights),
  };
  const notes: string[] = [];
  const { modelType, name, shape } = input.baseModel;
  try {
    const hub = adapterHubConfig(input.peft, shape, { modelType, modelName: name, name: input.adapterName });
    files['adapterhub/adapter_config.json'] = JSON.stringify(hub.file, null, 2);
    notes.push(...hub.warnings.map((w) => `AdapterHub: ${w}`));
  } catch (error) {
    if (!(error instanceof ExportError)) throw error;
    notes.push(`AdapterHub: ${error.message}`);
  }
  try {
    const peft = hfPeftExport(input.peft, input.weights, { modelType, baseModelName: name, shape, headKind: input.head.kind, trainingSteps: input.training?.steps });
    files['hf-peft/adapter_config.json'] = peft.adapterConfig;
    files['hf-peft/adapter_model.safetensors'] = peft.weights;
  } catch (error) {
    if (!(error instanceof ExportError)) throw error;
    notes.push(error.message);
  }
  return { files, notes };
}
