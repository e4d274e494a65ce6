/**
 * A `survey`-preset study on the bundled model (brown-bert-small, spam-assassin): one trial per
 * family first, then the `auto` algorithm's proposals; prints every trial and the best per
 * family. Figures go to BENCHMARKS.md.
 *
 * Usage: `npm run bench:survey [-- maxTrials steps]`. Needs Redis at REDIS_URL
 * (default 127.0.0.1:6379); starts one worker process.
 */
import { cpus } from 'node:os';
import type { TrialRecord } from '../../scheduler/types.js';
import { startStack } from '../helpers/stack.js';
import { familyOf, runSurveyStudy } from '../helpers/survey-study.js';

const maxTrials = Number(process.argv[2] ?? 16);
const steps = Number(process.argv[3] ?? 80);
const stack = await startStack(1);
try {
  const started = performance.now();
  const study = await runSurveyStudy(stack, { maxTrials, steps, trainExamples: 512, devExamples: 256 }, 3_600_000);
  const minutes = (performance.now() - started) / 60_000;
  const label = (t: TrialRecord): string => Object.entries(t.params).filter(([k]) => !k.startsWith('layer.') && k !== 'family').map(([k, v]) => `${k}=${String(v)}`).join(' ');
  const layers = (t: TrialRecord): string => Object.entries(t.params).filter(([k, v]) => k.startsWith('layer.') && v === true).map(([k]) => k.slice(6)).join(',');
  console.log(`survey study: ${study.trials.length} trials, ${steps} steps each, ${minutes.toFixed(1)} min on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores)`);
  console.log('| trial | family | method and sizes | layers | stored params | accuracy |');
  console.log('|---|---|---|---|---|---|');
  for (const t of study.trials) console.log(`| ${t.number} | ${familyOf(t)} | ${label(t)} | ${layers(t)} | ${t.trainableParams} | ${t.metric?.toFixed(3) ?? t.state} |`);
  console.log('\nbest per family:');
  console.log('| family | trial | method and sizes | stored params | accuracy |');
  console.log('|---|---|---|---|---|');
  const families = [...new Set(study.trials.map(familyOf))];
  for (const family of families) {
    const best = study.trials.filter((t) => familyOf(t) === family && t.metric !== undefined).sort((a, b) => b.metric! - a.metric! || a.trainableParams - b.trainableParams)[0];
    if (best) console.log(`| ${family} | ${best.number} | ${label(best)} | ${best.trainableParams} | ${best.metric!.toFixed(3)} |`);
  }
  const errors = study.trials.filter((t) => t.error);
  console.log(`\ntrials with an error: ${errors.length}; majority-class baseline ${study.trials[0]?.majorityBaseline?.toFixed(3) ?? '?'}`);
} finally {
  await stack.close();
}
