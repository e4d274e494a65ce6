/**
 * The project's one configuration format: the best-configuration download, each trial's
 * configuration and the `autopeft/` folder of a trial bundle all carry it.
 */
export const CONFIG_FORMAT = 'autopeft.trial-config/v1';
