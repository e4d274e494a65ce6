/**
 * A study's report, like a survey's comparison table: one row per re-evaluated configuration
 * (found by the search, or a baseline) with where it acts, its stored parameters and trainable
 * share, its single-seed metric from the search and its metric over the re-evaluation seeds
 * (n, mean, sample standard deviation, 95 % Student-t interval) per split, beside the
 * majority-class and chance levels and the settings that produced it. A configuration is said
 * to beat a baseline only when its interval lies wholly above the baseline's. Pure: the API
 * reads the study and its trials and renders what this returns as JSON, Markdown or CSV.
 */
import { fmtLayers, peftLayers, peftModules, searchTitle, splitTitle } from '../dashboard/src/format.js';
import { REFERENCE_SOURCES, hypervolumeHistory, studyReference } from '../dashboard/src/views/stats.js';
import type { ReferenceSource } from '../dashboard/src/views/stats.js';
import { BASELINES } from '../search/baselines.js';
import type { BaselineName } from '../search/baselines.js';
import { METRIC_RANGE } from '../search/types.js';
import { REEVALUATION_MAX_DEV_EXAMPLES, reevaluationTargets } from './reevaluation.js';
import type { ReevaluationSpec, StudyRecord, StudySpec, StudyWarning, TrialRecord, TrialState } from './types.js';

/** The splits a report can show. The built-in and uploaded datasets have train and dev only. */
export type ReportSplit = 'dev' | 'test';

/** A metric over the re-evaluation seeds of one configuration on one split. */
export interface SeedStats {
  /** Complete re-evaluation trials (a failed one is left out). */
  n: number;
  /** Their metrics, in seed order. */
  values: number[];
  mean: number;
  /** Sample standard deviation (n - 1); absent for n < 2. */
  std?: number;
  /**
   * 95 % interval of the mean, mean ± t(0.975, n - 1) · std / √n, clipped to the metric's range
   * (with 2 seeds t is 12.7, and a mean of accuracies cannot pass 1); absent for n < 2.
   */
  interval?: [number, number];
}

/** One re-evaluated configuration. */
export interface ReportRow {
  /** The baseline's label, or `trial N` for a configuration the search found. */
  label: string;
  kind: 'found' | 'baseline';
  /** The search (or baseline) trial it re-evaluates. */
  trial: number;
  baseline?: BaselineName;
  /** The baseline's settings in words, with their source (search/baselines.ts). */
  baselineSettings?: string;
  /** Its modules (the method registry's chips) and the layers they sit in. */
  modules: string[];
  layers: number[];
  /** Modules and layers in a few words. */
  where: string;
  /** Closed-form count of what the trained adapter stores (PEFT modules and task head). */
  storedParams: number;
  trainablePercent: number;
  /** The study's metric of the original single-seed trial (selected as the best of the search: biased upwards). */
  searchMetric?: number;
  /** The re-evaluation trials' numbers, in seed order. */
  reevaluationTrials: number[];
  /** Per split; only the splits of {@link StudyReport.splits}. */
  splits: Partial<Record<ReportSplit, SeedStats>>;
}

/** "X beats baseline Y": X's 95 % interval lies wholly above Y's on that split. */
export interface ReportComparison {
  configuration: string;
  baseline: string;
  split: ReportSplit;
  /** X's lower bound and Y's upper bound. */
  lower: number;
  upper: number;
}

/** One step of the search's hypervolume history. */
export interface HypervolumeStep {
  /** A finished search trial (never a baseline or a re-evaluation). */
  trial: number;
  state: TrialState;
  /** The hypervolume of the complete search trials up to this one (a pruned or failed trial leaves it as it was). */
  volume: number;
}

/**
 * The search's hypervolume after each finished search trial, in trial order: of (metric ↑, stored
 * parameters ↓), the Pareto front's objectives, against the study's reference point as the search
 * used it (search/pareto.ts's `hypervolume`, through the dashboard's incremental history).
 */
