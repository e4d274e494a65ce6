/**
 * A hashed word tokenizer, used until a real vocabulary is bundled with a pretrained model.
 *
 * Text is lowercased and split into words (runs of letters, digits and marks) and single
 * punctuation/symbol characters; each piece maps to an id by a stable 32-bit FNV-1a hash of its
 * UTF-8 bytes. No vocabulary file is needed, ids are the same on every host, and unrelated words
 * share an id only by hash collision.
 *
 * Id layout: 0 = [PAD], 1 = [CLS], 2 = [SEP]; words take ids 3 .. vocabSize-1.
 */

import type { EncodedBatch, SpecialTokens, TextTokenizer } from './encoding.js';
import { encodeWithSpecials } from './encoding.js';

/** Id of the padding token; padding positions also get attention-mask 0. */
export const PAD_ID = 0;
/** Id of the classification token that starts every sequence (its final state is pooled). */
export const CLS_ID = 1;
/** Id of the separator token that ends every sequence. */
export const SEP_ID = 2;
/** Number of reserved ids before the first word id. */
export const RESERVED_IDS = 3;

export type { EncodedBatch } from './encoding.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a hash of the UTF-8 encoding of `text`. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET;
  const mix = (byte: number): void => {
    hash = Math.imul(hash ^ byte, FNV_PRIME);
  };
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    // Encode the code point as UTF-8 on the fly: cheaper than a TextEncoder per word.
    if (cp < 0x80) {
      mix(cp);
    } else if (cp < 0x800) {
      mix(0xc0 | (cp >> 6));
      mix(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      mix(0xe0 | (cp >> 12));
      mix(0x80 | ((cp >> 6) & 0x3f));
      mix(0x80 | (cp & 0x3f));
    } else {
      mix(0xf0 | (cp >> 18));
      mix(0x80 | ((cp >> 12) & 0x3f));
      mix(0x80 | ((cp >> 6) & 0x3f));
      mix(0x80 | (cp & 0x3f));
    }
  }
  return hash >>> 0;
}

// Letters, digits and combining marks form words; every other non-space character stands alone.
const PIECE = /[\p{L}\p{N}\p{M}]+|[^\s\p{L}\p{N}\p{M}]/gu;

/**
 * The first `limit` pieces of `text`, lowercased. Stops early because an e-mail can be far
 * longer than the handful of tokens a model reads.
 */
export function splitWords(text: string, limit = Number.POSITIVE_INFINITY): string[] {
  const pieces: string[] = [];
  const pattern = new RegExp(PIECE.source, PIECE.flags);
  let match: RegExpExecArray | null;
  while (pieces.length < limit && (match = pattern.exec(text)) !== null) {
    pieces.push(match[0].toLowerCase());
  }
  return pieces;
}

/** Maps text to fixed-length id sequences: `[CLS] words... [SEP]` then padding. */
export class HashedWordTokenizer implements TextTokenizer {
  readonly padId = PAD_ID;

  /**
   * @param vocabSize - size of the model's word-embedding table; must exceed the reserved ids.
   */
  constructor(readonly vocabSize: number) {
    if (!Number.isInteger(vocabSize) || vocabSize <= RESERVED_IDS) {
      throw new RangeError(`vocabSize must be an integer above ${RESERVED_IDS}, got ${vocabSize}`);
    }
  }

  /** The id of one (already lowercased) word or symbol. */
  wordId(word: string): number {
    return RESERVED_IDS + (fnv1a32(word) % (this.vocabSize - RESERVED_IDS));
  }

  /** Ids of `text` without special tokens, at most `limit` of them. */
  tokenize(text: string, limit?: number): number[] {
    return splitWords(text, limit).map((word) => this.wordId(word));
  }

  /**
   * Encodes texts to `seqLength` ids each: [CLS], as many word ids as fit, [SEP], then [PAD];
   * a pair is `[CLS] a [SEP] b [SEP]` with token types 0 then 1. Longer texts are truncated
   * (the longer of a pair first; the [SEP]s are kept).
   */
  encodeBatch(texts: readonly string[], seqLength: number, pairs?: readonly (string | undefined)[]): EncodedBatch {
    return encodeWithSpecials((text, limit) => this.tokenize(text, limit), HASHED_SPECIALS, texts, seqLength, pairs);
  }
}

const HASHED_SPECIALS: SpecialTokens = { cls: CLS_ID, sep: SEP_ID, pad: PAD_ID, pairSeparator: [SEP_ID], secondTypeId: 1 };
