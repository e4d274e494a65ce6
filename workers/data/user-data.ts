/**
 * Users' datasets: parsed files become a {@link Dataset} (labels to class ids, a dev split by
 * seed when none is given), read either from text (an upload) or from a path under the
 * allow-listed data root (a single file or a GLUE-style directory with train and dev files).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Dataset, Example, TaskKind } from './dataset.js';
import { metricsFor, splitTrainDev } from './dataset.js';
import { DataPathError, DatasetError } from './errors.js';
import type { DataFormat, ParsedFile, ParseOptions, RawExample } from './formats.js';
import { formatFromFileName, parseDataFile } from './formats.js';
import { resolveUnderRoot } from './paths.js';

/** Options of a user's dataset: how to parse it and how to split off a dev set. */
export interface UserDataOptions extends ParseOptions {
  /** Fraction of examples held out as dev when the data has no dev file. @defaultValue 0.2 */
  devFraction?: number;
  /** Seed of that split. @defaultValue {@link DEFAULT_SPLIT_SEED} */
  splitSeed?: number;
}

/** Dev fraction of datasets that come without a dev split. */
export const DEFAULT_DEV_FRACTION = 0.2;
/** Seed of the dev split of datasets that come without one: fixed, so every host splits alike. */
export const DEFAULT_SPLIT_SEED = 20261128;

/** Data files larger than this are refused (the whole file is read into memory). */
export const MAX_DATA_FILE_BYTES = 512 * 1024 * 1024;

