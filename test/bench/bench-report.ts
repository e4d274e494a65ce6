/**
 * `npm run bench:report`: a demo-sized study with baselines and re-evaluation on the bundled
 * model (brown-bert-small, spam-assassin, the demo's LoRA preset), then its report as Markdown,
 * with the wall time of the search and of the re-evaluation. Figures go to BENCHMARKS.md.
 *
 * Usage: `npm run bench:report [-- --trials 30 --steps 150 --train 2048 --dev 512 --workers 2 --k 5 --seeds 3]`.
 * Needs Redis at REDIS_URL; starts the worker processes itself.
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { StudyView } from '../../scheduler/types.js';
import { startStack, waitFor } from '../helpers/stack.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '30' },
    steps: { type: 'string', default: '150' },
    train: { type: 'string', default: '2048' },
    dev: { type: 'string', default: '512' },
    workers: { type: 'string', default: '2' },
    k: { type: 'string', default: '5' },
    seeds: { type: 'string', default: '3' },
  },
});
const steps = Number(values.steps);
const stack = await startStack(Number(values.workers));
try {
  const started = performance.now();
  const response = await stack.api('/api/studies', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'demo-sized report',
      task: { dataset: 'spam-assassin', baseModel: 'brown-bert-small', metric: 'f1' },
      preset: 'lora',
      algorithm: { name: 'auto', seed: 7 },
      budget: { maxTrials: Number(values.trials), maxParallel: Number(values.workers) },
      reevaluation: { configurations: Number(values.k), seeds: Number(values.seeds) },
      training: { steps, batchSize: 16, learningRate: 0.003, evalEvery: Math.max(1, Math.floor(steps / 4)), maxSeqLength: 64, trainExamples: Number(values.train), devExamples: Number(values.dev) },
    }),
  });
  if (response.status !== 201) throw new Error(`study refused: ${response.status} ${await response.text()}`);
  const { id } = (await response.json()) as { id: string };
  let searchDone: number | undefined;
  const study = await waitFor(
    async () => {
      const view = (await (await stack.api(`/api/studies/${id}`)).json()) as StudyView;
      if (view.state === 're-evaluating' && searchDone === undefined) searchDone = performance.now();
      return view.state === 'completed' || view.state === 'failed' || view.state === 'cancelled' ? view : undefined;
    },
    6 * 3_600_000,
    'the study to finish',
  );
  const end = performance.now();
  if (study.state !== 'completed') throw new Error(`the study ended ${study.state}: ${study.error ?? ''}`);
  const report = await (await stack.api(`/api/studies/${id}/report.md`)).text();
  console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), load ${loadavg()[0]!.toFixed(1)} at the end, ${values.workers} worker processes`);
  console.log(`search (baselines included): ${(((searchDone ?? end) - started) / 60_000).toFixed(1)} min; re-evaluation: ${((end - (searchDone ?? end)) / 60_000).toFixed(1)} min\n`);
  console.log(report);
} finally {
  await stack.close();
}
