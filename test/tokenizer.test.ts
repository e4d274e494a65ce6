import { describe, expect, it } from 'vitest';
import {
  CLS_ID,
  HashedWordTokenizer,
  PAD_ID,
  RESERVED_IDS,
  SEP_ID,
  fnv1a32,
  splitWords,
} from '../workers/model/tokenizer.js';

describe('fnv1a32', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes of non-ASCII text', () => {
    // 'é' is C3 A9 in UTF-8; hashing those two bytes by hand must give the same value.
    let h = 0x811c9dc5;
    for (const byte of [0xc3, 0xa9]) h = Math.imul(h ^ byte, 0x01000193);
    expect(fnv1a32('é')).toBe(h >>> 0);
  });
});

describe('splitWords', () => {
  it('lowercases and separates words from punctuation', () => {
    expect(splitWords('Hello, World!  FREE $$$ now2day')).toEqual(['hello', ',', 'world', '!', 'free', '$', '$', '$', 'now2day']);
  });

  it('stops at the limit', () => {
    expect(splitWords('a b c d e', 2)).toEqual(['a', 'b']);
  });
});

describe('HashedWordTokenizer', () => {
  const tokenizer = new HashedWordTokenizer(1000);

  it('keeps word ids clear of the reserved ids and inside the vocabulary', () => {
    for (const word of ['the', 'spam', 'viagra', '!', 'ünïcödé', '42']) {
      const id = tokenizer.wordId(word);
      expect(id).toBeGreaterThanOrEqual(RESERVED_IDS);
      expect(id).toBeLessThan(1000);
    }
    expect([PAD_ID, CLS_ID, SEP_ID]).toEqual([0, 1, 2]);
  });

  it('is deterministic across instances', () => {
    const other = new HashedWordTokenizer(1000);
    const text = 'Limited offer: click here to claim your prize.';
    expect(other.encodeBatch([text], 16)).toEqual(tokenizer.encodeBatch([text], 16));
    expect(tokenizer.tokenize('Same same')).toEqual([tokenizer.wordId('same'), tokenizer.wordId('same')]);
  });

  it('wraps short texts in [CLS] ... [SEP] and pads with a zero mask', () => {
    const { ids, mask, count, seqLength } = tokenizer.encodeBatch(['Hi there', ''], 6);
    expect(count).toBe(2);
    expect(seqLength).toBe(6);
    const hi = tokenizer.wordId('hi');
    const there = tokenizer.wordId('there');
    expect(Array.from(ids)).toEqual([CLS_ID, hi, there, SEP_ID, PAD_ID, PAD_ID, CLS_ID, SEP_ID, 0, 0, 0, 0]);
    expect(Array.from(mask)).toEqual([1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0]);
  });

  it('truncates long texts and keeps the final [SEP]', () => {
    const { ids, mask } = tokenizer.encodeBatch(['one two three four five six seven'], 5);
    expect(Array.from(ids)).toEqual([
      CLS_ID,
      tokenizer.wordId('one'),
      tokenizer.wordId('two'),
      tokenizer.wordId('three'),
      SEP_ID,
    ]);
    expect(Array.from(mask)).toEqual([1, 1, 1, 1, 1]);
  });

  it('rejects impossible sizes', () => {
    expect(() => new HashedWordTokenizer(3)).toThrow(/vocabSize/);
    expect(() => tokenizer.encodeBatch(['x'], 1)).toThrow(/seqLength/);
  });
});
