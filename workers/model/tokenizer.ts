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

/** Id of the padding token; padding positions also get attention-mask 0. */
export const PAD_ID = 0;
/** Id of the classification token that starts every sequence (its final state is pooled). */
export const CLS_ID = 1;
/** Id of the separator token that ends every sequence. */
export const SEP_ID = 2;
/** Number of reserved ids before the first word id. */
export const RESERVED_IDS = 3;

/** Token ids and attention masks of a batch, row-major `[count, seqLength]`. */
export interface EncodedBatch {
  count: number;
  seqLength: number;
  /** Token ids; padding is {@link PAD_ID}. */
  ids: Int32Array;
  /** 1 for real tokens (including [CLS] and [SEP]), 0 for padding. */
  mask: Float32Array;
}

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
export class HashedWordTokenizer {
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
   * Encodes texts to `seqLength` ids each: [CLS], as many word ids as fit, [SEP], then [PAD].
   * Longer texts are truncated (their [SEP] is kept).
   */
  encodeBatch(texts: readonly string[], seqLength: number): EncodedBatch {
    if (!Number.isInteger(seqLength) || seqLength < 2) {
      throw new RangeError(`seqLength must be an integer of at least 2 ([CLS] and [SEP]), got ${seqLength}`);
    }
    const ids = new Int32Array(texts.length * seqLength); // zero-filled = [PAD]
    const mask = new Float32Array(texts.length * seqLength);
    texts.forEach((text, row) => {
      const offset = row * seqLength;
      const words = this.tokenize(text, seqLength - 2);
      ids[offset] = CLS_ID;
      words.forEach((id, i) => {
        ids[offset + 1 + i] = id;
      });
      ids[offset + 1 + words.length] = SEP_ID;
      mask.fill(1, offset, offset + words.length + 2);
    });
    return { count: texts.length, seqLength, ids, mask };
  }
}