export interface ReportHypervolume {
  /** `[metric, stored parameters]`, raw units. */
  reference: [number, number];
  /** `spec`: objectives.referencePoint; `default`: majority-class level and largest configuration; `fallback`: worst complete trial + 10 % of the range (a study with neither). */
  source: ReferenceSource;
  steps: HypervolumeStep[];
}

/** A study's report (`GET /api/studies/:id/report`). */
export interface StudyReport {
  study: { id: string; name: string; state: StudyRecord['state'] };
  dataset: string;
  baseModel: string;
  metric: string;
  /** The splits the rows carry: the dev split always; the test split only for datasets with labelled test data. */
  splits: ReportSplit[];
  /** Why a split is absent. */
  notes: string[];
  /** The majority-class level of the metric on the dev column's examples (as the re-evaluation workers measured it) and the chance level 1/classes. */
  levels: { majorityClass?: number; chance?: number };
  settings: {
    training: StudySpec['training'];
    /** The data seed every trial shares (the same train and dev subsets). */
    dataSeed?: number;
    reevaluation: ReevaluationSpec;
    /** Dev examples each search trial scored: the study's dev subset (`training.devExamples`, at most the split), the "search" column's. */
    searchDevExamples?: number;
    /** Dev examples each re-evaluation scored, the dev column's: the dataset's whole dev split, at most `maxDevExamples`. */
    devExamples?: number;
    /** Examples in the dataset's dev split. */
    devSplitSize?: number;
    /** The cap on a re-evaluation's dev examples (REEVALUATION_MAX_DEV_EXAMPLES, scheduler/reevaluation.ts). */
    maxDevExamples: number;
    /** Confidence of the intervals. */
    confidence: 0.95;
  };
  rows: ReportRow[];
  comparisons: ReportComparison[];
  /** Absent when the search finished no complete trial (there is no front and no reference). */
  hypervolume?: ReportHypervolume;
  /** The study's warnings (scheduler/study-warnings.ts), the same the study page and `autopeft status` show. */
  warnings: StudyWarning[];
}

/** Two-sided 95 % quantiles t(0.975, df) of Student's t distribution, df 1..30. */
const T_975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064,
  2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** t(0.975, df); beyond df 30 (never, with at most 10 seeds) the normal 1.96. */
export function studentT975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`degrees of freedom must be a positive integer, got ${df}`);
  return T_975[df - 1] ?? 1.96;
}

/**
 * n, mean, sample std and 95 % Student-t interval of some values (at least one), the interval
 * clipped to `range` (the metric's possible values). Clipping never makes one interval lie
 * above another that did not: it only cuts off values no configuration can reach.
 */
export function seedStats(values: readonly number[], range: readonly [number, number] = [-Infinity, Infinity]): SeedStats {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, values: [...values], mean };
  const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  const half = (studentT975(n - 1) * std) / Math.sqrt(n);
  return { n, values: [...values], mean, std, interval: [Math.max(range[0], mean - half), Math.min(range[1], mean + half)] };
}

/** The hypervolume history of the search trials (see {@link ReportHypervolume}). */
export function searchHypervolume(study: StudyRecord, trials: readonly TrialRecord[]): ReportHypervolume | undefined {
  const finished = trials
    .filter((t) => t.baseline === undefined && t.reevaluation === undefined && (t.state === 'complete' || t.state === 'pruned' || t.state === 'failed'))
    .sort((a, b) => a.number - b.number);
  const complete = finished.filter((t) => t.state === 'complete' && t.metric !== undefined).map((t) => ({ number: t.number, metric: t.metric!, params: t.trainableParams }));
  const specPoint = study.spec.objectives.referencePoint;
  const reference = studyReference(complete, study.reference?.point, specPoint);
  if (!reference) return undefined;
  const volumes = new Map(hypervolumeHistory(complete, reference).map((v) => [v.number, v.volume]));
  let volume = 0;
  const steps = finished.map((t): HypervolumeStep => {
    volume = volumes.get(t.number) ?? volume;
    return { trial: t.number, state: t.state, volume };
  });
  const source = study.reference?.source ?? (specPoint ? 'spec' : 'fallback');
  // Back to raw units: the metric was negated for minimisation.
  return { reference: [-reference[0]!, reference[1]!], source, steps };
}