/** Class ids of the labels: GLUE's fixed order, the given `labels`, or the sorted distinct values. */
function labelIds(files: readonly ParsedFile[], options: ParseOptions): { names: string[]; ids: Map<string, number> } {
  const glue = files[0]!.glue;
  if (glue) return { names: [...glue.labels], ids: new Map(glue.rawLabels.map((raw, i) => [raw, i])) };
  if (options.labels) {
    if (options.labels.length < 2) throw new DatasetError({ file: 'labels' }, 'a classification task needs at least two labels');
    if (new Set(options.labels).size !== options.labels.length) {
      throw new DatasetError({ file: 'labels' }, `labels must be distinct, got ${options.labels.join(', ')}`);
    }
    return { names: [...options.labels], ids: new Map(options.labels.map((label, i) => [label, i])) };
  }
  const seen = new Set<string>();
  for (const file of files) for (const e of file.examples) seen.add(e.label);
  const values = [...seen];
  const numeric = values.every((v) => v.trim() !== '' && Number.isFinite(Number(v)));
  values.sort(numeric ? (a, b) => Number(a) - Number(b) : (a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (values.length < 2) {
    throw new DatasetError(
      { file: files[0]!.file },
      `every example has the label ${JSON.stringify(values[0])}; a classification task needs at least two labels (or use kind=regression)`,
    );
  }
  return { names: values, ids: new Map(values.map((v, i) => [v, i])) };
}

function toExamples(file: ParsedFile, kind: TaskKind, ids: Map<string, number> | undefined): Example[] {
  return file.examples.map((raw: RawExample): Example => {
    let label: number;
    if (kind === 'regression') {
      label = Number(raw.label);
      if (!Number.isFinite(label)) {
        throw new DatasetError({ file: file.file, line: raw.line }, `label ${JSON.stringify(raw.label)} is not a number (a regression task needs real-valued labels)`);
      }
    } else {
      const id = ids!.get(raw.label);
      if (id === undefined) {
        throw new DatasetError(
          { file: file.file, line: raw.line },
          // The values as written in the file (GLUE writes 0/1 for its named classes).
          `unknown label ${JSON.stringify(raw.label)}; expected one of ${[...ids!.keys()].map((n) => JSON.stringify(n)).join(', ')}`,
        );
      }
      label = id;
    }
    return raw.textPair === undefined ? { text: raw.text, label } : { text: raw.text, textPair: raw.textPair, label };
  });
}

/**
 * A dataset from parsed train and (optional) dev files. Without a dev file, a seeded
 * `devFraction` of the examples becomes the dev split.
 * @throws DatasetError for mismatched files, unknown or non-numeric labels, or too few examples.
 */
export function buildDataset(name: string, train: ParsedFile, dev: ParsedFile | undefined, options: UserDataOptions = {}): Dataset {
  if (dev && dev.format !== train.format) {
    throw new DatasetError({ file: dev.file }, `has the ${dev.format} layout but ${train.file} has the ${train.format} layout`);
  }
  if (dev && hasPairs(dev) !== hasPairs(train)) {
    throw new DatasetError({ file: dev.file }, `${hasPairs(dev) ? 'has' : 'lacks'} a second text where ${train.file} ${hasPairs(train) ? 'has' : 'lacks'} one`);
  }
  const kind: TaskKind = train.glue?.kind ?? options.kind ?? 'classification';
  const files = dev ? [train, dev] : [train];
  const { names, ids } = kind === 'classification' ? labelIds(files, options) : { names: [], ids: undefined };
  const trainExamples = toExamples(train, kind, ids);
  let split: { train: Example[]; dev: Example[] };
  if (dev) {
    split = { train: trainExamples, dev: toExamples(dev, kind, ids) };
  } else {
    split = splitTrainDev(trainExamples, options.devFraction ?? DEFAULT_DEV_FRACTION, options.splitSeed ?? DEFAULT_SPLIT_SEED);
    if (split.train.length === 0 || split.dev.length === 0) {
      throw new DatasetError({ file: train.file }, `has ${trainExamples.length} example(s), too few to split off a dev set`);
    }
  }
  const metrics = train.glue ? [...train.glue.metrics] : metricsFor(kind, names.length);
  return { name, kind, labels: names, train: split.train, dev: split.dev, defaultMetric: metrics[0]!, metrics };
}

function hasPairs(file: ParsedFile): boolean {
  return file.examples.some((e) => e.textPair !== undefined);
}

/** A dataset from one file's text (an upload): parsed, validated, dev split by seed. */
export function parseDataset(name: string, text: string, fileName: string, options: UserDataOptions = {}): Dataset {
  return buildDataset(name, parseDataFile(text, fileName, options), undefined, options);
}

async function readDataFile(realPath: string, shownName: string): Promise<string> {
  const info = await stat(realPath);
  if (!info.isFile()) throw new DataPathError(`data path ${JSON.stringify(shownName)} is not a file`);
  if (info.size > MAX_DATA_FILE_BYTES) {
    throw new DatasetError({ file: shownName }, `is ${info.size} bytes, more than the limit of ${MAX_DATA_FILE_BYTES} bytes`);
  }
  const bytes = await readFile(realPath);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DatasetError({ file: shownName }, 'is not valid UTF-8 text');
  }
}

const SPLIT_EXTENSIONS = ['tsv', 'csv', 'jsonl'] as const;

/**
 * A dataset from a path under the data root: either one file (.csv, .tsv, .jsonl; dev split by
 * seed) or a directory with `train.<ext>` and optionally `dev.<ext>` (GLUE's layout: train.tsv,
 * dev.tsv; test.tsv, unlabelled, is ignored). The dataset is named after the relative path.
 * @throws DataPathError for paths that escape the root or do not exist, DatasetError for bad content.
 */
export async function loadDatasetFromPath(dataRoot: string, relativePath: string, options: UserDataOptions = {}): Promise<Dataset> {
  const real = await resolveUnderRoot(dataRoot, relativePath);
  const name = relativePath.replace(/\\/g, '/').replace(/\/+$/, '');
  if (!(await stat(real)).isDirectory()) {
    return buildDataset(name, parseDataFile(await readDataFile(real, name), name, options), undefined, options);
  }
  const entries = new Set(await readdir(real));
  const trainNames = SPLIT_EXTENSIONS.map((ext) => `train.${ext}`).filter((f) => entries.has(f));
  if (trainNames.length === 0) {
    throw new DataPathError(`data directory ${JSON.stringify(name)} has no train.tsv, train.csv or train.jsonl`);
  }
  if (trainNames.length > 1) throw new DataPathError(`data directory ${JSON.stringify(name)} has several train files: ${trainNames.join(', ')}`);
  const trainName = trainNames[0]!;
  const format: DataFormat | undefined = options.format ?? formatFromFileName(trainName);
  const devName = `dev${path.extname(trainName)}`;
  const load = async (fileName: string): Promise<ParsedFile> => {
    const shown = `${name}/${fileName}`;
    const realFile = await resolveUnderRoot(dataRoot, shown);
    return parseDataFile(await readDataFile(realFile, shown), shown, { ...options, ...(format ? { format } : {}) });
  };
  const train = await load(trainName);
  // GLUE's dev file has the layout train has, so its detection must agree.
  const dev = entries.has(devName) ? await load(devName) : undefined;
  return buildDataset(name, train, dev, options);
}
