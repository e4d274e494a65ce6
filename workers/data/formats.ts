/**
 * Parsers of users' data files into raw examples: the GLUE TSV layouts (SST-2, MRPC, CoLA, QNLI,
 * RTE, STS-B), CSV and TSV with a header naming the fields, and JSON Lines. Every problem is a
 * {@link DatasetError} naming the file, the line and what is wrong.
 */
import { jsonDepth, MAX_JSON_DEPTH } from './json-depth.js';
import type { MetricName } from '../../search/types.js';
import type { TaskKind } from './dataset.js';
import type { Row } from './delimited.js';
import { parseDelimited, stripBom } from './delimited.js';
import { DatasetError } from './errors.js';

/** The GLUE tasks whose TSV layouts are recognised. */
export type GlueTask = 'sst2' | 'mrpc' | 'cola' | 'qnli' | 'rte' | 'stsb';

/** A file format: a GLUE layout, or a generic format with named fields. */
export type DataFormat = GlueTask | 'csv' | 'tsv' | 'jsonl';

/** Every format name, canonical spelling. */
export const DATA_FORMATS: readonly DataFormat[] = ['sst2', 'mrpc', 'cola', 'qnli', 'rte', 'stsb', 'csv', 'tsv', 'jsonl'];

/** How to read users' files; all optional. */
export interface ParseOptions {
  /** The format; detected from the extension, content type or GLUE header when absent. */
  format?: DataFormat;
  /** Column or JSON field of the text. @defaultValue 'text' */
  textField?: string;
  /** Column or JSON field of the second text of a pair task; none when absent. */
  textPairField?: string;
  /** Column or JSON field of the label. @defaultValue 'label' */
  labelField?: string;
  /** @defaultValue 'classification' */
  kind?: TaskKind;
  /** Class names in class-id order; every label must be one of them. Inferred when absent. */
  labels?: string[];
}

/** A GLUE task's file layout and scoring. */
export interface GlueLayout {
  task: GlueTask;
  /** The task's usual name, e.g. `SST-2`. */
  title: string;
  /** The exact header of train.tsv and dev.tsv, or null when the files have none (CoLA). */
  header: readonly string[] | null;
  columns: number;
  textColumn: number;
  textPairColumn?: number;
  labelColumn: number;
  kind: TaskKind;
  /** Label values as written in the file, in class-id order (classification). */
  rawLabels: readonly string[];
  /** Class names in class-id order (as the Hugging Face `glue` dataset names them). */
  labels: readonly string[];
  /** GLUE's official metrics first, then the others that apply. */
  metrics: readonly MetricName[];
}

/** The layouts of GLUE's train.tsv and dev.tsv files. */
export const GLUE_LAYOUTS: Readonly<Record<GlueTask, GlueLayout>> = {
  sst2: {
    task: 'sst2', title: 'SST-2', header: ['sentence', 'label'], columns: 2, textColumn: 0, labelColumn: 1,
    kind: 'classification', rawLabels: ['0', '1'], labels: ['negative', 'positive'], metrics: ['accuracy', 'f1', 'matthews'],
  },
  mrpc: {
    task: 'mrpc', title: 'MRPC', header: ['Quality', '#1 ID', '#2 ID', '#1 String', '#2 String'], columns: 5,
    textColumn: 3, textPairColumn: 4, labelColumn: 0,
    kind: 'classification', rawLabels: ['0', '1'], labels: ['not_equivalent', 'equivalent'], metrics: ['f1', 'accuracy', 'matthews'],
  },
  cola: {
    task: 'cola', title: 'CoLA', header: null, columns: 4, textColumn: 3, labelColumn: 1,
    kind: 'classification', rawLabels: ['0', '1'], labels: ['unacceptable', 'acceptable'], metrics: ['matthews', 'accuracy', 'f1'],
  },
  qnli: {
    task: 'qnli', title: 'QNLI', header: ['index', 'question', 'sentence', 'label'], columns: 4,
    textColumn: 1, textPairColumn: 2, labelColumn: 3,
    kind: 'classification', rawLabels: ['entailment', 'not_entailment'], labels: ['entailment', 'not_entailment'],
    metrics: ['accuracy', 'f1', 'matthews'],
  },
  rte: {
    task: 'rte', title: 'RTE', header: ['index', 'sentence1', 'sentence2', 'label'], columns: 4,
    textColumn: 1, textPairColumn: 2, labelColumn: 3,
    kind: 'classification', rawLabels: ['entailment', 'not_entailment'], labels: ['entailment', 'not_entailment'],
    metrics: ['accuracy', 'f1', 'matthews'],
  },
  stsb: {
    task: 'stsb', title: 'STS-B',
    header: ['index', 'genre', 'filename', 'year', 'old_index', 'source1', 'source2', 'sentence1', 'sentence2', 'score'],
    columns: 10, textColumn: 7, textPairColumn: 8, labelColumn: 9,
    kind: 'regression', rawLabels: [], labels: [], metrics: ['pearson', 'spearman'],
  },
};

