/**
 * Training-step benchmark of the CPU backends: plain wasm, wasm + native kernels, and the
 * pure-JavaScript cpu backend, side by side, for the bundled model's shape (brown-bert-small),
 * the smaller tiny-random model and a bert-base-shaped layer stack; plus the sgemm-bound time
 * (the step's matrix FLOPs over the sgemm rate measured in the same run) and a soak check of the
 * native path on the bundled shape (tensor count, wasm heap and RSS before and after many steps).
 *
 * A step is what a trial does per step: the frozen encoder with LoRA (+ a Pfeiffer adapter
 * where the PEFT code builds one), a linear head, softmax cross-entropy, Adam over the
 * trainable variables as a trial runs it (AdamW, weight decay 0.01 on matrices, gradients
 * clipped to global norm 1), dropout on.
 *
 * A PyTorch column runs the same step in PyTorch (workers/native/bench-torch.py, one thread, the
 * same OpenBLAS core) in the same run, when `/usr/bin/python3` (or `--python PATH`) imports
 * `torch` (Debian: `apt-get install python3-torch`); skipped with a note otherwise, or with
 * `--no-torch`.
 *
 * Usage: `npm run bench:train [-- --soak 10000] [-- --no-cpu] [-- --no-torch] [-- --quick]
 * [-- --shape TEXT]` (only the shapes whose name contains TEXT), or
 * `npm run bench:train -- --profile [wasm|wasm+native|cpu]` for the time per tfjs kernel of a
 * step on the bundled shape (what to fuse next). `AUTOPEFT_BLAS_CORETYPE` chooses the BLAS
 * core as it does for a worker (`auto`, `library` or a core name). Run it on an
 * otherwise idle machine: each wasm figure is the median of three interleaved rounds (the cpu
 * backend runs one), which absorbs some but not all of the noise of a shared host.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Scalar, Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { EncoderShape, PeftConfig } from '../../search/types.js';
import type { Tf } from '../backend.js';
import { selectBackend } from '../backend.js';
import { BertEncoder } from '../model/encoder.js';
import { trainingContext } from '../model/forward-context.js';
import { createRandomWeights, disposeWeights } from '../model/weights.js';
import { BASE_MODELS } from '../models/catalog.js';
import { buildPeftModules } from '../peft/build.js';
import { AdamW } from '../train/adamw.js';
import type { PeftModule } from '../peft/peft-module.js';
import { loadNativeAddon, nativeMatMulFlops, readCpu, vectorExtensions } from './index.js';

interface BenchShape {
  name: string;
  shape: EncoderShape;
  batch: number;
  seq: number;
  /** Timed steps per round, per mode. */
  steps: Record<Mode, number>;
}

type Mode = 'wasm' | 'wasm+native' | 'cpu';
const MODES: readonly Mode[] = ['wasm', 'wasm+native', 'cpu'];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const withCpu = !args.includes('--no-cpu');
const pythonIndex = args.indexOf('--python');
const python = pythonIndex >= 0 ? args[pythonIndex + 1]! : '/usr/bin/python3';
const TORCH_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bench-torch.py');
const soakIndex = args.indexOf('--soak');
const soakSteps = soakIndex >= 0 ? Number(args[soakIndex + 1]) : quick ? 50 : 300;
const rounds = quick ? 1 : 3;
const profileIndex = args.indexOf('--profile');
const profileMode: Mode | undefined = profileIndex >= 0 ? ((args[profileIndex + 1] as Mode | undefined) ?? 'wasm+native') : undefined;

const tiny = BASE_MODELS['tiny-random']!.shape;
// The bundled pre-trained model's shape (2 layers, d 128, 4 heads, ff 512); the issue-6 shape
// stands in if the model directory is missing.
const bundled = BASE_MODELS['brown-bert-small']?.shape ?? { ...tiny, hiddenSize: 128, numHeads: 4, intermediateSize: 512, vocabSize: 8000 };
const SHAPES: BenchShape[] = [
  {
    name: `bundled brown-bert-small (d${bundled.hiddenSize} L${bundled.numLayers} B16 T64)`,
    shape: bundled,
    batch: 16,
    seq: 64,
    steps: { wasm: 3, 'wasm+native': 12, cpu: 1 },
  },
  { name: 'tiny-random (d64 L2 B16 T64)', shape: tiny, batch: 16, seq: 64, steps: { wasm: 6, 'wasm+native': 20, cpu: 2 } },
  {
    name: 'bert-base layers (d768 H12 L2 B4 T128)',
    shape: { ...tiny, vocabSize: 8192, hiddenSize: 768, numHeads: 12, intermediateSize: 3072, numLayers: 2, maxPositions: 512 },
    batch: 4,
    seq: 128,
    steps: { wasm: 1, 'wasm+native': 3, cpu: 1 },
  },
];

