import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../workers/data/index.js';
import {
  DatasetError,
  loadDatasetFromPath,
  normaliseFormat,
  parseDataFile,
  parseDataset,
  parseDatasetRef,
  parseUserDataOptions,
} from '../workers/data/index.js';
import type { UserDataOptions } from '../workers/data/index.js';
import { InvalidTrialError } from '../workers/errors.js';

const ROOT = path.join(import.meta.dirname, 'fixtures', 'data');

function glue(dir: string): Promise<Dataset> {
  return loadDatasetFromPath(ROOT, `glue/${dir}`);
}

async function parseFixture(relative: string, options: UserDataOptions = {}): Promise<Dataset> {
  return parseDataset(relative, await readFile(path.join(ROOT, relative), 'utf8'), relative, options);
}

describe('GLUE directories', () => {
  it('SST-2: sentence and label columns, accuracy', async () => {
    const d = await glue('SST-2');
    expect(d.name).toBe('glue/SST-2');
    expect(d.kind).toBe('classification');
    expect(d.labels).toEqual(['negative', 'positive']);
    expect(d.defaultMetric).toBe('accuracy');
    expect([d.train.length, d.dev.length]).toEqual([8, 4]);
    expect(d.train[0]).toEqual({ text: 'a warm , funny and quietly moving film ', label: 1 });
    // Bare quotes are text in GLUE's unquoted TSV.
    expect(d.train[7]!.text).toContain('" clever "');
  });

  it('MRPC: a byte-order mark, five columns, the pair and Quality as label; F1 first', async () => {
    const d = await glue('MRPC');
    expect(d.labels).toEqual(['not_equivalent', 'equivalent']);
    expect(d.metrics).toEqual(['f1', 'accuracy', 'matthews']);
    expect(d.train[0]).toEqual({
      text: 'The council approved the budget on Tuesday.',
      textPair: 'On Tuesday the council passed the budget.',
      label: 1,
    });
    expect(d.dev).toHaveLength(2);
  });

  it('CoLA: no header, label in column 2, sentence in column 4; Matthews correlation', async () => {
    const d = await glue('CoLA');
    expect(d.defaultMetric).toBe('matthews');
    expect(d.labels).toEqual(['unacceptable', 'acceptable']);
    expect(d.train.slice(0, 2)).toEqual([
      { text: 'The cat sat on the mat.', label: 1 },
      { text: 'Cat the mat on sat the.', label: 0 },
    ]);
  });

  it('QNLI and RTE: index, two texts and entailment / not_entailment labels', async () => {
    const qnli = await glue('QNLI');
    expect(qnli.labels).toEqual(['entailment', 'not_entailment']);
    expect(qnli.train[1]).toEqual({ text: 'Who wrote the novel?', textPair: 'The novel is set in a small fishing town.', label: 1 });
    const rte = await glue('RTE');
    expect(rte.train[0]).toEqual({ text: 'The dog chased the ball across the yard.', textPair: 'An animal was chasing something.', label: 0 });
    expect(rte.dev).toHaveLength(2);
  });

  it('STS-B: ten columns, a real-valued score; regression with Pearson and Spearman', async () => {
    const d = await glue('STS-B');
    expect(d.kind).toBe('regression');
    expect(d.labels).toEqual([]);
    expect(d.metrics).toEqual(['pearson', 'spearman']);
    expect(d.train[0]).toEqual({ text: 'A man is playing a guitar.', textPair: 'A man plays the guitar.', label: 4.8 });
    expect(d.dev.map((e) => e.label)).toEqual([4, 0.2]);
  });

  it('an explicit format overrides detection and checks the header', () => {
    const text = 'sentence\tlabel\ngood\t1\nbad\t0\n';
    expect(parseDataFile(text, 'x.tsv', { format: 'sst2' }).glue?.task).toBe('sst2');
    expect(() => parseDataFile(text, 'x.tsv', { format: 'rte' })).toThrow(
      /x\.tsv, line 1: expected the RTE header "index\\tsentence1\\tsentence2\\tlabel", got "sentence\\tlabel"/,
    );
  });

  it('a single GLUE file gets a seeded dev split', async () => {
    const a = await parseFixture('glue/SST-2/train.tsv');
    const b = await parseFixture('glue/SST-2/train.tsv');
    expect(a.train.length + a.dev.length).toBe(8);
    expect(a.dev.length).toBe(2);
    expect(a).toEqual(b);
    const other = await parseFixture('glue/SST-2/train.tsv', { splitSeed: 5 });
    expect(other.dev).not.toEqual(a.dev);
  });
});

