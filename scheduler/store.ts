/**
 * Redis is the system of record for studies and trials. Each study's keys carry the study id as
 * their hash tag (S below, see {@link studyKeyBase}), so on Redis Cluster a study lives on one
 * shard, its atomic writes stay there, and studies spread over the shards; the global keys
 * carry the prefix's own hash tag (P, `{autopeft}` by default), as the queue does. No command
 * or script touches keys of two studies, or a study's and a global key, at once.
 *
 * Layout (P = the prefix, S = `autopeft:study:{<id>}` for prefix `{autopeft}`):
 *   P:studies            sorted set of study ids by creation time
 *   P:active             set of study ids a scheduler still has to drive
 *   S                    JSON of the StudyRecord
 *   S:trials             hash: trial number -> JSON of the TrialRecord
 *   S:summary            hash: count:<state>, seq, rev, bestTrial, bestMetric, bestParams, updatedAt
 *   S:front              hash: trial number -> "metric params" of the complete Pareto-optimal trials
 *   S:changes            sorted set: trial number by the `seq` of its latest change
 *   S:cancel, S:lock     a cancellation request; the scheduler lock (value: its owner)
 *   S:artifact:<n>, S:result:<n>, S:stop:<n>   a trial's files, stored outcome, stop request
 *   P:schedulers         sorted set: scheduler id by the time of its last heartbeat
 *   P:listrev            counter bumped after every study or trial write (the version of the list)
 *   P:events             pub/sub channel of `{ studyId, type }` change notices
 */
import { randomUUID } from 'node:crypto';
import { countBaseParams } from '../search/param-count.js';
import type { EncoderShape } from '../search/types.js';
import { artifactKey, resultKey, stopRequestKey, stoppedWorkersKey, studyKeyBase } from '../workers/job-types.js';
import type { RedisClient } from '../workers/redis-connection.js';
import type { StopReason, StoppedWorker } from '../workers/job-types.js';
import type { StudyRecord, StudySpec, StudySummary, StudyView, TrialPage, TrialRecord } from './types.js';

export type { StudyPage, TrialPage } from './types.js';

/** A page of changed trials as their stored JSON texts (see {@link StudyStore.rawTrialsChangedAfter}). */
export interface RawTrialPage {
  /** The trial numbers, in the order of `json`. */
  numbers: number[];
  /** Each trial's stored record, a JSON object text. */
  json: string[];
  cursor: number;
  hasMore: boolean;
}

/** A change notice published after every write, for live views. */
export interface StudyEvent {
  studyId: string;
  type: 'study-created' | 'study-updated' | 'trial-updated' | 'study-deleted';
  /** For `trial-updated`: the trial that changed and the study's change cursor after it. */
  trial?: number;
  seq?: number;
  /** For a trial that reached a final state: the state and its timings. */
  finished?: { state: TrialRecord['state']; durationMs?: number; queueWaitMs?: number };
}

/** What a study's summary hash says, parsed. */
export interface StudyCounts {
  byState: Partial<Record<TrialRecord['state'], number>>;
  total: number;
  /** The study's change cursor: the `seq` of its latest trial change. */
  seq: number;
  bestTrial?: number;
  bestMetric?: number;
  frontSize: number;
  updatedAt?: string;
}

/**
 * Writes a trial and keeps the study's summary in the same atomic step: counts by state, the
 * change cursor and change set, the best complete trial (highest metric, ties to fewer
 * parameters) and the Pareto front of complete trials (maximise metric, minimise parameters).
 * KEYS: trials, summary, front, changes, the study's lock. ARGV: number, trial JSON, state, metric
 * ('' if none), trainable parameters, time, the fence (the lock owner the write needs, '' for
 * none), '1' when the summary is being rebuilt (the stored copy of the trial is not counted yet),
 * the stored JSON the write expects to replace ('' for any).
 * Returns {the new seq, 1 when this write takes the trial into a finished state (0 when it was
 * finished already, or the summary is being rebuilt)}; -1 when the fence's owner no longer holds the lock; -2 when the write
 * would take a finished trial back to waiting or running (a worker recorded its outcome since
 * the writer read it: the outcome stands); -3 when the stored JSON is not the expected one.
 */
