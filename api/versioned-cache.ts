/**
 * A bounded in-process cache of answer texts, each stored with the version of the data it was
 * built from. A lookup names the version the caller just read from Redis and hits only on an
 * exact match, so a stale entry is never served: it is simply rebuilt. No invalidation message
 * is needed, which matters because pub/sub notices can be lost while a connection is down.
 */

/** One cached answer. */
interface Entry {
  version: string;
  text: string;
}

/** Most-recently-used bounded map from key to (version, text). */
export class VersionedCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  /**
   * @param maxEntries - most answers kept
   * @param maxBytes - most UTF-16 code units kept in all (about twice the bytes of memory)
   */
  constructor(
    private readonly maxEntries = 4096,
    private readonly maxBytes = 32 * 1024 * 1024,
  ) {}

  /** The text cached under `key` if it was built from `version`, else undefined. */
  get(key: string, version: string): string | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.version !== version) return undefined;
    // Re-inserted so that the map's order is the order of last use.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.text;
  }

  /** Keeps `text` as the answer for `key` at `version`, evicting the least recently used. */
  set(key: string, version: string, text: string): void {
    if (text.length > this.maxBytes / 8) return; // one answer never crowds out the rest
    this.remove(key);
    this.entries.set(key, { version, text });
    this.bytes += text.length;
    for (const [oldest] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.remove(oldest);
    }
  }

  /** Number of answers held. */
  get size(): number {
    return this.entries.size;
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.bytes -= entry.text.length;
    this.entries.delete(key);
  }
}