/** One example as read from a file, before labels become class ids. */
export interface RawExample {
  text: string;
  textPair?: string;
  label: string;
  /** 1-based line the example starts on. */
  line: number;
}

/** What a file held: its examples and, for a GLUE file, its layout. */
export interface ParsedFile {
  file: string;
  format: DataFormat;
  glue?: GlueLayout;
  examples: RawExample[];
}

/**
 * The canonical format name of a user's spelling (`SST-2`, `sts_b`, `ndjson` ...).
 * @throws DatasetError listing the known formats.
 */
export function normaliseFormat(name: string, file = 'format'): DataFormat {
  const key = name.toLowerCase().replace(/[-_\s]/g, '');
  const canonical = key === 'ndjson' || key === 'jsonlines' ? 'jsonl' : key;
  if ((DATA_FORMATS as readonly string[]).includes(canonical)) return canonical as DataFormat;
  throw new DatasetError({ file }, `unknown format ${JSON.stringify(name)}; known formats: ${DATA_FORMATS.join(', ')}`);
}

/** The format a file name implies by its extension, if any. */
export function formatFromFileName(fileName: string): DataFormat | undefined {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.tsv')) return 'tsv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  return undefined;
}

function isGlue(format: DataFormat): format is GlueTask {
  return Object.hasOwn(GLUE_LAYOUTS, format);
}

/**
 * Parses one file's text. `format` `tsv` first tries the GLUE layouts (by header, or CoLA's
 * header-less shape) and falls back to a header with named fields.
 * @throws DatasetError naming the file, line and problem.
 */
export function parseDataFile(text: string, file: string, options: ParseOptions = {}): ParsedFile {
  const format = options.format ?? formatFromFileName(file);
  if (format === undefined) {
    throw new DatasetError({ file }, 'cannot tell the format from the file name; name it .csv, .tsv or .jsonl, or give a format');
  }
  if (stripBom(text).trim() === '') throw new DatasetError({ file }, 'file is empty');
  if (format === 'jsonl') return { file, format, examples: parseJsonLines(text, file, options) };
  if (format === 'csv') return { file, format, examples: parseNamedColumns(parseDelimited(text, { file, delimiter: ',', quoted: true }), file, options) };
  const rows = parseDelimited(text, { file, delimiter: '\t', quoted: false });
  if (isGlue(format)) return parseGlue(rows, file, GLUE_LAYOUTS[format]);
  const detected = detectGlueLayout(rows);
  if (detected) return parseGlue(rows, file, detected);
  return { file, format, examples: parseNamedColumns(rows, file, options, true) };
}

/** The GLUE layout whose header (or, for CoLA, whose shape) the rows have, if any. */
export function detectGlueLayout(rows: readonly Row[]): GlueLayout | undefined {
  const first = rows[0];
  if (!first) return undefined;
  for (const layout of Object.values(GLUE_LAYOUTS)) {
    if (layout.header && sameHeader(first.fields, layout.header)) return layout;
  }
  const cola = GLUE_LAYOUTS.cola;
  const f = first.fields;
  if (f.length === cola.columns && cola.rawLabels.includes(f[cola.labelColumn]!) && (f[2] === '' || f[2] === '*')) return cola;
  return undefined;
}

function sameHeader(fields: readonly string[], header: readonly string[]): boolean {
  return fields.length === header.length && fields.every((f, i) => f.trim() === header[i]);
}

function parseGlue(rows: readonly Row[], file: string, layout: GlueLayout): ParsedFile {
  let body = rows;
  if (layout.header) {
    const first = rows[0];
    if (!first || !sameHeader(first.fields, layout.header)) {
      throw new DatasetError(
        { file, line: first?.line ?? 1 },
        `expected the ${layout.title} header "${layout.header.join('\\t')}", got "${first?.fields.join('\\t') ?? ''}"`,
      );
    }
    body = rows.slice(1);
  }
  if (body.length === 0) throw new DatasetError({ file }, `has a ${layout.title} header but no examples`);
  const examples = body.map((row): RawExample => {
    if (row.fields.length !== layout.columns) {
      throw new DatasetError(
        { file, line: row.line },
        `expected ${layout.columns} tab-separated columns (${layout.title} layout), got ${row.fields.length}`,
      );
    }
    const name = (column: number): string => (layout.header ? `column "${layout.header[column]}"` : `column ${column + 1}`);
    const text = requireText(row.fields[layout.textColumn]!, file, row.line, name(layout.textColumn));
    const label = row.fields[layout.labelColumn]!.trim();
    if (label === '') throw new DatasetError({ file, line: row.line }, `missing label (${name(layout.labelColumn)} is empty)`);
    const example: RawExample = { text, label, line: row.line };
    if (layout.textPairColumn !== undefined) {
      example.textPair = requireText(row.fields[layout.textPairColumn]!, file, row.line, name(layout.textPairColumn));
    }
    return example;
  });
  return { file, format: layout.task, glue: layout, examples };
}