const SAVE_TRIAL_SCRIPT = `
if ARGV[7] ~= '' and redis.call('GET', KEYS[5]) ~= ARGV[7] then return -1 end
local old = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[9] ~= '' and old ~= ARGV[9] then return -3 end
local finished = { complete = true, pruned = true, failed = true }
local just_finished = (finished[ARGV[3]] and ARGV[8] ~= '1') and 1 or 0
if old and ARGV[8] ~= '1' then
  local previous = cjson.decode(old)['state']
  if finished[previous] then just_finished = 0 end
  if finished[previous] and not finished[ARGV[3]] then return -2 end
  redis.call('HINCRBY', KEYS[2], 'count:' .. previous, -1)
end
redis.call('HINCRBY', KEYS[2], 'count:' .. ARGV[3], 1)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
redis.call('ZADD', KEYS[4], seq, ARGV[1])
redis.call('HSET', KEYS[2], 'updatedAt', ARGV[6])
if ARGV[3] == 'complete' and ARGV[4] ~= '' then
  local m = tonumber(ARGV[4])
  local p = tonumber(ARGV[5])
  local bm = redis.call('HGET', KEYS[2], 'bestMetric')
  local bp = tonumber(redis.call('HGET', KEYS[2], 'bestParams') or '0')
  if (not bm) or m > tonumber(bm) or (m == tonumber(bm) and p < bp) then
    redis.call('HSET', KEYS[2], 'bestTrial', ARGV[1], 'bestMetric', ARGV[4], 'bestParams', ARGV[5])
  end
  local front = redis.call('HGETALL', KEYS[3])
  local dominated = false
  for i = 1, #front, 2 do
    local sp = string.find(front[i + 1], ' ')
    local fm = tonumber(string.sub(front[i + 1], 1, sp - 1))
    local fp = tonumber(string.sub(front[i + 1], sp + 1))
    if fm >= m and fp <= p and (fm > m or fp < p) then dominated = true break end
  end
  if not dominated then
    for i = 1, #front, 2 do
      local sp = string.find(front[i + 1], ' ')
      local fm = tonumber(string.sub(front[i + 1], 1, sp - 1))
      local fp = tonumber(string.sub(front[i + 1], sp + 1))
      if m >= fm and p <= fp and (m > fm or p < fp) then redis.call('HDEL', KEYS[3], front[i]) end
    end
    redis.call('HSET', KEYS[3], ARGV[1], ARGV[4] .. ' ' .. ARGV[5])
  end
end
return { seq, just_finished }`;

/**
 * Writes a study record; with a fence (ARGV[4]), only while that owner holds the study's lock,
 * and counts the change in the summary's `rev` (see {@link StudyStore.studyVersions}).
 * KEYS: study, lock, summary (one study's keys only). ARGV: study JSON, event JSON, fence ('' for
 * none), events channel. Returns 1, or 0 when the fence's owner no longer holds the lock.
 */
const SAVE_STUDY_SCRIPT = `
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'rev', 1)
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 1`;

/**
 * A fenced write was refused: the scheduler that tried it no longer holds the study's lock
 * (it paused past the lock's expiry and another scheduler took the study over).
 */
export class LockLostError extends Error {
  override readonly name = 'LockLostError';
  constructor(readonly studyId: string) {
    super(`the lock of study ${studyId} is held by another scheduler: the write was refused`);
  }
}

/** Largest page of studies or trials one request returns. */
export const MAX_PAGE = 1000;

/** A study id (a UUID): ids are checked against this before any key is built from them. */
export const STUDY_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The key prefix used when none is configured. */
export const DEFAULT_KEY_PREFIX = '{autopeft}';

/** Reads and writes studies and trials in Redis. */
export class StudyStore {
  constructor(
    private readonly redis: RedisClient,
    readonly prefix: string = DEFAULT_KEY_PREFIX,
  ) {}

  /** The pub/sub channel of change notices. */
  get eventsChannel(): string {
    return `${this.prefix}:events`;
  }

  /** See {@link listVersion}. */
  private get listRevKey(): string {
    return `${this.prefix}:listrev`;
  }

  /**
   * The version of the study list: it changes after every write of any study or trial (bumped
   * after the write, so an answer built after reading version v holds at least what v saw).
   */
  async listVersion(): Promise<string> {
    return (await this.redis.get(this.listRevKey)) ?? '0';
  }

  /** The study's record key (the base of its other keys). */
  studyKey(id: string): string {
    return studyKeyBase(this.prefix, id);
  }

