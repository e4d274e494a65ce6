/**
 * Reads every trial changed after a cursor with several page requests in flight at once.
 *
 * `GET /api/studies/:id/trials?after=&limit=` pages through the study's change log in order of
 * each trial's latest change (a sequence number per change, so the numbers between two cursors
 * hold at most that many trials). One page after another costs a round trip each, ten of them
 * for a 10,000-trial study. Here the sequence numbers after the first page are split into
 * ranges as wide as the first page needed for its trials, and each range is read on its own
 * (continuing within a range while it has more); the last range is open-ended, so nothing is
 * missed however the changes are spread, and a range that holds fewer trials than a page only
 * costs an overlap with the next one (duplicates, merged away).
 */

import type { TrialPage, TrialRecord } from '../../scheduler/types.js';

/** What the loader knows before it starts: the first page's trials and where it ended. */
export interface FirstPage {
  /** Trials already read (the first page). */
  trials: readonly TrialRecord[];
  /** The cursor after them. */
  cursor: number;
  /** Whether the first page held every trial. */
  complete: boolean;
  /** Trials of the study (how many pages are left follows from it). */
  total: number;
}

/** Reads the page of changes after `after` (at most `limit` trials). */
export type PageReader = (after: number, limit: number) => Promise<TrialPage>;

/** Every trial read, by number (a later change wins), and the cursor to continue from. */
export interface Loaded {
  trials: Map<number, TrialRecord>;
  cursor: number;
  /** Page requests made after the first page. */
  requests: number;
}

/**
 * Reads the trials after `first` with up to `concurrency` requests at a time, pages of
 * `pageSize`. The result merges the ranges in order, so when a trial changed while the ranges
 * were read, its latest version read wins.
 */
export async function loadTrials(first: FirstPage, read: PageReader, pageSize: number, concurrency = 4): Promise<Loaded> {
  const trials = new Map<number, TrialRecord>();
  for (const t of first.trials) trials.set(t.number, t);
  if (first.complete) return { trials, cursor: first.cursor, requests: 0 };
  const perPage = Math.max(1, first.trials.length);
  // Sequence numbers per trial in the first page: ranges that wide hold about one page each.
  const width = Math.max(pageSize, Math.ceil((first.cursor / perPage) * pageSize));
  const ranges = Math.max(1, Math.ceil(Math.max(0, first.total - first.trials.length) / pageSize));
  const starts = Array.from({ length: ranges }, (_, k) => first.cursor + k * width);
  const results: { trials: TrialRecord[]; cursor: number }[] = new Array(ranges);
  let requests = 0;

  const readRange = async (k: number): Promise<void> => {
    const end = k + 1 < ranges ? starts[k + 1]! : Number.POSITIVE_INFINITY;
    const got: TrialRecord[] = [];
    let after = starts[k]!;
    for (;;) {
      const page = await read(after, pageSize);
      requests++;
      got.push(...page.trials);
      after = page.cursor;
      // Done when the range's end is reached or the log has nothing more.
      if (!page.hasMore || after >= end) break;
    }
    results[k] = { trials: got, cursor: after };
  };

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ranges) await readRange(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ranges) }, worker));
  let cursor = first.cursor;
  for (const r of results) {
    for (const t of r.trials) trials.set(t.number, t);
    cursor = Math.max(cursor, r.cursor);
  }
  return { trials, cursor, requests };
}
