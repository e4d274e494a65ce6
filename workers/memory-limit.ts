/**
 * The worker's own memory limit, in a module of its own so that the configuration (and the
 * command line, which reads it) can know the default without loading TensorFlow.js.
 */

/** Default of `TrialWorkerOptions.maxRssBytes` (`AUTOPEFT_WORKER_MAX_RSS`): 2 GiB. */
export const DEFAULT_WORKER_MAX_RSS = 2 * 2 ** 30;