function peftFor(shape: EncoderShape): PeftConfig {
  const layers = Array.from({ length: shape.numLayers }, (_, i) => i);
  return {
    lora: { rank: 8, alpha: 16, dropout: 0.1, targets: ['query', 'value'], layers },
    serialAdapter: { placement: 'pfeiffer', size: 16, layers, activation: 'relu' },
  };
}

/** One model on the active backend, and a step function over a fixed batch. */
interface Trainer {
  step(): number;
  peftNote: string;
  dispose(): void;
}

function buildTrainer(tf: Tf, bench: BenchShape): Trainer {
  const { shape, batch, seq } = bench;
  const weights = createRandomWeights(tf, shape, 20261128);
  const encoder = new BertEncoder(tf, shape, weights);
  let modules: PeftModule[];
  let peftNote = 'LoRA r8 (q,v) + Pfeiffer adapter m16';
  try {
    modules = buildPeftModules(tf, peftFor(shape), shape, 1);
  } catch {
    // The PEFT code at hand may not build adapters yet; LoRA alone still measures the path.
    modules = buildPeftModules(tf, { lora: peftFor(shape).lora! }, shape, 1);
    peftNote = 'LoRA r8 (q,v)';
  }
  const kernel = tf.variable(tf.randomNormal([shape.hiddenSize, 2], 0, 0.02, 'float32', 5));
  const bias = tf.variable(tf.zeros([2]));
  const trainable: Variable[] = [...modules.flatMap((m) => [...m.variables.values()]), kernel, bias];
  // The trial's optimiser: AdamW with decay of matrices and global-norm clipping.
  const optimizer = new AdamW(tf, trainable, { weightDecay: 0.01, maxGradNorm: 1 });
  const ids = tf.tensor2d(Int32Array.from({ length: batch * seq }, (_, i) => (i * 7919 + 13) % shape.vocabSize), [batch, seq], 'int32');
  const mask = tf.ones([batch, seq]) as Tensor2D;
  const targets = tf.oneHot(tf.tensor1d(Int32Array.from({ length: batch }, (_, i) => i % 2), 'int32'), 2);
  let stepNumber = 0;
  return {
    peftNote,
    step: () => {
      const ctx = trainingContext(tf, stepNumber++);
      const cost = optimizer.minimize(
        () => {
          const pooled = encoder.forward({ ids, mask }, modules, ctx);
          const logits = tf.add(tf.matMul(ctx.dropout(pooled, 0.1), kernel), bias);
          return tf.losses.softmaxCrossEntropy(targets, logits) as Scalar;
        },
        1e-3,
        true,
      );
      const loss = cost!.dataSync()[0]!;
      cost!.dispose();
      return loss;
    },
    dispose: () => {
      optimizer.dispose();
      for (const module of modules) module.dispose();
      encoder.dispose();
      disposeWeights(weights);
      tf.dispose([kernel, bias, ids, mask, targets] as Tensor[]);
    },
  };
}

