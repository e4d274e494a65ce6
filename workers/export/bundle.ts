/**
 * A trial's bundle: the files the worker stored with the trial's weights, laid out so that each
 * folder loads with one call (`hf-peft/` with `PeftModel.from_pretrained`, `adapterhub/` with
 * `load_adapter`, `autopeft/` with the project's `rebuildAdapter`), plus a top-level `README.md`
 * with the Python lines that load each folder, the labels and the base model to pass, and the PEFT
 * folder's model card. Pure: the API reads the files and zips the result.
 */
import { BUNDLE_FILES } from './export-adapter.js';

/** What the READMEs say about the trial and its study. */
export interface BundleInput {
  study: { id: string; name: string; dataset: string; metric: string };
  trial: {
    number: number;
    metric?: number;
    majorityBaseline?: number;
    trainableParams?: number;
    trainablePercent?: number;
    training: object;
    searchPoint?: object;
  };
  /** The trial's configuration in the project's one format (what `autopeft/autopeft_config.json` holds). */
  config: Record<string, unknown>;
  /** The files the worker stored, by path. */
  files: ReadonlyMap<string, Uint8Array>;
  /** Why a folder is missing or what a library reads differently. */
  notes: readonly string[];
}

/** The stored files of trials exported before the bundle's folders, and where they go now. */
const LEGACY_PATHS: Readonly<Record<string, string>> = {
  'autopeft_config.json': BUNDLE_FILES.projectConfig,
  'adapter_weights.safetensors': BUNDLE_FILES.projectWeights,
};

interface Head {
  outputs: number;
  labels: string[];
  task: string;
}

/** The head fields of a configuration, or a description from the PEFT config's absence. */
function headOf(config: Record<string, unknown>): Head | undefined {
  const head = config.head as Partial<Head> | undefined;
  if (!head || typeof head.outputs !== 'number') return undefined;
  return { outputs: head.outputs, labels: Array.isArray(head.labels) ? head.labels.map(String) : [], task: String(head.task ?? 'classification') };
}

/** How to get the base model in Python: the string to pass and a sentence saying what it is. */
function baseModelOf(config: Record<string, unknown>): { pass: string; sentence: string } {
  const base = (config.baseModel ?? {}) as { name?: string; huggingFace?: { nameOrPath?: string } | false };
  const name = base.name ?? 'the base model';
  const known = base.huggingFace ? base.huggingFace.nameOrPath : undefined;
  if (known) return { pass: known, sentence: `The base model is \`${known}\` (AutoPEFT's \`${name}\`); the lines below load it by that name.` };
  if (base.huggingFace === undefined) {
    // Exported before the configuration recorded where the weights came from.
    return { pass: `path/to/${name}`, sentence: `Pass the base model AutoPEFT trained on (\`${name}\`) where the lines below say \`path/to/${name}\`: the Hugging Face directory it was loaded from.` };
  }
  if (base.huggingFace) {
    const bundled = name === 'brown-bert-small' ? ' For the bundled `brown-bert-small` that is `workers/models/brown-bert-small` of an AutoPEFT checkout.' : '';
    return {
      pass: `path/to/${name}`,
      sentence: `The base model is the Hugging Face directory AutoPEFT loaded as \`${name}\`; its \`config.json\` records no \`_name_or_path\`, so \`base_model_name_or_path\` holds a placeholder: pass that directory where the lines below say \`path/to/${name}\`.${bundled}`,
    };
  }
  return {
    pass: `path/to/${name}`,
    sentence: `The base model \`${name}\` is seeded random weights that exist only inside AutoPEFT; no Hugging Face checkpoint holds them, so the PEFT and AdapterHub folders load onto any BERT-shaped model of the same size but compute what was trained only with those weights. \`base_model_name_or_path\` is a placeholder.`,
  };
}

const fence = (lines: string[]): string => ['```python', ...lines, '```'].join('\n');

/** `id2label` / `label2id` arguments for transformers. */
function labelArgs(head: Head): string {
  if (head.task === 'regression' || head.labels.length !== head.outputs) return `num_labels=${head.outputs}`;
  const id2label = `{${head.labels.map((l, i) => `${i}: ${JSON.stringify(l)}`).join(', ')}}`;
  return `num_labels=${head.outputs}, id2label=${id2label}`;
}

/** The Python lines that load `hf-peft/`. */
export function peftLoadingLines(base: string, head: Head | undefined): string[] {
  return [
    'from transformers import AutoModelForSequenceClassification',
    'from peft import PeftModel',
    `base = AutoModelForSequenceClassification.from_pretrained(${JSON.stringify(base)}${head ? `, ${labelArgs(head)}` : ''})`,
    'model = PeftModel.from_pretrained(base, "hf-peft")',
  ];
}

/** The Python lines that load `adapterhub/` (the head comes with it, from `head_config.json`). */
export function adapterHubLoadingLines(base: string): string[] {
  return [
    'from adapters import AutoAdapterModel',
    `model = AutoAdapterModel.from_pretrained(${JSON.stringify(base)})`,
    'name = model.load_adapter("adapterhub", set_active=True)',
  ];
}

/** The Python lines that read `autopeft/`. */
export const AUTOPEFT_LOADING_LINES = [
  'import json',
  'from safetensors.numpy import load_file',
  'config = json.load(open("autopeft/autopeft_config.json"))',
  'weights = load_file("autopeft/adapter_weights.safetensors")  # the project\'s names, kernels [in, out]',
];

const fmt = (v: number | undefined, digits = 4): string => (v === undefined ? 'n/a' : v.toFixed(digits));

