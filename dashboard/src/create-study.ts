/**
 * The new-study page (`#/new`): a form for the preset, the dataset (a built-in one, an earlier
 * upload, or a file uploaded here), the base model, the metric, the budget and the training
 * settings. The page does not validate the spec itself: it POSTs it, and shows the API's own
 * message beside the field the API names (`error.field`, a dotted spec path).
 */

import type { UploadSummary } from '../../workers/data/stored.js';
import { ApiError, fetchCatalog, fetchUploads, studyHash, submitStudy, uploadDataset, type Catalog } from './api.js';
import { h, setChildren, setText } from './dom.js';
import { problemText, type View, type ViewContext } from './ui.js';

/** A text field of the form: its spec path, label and hint. */
interface FieldSpec {
  path: string;
  label: string;
  hint?: string;
  /** Sent as a number when it reads as one (anything else goes as typed, for the API to judge). */
  numeric?: boolean;
  placeholder?: string;
  value?: string;
}

const BUDGET_FIELDS: FieldSpec[] = [
  { path: 'budget.maxTrials', label: 'Trials', hint: 'how many configurations to train', numeric: true, value: '8' },
  { path: 'budget.maxParallel', label: 'In parallel', hint: 'trials trained at once', numeric: true, value: '2' },
];

const TRAINING_FIELDS: FieldSpec[] = [
  { path: 'training.steps', label: 'Steps', numeric: true, placeholder: '100' },
  { path: 'training.batchSize', label: 'Batch size', numeric: true, placeholder: '16' },
  { path: 'training.learningRate', label: 'Learning rate', numeric: true, placeholder: '0.001', hint: 'the search may tune it' },
  { path: 'training.evalEvery', label: 'Evaluate every', numeric: true, placeholder: '25', hint: 'steps' },
  { path: 'training.maxSeqLength', label: 'Max sequence length', numeric: true, placeholder: '64', hint: 'tokens' },
  { path: 'training.trainExamples', label: 'Train examples', numeric: true, placeholder: '512' },
  { path: 'training.devExamples', label: 'Dev examples', numeric: true, placeholder: '256' },
];

/** Sets `value` at the dotted `path` of `target`, creating objects on the way. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node = typeof next === 'object' && next !== null ? (next as Record<string, unknown>) : (node[key] = {} as Record<string, unknown>);
  }
  node[keys[keys.length - 1]!] = value;
}

/** A form value as the spec wants it: a number when it reads as one, else the text as typed. */
export function fieldValue(text: string, numeric: boolean): unknown {
  const trimmed = text.trim();
  if (!numeric) return trimmed;
  return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
}

/**
 * The field of the form that shows an error about spec path `field`: the field itself, or the
 * nearest enclosing one (`training.steps.x` → `training.steps`), or undefined.
 */
export function fieldFor(field: string, known: ReadonlySet<string>): string | undefined {
  const parts = field.split('.');
  for (let n = parts.length; n > 0; n--) {
    const candidate = parts.slice(0, n).join('.');
    if (known.has(candidate)) return candidate;
  }
  return undefined;
}

