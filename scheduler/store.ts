/**
 * Redis is the system of record for studies and trials. All keys share one hash tag (the
 * prefix, `{autopeft}` by default) so that the same code runs on Redis Cluster.
 *
 * Layout under prefix P:
 *   P:studies            sorted set of study ids by creation time
 *   P:active             set of study ids a scheduler still has to drive
 *   P:study:<id>         JSON of the StudyRecord
 *   P:study:<id>:trials  hash: trial number -> JSON of the TrialRecord
 *   P:events             pub/sub channel of `{ studyId, type }` change notices
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { countBaseParams } from '../search/param-count.js';
import type { EncoderShape } from '../search/types.js';
import { artifactKey, stopRequestKey, stoppedWorkersKey } from '../workers/job-types.js';
import type { StopReason, StoppedWorker } from '../workers/job-types.js';
import type { StudyRecord, StudySpec, StudySummary, StudyView, TrialRecord } from './types.js';

/** A change notice published after every write, for live views. */
export interface StudyEvent {
  studyId: string;
  type: 'study-created' | 'study-updated' | 'trial-updated' | 'study-deleted';
}

/** A study id (a UUID): ids are checked against this before any key is built from them. */
export const STUDY_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The key prefix used when none is configured. */
export const DEFAULT_KEY_PREFIX = '{autopeft}';

/** Reads and writes studies and trials in Redis. */
export class StudyStore {
  constructor(
    private readonly redis: Redis,
    readonly prefix: string = DEFAULT_KEY_PREFIX,
  ) {}

  /** The pub/sub channel of change notices. */
  get eventsChannel(): string {
    return `${this.prefix}:events`;
  }

  private studyKey(id: string): string {
    return `${this.prefix}:study:${id}`;
  }

  private trialsKey(id: string): string {
    return `${this.prefix}:study:${id}:trials`;
  }

  private cancelKey(id: string): string {
    return `${this.prefix}:study:${id}:cancel`;
  }

  private lockKey(id: string): string {
    return `${this.prefix}:lock:${id}`;
  }

  /**
   * Stores a new queued study on a base model of that shape, created by the token named
   * `owner`, and marks it active for the schedulers.
   */
  async createStudy(spec: StudySpec, baseShape: EncoderShape, headOutputs: number, owner?: string): Promise<StudyRecord> {
    const now = new Date();
    const study: StudyRecord = {
      id: randomUUID(),
      ...(owner !== undefined ? { owner } : {}),
      spec,
      state: 'queued',
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      baseShape,
      baseParams: countBaseParams(baseShape),
      headOutputs,
    };
    await this.redis
      .multi()
      .set(this.studyKey(study.id), JSON.stringify(study))
      .zadd(`${this.prefix}:studies`, now.getTime(), study.id)
      .sadd(`${this.prefix}:active`, study.id)
      .publish(this.eventsChannel, JSON.stringify({ studyId: study.id, type: 'study-created' } satisfies StudyEvent))
      .exec();
    return study;
  }

