/**
 * Tokenised example sets, cached per worker process: the trials of a study train on the same
 * subsets of the same dataset with the same tokenizer and length, so only the first trial a
 * worker runs pays for tokenising (for the demo's 4,096 emails, most of a trial's setup). The
 * cache is bounded in bytes and drops the least recently used sets first.
 */
import type { EncodedBatch } from '../model/encoding.js';

/** What identifies one tokenised set. */
export interface EncodedSetKey {
  /** The examples' source list (a dataset split: the process's dataset cache keeps it alive). */
  source: object;
  /** The tokenizer (one per base model in the process). */
  tokenizer: object;
  /** Everything else that changes the result: subset size and seed, sequence length, pairs. */
  detail: string;
}

/** Bytes a tokenised set occupies. */
function bytesOf(batch: EncodedBatch): number {
  return batch.ids.byteLength + batch.mask.byteLength + batch.typeIds.byteLength;
}

/** A least-recently-used cache of tokenised sets, at most `maxBytes` in total. */
export class EncodedSetCache {
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  // Map iteration order is insertion order: re-inserting on use keeps the oldest first.
  private readonly entries = new Map<string, EncodedBatch>();
  private bytes = 0;

  constructor(readonly maxBytes: number) {}

  private idOf(value: object): number {
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(value, id);
    }
    return id;
  }

  /**
   * The cached set for `key`, or `encode()`'s result, cached when it fits. The result is shared
   * between trials: callers must not modify it.
   */
  get(key: EncodedSetKey, encode: () => EncodedBatch): EncodedBatch {
    const name = `${this.idOf(key.source)}/${this.idOf(key.tokenizer)}/${key.detail}`;
    const hit = this.entries.get(name);
    if (hit) {
      this.entries.delete(name);
      this.entries.set(name, hit);
      return hit;
    }
    const batch = encode();
    const size = bytesOf(batch);
    if (size > this.maxBytes) return batch;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes + size <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= bytesOf(entry);
    }
    this.entries.set(name, batch);
    this.bytes += size;
    return batch;
  }

  /** Sets and bytes held. */
  stats(): { sets: number; bytes: number } {
    return { sets: this.entries.size, bytes: this.bytes };
  }

  /** Empties the cache. */
  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

/**
 * The process's cache: 256 MiB, about 22 million tokens (ids, mask and type ids are 12 bytes
 * per token), e.g. 80 studies' worth of the demo's 4,096 + 1,024 examples at 64 tokens.
 */
export const encodedSets = new EncodedSetCache(256 * 2 ** 20);
