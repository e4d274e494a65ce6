/**
 * `AUTOPEFT_BLAS_THREADS=auto`: a worker's BLAS threads follow how many trials run. Workers run
 * one process per core, so while every worker trains, one BLAS thread each fills the machine;
 * when fewer trials run than there are cores, the cores left idle go to the running trials'
 * matrix products. The count is re-read every few seconds, so a trial that starts takes its
 * core back soon after.
 */

/**
 * BLAS threads for one of `running` trials on `cores` cores: the cores shared evenly, at least
 * one. `running` 0 (nothing reported yet) counts as one.
 */
export function blasThreadsFor(cores: number, running: number): number {
  return Math.max(1, Math.floor(Math.max(1, cores) / Math.max(1, running)));
}

/** Options of {@link followRunningTrials}. */
export interface FollowOptions {
  cores: number;
  /** How many trials run now (e.g. the trial queue's active jobs). */
  running: () => Promise<number>;
  /** Applies a thread count (the addon's `setBlasThreads`). */
  apply: (threads: number) => void;
  /** @defaultValue 2000 */
  intervalMs?: number;
  /** Where a failed count goes (the last count stays in force). */
  onError?: (error: unknown) => void;
}

/** Re-reads the running trials every `intervalMs` and applies the thread count when it changes; returns a stop function. */
export function followRunningTrials(options: FollowOptions): () => void {
  let current = 0;
  let busy = false;
  const check = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const threads = blasThreadsFor(options.cores, await options.running());
      if (threads !== current) {
        options.apply(threads);
        current = threads;
      }
    } catch (error) {
      options.onError?.(error);
    } finally {
      busy = false;
    }
  };
  void check();
  const timer = setInterval(() => void check(), options.intervalMs ?? 2000);
  timer.unref();
  return () => clearInterval(timer);
}