async function activate(mode: Mode): Promise<Tf> {
  const log = (): void => {};
  if (mode === 'cpu') return (await selectBackend({ prefer: 'cpu', log })).tf;
  return (await selectBackend({ prefer: 'wasm', nativeKernels: mode === 'wasm+native', log })).tf;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Single-thread sgemm rate on the shape's largest projection, in GFLOP/s. */
function sgemmRate(bench: BenchShape): number {
  const load = loadNativeAddon();
  if (!load.ok) return Number.NaN;
  const m = bench.batch * bench.seq;
  const k = bench.shape.hiddenSize;
  const n = bench.shape.intermediateSize;
  const heap = new ArrayBuffer((m * k + k * n + m * n) * 4);
  new Float32Array(heap).fill(0.5);
  const pairs = new Uint32Array([0, 0]);
  const run = (): void => load.addon.sgemm(heap, false, false, m, n, k, 0, m * k * 4, (m * k + k * n) * 4, pairs);
  run();
  const times: number[] = [];
  for (let r = 0; r < 7; r++) {
    const started = performance.now();
    const reps = 5;
    for (let i = 0; i < reps; i++) run();
    times.push((performance.now() - started) / reps);
  }
  return (2 * m * n * k) / (Math.min(...times) * 1e6);
}

/**
 * Whether PyTorch can run here: undefined if so, else why not. Checked once; the child runs
 * with one thread and the BLAS core this process chose, so both sides get the same kernels.
 */
function torchMissing(): string | undefined {
  if (args.includes('--no-torch')) return 'skipped (--no-torch)';
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.error) return `skipped: no ${python}`;
  if (probe.status !== 0) return `skipped: ${python} cannot import torch (Debian: apt-get install python3-torch)`;
  return undefined;
}

function torchEnv(): NodeJS.ProcessEnv {
  return { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
}

/** Wall and CPU ms per step of one timed run. */
interface StepTime {
  ms: number;
  cpuMs: number;
}

/**
 * One round of the step in PyTorch: wall and CPU (process) ms/step over `steps` steps after two
 * warm-up steps.
 */
function torchRound(bench: BenchShape, steps: number): StepTime {
  const { shape } = bench;
  const settings = {
    hidden: shape.hiddenSize,
    heads: shape.numHeads,
    intermediate: shape.intermediateSize,
    layers: shape.numLayers,
    vocab: shape.vocabSize,
    maxPositions: shape.maxPositions,
    batch: bench.batch,
    seq: bench.seq,
    steps,
    rounds: 1,
  };
  const run = spawnSync(python, [TORCH_SCRIPT, JSON.stringify(settings)], { encoding: 'utf8', env: torchEnv() });
  if (run.status !== 0) throw new Error(`bench-torch.py failed: ${run.stderr.trim().split('\n').at(-1) ?? run.status}`);
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { ms: number[]; cpuMs: number[] };
  return { ms: result.ms[0]!, cpuMs: result.cpuMs[0]! };
}

/** PyTorch's version, BLAS and core as the child sees them. */
function torchDescription(): string {
  const code = 'import torch, json; print(torch.__version__, torch.get_num_threads())';
  const run = spawnSync(python, ['-c', code], { encoding: 'utf8', env: torchEnv() });
  return `PyTorch ${run.stdout.trim().replace(' ', ', threads ')}, OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(OpenBLAS decides)'}`;
}

interface Row {
  shape: string;
  tokens: number;
  ms: Partial<Record<Mode, number>>;
  /** PyTorch's ms/step (median of the rounds), when it ran. */
  torchMs?: number;
  /**
   * CPU (process) ms/step of wasm+native and of PyTorch, medians: on a shared machine time spent
   * waiting for a core is not in them, so their ratio moves less with the load than wall time's.
   */
  nativeCpuMs?: number;
  torchCpuMs?: number;
  flops: number;
  gflops: number;
  losses: Partial<Record<Mode, number>>;
  peft: string;
}

async function benchShape(bench: BenchShape, withTorch: boolean): Promise<Row> {
  const modes = MODES.filter((mode) => mode !== 'cpu' || withCpu);
  const samples: Record<Mode, number[]> = { wasm: [], 'wasm+native': [], cpu: [] };
  const torchSamples: StepTime[] = [];
  const nativeCpu: number[] = [];
  const losses: Partial<Record<Mode, number>> = {};
  let flops = 0;
  let peft = '';
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      // The cpu backend is an order of magnitude slower: one round is enough to place it.
      if (mode === 'cpu' && round > 0) continue;
      const tf = await activate(mode);
      const trainer = buildTrainer(tf, bench);
      peft = trainer.peftNote;
      // The first step's loss is the same computation on every backend: compare them.
      const first = trainer.step();
      if (round === 0) losses[mode] = first;
      const steps = quick ? 1 : bench.steps[mode];
      const flopsBefore = nativeMatMulFlops();
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      for (let i = 0; i < steps; i++) trainer.step();
      samples[mode].push((performance.now() - started) / steps);
      const cpu = process.cpuUsage(cpuStarted);
      if (mode === 'wasm+native') nativeCpu.push((cpu.user + cpu.system) / 1000 / steps);
      if (mode === 'wasm+native') flops = (nativeMatMulFlops() - flopsBefore) / steps;
      trainer.dispose();
    }
    // Interleaved with the tfjs rounds, so that both see the same load on a shared machine.
    if (withTorch) torchSamples.push(torchRound(bench, quick ? 2 : Math.max(3, bench.steps['wasm+native'])));
  }
  const ms: Partial<Record<Mode, number>> = {};
  for (const mode of modes) ms[mode] = median(samples[mode]);
  const torchMs = withTorch ? median(torchSamples.map((t) => t.ms)) : undefined;
  const torchCpuMs = withTorch ? median(torchSamples.map((t) => t.cpuMs)) : undefined;
  const all = (values: number[]): string => values.map((v) => v.toFixed(1)).join(', ');
  const torchText = withTorch ? `; PyTorch ${all(torchSamples.map((t) => t.ms))} (CPU ${all(torchSamples.map((t) => t.cpuMs))})` : '';
  console.log(`  ${bench.name} rounds: wasm+native ${all(samples['wasm+native'])} (CPU ${all(nativeCpu)})${torchText} ms/step`);
  const nativeCpuMs = nativeCpu.length > 0 ? median(nativeCpu) : undefined;
  return { shape: bench.name, tokens: bench.batch * bench.seq, ms, torchMs, nativeCpuMs, torchCpuMs, flops, gflops: sgemmRate(bench), losses, peft };
}

