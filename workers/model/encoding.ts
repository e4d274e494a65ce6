/**
 * What every tokenizer shares: the batch layout, the tokenizer contract, and Hugging Face's
 * way of adding special tokens, truncating (`longest_first`) and padding (right side).
 */

/** Token ids, attention masks and token type ids of a batch, row-major `[count, seqLength]`. */
export interface EncodedBatch {
  count: number;
  seqLength: number;
  /** Token ids; padding is the tokenizer's pad id. */
  ids: Int32Array;
  /** 1 for real tokens (special tokens included), 0 for padding. */
  mask: Float32Array;
  /** Segment ids: 0 for the first text, 1 for the second of a pair (BERT); all 0 for RoBERTa. */
  typeIds: Int32Array;
}

/** Turns texts (or text pairs) into fixed-length id rows. */
export interface TextTokenizer {
  /** Id of the padding token. */
  readonly padId: number;
  /**
   * Encodes each text (and, where `pairs[i]` is a string, the pair `texts[i]`, `pairs[i]`) to
   * exactly `seqLength` ids: special tokens, truncation of the longer text first, padding.
   */
  encodeBatch(texts: readonly string[], seqLength: number, pairs?: readonly (string | undefined)[]): EncodedBatch;
}

/** The special tokens a model family wraps its inputs in. */
export interface SpecialTokens {
  /** `[CLS]` / `<s>`. */
  cls: number;
  /** `[SEP]` / `</s>`. */
  sep: number;
  pad: number;
  /** Separators between the two texts of a pair: `[SEP]` (BERT) or `</s></s>` (RoBERTa). */
  pairSeparator: readonly number[];
  /** Whether the second text gets token type 1 (BERT) or 0 (RoBERTa). */
  secondTypeId: number;
}

/**
 * Removes tokens from the end of the longer text until both fit in `budget` (ties: from the
 * second), as `truncation='longest_first'` does.
 */
export function truncatePair(first: number[], second: number[], budget: number): void {
  while (first.length + second.length > Math.max(0, budget)) {
    if (first.length > second.length) first.pop();
    else if (second.length > 0) second.pop();
    else first.pop();
  }
}

/** Encodes a batch with `tokenize` (ids without special tokens) and the family's special tokens. */
export function encodeWithSpecials(
  tokenize: (text: string, limit: number) => number[],
  special: SpecialTokens,
  texts: readonly string[],
  seqLength: number,
  pairs?: readonly (string | undefined)[],
): EncodedBatch {
  const minimum = 2 + (pairs?.some((p) => p !== undefined) ? special.pairSeparator.length + 1 : 0);
  if (!Number.isInteger(seqLength) || seqLength < minimum) {
    throw new RangeError(`seqLength must be an integer of at least ${minimum} (room for the special tokens), got ${seqLength}`);
  }
  const ids = new Int32Array(texts.length * seqLength).fill(special.pad);
  const mask = new Float32Array(texts.length * seqLength);
  const typeIds = new Int32Array(texts.length * seqLength);
  texts.forEach((text, row) => {
    const pair = pairs?.[row];
    const first = tokenize(text, seqLength);
    const second = pair === undefined ? [] : tokenize(pair, seqLength);
    const overhead = 2 + (pair === undefined ? 0 : special.pairSeparator.length + 1);
    truncatePair(first, second, seqLength - overhead);
    const tokens = [special.cls, ...first, special.sep];
    const types = new Array<number>(tokens.length).fill(0);
    if (pair !== undefined) {
      const tail = [...special.pairSeparator.slice(1), ...second, special.sep];
      tokens.push(...tail);
      types.push(...new Array<number>(tail.length).fill(special.secondTypeId));
    }
    const offset = row * seqLength;
    ids.set(tokens, offset);
    typeIds.set(types, offset);
    mask.fill(1, offset, offset + tokens.length);
  });
  return { count: texts.length, seqLength, ids, mask, typeIds };
}