function topReadme(input: BundleInput, has: (path: string) => boolean): string {
  const head = headOf(input.config);
  const base = baseModelOf(input.config);
  const { study, trial } = input;
  const lines: string[] = [
    `# ${study.name}: trial ${trial.number}`,
    '',
    `An adapter AutoPEFT trained on \`${study.dataset}\` (study \`${study.id}\`): dev ${study.metric} ${fmt(trial.metric)}` +
      `${trial.majorityBaseline !== undefined ? ` (majority-class baseline ${fmt(trial.majorityBaseline)})` : ''}, ` +
      `${trial.trainableParams ?? 'n/a'} trainable parameters (${fmt(trial.trainablePercent, 3)} % of the base model).`,
    '',
    '## Base model',
    '',
    base.sentence,
    '',
    '## Labels',
    '',
  ];
  if (head && head.task === 'regression') lines.push('Regression: one output (`num_labels=1`).');
  else if (head) lines.push(`${head.outputs} labels (\`num_labels=${head.outputs}\`), by index:`, '', ...head.labels.map((l, i) => `- ${i}: \`${l}\``));
  else lines.push('Not recorded (a trial exported before the bundle kept its head); see `autopeft/autopeft_config.json`.');
  lines.push('', '## Folders', '');
  const hubNote = input.notes.find((n) => n.startsWith('No AdapterHub export'));
  const peftNote = input.notes.find((n) => n.startsWith('No Hugging Face PEFT export'));
  lines.push(
    has(BUNDLE_FILES.peftWeights)
      ? '- `hf-peft/`: Hugging Face PEFT (`adapter_config.json`, `adapter_model.safetensors`, `README.md` model card), loaded by:'
      : `- \`hf-peft/\`: not in this bundle. ${peftNote ?? 'Hugging Face PEFT has no form of this configuration.'}`,
  );
  if (has(BUNDLE_FILES.peftWeights)) lines.push('', fence(peftLoadingLines(base.pass, head)), '');
  lines.push(
    has(BUNDLE_FILES.hubWeights)
      ? '- `adapterhub/`: AdapterHub `adapters` (`adapter_config.json`, `adapter.safetensors`, `head_config.json`, `model_head.safetensors`), loaded with its head by:'
      : `- \`adapterhub/\`: not in this bundle. ${hubNote ?? 'adapters cannot hold this configuration.'}`,
  );
  if (has(BUNDLE_FILES.hubWeights)) lines.push('', fence(adapterHubLoadingLines(base.pass)), '');
  lines.push(
    '- `autopeft/`: the project\'s configuration (`autopeft.trial-config/v1`: base model, PEFT modules, head and labels, training settings, metric) and weights; `rebuildAdapter` (workers/export) rebuilds the model from them, and in Python:',
    '',
    fence(AUTOPEFT_LOADING_LINES),
  );
  const others = input.notes.filter((n) => n !== hubNote && n !== peftNote);
  if (others.length > 0) lines.push('', '## Notes', '', ...others.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

/** The PEFT folder's model card, as `save_pretrained` leaves one beside the adapter. */
function modelCard(input: BundleInput): string {
  const base = baseModelOf(input.config);
  const head = headOf(input.config);
  const peftConfig = input.files.get(BUNDLE_FILES.peftConfig);
  const peftType = peftConfig ? String((JSON.parse(Buffer.from(peftConfig).toString('utf8')) as { peft_type?: string }).peft_type ?? '') : '';
  const { study, trial } = input;
  return [
    '---',
    `base_model: ${JSON.stringify(base.pass)}`,
    'library_name: peft',
    'pipeline_tag: text-classification',
    `tags: [autopeft, ${peftType.toLowerCase() || 'peft'}]`,
    '---',
    '',
    `# ${study.name}: trial ${trial.number} (${peftType || 'PEFT'})`,
    '',
    `Trained by AutoPEFT (study \`${study.id}\`) on \`${study.dataset}\`.`,
    '',
    `- Dev ${study.metric}: ${fmt(trial.metric)}${trial.majorityBaseline !== undefined ? ` (majority-class baseline ${fmt(trial.majorityBaseline)})` : ''}`,
    `- Trainable parameters: ${trial.trainableParams ?? 'n/a'} (${fmt(trial.trainablePercent, 3)} % of the base model)`,
    `- Training settings: \`${JSON.stringify(trial.training)}\``,
    ...(trial.searchPoint ? [`- Search point: \`${JSON.stringify(trial.searchPoint)}\``] : []),
    '',
    '## Base model',
    '',
    base.sentence,
    '',
    '## Loading',
    '',
    'From the bundle\'s top folder:',
    '',
    fence(peftLoadingLines(base.pass, head)),
    '',
  ].join('\n');
}

/**
 * Every file of the bundle by path, in a fixed order (READMEs first, then the folders). The
 * stored project configuration is replaced by `config` (the same format, with the study's fields).
 */
export function trialBundleFiles(input: BundleInput): Map<string, Uint8Array> {
  const folders = new Map<string, Uint8Array>();
  for (const [path, data] of input.files) {
    const target = LEGACY_PATHS[path] ?? path;
    if (target !== BUNDLE_FILES.projectConfig) folders.set(target, data);
  }
  folders.set(BUNDLE_FILES.projectConfig, Buffer.from(`${JSON.stringify(input.config, null, 2)}\n`, 'utf8'));
  const has = (path: string): boolean => folders.has(path);
  const out = new Map<string, Uint8Array>([['README.md', Buffer.from(topReadme(input, has), 'utf8')]]);
  if (has(BUNDLE_FILES.peftWeights)) out.set('hf-peft/README.md', Buffer.from(modelCard({ ...input, files: folders }), 'utf8'));
  for (const path of [...folders.keys()].sort()) out.set(path, folders.get(path)!);
  return out;
}