describe('CSV and JSON Lines with named fields', () => {
  it('CSV: quoted commas, doubled quotes, line breaks inside quotes, CRLF; labels sorted', async () => {
    const d = await parseFixture('csv/reviews.csv', { textField: 'review', labelField: 'stars', devFraction: 0.3 });
    expect(d.labels).toEqual(['neg', 'pos']);
    expect(d.metrics).toEqual(['accuracy', 'f1', 'matthews']);
    const texts = [...d.train, ...d.dev].map((e) => e.text);
    expect(texts).toContain('Great value, would buy again');
    expect(texts).toContain('The "premium" case is flimsy');
    expect(texts).toContain('Fits well.\r\nLooks good too.');
    expect(d.dev).toHaveLength(3);
  });

  it('CSV regression with a text pair', async () => {
    const d = await parseFixture('csv/similarity.csv', { textField: 'a', textPairField: 'b', labelField: 'score', kind: 'regression' });
    expect(d.kind).toBe('regression');
    expect(d.defaultMetric).toBe('pearson');
    expect([...d.train, ...d.dev]).toContainEqual({ text: 'the cat sleeps', textPair: 'a cat is asleep', label: 4.5 });
  });

  it('JSONL with pair fields and explicit label order; blank lines and extra fields are fine', async () => {
    const d = await parseFixture('jsonl/pairs.jsonl', {
      textField: 'premise',
      textPairField: 'hypothesis',
      labelField: 'gold',
      labels: ['no', 'yes'],
    });
    expect(d.labels).toEqual(['no', 'yes']);
    expect([...d.train, ...d.dev]).toHaveLength(6);
    expect([...d.train, ...d.dev]).toContainEqual({ text: 'She missed the bus.', textPair: 'She caught the bus.', label: 0 });
  });

  it('JSONL with numeric labels sorts them numerically; multi-class metrics', async () => {
    const d = await parseFixture('jsonl/ratings.jsonl');
    expect(d.labels).toEqual(['1', '2', '3', '4', '5']);
    expect(d.metrics).toEqual(['accuracy', 'macroF1', 'matthews']);
    expect([...d.train, ...d.dev]).toContainEqual({ text: 'loved it', label: 4 });
  });

  it('the same labels read as regression targets', async () => {
    const d = await parseFixture('jsonl/ratings.jsonl', { kind: 'regression' });
    expect([...d.train, ...d.dev].map((e) => e.label).sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('malformed files: each error names the file, the line and the problem', () => {
  const cases: [string, UserDataOptions, RegExp][] = [
    ['malformed/sst2-wrong-columns.tsv', {}, /sst2-wrong-columns\.tsv, line 3: expected 2 tab-separated columns \(SST-2 layout\), got 3/],
    ['malformed/sst2-unknown-label.tsv', {}, /sst2-unknown-label\.tsv, line 4: unknown label "2"; expected one of "0", "1"/],
    ['malformed/sst2-missing-label.tsv', {}, /sst2-missing-label\.tsv, line 3: missing label \(column "label" is empty\)/],
    ['malformed/stsb-non-numeric.tsv', {}, /stsb-non-numeric\.tsv, line 3: label "high" is not a number/],
    ['malformed/qnli-test-file.tsv', {}, /line 1: the header has no column "text".*"index", "question", "sentence".*matches no GLUE layout/],
    ['malformed/empty.csv', {}, /empty\.csv: file is empty/],
    ['malformed/blank.jsonl', {}, /blank\.jsonl: file is empty/],
    ['malformed/header-only.csv', {}, /header-only\.csv: has a header but no examples/],
    ['malformed/unclosed-quote.csv', {}, /unclosed-quote\.csv, line 3: a quoted field is never closed/],
    ['malformed/stray-quote.csv', {}, /stray-quote\.csv, line 3: a quote inside an unquoted field/],
    ['malformed/after-quote.csv', {}, /after-quote\.csv, line 2: unexpected "x" after a closing quote/],
    ['malformed/wrong-columns.csv', {}, /wrong-columns\.csv, line 4: expected 2 columns \(as in the header\), got 3/],
    ['malformed/missing-label.csv', {}, /missing-label\.csv, line 3: missing label \(column "label" is empty\)/],
    ['malformed/missing-text-column.csv', {}, /missing-text-column\.csv, line 1: the header has no column "text" \(textField\); columns: "review", "label"/],
    ['malformed/invalid.jsonl', {}, /invalid\.jsonl, line 3: invalid JSON: /],
    ['malformed/not-object.jsonl', {}, /not-object\.jsonl, line 2: expected a JSON object, got an array/],
    ['malformed/missing-label.jsonl', {}, /missing-label\.jsonl, line 2: missing label \(field "label"\)/],
    ['malformed/regression-non-numeric.csv', { kind: 'regression' }, /regression-non-numeric\.csv, line 4: label "n\/a" is not a number/],
    ['malformed/one-label.csv', {}, /one-label\.csv: every example has the label "pos"; a classification task needs at least two labels/],
    ['csv/reviews.csv', { textField: 'review', labelField: 'stars', labels: ['neg', 'meh'] }, /reviews\.csv, line 2: unknown label "pos"; expected one of "neg", "meh"/],
    ['jsonl/pairs.jsonl', { textField: 'premise', textPairField: 'hypo', labelField: 'gold' }, /pairs\.jsonl, line 1: field "hypo" \(textPairField\) must be a non-empty string, got nothing/],
  ];

  it.each(cases)('%s', async (file, options, message) => {
    const error = await parseFixture(file, options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DatasetError);
    // Workers treat it as an input no retry can fix.
    expect(error).toBeInstanceOf(InvalidTrialError);
    expect((error as Error).message).toMatch(message);
  });

  it('errors carry the line as a field', async () => {
    const error = (await parseFixture('malformed/invalid.jsonl').catch((e: unknown) => e)) as DatasetError;
    expect([error.name, error.line, error.file]).toEqual(['DatasetError', 3, 'malformed/invalid.jsonl']);
  });

  it('a file without a known extension needs a format', () => {
    expect(() => parseDataFile('text,label\n', 'data.txt')).toThrow(/data\.txt: cannot tell the format/);
    expect(parseDataFile('text,label\na,b\n', 'data.txt', { format: 'csv' }).examples).toHaveLength(1);
  });
});

describe('options and references', () => {
  it('normalises format spellings and lists the known ones', () => {
    expect(normaliseFormat('SST-2')).toBe('sst2');
    expect(normaliseFormat('sts_b')).toBe('stsb');
    expect(normaliseFormat('ndjson')).toBe('jsonl');
    expect(() => normaliseFormat('xml')).toThrow(/unknown format "xml"; known formats: sst2, mrpc, cola, qnli, rte, stsb, csv, tsv, jsonl/);
  });

  it('parses options from a query and rejects unknown or bad ones by name', () => {
    expect(parseUserDataOptions(new URLSearchParams('format=CSV&textField=t&labels=a,b&devFraction=0.1&kind=classification'), 'q')).toEqual({
      format: 'csv',
      textField: 't',
      labels: ['a', 'b'],
      devFraction: 0.1,
      kind: 'classification',
    });
    expect(() => parseUserDataOptions(new URLSearchParams('textfield=t'), 'q')).toThrow(/unknown option "textfield"/);
    expect(() => parseUserDataOptions(new URLSearchParams('devFraction=1'), 'q')).toThrow(/devFraction must be a number in \(0, 1\)/);
    expect(() => parseUserDataOptions(new URLSearchParams('kind=ranking'), 'q')).toThrow(/kind must be classification or regression/);
  });

  it('parses dataset references', () => {
    expect(parseDatasetRef('spam-assassin')).toEqual({ type: 'builtin', name: 'spam-assassin' });
    expect(parseDatasetRef('upload:abc-123')).toEqual({ type: 'upload', id: 'abc-123' });
    expect(parseDatasetRef('file:glue/RTE')).toEqual({ type: 'file', path: 'glue/RTE', options: {} });
    expect(parseDatasetRef('file:r.csv?textField=review&labelField=stars')).toEqual({
      type: 'file',
      path: 'r.csv',
      options: { textField: 'review', labelField: 'stars' },
    });
    expect(() => parseDatasetRef('upload:../x')).toThrow(/is not an upload id/);
    expect(() => parseDatasetRef('imdb')).toThrow(/Unknown dataset "imdb"; known datasets: spam-assassin, brown-genre, brown-next-sentence/);
  });
});