/** Builds the new-study page. */
export function createStudyForm(ctx: ViewContext): View {
  const abort = new AbortController();
  ctx.setTitle('New study');
  const inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
  const errors = new Map<string, HTMLElement>();
  const numeric = new Set<string>();

  const field = (spec: FieldSpec, control: HTMLInputElement | HTMLSelectElement): HTMLElement => {
    const id = `f-${spec.path.replace(/\./g, '-')}`;
    control.id = id;
    control.setAttribute('data-field', spec.path);
    control.setAttribute('aria-describedby', `${id}-error`);
    inputs.set(spec.path, control);
    if (spec.numeric) numeric.add(spec.path);
    const error = h('div', { class: 'field-error', id: `${id}-error`, 'data-error-for': spec.path, role: 'alert', hidden: true });
    errors.set(spec.path, error);
    return h(
      'div',
      { class: 'field' },
      h('label', { for: id }, spec.label),
      control,
      spec.hint ? h('div', { class: 'field-hint' }, spec.hint) : null,
      error,
    );
  };
  const textInput = (spec: FieldSpec): HTMLElement =>
    field(spec, h('input', { type: 'text', inputmode: spec.numeric ? 'decimal' : null, placeholder: spec.placeholder ?? null, value: spec.value ?? null, autocomplete: 'off' }));

  const preset = h('select');
  const dataset = h('select');
  const metric = h('select');
  const baseModel = h('input', { type: 'text', list: 'base-models', autocomplete: 'off', placeholder: 'brown-bert-small' });
  const modelList = h('datalist', { id: 'base-models' });
  const uploadFile = h('input', { type: 'file', accept: '.csv,.tsv,.jsonl,.ndjson,text/csv,text/tab-separated-values' });
  const uploadButton = h('button', { type: 'button', class: 'button button-quiet', 'data-testid': 'upload-button' }, 'Upload');
  const uploadStatus = h('div', { class: 'field-hint', 'data-testid': 'upload-status' }, 'CSV, TSV or JSON Lines with a text and a label column; the API checks every line.');
  const submitButton = h('button', { type: 'submit', class: 'button', 'data-testid': 'submit-study' }, 'Create study');
  const formError = h('div', { class: 'callout callout-error', role: 'alert', 'data-testid': 'form-error', hidden: true });
  const presetHint = h('div', { class: 'field-hint preset-hint' });
  const perLayerSizes = h('input', { type: 'checkbox' });

  const uploadField = field({ path: 'upload', label: 'Upload a dataset' }, uploadFile);
  uploadField.insertBefore(h('div', { class: 'upload-row' }, uploadFile, uploadButton), uploadField.querySelector('.field-error'));
  uploadField.append(uploadStatus);

  const form = h(
    'form',
    { class: 'card study-form', 'data-testid': 'create-study-form', novalidate: true },
    formError,
    h(
      'fieldset',
      null,
      h('legend', null, 'Study'),
      textInput({ path: 'name', label: 'Name', placeholder: 'study' }),
      field({ path: 'preset', label: 'Search preset' }, preset),
      presetHint,
      field({ path: 'presetOptions.perLayerSizes', label: 'Per-layer sizes', hint: 'a size per module per layer (adapter bottlenecks, LoRA ranks), each only where its layer is on' }, perLayerSizes),
    ),
    h(
      'fieldset',
      null,
      h('legend', null, 'Task'),
      field({ path: 'task.dataset', label: 'Dataset' }, dataset),
      uploadField,
      field({ path: 'task.baseModel', label: 'Base model', hint: 'a built-in model or one under the workers\u2019 model root' }, baseModel),
      modelList,
      field({ path: 'task.metric', label: 'Metric' }, metric),
    ),
    h('fieldset', null, h('legend', null, 'Budget'), ...BUDGET_FIELDS.map(textInput)),
    h('fieldset', null, h('legend', null, 'Training (blank: the default shown)'), h('div', { class: 'field-grid' }, ...TRAINING_FIELDS.map(textInput))),
    h('div', { class: 'form-actions' }, submitButton, h('a', { class: 'button button-quiet', href: '#/' }, 'Cancel')),
  );
  const root = h('section', { class: 'page' }, h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, '← All studies')), h('div', { class: 'page-head' }, h('h1', null, 'New study')), form);

  let catalog: Catalog | undefined;
  let uploads: UploadSummary[] = [];

  const metricsOf = (ref: string): readonly string[] => catalog?.datasets[ref]?.metrics ?? uploads.find((u) => u.ref === ref)?.metrics ?? [];
  const defaultMetricOf = (ref: string): string | undefined => catalog?.datasets[ref]?.defaultMetric ?? uploads.find((u) => u.ref === ref)?.defaultMetric;

  const fillMetrics = (): void => {
    const keep = metric.value;
    const choices = metricsOf(dataset.value);
    const fallback = defaultMetricOf(dataset.value);
    metric.replaceChildren(h('option', { value: '' }, fallback ? `dataset default (${fallback})` : 'dataset default'), ...choices.map((m) => h('option', { value: m }, m)));
    metric.value = choices.includes(keep) ? keep : '';
  };

  const fillDatasets = (select?: string): void => {
    const keep = select ?? dataset.value;
    const builtIn = Object.entries(catalog?.datasets ?? {});
    setChildren(
      dataset,
      h('optgroup', { label: 'Built-in' }, ...builtIn.map(([name, info]) => h('option', { value: name, title: info.description }, name))),
      uploads.length > 0 ? h('optgroup', { label: 'Uploaded' }, ...uploads.map((u) => h('option', { value: u.ref, title: `${u.train} train / ${u.dev} dev` }, `${u.name} (${u.ref.slice(0, 15)}…)`))) : null,
    );
    if (keep && [...dataset.options].some((o) => o.value === keep)) dataset.value = keep;
    fillMetrics();
  };

  const clearErrors = (): void => {
    for (const [path, el] of errors) {
      el.hidden = true;
      setText(el, '');
      inputs.get(path)?.removeAttribute('aria-invalid');
    }
    formError.hidden = true;
  };

  const showError = (path: string | undefined, message: string): void => {
    const target = path !== undefined ? fieldFor(path, new Set(errors.keys())) : undefined;
    const el = target !== undefined ? errors.get(target) : undefined;
    if (el && target !== undefined) {
      setText(el, message);
      el.hidden = false;
      const input = inputs.get(target);
      input?.setAttribute('aria-invalid', 'true');
      input?.focus();
    } else {
      setText(formError, message);
      formError.hidden = false;
    }
  };

  const spec = (): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    const put = (path: string, text: string): void => {
      if (text.trim() !== '') setPath(out, path, fieldValue(text, numeric.has(path)));
    };
    for (const [path, input] of inputs) {
      if (path === 'upload') continue;
      // A checkbox says true or nothing: an unchecked option keeps the preset's default.
      if (input instanceof HTMLInputElement && input.type === 'checkbox') {
        if (input.checked) setPath(out, path, true);
      } else put(path, input.value);
    }
    return out;
  };

  dataset.addEventListener('change', fillMetrics);
  /** The preset's description, and its options offered only where the preset has them. */
  const showPreset = (): void => {
    const info = catalog?.presets[preset.value];
    setText(presetHint, info?.description ?? '');
    const offered = info?.options?.includes('perLayerSizes') === true;
    perLayerSizes.closest<HTMLElement>('.field')!.hidden = !offered;
    if (!offered) perLayerSizes.checked = false;
  };
  preset.addEventListener('change', showPreset);
  showPreset();
  uploadButton.addEventListener('click', () => {
    const file = uploadFile.files?.[0];
    clearErrors();
    if (!file) return showError('upload', 'Choose a file first.');
    uploadButton.setAttribute('disabled', '');
    setText(uploadStatus, `Uploading ${file.name}…`);
    uploadDataset(file, file.name.replace(/\.[^.]+$/, '') || 'upload').then(
      (summary) => {
        uploadButton.removeAttribute('disabled');
        uploads = [...uploads.filter((u) => u.id !== summary.id), summary];
        fillDatasets(summary.ref);
        setText(uploadStatus, `Uploaded ${summary.name}: ${summary.kind}, ${summary.labels.length} labels, ${summary.train} train / ${summary.dev} dev examples. Selected as the dataset.`);
      },
      (error: unknown) => {
        uploadButton.removeAttribute('disabled');
        setText(uploadStatus, '');
        showError('upload', error instanceof ApiError ? error.message : problemText(error));
      },
    );
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearErrors();
    submitButton.setAttribute('disabled', '');
    submitStudy(spec()).then(
      ({ id }) => {
        location.hash = studyHash(id);
      },
      (error: unknown) => {
        submitButton.removeAttribute('disabled');
        // The API's own words, beside the field it names.
        if (error instanceof ApiError && error.status >= 400 && error.status < 500) showError(error.field, error.message);
        else showError(undefined, problemText(error));
      },
    );
  });

  let loaded = false;
  return {
    root,
    refresh() {
      if (loaded) return;
      Promise.all([fetchCatalog(abort.signal), fetchUploads(abort.signal)]).then(
        ([c, u]) => {
          if (abort.signal.aborted) return;
          loaded = true;
          ctx.setProblem(null);
          catalog = c;
          uploads = u;
          preset.replaceChildren(...Object.keys(c.presets).map((name) => h('option', { value: name }, name)));
          showPreset();
          modelList.replaceChildren(...Object.entries(c.baseModels).map(([name, m]) => h('option', { value: name }, m.description)));
          if (!baseModel.value) baseModel.value = Object.keys(c.baseModels)[0] ?? '';
          fillDatasets();
        },
        (error: unknown) => {
          if (!abort.signal.aborted) ctx.setProblem(problemText(error));
        },
      );
    },
    wants: () => false,
    destroy: () => abort.abort(),
  };
}