/** Steps with native kernels, checking tensors, the wasm heap and RSS stay put. */
async function soak(steps: number): Promise<string> {
  const tf = await activate('wasm+native');
  const trainer = buildTrainer(tf, SHAPES[0]!);
  const heap = (): number => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.byteLength;
  for (let i = 0; i < 20; i++) trainer.step();
  const before = { tensors: tf.memory().numTensors, heap: heap(), rss: process.memoryUsage().rss };
  const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
  // RSS at every tenth of the run: growth that levels off is the allocators settling, growth
  // that keeps its pace is a leak.
  const samples: string[] = [];
  const started = performance.now();
  for (let i = 1; i <= steps; i++) {
    trainer.step();
    if (i % Math.max(1, Math.floor(steps / 10)) === 0) samples.push(`${i}: ${mb(process.memoryUsage().rss)}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const after = { tensors: tf.memory().numTensors, heap: heap(), rss: process.memoryUsage().rss };
  trainer.dispose();
  return (
    `soak (${SHAPES[0]!.name}, wasm+native): ${steps} steps in ${seconds.toFixed(0)} s; ` +
    `tensors ${before.tensors} -> ${after.tensors}, wasm heap ${mb(before.heap)} -> ${mb(after.heap)} MiB, ` +
    `RSS ${mb(before.rss)} -> ${mb(after.rss)} MiB\nRSS (MiB) after steps: ${samples.join(', ')}`
  );
}

function table(rows: Row[]): string {
  const fmt = (value: number | undefined, digits: number): string => (value === undefined || Number.isNaN(value) ? 'n/a' : value.toFixed(digits));
  const header = [
    'shape',
    'wasm ms/step',
    'wasm+native ms/step',
    'PyTorch ms/step',
    'native / PyTorch',
    'native / PyTorch, CPU time',
    'cpu ms/step',
    'wasm tok/s',
    'wasm+native tok/s',
    'cpu tok/s',
    'native speed-up',
    'step GFLOP',
    'sgemm GFLOP/s',
    'sgemm-bound ms',
    'native / bound',
  ];
  const lines = rows.map((row) => {
    const tokensPerSecond = (mode: Mode): number | undefined => (row.ms[mode] ? (row.tokens * 1000) / row.ms[mode] : undefined);
    const speedUp = row.ms.wasm && row.ms['wasm+native'] ? row.ms.wasm / row.ms['wasm+native'] : undefined;
    return [
      row.shape,
      fmt(row.ms.wasm, 1),
      fmt(row.ms['wasm+native'], 1),
      fmt(row.torchMs, 1),
      row.torchMs && row.ms['wasm+native'] ? `${(row.ms['wasm+native'] / row.torchMs).toFixed(2)}x` : 'n/a',
      row.torchCpuMs && row.nativeCpuMs ? `${(row.nativeCpuMs / row.torchCpuMs).toFixed(2)}x` : 'n/a',
      fmt(row.ms.cpu, 0),
      fmt(tokensPerSecond('wasm'), 0),
      fmt(tokensPerSecond('wasm+native'), 0),
      fmt(tokensPerSecond('cpu'), 0),
      speedUp === undefined ? 'n/a' : `${speedUp.toFixed(1)}x`,
      fmt(row.flops / 1e9, 2),
      fmt(row.gflops, 0),
      fmt(row.flops / (row.gflops * 1e6), 1),
      row.ms['wasm+native'] ? `${(row.ms['wasm+native'] / (row.flops / (row.gflops * 1e6))).toFixed(1)}x` : 'n/a',
    ];
  });
  const out = [header, header.map(() => '---'), ...lines];
  return out.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** Time per kernel name over a few steps of the bundled shape (tfjs's profiler), largest first. */
async function profile(mode: Mode): Promise<string> {
  const tf = await activate(mode);
  const bench = SHAPES[0]!;
  const trainer = buildTrainer(tf, bench);
  for (let i = 0; i < 3; i++) trainer.step();
  const steps = 5;
  const byKernel = new Map<string, { ms: number; calls: number }>();
  const started = performance.now();
  const info = await tf.profile(() => {
    for (let i = 0; i < steps; i++) trainer.step();
  });
  const wall = (performance.now() - started) / steps;
  for (const kernel of info.kernels) {
    const entry = byKernel.get(kernel.name) ?? { ms: 0, calls: 0 };
    entry.ms += Number(kernel.kernelTimeMs) / steps;
    entry.calls += 1 / steps;
    byKernel.set(kernel.name, entry);
  }
  trainer.dispose();
  const total = [...byKernel.values()].reduce((sum, e) => sum + e.ms, 0);
  const calls = [...byKernel.values()].reduce((sum, e) => sum + e.calls, 0);
  const lines = [...byKernel.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(([name, e]) => `| ${name} | ${e.calls.toFixed(0)} | ${e.ms.toFixed(2)} |`);
  return [
    `profile (${bench.name}, ${mode}): ${wall.toFixed(1)} ms/step under the profiler, kernels ${total.toFixed(1)} ms in ${calls.toFixed(0)} calls`,
    '| kernel | calls/step | ms/step |',
    '| --- | --- | --- |',
    ...lines,
  ].join('\n');
}

if (profileMode) {
  console.log(await profile(profileMode));
  process.exit(0);
}

// The first load settles the BLAS core for the process: the worker's setting, as the service reads it.
const load = loadNativeAddon({ blasCore: process.env.AUTOPEFT_BLAS_CORETYPE ?? 'auto' });
if (!load.ok) {
  console.error(`bench:train needs the native addon: ${load.reason}`);
  process.exit(1);
}
const blas = load.addon.blasInfo();
const cpu = readCpu();
console.log(`CPU: ${cpu.model} (${cpu.vendor}); instruction sets: ${vectorExtensions(cpu).join(' ') || 'unknown'}`);
console.log(`BLAS: ${blas.library}; running ${blas.core || "?"} kernels, ${load.coreNote} (${blas.threads} thread${blas.threads === 1 ? '' : 's'}); node ${process.version}`);
const missingTorch = torchMissing();
console.log(missingTorch ? `PyTorch column ${missingTorch}` : `${torchDescription()} (same step, one thread)`);
const rows: Row[] = [];
const shapeIndex = args.indexOf('--shape');
const only = shapeIndex >= 0 ? args[shapeIndex + 1]! : '';
for (const bench of SHAPES.filter((b) => b.name.includes(only))) {
  const row = await benchShape(bench, missingTorch === undefined);
  rows.push(row);
  const lossText = Object.entries(row.losses).map(([mode, loss]) => `${mode} ${loss.toFixed(6)}`).join(', ');
  console.log(`done: ${bench.name} [${row.peft}]; first-step loss: ${lossText}`);
}
console.log('');
console.log(table(rows));
console.log('');
console.log(await soak(soakSteps));
