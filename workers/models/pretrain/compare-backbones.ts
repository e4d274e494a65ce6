/**
 * Evidence that the bundled encoder is pre-trained: the same frozen-backbone PEFT trial on the
 * built-in tasks, once on `brown-bert-small` and once on its random-weight twin
 * `brown-bert-small-random` (same shape and vocabulary). Prints a table of dev scores.
 *
 *   npx tsx workers/models/pretrain/compare-backbones.ts [--steps 300] [--tasks spam-assassin,brown-genre]
 */
import { parseArgs } from 'node:util';
import { selectBackend } from '../../backend.js';
import { DATASET_INFO } from '../../data/catalog.js';
import type { TrialJobData } from '../../job-types.js';
import { trainTrial } from '../../train/train-trial.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '300' },
      tasks: { type: 'string', default: 'spam-assassin,brown-genre,brown-next-sentence' },
      seed: { type: 'string', default: '1' },
    },
  });
  await selectBackend({ prefer: 'wasm', nativeKernels: { enabled: true, blasThreads: 1 } });
  const steps = Number(values.steps);
  const rows: string[] = [];
  console.log('| task | metric | majority baseline | PEFT on random-init backbone | PEFT on pre-trained backbone |');
  console.log('|---|---|---|---|---|');
  for (const dataset of values.tasks.split(',')) {
    const info = DATASET_INFO[dataset];
    if (!info) throw new Error(`unknown dataset ${dataset}`);
    const scores: Record<string, number> = {};
    let baseline = 0;
    for (const baseModel of ['brown-bert-small-random', 'brown-bert-small']) {
      const job: TrialJobData = {
        studyId: 'compare-backbones',
        trialNumber: 0,
        task: { dataset, baseModel, metric: info.defaultMetric },
        // LoRA r 8 on query and value of every layer, plus the task head: the usual frozen-backbone PEFT.
        peft: { lora: { rank: 8, alpha: 16, dropout: 0, targets: ['query', 'value'], layers: [0, 1] } },
        training: {
          steps,
          batchSize: 16,
          learningRate: 3e-3,
          evalEvery: Math.max(1, Math.floor(steps / 4)),
          maxSeqLength: 64,
          trainExamples: 4096,
          devExamples: 1024,
          seed: Number(values.seed),
          dataSeed: Number(values.seed),
        },
      };
      const started = performance.now();
      const result = await trainTrial(job);
      scores[baseModel] = result.metric;
      baseline = result.majorityBaseline;
      console.error(`${dataset} on ${baseModel}: ${info.defaultMetric} ${result.metric.toFixed(4)} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
    const row = `| ${dataset} | ${info.defaultMetric} | ${baseline.toFixed(3)} | ${scores['brown-bert-small-random']!.toFixed(3)} | ${scores['brown-bert-small']!.toFixed(3)} |`;
    rows.push(row);
    console.log(row);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
