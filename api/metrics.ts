/**
 * Prometheus metrics (`GET /metrics`, prom-client's text format). Gauges of the service's state
 * are read from Redis when scraped (summaries, the queue, stopped workers), so every API replica
 * reports the same figures; histograms are observed as they happen: request latency by route
 * and status in this process, trial duration and queue wait from the change events every API
 * receives, and the scheduler's step time where a scheduler runs in this process.
 */
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, register } from 'prom-client';
import type { StudyEvent, StudyStore } from '../scheduler/store.js';

/** What the scrape-time gauges read. */
export interface MetricsSources {
  store: StudyStore;
  /** Job counts of the trial queue by state (BullMQ's getJobCounts). */
  queueCounts: () => Promise<Record<string, number>>;
  /** Workers connected to the queue now. */
  workersAlive: () => Promise<number>;
}

/** The service's metrics and the hooks that feed them. */
export class ServiceMetrics {
  /** This API's own metrics. */
  private readonly own = new Registry();
  /** The content type of {@link ServiceMetrics.text}. */
  readonly contentType = this.own.contentType;
  private readonly requestSeconds = new Histogram({
    name: 'autopeft_http_request_duration_seconds',
    help: 'API request latency by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.own],
  });
  private readonly trialSeconds = new Histogram({
    name: 'autopeft_trial_duration_seconds',
    help: 'Training time of finished trials (start to finish), by final state',
    labelNames: ['state'] as const,
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.own],
  });
  private readonly queueWaitSeconds = new Histogram({
    name: 'autopeft_trial_queue_wait_seconds',
    help: 'Time finished trials waited in the queue (created to started)',
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [this.own],
  });
  private readonly trialsFinished = new Counter({
    name: 'autopeft_trials_finished_total',
    help: 'Trials that reached a final state, as seen by this API',
    labelNames: ['state'] as const,
    registers: [this.own],
  });
  constructor(sources: MetricsSources) {
    collectDefaultMetrics({ register: this.own, prefix: 'autopeft_api_' });
    new Gauge({
      name: 'autopeft_trials',
      help: 'Trials of all studies by state (from the per-study summaries)',
      labelNames: ['state'] as const,
      registers: [this.own],
      async collect() {
        const totals = await sources.store.trialCountsByState();
        for (const state of ['waiting', 'running', 'complete', 'pruned', 'failed'] as const) this.set({ state }, totals[state] ?? 0);
      },
    });
    new Gauge({
      name: 'autopeft_queue_jobs',
      help: 'Trial jobs in the queue by state',
      labelNames: ['state'] as const,
      registers: [this.own],
      async collect() {
        for (const [state, n] of Object.entries(await sources.queueCounts())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'autopeft_workers',
      help: 'Trial workers: connected to the queue (alive) and stopped after repeated failures',
      labelNames: ['status'] as const,
      registers: [this.own],
      async collect() {
        const [alive, stopped] = await Promise.all([sources.workersAlive(), sources.store.stoppedWorkers()]);
        this.set({ status: 'alive' }, alive);
        this.set({ status: 'stopped' }, stopped.length);
      },
    });
  }

  /**
   * What `GET /metrics` serves: this API's metrics and those of prom-client's default registry
   * (the scheduler's step time, where a scheduler runs in this process).
   */
  async text(): Promise<string> {
    const [own, shared] = await Promise.all([this.own.metrics(), register.metrics()]);
    return `${own}\n${shared}`;
  }

  /** Express middleware timing every request by its route pattern (never the raw path). */
  requestTimer(): RequestHandler {
    return (req, res, next) => {
      const end = this.requestSeconds.startTimer();
      res.on('finish', () => {
        const route = (req.route as { path?: unknown } | undefined)?.path;
        end({ method: req.method, route: typeof route === 'string' ? `${req.baseUrl}${route}` : 'unmatched', status: String(res.statusCode) });
      });
      next();
    };
  }

  /** Records a change event: a trial that finished adds to the trial histograms. */
  observe(event: StudyEvent): void {
    const finished = event.finished;
    if (!finished) return;
    this.trialsFinished.inc({ state: finished.state });
    if (finished.durationMs !== undefined) this.trialSeconds.observe({ state: finished.state }, finished.durationMs / 1000);
    if (finished.queueWaitMs !== undefined) this.queueWaitSeconds.observe(finished.queueWaitMs / 1000);
  }
}