/** Whether the report can be built: the study re-evaluated and that phase is over. */
export function reportProblem(study: StudyRecord): string | undefined {
  if ((study.spec.reevaluation?.configurations ?? 0) === 0) return 'this study has no re-evaluation (reevaluation.configurations is 0), so it has no report';
  if (study.state !== 'completed') return `the report is ready once re-evaluation has finished; the study is ${study.state}`;
  return undefined;
}

/**
 * The report of a completed study that re-evaluated. The test split is never shown: no dataset
 * the workers load has labelled test data (their datasets are a train/dev split).
 */
export function buildReport(study: StudyRecord, trials: readonly TrialRecord[]): StudyReport {
  const spec = study.spec;
  const reevaluation = spec.reevaluation ?? { configurations: 0, seeds: 0 };
  const byNumber = new Map(trials.map((t) => [t.number, t]));
  const metric = spec.task.metric ?? 'metric';
  // Every metric lies in [−1, 1]; the dataset's default one (no metric in the spec) is clipped to that.
  const range = spec.task.metric !== undefined ? METRIC_RANGE[spec.task.metric] : ([-1, 1] as const);
  const rows = reevaluationTargets(trials, reevaluation.configurations).map((target): ReportRow => {
    const repeats = trials
      .filter((t) => t.reevaluation?.of === target.number)
      .sort((a, b) => a.reevaluation!.seed - b.reevaluation!.seed);
    const values = repeats.filter((t) => t.state === 'complete' && t.metric !== undefined).map((t) => t.metric!);
    const modules = peftModules(target.peft).map((m) => m.label);
    const layers = [...new Set(peftLayers(target.peft))].sort((a, b) => a - b);
    const baseline = target.baseline;
    return {
      label: baseline !== undefined ? BASELINES[baseline].label : `trial ${target.number}`,
      kind: baseline !== undefined ? 'baseline' : 'found',
      trial: target.number,
      ...(baseline !== undefined ? { baseline, baselineSettings: BASELINES[baseline].settings } : {}),
      modules,
      layers,
      where: `${modules.join(', ') || 'task head only'}${layers.length > 0 ? ` · layers ${fmtLayers(layers)}` : ''}`,
      storedParams: target.trainableParams,
      trainablePercent: target.trainablePercent,
      ...(target.metric !== undefined ? { searchMetric: target.metric } : {}),
      reevaluationTrials: repeats.map((t) => t.number),
      splits: values.length > 0 ? { dev: seedStats(values, range) } : {},
    };
  });
  const comparisons: ReportComparison[] = [];
  for (const found of rows.filter((r) => r.kind === 'found')) {
    for (const base of rows.filter((r) => r.kind === 'baseline')) {
      const x = found.splits.dev?.interval;
      const y = base.splits.dev?.interval;
      if (x && y && x[0] > y[1]) comparisons.push({ configuration: found.label, baseline: base.label, split: 'dev', lower: x[0], upper: y[1] });
    }
  }
  // The levels and sizes of the split the dev column scored: the re-evaluations' (the whole dev split).
  const repeats = trials.filter((t) => t.reevaluation !== undefined && t.state === 'complete');
  const majority = (repeats.find((t) => t.majorityBaseline !== undefined) ?? trials.find((t) => t.majorityBaseline !== undefined))?.majorityBaseline;
  const scoredDev = repeats.find((t) => t.dev !== undefined)?.dev;
  const searchDev = trials.find((t) => t.reevaluation === undefined && t.dev !== undefined)?.dev;
  const searchDevExamples = searchDev?.examples ?? spec.training.devExamples;
  const devSplitSize = scoredDev?.splitSize ?? searchDev?.splitSize;
  const anyTrial = byNumber.get(0);
  const classification = study.headOutputs >= 2;
  const hypervolume = searchHypervolume(study, trials);
  return {
    study: { id: study.id, name: spec.name, state: study.state },
    dataset: spec.task.dataset,
    baseModel: spec.task.baseModel,
    metric,
    splits: ['dev'],
    notes: [
      scoredDev
        ? scoredDev.examples < scoredDev.splitSize
          ? `re-evaluated on ${scoredDev.examples} of the dev split's ${scoredDev.splitSize} examples (the cap REEVALUATION_MAX_DEV_EXAMPLES = ${REEVALUATION_MAX_DEV_EXAMPLES}; a subset drawn with the study's data seed)`
          : `re-evaluated on the whole dev split (${scoredDev.examples} examples)`
        : `re-evaluated on the whole dev split, at most ${REEVALUATION_MAX_DEV_EXAMPLES} examples`,
      `the search column is each search trial's single-seed metric on the study's dev subset (training.devExamples${searchDevExamples !== undefined ? `: ${searchDevExamples} examples` : ''}), the subset the search selected on`,
      'no labelled test split: the dataset has train and dev data only, so the test column is absent',
    ],
    levels: { ...(majority !== undefined ? { majorityClass: majority } : {}), ...(classification ? { chance: 1 / study.headOutputs } : {}) },
    settings: {
      training: spec.training,
      ...(anyTrial ? { dataSeed: anyTrial.training.dataSeed } : {}),
      reevaluation,
      ...(searchDevExamples !== undefined ? { searchDevExamples } : {}),
      ...(scoredDev ? { devExamples: scoredDev.examples } : {}),
      ...(devSplitSize !== undefined ? { devSplitSize } : {}),
      maxDevExamples: REEVALUATION_MAX_DEV_EXAMPLES,
      confidence: 0.95,
    },
    rows,
    comparisons,
    ...(hypervolume ? { hypervolume } : {}),
    warnings: study.warnings ?? [],
  };
}

