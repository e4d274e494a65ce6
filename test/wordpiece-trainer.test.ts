import { describe, expect, it } from 'vitest';
import { trainWordPieceVocab } from '../workers/models/pretrain/wordpiece-trainer.js';

const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

describe('trainWordPieceVocab', () => {
  const counts = new Map([
    ['low', 5],
    ['lower', 2],
    ['newest', 6],
    ['widest', 3],
  ]);

  it('starts with the special tokens and every character, plain and ##-continued', () => {
    const vocab = trainWordPieceVocab(counts, { vocabSize: 100, specialTokens: specials });
    expect(vocab.slice(0, 5)).toEqual(specials);
    for (const ch of 'lowernstid') {
      expect(vocab).toContain(ch);
      expect(vocab).toContain(`##${ch}`);
    }
  });

  it('merges the most frequent adjacent pieces first, writing continuations with ##', () => {
    const vocab = trainWordPieceVocab(counts, { vocabSize: 100, specialTokens: specials, minFrequency: 1 });
    const learned = vocab.slice(5 + 2 * 10);
    // "##e ##s" and "##s ##t" occur 9 times (newest, widest): the first merge is one of them, by text order.
    expect(learned[0]).toBe('##es');
    expect(learned).toContain('##est');
    expect(learned).toContain('low');
    expect(learned).toContain('newest');
    expect(new Set(vocab).size).toBe(vocab.length);
  });

  it('stops at the requested size and is deterministic', () => {
    const a = trainWordPieceVocab(counts, { vocabSize: 30, specialTokens: specials, minFrequency: 1 });
    expect(a).toHaveLength(30);
    expect(trainWordPieceVocab(counts, { vocabSize: 30, specialTokens: specials, minFrequency: 1 })).toEqual(a);
  });

  it('keeps the characters of rare words but leaves the words out of the merges', () => {
    const vocab = trainWordPieceVocab(new Map([['zebra', 1], ['aaa', 9]]), { vocabSize: 50, specialTokens: specials });
    expect(vocab).toContain('z');
    expect(vocab).not.toContain('ze');
    expect(vocab).toContain('aaa');
  });
});