  /** Workers that stopped taking trials after failing several in a row, by name. */
  async stoppedWorkers(): Promise<StoppedWorker[]> {
    const records = await this.redis.hvals(stoppedWorkersKey(this.prefix));
    return records.map((json) => JSON.parse(json) as StoppedWorker).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The study, or undefined if there is none with that id. */
  async getStudy(id: string): Promise<StudyRecord | undefined> {
    const json = await this.redis.get(this.studyKey(id));
    return json === null ? undefined : (JSON.parse(json) as StudyRecord);
  }

  /** Replaces a study's record (the caller holds the study's lock) and notifies. */
  async saveStudy(study: StudyRecord): Promise<void> {
    study.updatedAt = new Date().toISOString();
    const multi = this.redis.multi().set(this.studyKey(study.id), JSON.stringify(study));
    if (study.state === 'completed' || study.state === 'failed' || study.state === 'cancelled') {
      multi.srem(`${this.prefix}:active`, study.id);
    }
    await multi.publish(this.eventsChannel, JSON.stringify({ studyId: study.id, type: 'study-updated' } satisfies StudyEvent)).exec();
  }

  /** The study's trials, ordered by number. */
  async getTrials(id: string): Promise<TrialRecord[]> {
    const all = await this.redis.hvals(this.trialsKey(id));
    return all.map((json) => JSON.parse(json) as TrialRecord).sort((a, b) => a.number - b.number);
  }

  /** Writes one trial (new or changed) and notifies. */
  async saveTrial(studyId: string, trial: TrialRecord): Promise<void> {
    await this.redis
      .multi()
      .hset(this.trialsKey(studyId), String(trial.number), JSON.stringify(trial))
      .publish(this.eventsChannel, JSON.stringify({ studyId, type: 'trial-updated' } satisfies StudyEvent))
      .exec();
  }

  /** Asks the schedulers to cancel a study; false if it is already finished or unknown. */
  async requestCancel(id: string): Promise<boolean> {
    const study = await this.getStudy(id);
    if (!study || study.state === 'completed' || study.state === 'failed' || study.state === 'cancelled') return false;
    await this.redis.set(this.cancelKey(id), '1');
    return true;
  }

  /**
   * Deletes a finished study: its record, trials, trained adapters and stop requests. Returns
   * false (and deletes nothing) if the study is unknown or still queued or running. The queue
   * forgets the study's finished jobs on its own (after 7 days).
   */
  async deleteStudy(id: string): Promise<boolean> {
    const study = await this.getStudy(id);
    if (!study || study.state === 'queued' || study.state === 'running') return false;
    const numbers = (await this.redis.hkeys(this.trialsKey(id))).map(Number);
    const perTrial = numbers.flatMap((n) => {
      const jobId = trialJobIdOf(id, n);
      return [artifactKey(this.prefix, jobId), stopRequestKey(this.prefix, jobId)];
    });
    await this.redis
      .multi()
      .del(this.studyKey(id), this.trialsKey(id), this.cancelKey(id), this.lockKey(id), ...perTrial)
      .zrem(`${this.prefix}:studies`, id)
      .srem(`${this.prefix}:active`, id)
      .publish(this.eventsChannel, JSON.stringify({ studyId: id, type: 'study-deleted' } satisfies StudyEvent))
      .exec();
    return true;
  }

  /** Whether a cancellation of the study was asked for. */
  async cancelRequested(id: string): Promise<boolean> {
    return (await this.redis.exists(this.cancelKey(id))) === 1;
  }

  /** Asks whichever worker holds a trial's job to stop it between steps. */
  async requestStop(jobId: string, reason: StopReason): Promise<void> {
    // Expires so that stop requests of long-gone jobs do not pile up.
    await this.redis.set(stopRequestKey(this.prefix, jobId), reason, 'EX', 24 * 3600);
  }

  /** One file of a trial's stored artifact, or undefined. */
  async getArtifactFile(studyId: string, trialNumber: number, file: string): Promise<Buffer | undefined> {
    return (await this.redis.hgetBuffer(artifactKey(this.prefix, trialJobIdOf(studyId, trialNumber)), file)) ?? undefined;
  }

  /** How many of the studies a scheduler still has to drive were created by `owner`. */
  async activeStudiesOf(owner: string): Promise<number> {
    const ids = await this.activeStudyIds();
    if (ids.length === 0) return 0;
    const records = await this.redis.mget(ids.map((id) => this.studyKey(id)));
    return records.filter((json) => json !== null && (JSON.parse(json) as StudyRecord).owner === owner).length;
  }

  /** Ids of the studies a scheduler still has to drive. */
  async activeStudyIds(): Promise<string[]> {
    return this.redis.smembers(`${this.prefix}:active`);
  }

  /** Study ids, newest first. */
  async listStudyIds(limit = 200): Promise<string[]> {
    return this.redis.zrevrange(`${this.prefix}:studies`, 0, limit - 1);
  }

  /** A study with its trials and best trial, or undefined. */
  async getStudyView(id: string): Promise<StudyView | undefined> {
    const [study, trials] = await Promise.all([this.getStudy(id), this.getTrials(id)]);
    if (!study) return undefined;
    const best = bestTrial(trials);
    return { ...study, trials, ...(best ? { bestTrial: best.number } : {}) };
  }

  /** One summary line per study, newest first. */
  async listStudies(limit = 200): Promise<StudySummary[]> {
    const ids = await this.listStudyIds(limit);
    const views = await Promise.all(ids.map((id) => this.getStudyView(id)));
    return views.filter((v): v is StudyView => v !== undefined).map(summarize);
  }

  /**
   * Takes or renews the study's lock for `owner`; true if `owner` holds it afterwards.
   * The expiry lets another scheduler take over when this one dies.
   */
  async acquireLock(studyId: string, owner: string, ttlMs: number): Promise<boolean> {
    const key = this.lockKey(studyId);
    const result = await this.redis.eval(
      // Renew if we hold it, else take it only if free: one atomic step so two schedulers never both win.
      `local v = redis.call('GET', KEYS[1])
       if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
       if v then return 0 end
       redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1`,
      1,
      key,
      owner,
      String(ttlMs),
    );
    return result === 1;
  }

  /** Gives up the study's lock if `owner` holds it. */
  async releaseLock(studyId: string, owner: string): Promise<void> {
    await this.redis.eval(
      `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
      1,
      this.lockKey(studyId),
      owner,
    );
  }
}

/** Job id of a trial: deterministic, so enqueueing twice after a crash adds one job. */
export function trialJobIdOf(studyId: string, trialNumber: number): string {
  return `${studyId}-${trialNumber}`;
}

/** The complete trial with the highest metric; ties go to fewer trainable parameters. */
export function bestTrial(trials: TrialRecord[]): TrialRecord | undefined {
  let best: TrialRecord | undefined;
  for (const trial of trials) {
    if (trial.state !== 'complete' || trial.metric === undefined) continue;
    if (!best || trial.metric > best.metric! || (trial.metric === best.metric && trial.trainableParams < best.trainableParams)) {
      best = trial;
    }
  }
  return best;
}

function summarize(view: StudyView): StudySummary {
  const best = view.bestTrial === undefined ? undefined : view.trials.find((t) => t.number === view.bestTrial);
  return {
    id: view.id,
    name: view.spec.name,
    ...(view.owner !== undefined ? { owner: view.owner } : {}),
    state: view.state,
    createdAt: view.createdAt,
    dataset: view.spec.task.dataset,
    baseModel: view.spec.task.baseModel,
    metric: view.spec.task.metric,
    trialsTotal: view.trials.length,
    trialsDone: view.trials.filter((t) => t.state === 'complete' || t.state === 'pruned' || t.state === 'failed').length,
    maxTrials: view.spec.budget.maxTrials,
    ...(best?.metric !== undefined ? { bestMetric: best.metric } : {}),
  };
}