  private trialsKey(id: string): string {
    return `${this.studyKey(id)}:trials`;
  }

  /** The study's summary hash (see the layout above). */
  summaryKey(id: string): string {
    return `${this.studyKey(id)}:summary`;
  }

  /** The study's Pareto front hash. */
  frontKey(id: string): string {
    return `${this.studyKey(id)}:front`;
  }

  /** The study's change set. */
  changesKey(id: string): string {
    return `${this.studyKey(id)}:changes`;
  }

  private cancelKey(id: string): string {
    return `${this.studyKey(id)}:cancel`;
  }

  /** The study's scheduler lock. */
  lockKey(id: string): string {
    return `${this.studyKey(id)}:lock`;
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
    // The study's own keys first, then the index (another shard on a cluster): a crash between
    // leaves a record no list shows, never a listed study without a record.
    await execAll(this.redis.multi().set(this.studyKey(study.id), JSON.stringify(study)).hset(this.summaryKey(study.id), 'rev', 1));
    await execAll(
      this.redis
        .multi()
        .zadd(`${this.prefix}:studies`, now.getTime(), study.id)
        .sadd(`${this.prefix}:active`, study.id)
        .incr(this.listRevKey)
        .publish(this.eventsChannel, JSON.stringify({ studyId: study.id, type: 'study-created' } satisfies StudyEvent)),
    );
    return study;
  }

