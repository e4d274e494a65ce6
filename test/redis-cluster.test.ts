/**
 * The whole service on a real 3-master Redis Cluster: studies run end to end (API, scheduler,
 * worker processes, downloads), each study's keys sit together on the master of its own slot,
 * and different studies hash to different slots, so a cluster spreads them over its shards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StudyStore } from '../scheduler/store.js';
import type { StudyPage, StudyView } from '../scheduler/types.js';
import { startOwnCluster } from './helpers/redis-cluster.js';
import type { OwnCluster } from './helpers/redis-cluster.js';
import { startStack, waitFor } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';

const spec = (i: number) => ({
  name: `on a cluster ${i}`,
  task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' },
  algorithm: { name: 'random', seed: 20 + i },
  budget: { maxTrials: 2, maxParallel: 2 },
  training: { steps: 4, batchSize: 8, learningRate: 0.003, evalEvery: 2, maxSeqLength: 32, trainExamples: 32, devExamples: 16 },
});

describe('on a Redis Cluster', () => {
  let cluster: OwnCluster;
  let stack: TestStack;

  beforeAll(async () => {
    cluster = await startOwnCluster();
    stack = await startStack(2, { AUTOPEFT_REDIS_CLUSTER: cluster.seeds });
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
    await cluster?.close();
  });

  it('runs studies end to end with each study on the shard of its own slot', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await stack.api('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec(i)) });
      expect(response.status).toBe(201);
      ids.push(((await response.json()) as { id: string }).id);
    }
    for (const id of ids) {
      const view = await waitFor(
        async () => {
          const study = (await (await stack.api(`/api/studies/${id}`)).json()) as StudyView;
          return study.state === 'completed' || study.state === 'failed' ? study : undefined;
        },
        120_000,
        `study ${id} to finish`,
      );
      expect(view.state, view.error).toBe('completed');
      expect(view.trials.map((t) => t.state)).toEqual(['complete', 'complete']);
      expect(view.summary.trialsByState).toEqual({ complete: 2 });
      // The trained adapter's files and the best configuration come back from the study's shard.
      const best = await stack.api(`/api/studies/${id}/best`);
      expect(best.status).toBe(200);
      const file = view.trials[0]!.artifact!.files[0]!;
      expect((await stack.api(`/api/studies/${id}/trials/0/files/${file}`)).status).toBe(200);
    }
    const list = (await (await stack.api('/api/studies')).json()) as StudyPage;
    expect(list.studies.map((s) => s.id).sort()).toEqual([...ids].sort());

    // Where the keys are: every key of a study on the master of that study's slot.
    const store = new StudyStore(cluster.node(cluster.ports[0]!), stack.prefix);
    const slots = new Set<number>();
    for (const id of ids) {
      const home = await cluster.masterOf(store.studyKey(id));
      slots.add((await cluster.node(home).cluster('KEYSLOT', store.studyKey(id))) as number);
      for (const port of cluster.ports) {
        const keys = await cluster.node(port).keys(`*{${id}}*`);
        if (port === home) {
          // Record, trials, summary, front, changes and each trial's files and outcome.
          expect(keys.length, `keys of study ${id} on its master`).toBeGreaterThanOrEqual(9);
          expect(keys).toContain(store.summaryKey(id));
        } else expect(keys, `keys of study ${id} on another master`).toEqual([]);
      }
    }
    // Three studies, three slots: the studies' keys are not all bound to the prefix's slot.
    expect(slots.size).toBe(3);
    const globalSlot = (await cluster.node(cluster.ports[0]!).cluster('KEYSLOT', `${stack.prefix}:studies`)) as number;
    expect(slots.has(globalSlot)).toBe(false);
    const homes = await Promise.all(ids.map((id) => cluster.masterOf(store.studyKey(id))));
    console.log(`study masters: ${homes.join(', ')}; global keys on ${await cluster.masterOf(`${stack.prefix}:studies`)}`);
  }, 180_000);
});