function requireText(value: string, file: string, line: number, where: string): string {
  if (value.trim() === '') throw new DatasetError({ file, line }, `empty text (${where} is empty)`);
  return value;
}

function parseNamedColumns(rows: readonly Row[], file: string, options: ParseOptions, glueCandidate = false): RawExample[] {
  const header = rows[0];
  if (!header) throw new DatasetError({ file }, 'file is empty');
  const names = header.fields.map((f) => f.trim());
  const textField = options.textField ?? 'text';
  const labelField = options.labelField ?? 'label';
  const column = (field: string, option: string): number => {
    const index = names.indexOf(field);
    if (index < 0) {
      const hint = glueCandidate ? ' It matches no GLUE layout (SST-2, MRPC, CoLA, QNLI, RTE, STS-B) either.' : '';
      throw new DatasetError(
        { file, line: header.line },
        `the header has no column "${field}" (${option}); columns: ${names.map((n) => JSON.stringify(n)).join(', ')}.${hint}`,
      );
    }
    return index;
  };
  const textColumn = column(textField, 'textField');
  const labelColumn = column(labelField, 'labelField');
  const pairColumn = options.textPairField === undefined ? undefined : column(options.textPairField, 'textPairField');
  if (rows.length === 1) throw new DatasetError({ file }, 'has a header but no examples');
  return rows.slice(1).map((row): RawExample => {
    if (row.fields.length !== names.length) {
      throw new DatasetError({ file, line: row.line }, `expected ${names.length} columns (as in the header), got ${row.fields.length}`);
    }
    const text = requireText(row.fields[textColumn]!, file, row.line, `column "${textField}"`);
    const label = row.fields[labelColumn]!.trim();
    if (label === '') throw new DatasetError({ file, line: row.line }, `missing label (column "${labelField}" is empty)`);
    const example: RawExample = { text, label, line: row.line };
    if (pairColumn !== undefined) example.textPair = requireText(row.fields[pairColumn]!, file, row.line, `column "${options.textPairField}"`);
    return example;
  });
}

function parseJsonLines(text: string, file: string, options: ParseOptions): RawExample[] {
  const textField = options.textField ?? 'text';
  const labelField = options.labelField ?? 'label';
  const pairField = options.textPairField;
  const examples: RawExample[] = [];
  const lines = stripBom(text).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const source = lines[i]!.trim();
    if (source === '') continue;
    const line = i + 1;
    if (jsonDepth(source, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
      throw new DatasetError({ file, line }, `the JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
    }
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (error) {
      throw new DatasetError({ file, line }, `invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new DatasetError({ file, line }, `expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
    }
    const record = value as Record<string, unknown>;
    const textValue = Object.hasOwn(record, textField) ? record[textField] : undefined;
    if (typeof textValue !== 'string' || textValue.trim() === '') {
      throw new DatasetError({ file, line }, `field "${textField}" (textField) must be a non-empty string, got ${describe(textValue)}`);
    }
    const labelValue = Object.hasOwn(record, labelField) ? record[labelField] : undefined;
    if (labelValue === undefined || labelValue === null || labelValue === '') {
      throw new DatasetError({ file, line }, `missing label (field "${labelField}")`);
    }
    if (typeof labelValue !== 'string' && typeof labelValue !== 'number' && typeof labelValue !== 'boolean') {
      throw new DatasetError({ file, line }, `label (field "${labelField}") must be a string, number or boolean, got ${describe(labelValue)}`);
    }
    const example: RawExample = { text: textValue, label: String(labelValue).trim(), line };
    if (pairField !== undefined) {
      const pairValue = Object.hasOwn(record, pairField) ? record[pairField] : undefined;
      if (typeof pairValue !== 'string' || pairValue.trim() === '') {
        throw new DatasetError({ file, line }, `field "${pairField}" (textPairField) must be a non-empty string, got ${describe(pairValue)}`);
      }
      example.textPair = pairValue;
    }
    examples.push(example);
  }
  if (examples.length === 0) throw new DatasetError({ file }, 'file is empty');
  return examples;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  const json = JSON.stringify(value);
  return json.length > 40 ? `${json.slice(0, 37)}...` : json;
}