  /** Workers that stopped taking trials after failing several in a row, by name. */
  async stoppedWorkers(): Promise<StoppedWorker[]> {
    const records = await this.redis.hvals(stoppedWorkersKey(this.prefix));
    return records.map((json) => JSON.parse(json) as StoppedWorker).sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Builds the summary, Pareto front and change set of every study stored before they existed
   * (a study with trials but no summary), by writing its trials again through the same atomic
   * step as any trial write. Returns the ids of the studies rebuilt. Run by the scheduler at start.
   */
  async rebuildMissingSummaries(): Promise<string[]> {
    const ids = await this.redis.zrange(`${this.prefix}:studies`, '0', '-1');
    const rebuilt: string[] = [];
    // Every study's marks at once, not two round trips per study: this runs at every scheduler start.
    // A summary counts once it has a trial cursor (`seq`): a study write alone leaves only `rev`.
    const answers = await Promise.all(
      ids.map((id) => Promise.all([this.redis.hexists(this.summaryKey(id), 'seq'), this.redis.hexists(this.summaryKey(id), 'rebuilding'), this.redis.hlen(this.trialsKey(id))])),
    );
    for (const [i, id] of ids.entries()) {
      const [hasSummary, rebuilding, trialCount] = answers[i]!;
      // A rebuild cut short (a crash) left its mark: it starts over.
      if ((hasSummary === 1 && rebuilding === 0) || trialCount === 0) continue;
      // `rev` goes on counting: a version served before the rebuild must not come back after it.
      const rev = Number((await this.redis.hget(this.summaryKey(id), 'rev')) ?? 0) + 1;
      await execAll(this.redis.multi().del(this.summaryKey(id), this.frontKey(id), this.changesKey(id)).hset(this.summaryKey(id), 'rebuilding', '1', 'rev', rev));
      for (const trial of await this.getTrials(id)) await this.writeTrial(id, trial, '', true);
      await this.redis.hdel(this.summaryKey(id), 'rebuilding');
      rebuilt.push(id);
    }
    return rebuilt;
  }

  /** The study, or undefined if there is none with that id. */
  async getStudy(id: string): Promise<StudyRecord | undefined> {
    const json = await this.redis.get(this.studyKey(id));
    return json === null ? undefined : (JSON.parse(json) as StudyRecord);
  }

  /**
   * Replaces a study's record and notifies. With `fence` (a scheduler's lock owner), the write
   * happens only while that owner holds the study's lock, else it throws {@link LockLostError}:
   * a scheduler that paused past its lock cannot overwrite what its successor wrote.
   */
  async saveStudy(study: StudyRecord, fence = ''): Promise<void> {
    study.updatedAt = new Date().toISOString();
    const finished = study.state === 'completed' || study.state === 'failed' || study.state === 'cancelled';
    const written = await this.redis.eval(
      SAVE_STUDY_SCRIPT,
      3,
      this.studyKey(study.id),
      this.lockKey(study.id),
      this.summaryKey(study.id),
      JSON.stringify(study),
      JSON.stringify({ studyId: study.id, type: 'study-updated' } satisfies StudyEvent),
      fence,
      this.eventsChannel,
    );
    if (written !== 1) throw new LockLostError(study.id);
    // The global keys after the study's own (a finished study that stays active one moment
    // longer is stepped once more, sees it is finished, and does nothing).
    await Promise.all([this.redis.incr(this.listRevKey), ...(finished ? [this.redis.srem(`${this.prefix}:active`, study.id)] : [])]);
  }

  /** The study's trials, ordered by number. */
  async getTrials(id: string): Promise<TrialRecord[]> {
    const all = await this.redis.hvals(this.trialsKey(id));
    return all.map((json) => JSON.parse(json) as TrialRecord).sort((a, b) => a.number - b.number);
  }

  /**
   * Writes one trial (new or changed) with the study's summary, in one atomic step, and notifies.
   * With `fence`, only while that scheduler holds the study's lock (see {@link saveStudy}).
   */
  async saveTrial(studyId: string, trial: TrialRecord, fence = ''): Promise<boolean> {
    return (await this.writeTrial(studyId, trial, fence, false)) > 0;
  }

  /**
   * Changes a trial's record from the worker holding its job, if its state is one of `from`:
   * read, `change`, and write back only if the record is still what was read (else read again),
   * through the same atomic step as every trial write. The worker records a trial running when
   * it starts and finished before its job completes, so the records never show more trials
   * running than there are workers, and never a finished trial as running. Returns whether it
   * wrote.
   */
  async updateTrialFromWorker(studyId: string, number: number, from: readonly TrialRecord['state'][], change: (trial: TrialRecord) => void): Promise<boolean> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const json = await this.redis.hget(this.trialsKey(studyId), String(number));
      if (json === null) return false;
      const trial = JSON.parse(json) as TrialRecord;
      if (!from.includes(trial.state)) return false;
      change(trial);
      const seq = await this.writeTrial(studyId, trial, '', false, json);
      if (seq > 0) return true;
      if (seq === -2) return false;
    }
    throw new Error(`trial ${number} of study ${studyId} kept changing while its worker recorded it`);
  }

  /** Writes a trial; returns the new seq or a negative refusal code (see SAVE_TRIAL_SCRIPT). */
  private async writeTrial(studyId: string, trial: TrialRecord, fence: string, rebuilding: boolean, expected = ''): Promise<number> {
    const reply = await this.redis.eval(
        SAVE_TRIAL_SCRIPT,
        5,
        this.trialsKey(studyId),
        this.summaryKey(studyId),
        this.frontKey(studyId),
        this.changesKey(studyId),
        this.lockKey(studyId),
        String(trial.number),
        JSON.stringify(trial),
        trial.state,
        // A re-evaluation retrains a configuration already on the front: it is not another point of it.
        trial.state === 'complete' && trial.metric !== undefined && trial.reevaluation === undefined ? String(trial.metric) : '',
        String(trial.trainableParams),
        new Date().toISOString(),
        fence,
        rebuilding ? '1' : '0',
        expected,
      );
    // A refusal is one negative number; a write, its seq and whether it finished the trial.
    const [seq, justFinished] = Array.isArray(reply) ? [Number(reply[0]), Number(reply[1]) === 1] : [Number(reply), false];
    if (seq === -1) throw new LockLostError(studyId);
    if (seq < 0) return seq;
    const event: StudyEvent = { studyId, type: 'trial-updated', trial: trial.number, seq };
    // Only the write that finishes a trial says so: a later write of the finished record (the
    // scheduler's after the worker's) must not count it again in the metrics.
    if (justFinished && trial.finishedAt && (trial.state === 'complete' || trial.state === 'pruned' || trial.state === 'failed')) {
      const ms = (a?: string, b?: string): number | undefined => (a && b ? Math.max(0, Date.parse(b) - Date.parse(a)) : undefined);
      const durationMs = ms(trial.startedAt, trial.finishedAt);
      const queueWaitMs = ms(trial.createdAt, trial.startedAt);
      event.finished = { state: trial.state, ...(durationMs !== undefined ? { durationMs } : {}), ...(queueWaitMs !== undefined ? { queueWaitMs } : {}) };
    }
    await Promise.all([this.redis.incr(this.listRevKey), this.redis.publish(this.eventsChannel, JSON.stringify(event))]);
    return seq;
  }

  /** One trial, or undefined. */
  async getTrial(studyId: string, number: number): Promise<TrialRecord | undefined> {
    const json = await this.redis.hget(this.trialsKey(studyId), String(number));
    return json === null ? undefined : (JSON.parse(json) as TrialRecord);
  }

  /** Trials of every study by state, summed from the summaries (one pipeline, no trial read). */
  async trialCountsByState(): Promise<Partial<Record<TrialRecord['state'], number>>> {
    const ids = await this.redis.zrange(`${this.prefix}:studies`, '0', '-1');
    // Commands of many studies at once, not a pipeline: on a cluster they go to several shards.
    const hashes = await Promise.all(ids.map((id) => this.redis.hgetall(this.summaryKey(id))));
    const totals: Partial<Record<TrialRecord['state'], number>> = {};
    for (const hash of hashes) {
      const counts = countsFromHash(hash, 0);
      for (const [state, n] of Object.entries(counts.byState) as [TrialRecord['state'], number][]) totals[state] = (totals[state] ?? 0) + n;
    }
    return totals;
  }

  /** The study's counts, best trial and front size, from its summary (no trial is read). */
  async getCounts(studyId: string): Promise<StudyCounts> {
    const [hash, frontSize] = await Promise.all([this.redis.hgetall(this.summaryKey(studyId)), this.redis.hlen(this.frontKey(studyId))]);
    return countsFromHash(hash, frontSize);
  }

  /**
   * Trials whose latest change came after `after` (a cursor from an earlier page, or 0 for all),
   * at most `limit`, in the order of their changes.
   */
  async trialsChangedAfter(studyId: string, after: number, limit: number): Promise<TrialPage> {
    const page = await this.rawTrialsChangedAfter(studyId, after, limit);
    return { trials: page.json.map((json) => JSON.parse(json) as TrialRecord), cursor: page.cursor, hasMore: page.hasMore };
  }

  /**
   * {@link trialsChangedAfter} as the stored JSON texts, unparsed, with their trial numbers: for
   * answers that pass the records through as they are.
   */
  async rawTrialsChangedAfter(studyId: string, after: number, limit: number): Promise<RawTrialPage> {
    const entries = await this.redis.zrangebyscore(this.changesKey(studyId), `(${after}`, '+inf', 'WITHSCORES', 'LIMIT', 0, limit + 1);
    const numbers: string[] = [];
    let cursor = after;
    for (let i = 0; i < entries.length && numbers.length < limit; i += 2) {
      numbers.push(entries[i]!);
      cursor = Number(entries[i + 1]);
    }
    const hasMore = entries.length / 2 > limit;
    const records = numbers.length > 0 ? await this.redis.hmget(this.trialsKey(studyId), ...numbers) : [];
    const page: RawTrialPage = { numbers: [], json: [], cursor, hasMore };
    records.forEach((json, i) => {
      if (json === null) return;
      page.numbers.push(Number(numbers[i]));
      page.json.push(json);
    });
    return page;
  }

  /** The stored JSON text of a study's record, unparsed, or undefined. */
  async rawStudy(id: string): Promise<string | undefined> {
    return (await this.redis.get(this.studyKey(id))) ?? undefined;
  }

  /**
   * A version of each study's stored state: it changes with every write of the study or any of
   * its trials (the summary's trial cursor `seq` and study write count `rev`), so an answer
   * built after reading version v is current for as long as the version stays v. Undefined for
   * a study without a summary (deleted, or stored before summaries existed).
   */
  async studyVersions(ids: readonly string[]): Promise<(string | undefined)[]> {
    const answers = await Promise.all(ids.map((id) => this.redis.hmget(this.summaryKey(id), 'seq', 'rev')));
    return answers.map(([seq, rev]) => (seq == null && rev == null ? undefined : `${seq ?? 0}.${rev ?? 0}`));
  }

  /** Asks the schedulers to cancel a study (searching or re-evaluating); false if it is already finished or unknown. */
  async requestCancel(id: string): Promise<boolean> {
    const study = await this.getStudy(id);
    if (!study || study.state === 'completed' || study.state === 'failed' || study.state === 'cancelled') return false;
    await this.redis.set(this.cancelKey(id), '1');
    return true;
  }

  /**
   * Deletes a finished study: its record, trials, trained adapters and stored outcomes (stop requests expire on their own). Returns
   * false (and deletes nothing) if the study is unknown or still queued, running or re-evaluating. The queue
   * forgets the study's finished jobs on its own (after 7 days).
   */
  async deleteStudy(id: string): Promise<boolean> {
    const study = await this.getStudy(id);
    if (!study || study.state === 'queued' || study.state === 'running' || study.state === 're-evaluating') return false;
    const numbers = (await this.redis.hkeys(this.trialsKey(id))).map(Number);
    // Stop requests stay (they expire within a day): a study deleted right after its cancel may
    // still have a trial training, whose worker has yet to read its stop request.
    const perTrial = numbers.flatMap((n) => {
      const jobId = trialJobIdOf(id, n);
      return [artifactKey(this.prefix, jobId), resultKey(this.prefix, jobId)];
    });
    // Out of the index first (the global keys), then the study's own keys (its shard).
    await execAll(
      this.redis
        .multi()
        .zrem(`${this.prefix}:studies`, id)
        .srem(`${this.prefix}:active`, id)
        .incr(this.listRevKey)
        .publish(this.eventsChannel, JSON.stringify({ studyId: id, type: 'study-deleted' } satisfies StudyEvent)),
    );
    await this.redis.del(this.studyKey(id), this.trialsKey(id), this.summaryKey(id), this.frontKey(id), this.changesKey(id), this.cancelKey(id), this.lockKey(id), ...perTrial);
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

  /** The size in bytes of each named file of a trial's stored artifact (0 for a file that is gone). */
  async artifactFileSizes(studyId: string, trialNumber: number, files: readonly string[]): Promise<number[]> {
    if (files.length === 0) return [];
    const key = artifactKey(this.prefix, trialJobIdOf(studyId, trialNumber));
    const pipeline = this.redis.pipeline();
    for (const file of files) pipeline.hstrlen(key, file);
    return ((await pipeline.exec()) ?? []).map(([, n]) => (typeof n === 'number' ? n : 0));
  }

  /** How many of the studies a scheduler still has to drive were created by `owner`. */
  async activeStudiesOf(owner: string): Promise<number> {
    const ids = await this.activeStudyIds();
    if (ids.length === 0) return 0;
    const records = await Promise.all(ids.map((id) => this.redis.get(this.studyKey(id))));
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

  /**
   * A study with its summary and the first page of its trials (at most `limit`, in the order of
   * their latest change; `trialsCursor` continues from there), or undefined.
   */
  async getStudyView(id: string, limit = 100): Promise<StudyView | undefined> {
    const [study, counts, page] = await Promise.all([this.getStudy(id), this.getCounts(id), this.trialsChangedAfter(id, 0, limit)]);
    if (!study) return undefined;
    const trials = page.trials.sort((a, b) => a.number - b.number);
    return {
      ...study,
      summary: summaryOf(study, counts),
      trials,
      trialsCursor: page.cursor,
      trialsComplete: !page.hasMore,
      ...(counts.bestTrial !== undefined ? { bestTrial: counts.bestTrial } : {}),
    };
  }

  /** The ids of one page of studies, newest first, and the cursor of the next page if any. */
  async studyPageIds(limit = 50, cursor?: string): Promise<{ ids: string[]; nextCursor?: string }> {
    const [scoreText, afterId] = cursor ? cursor.split('_') : [];
    const top = scoreText !== undefined && Number.isFinite(Number(scoreText)) ? scoreText : '+inf';
    // Ties (same creation millisecond) come in reverse id order; skip those already served.
    const raw = await this.redis.zrevrangebyscore(`${this.prefix}:studies`, top, '-inf', 'WITHSCORES', 'LIMIT', 0, limit + 64);
    const entries: { id: string; score: string }[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const entry = { id: raw[i]!, score: raw[i + 1]! };
      if (afterId !== undefined && entry.score === scoreText && entry.id >= afterId) continue;
      entries.push(entry);
    }
    const pageEntries = entries.slice(0, limit);
    if (pageEntries.length === 0) return { ids: [] };
    const last = pageEntries.at(-1)!;
    const more = entries.length > limit || raw.length / 2 >= limit + 64;
    return { ids: pageEntries.map((entry) => entry.id), ...(more ? { nextCursor: `${last.score}_${last.id}` } : {}) };
  }

  /** The list line of each study, read from its record and summary (undefined where it is gone). */
  async summariesOf(ids: readonly string[]): Promise<(StudySummary | undefined)[]> {
    const results = await Promise.all(ids.map((id) => Promise.all([this.redis.get(this.studyKey(id)), this.redis.hgetall(this.summaryKey(id)), this.redis.hlen(this.frontKey(id))])));
    return results.map(([json, hash, frontSize]) => (json ? summaryOf(JSON.parse(json) as StudyRecord, countsFromHash(hash, frontSize)) : undefined));
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

  /**
   * Records that scheduler `owner` is alive now, forgets schedulers silent for longer than
   * `ttlMs`, and returns how many are alive: each takes that fraction of the active studies.
   */
  async heartbeatScheduler(owner: string, ttlMs: number): Promise<number> {
    const now = Date.now();
    const key = `${this.prefix}:schedulers`;
    const answers = (await this.redis.multi().zadd(key, now, owner).zremrangebyscore(key, '-inf', now - ttlMs).zcard(key).exec()) ?? [];
    const failed = answers.find(([error]) => error);
    if (failed) throw failed[0]!;
    return Number(answers[2]?.[1] ?? 1);
  }

  /** Removes a stopping scheduler from the living, so that the others take its share at once. */
  async leaveSchedulers(owner: string): Promise<void> {
    await this.redis.zrem(`${this.prefix}:schedulers`, owner);
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

/** Runs a MULTI and throws the first error of its commands (ioredis reports them per command). */
async function execAll(multi: ReturnType<RedisClient['multi']>): Promise<void> {
  const answers = (await multi.exec()) ?? [];
  const failed = answers.find(([error]) => error);
  if (failed) throw failed[0]!;
}

/** Job id of a trial: deterministic, so enqueueing twice after a crash adds one job. */
export function trialJobIdOf(studyId: string, trialNumber: number): string {
  return `${studyId}-${trialNumber}`;
}

/** The complete trial with the highest metric; ties go to fewer trainable parameters. Re-evaluations are not candidates (as in the summary). */
export function bestTrial(trials: TrialRecord[]): TrialRecord | undefined {
  let best: TrialRecord | undefined;
  for (const trial of trials) {
    if (trial.state !== 'complete' || trial.metric === undefined || trial.reevaluation !== undefined) continue;
    if (!best || trial.metric > best.metric! || (trial.metric === best.metric && trial.trainableParams < best.trainableParams)) {
      best = trial;
    }
  }
  return best;
}

const TRIAL_STATES: readonly TrialRecord['state'][] = ['waiting', 'running', 'complete', 'pruned', 'failed'];

/** Parses a summary hash (see {@link SAVE_TRIAL_SCRIPT}). */
function countsFromHash(hash: Record<string, string>, frontSize: number): StudyCounts {
  const byState: StudyCounts['byState'] = {};
  let total = 0;
  for (const state of TRIAL_STATES) {
    const n = Number(hash[`count:${state}`] ?? 0);
    if (n > 0) byState[state] = n;
    total += n;
  }
  return {
    byState,
    total,
    seq: Number(hash['seq'] ?? 0),
    ...(hash['bestTrial'] !== undefined ? { bestTrial: Number(hash['bestTrial']), bestMetric: Number(hash['bestMetric']) } : {}),
    frontSize,
    ...(hash['updatedAt'] ? { updatedAt: hash['updatedAt'] } : {}),
  };
}

/** The list line of a study, from its record and its summary's counts. */
export function summaryOf(study: StudyRecord, counts: StudyCounts): StudySummary {
  const done = (counts.byState.complete ?? 0) + (counts.byState.pruned ?? 0) + (counts.byState.failed ?? 0);
  return {
    id: study.id,
    name: study.spec.name,
    ...(study.owner !== undefined ? { owner: study.owner } : {}),
    state: study.state,
    createdAt: study.createdAt,
    updatedAt: counts.updatedAt && counts.updatedAt > study.updatedAt ? counts.updatedAt : study.updatedAt,
    dataset: study.spec.task.dataset,
    baseModel: study.spec.task.baseModel,
    metric: study.spec.task.metric,
    trialsTotal: counts.total,
    trialsDone: done,
    trialsByState: counts.byState,
    maxTrials: study.spec.budget.maxTrials,
    paretoFrontSize: counts.frontSize,
    ...(counts.bestTrial !== undefined ? { bestTrial: counts.bestTrial, bestMetric: counts.bestMetric } : {}),
  };
}