const fixed = (value: number | undefined, digits = 4): string => (value === undefined ? '' : value.toFixed(digits));


/** The report as a Markdown document: the table, the levels, the comparisons and the settings. */
export function reportMarkdown(report: StudyReport): string {
  const lines: string[] = [];
  lines.push(`# Report: ${report.study.name}`, '');
  lines.push(`${report.dataset} on ${report.baseModel}, metric ${report.metric}; mean ± sample std over ${report.settings.reevaluation.seeds} seeds, 95 % Student-t interval.`, '');
  // Said before the numbers, as the study page does: they do not support a conclusion.
  for (const w of report.warnings) lines.push(`> **Warning:** ${w.message}. What usually helps: ${w.advice}.`, '');
  const splitHeads = report.splits.flatMap((s) => [`${splitTitle(report, s)} mean ± std`, `${s} 95 % interval`, `${s} n (seeds)`]);
  lines.push(`| Configuration | Where it acts | Stored params | Trainable % | ${searchTitle(report)} | ${splitHeads.join(' | ')} |`);
  lines.push(`|${' --- |'.repeat(5 + splitHeads.length)}`);
  for (const row of report.rows) {
    const cells = report.splits.flatMap((s) => {
      const st = row.splits[s];
      if (!st) return ['', '', '0'];
      return [`${fixed(st.mean)}${st.std !== undefined ? ` ± ${fixed(st.std)}` : ''}`, st.interval ? `[${fixed(st.interval[0])}, ${fixed(st.interval[1])}]` : '', String(st.n)];
    });
    const label = row.kind === 'baseline' ? `${row.label} (baseline)` : row.label;
    lines.push(`| ${label} | ${row.where} | ${row.storedParams} | ${row.trainablePercent.toFixed(4)} | ${fixed(row.searchMetric)} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  if (report.levels.majorityClass !== undefined) lines.push(`- Majority-class level: ${fixed(report.levels.majorityClass)}`);
  if (report.levels.chance !== undefined) lines.push(`- Chance level (1/classes): ${fixed(report.levels.chance)}`);
  lines.push('', '## Comparisons', '');
  if (report.comparisons.length === 0) lines.push('No found configuration beats a baseline: no interval lies wholly above a baseline\'s.');
  for (const c of report.comparisons) lines.push(`- ${c.configuration} beats baseline ${c.baseline} on ${c.split} (${fixed(c.lower)} > ${fixed(c.upper)})`);
  if (report.hypervolume) lines.push('', ...hypervolumeMarkdown(report.hypervolume, report.metric));
  lines.push('', '## Settings', '');
  const t = report.settings.training;
  lines.push(`- Training: ${Object.entries(t).map(([k, v]) => `${k} ${String(v)}`).join(', ')}`);
  if (report.settings.dataSeed !== undefined) lines.push(`- Data seed: ${report.settings.dataSeed}`);
  lines.push(`- Re-evaluation: ${report.settings.reevaluation.configurations} configurations (K), ${report.settings.reevaluation.seeds} seeds (S)`);
  for (const row of report.rows.filter((r) => r.baselineSettings)) lines.push(`- ${row.label}: ${row.baselineSettings}`);
  lines.push('', ...report.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** The hypervolume section: the reference, a sparkline over every step, and the steps where it changed. */
function hypervolumeMarkdown(hv: ReportHypervolume, metric: string): string[] {
  const top = Math.max(...hv.steps.map((st) => st.volume));
  const spark = hv.steps.map((st) => SPARKS[top > 0 ? Math.round((st.volume / top) * (SPARKS.length - 1)) : 0]).join('');
  const lines = [
    '## Hypervolume of the search',
    '',
    `Reference point: ${metric} ${hv.reference[0]}, ${hv.reference[1]} stored parameters (${REFERENCE_SOURCES[hv.source]}); objectives ${metric} ↑ and stored parameters ↓, as the Pareto front. After each finished search trial in trial order (a pruned or failed trial leaves it as it was; baselines and re-evaluations are not search trials):`,
    '',
    `\`${spark}\` (trials ${hv.steps[0]?.trial ?? ''}–${hv.steps.at(-1)?.trial ?? ''})`,
    '',
    '| After trial | Hypervolume |',
    '| --- | --- |',
  ];
  // Only the steps that changed it (and the last), so a long search stays a short table.
  hv.steps.forEach((st, i) => {
    if (i === hv.steps.length - 1 || st.volume !== (hv.steps[i - 1]?.volume ?? 0)) lines.push(`| ${st.trial} | ${Number(st.volume.toPrecision(6))} |`);
  });
  return lines;
}

/** A CSV field, quoted when it needs to be. */
function csvField(value: string | number | undefined): string {
  const text = value === undefined ? '' : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The report's rows as CSV, one line per configuration (full precision). */
export function reportCsv(report: StudyReport): string {
  // Each metric column's examples beside it: the search's dev subset, and what each split scored.
  const splitHeads = report.splits.flatMap((s) => [`${s}_examples`, `${s}_n`, `${s}_mean`, `${s}_std`, `${s}_ci_low`, `${s}_ci_high`]);
  const lines = [['configuration', 'kind', 'trial', 'where', 'stored_params', 'trainable_percent', 'search_dev_examples', 'search_metric', ...splitHeads].join(',')];
  const examples = (s: ReportSplit): number | undefined => (s === 'dev' ? report.settings.devExamples : undefined);
  for (const row of report.rows) {
    const cells = report.splits.flatMap((s) => {
      const st = row.splits[s];
      return [examples(s), st?.n ?? 0, st?.mean, st?.std, st?.interval?.[0], st?.interval?.[1]];
    });
    lines.push([row.label, row.kind, row.trial, row.where, row.storedParams, row.trainablePercent, report.settings.searchDevExamples, row.searchMetric, ...cells].map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}
