/**
 * Which OpenBLAS kernels to run on this CPU. OpenBLAS built with `DYNAMIC_ARCH` (Debian's is)
 * picks its kernels when the library loads, from a table of the processor models it knows; on
 * a model newer than the library it falls back to a generic core (Prescott: SSE3 only) and
 * runs 4-5x slower without a word. Choosing the core from the instruction sets the CPU reports
 * instead, and passing it in `OPENBLAS_CORETYPE` (read once, at load), avoids that.
 *
 * Measured on the development machines (bench:train, 2026-11-28): on an AMD EPYC (Zen 3,
 * AVX2/FMA) Haswell 91 GFLOP/s, Zen 84-89, Sandybridge 73, Prescott 21; on an Intel Xeon with
 * AVX-512 (model 207) SkylakeX 100-143 GFLOP/s against Prescott's 18-30.
 */
import { readFileSync } from 'node:fs';

/** What the CPU says about itself (the first processor of /proc/cpuinfo). */
export interface CpuDescription {
  /** e.g. `Intel(R) Xeon(R) Platinum ...`; `unknown` when the system does not say. */
  model: string;
  /** e.g. `GenuineIntel`, `AuthenticAMD`. */
  vendor: string;
  /** Instruction-set flags, lower case (`avx2`, `fma`, `avx512f`, ...). */
  flags: ReadonlySet<string>;
}

/** The fields of the first processor in a /proc/cpuinfo text. */
export function parseCpuInfo(text: string): CpuDescription {
  const first = text.split(/\n\s*\n/)[0] ?? '';
  const field = (name: string): string | undefined => {
    const line = first.split('\n').find((l) => l.split(':')[0]?.trim() === name);
    return line === undefined ? undefined : line.slice(line.indexOf(':') + 1).trim();
  };
  const flags = new Set((field('flags') ?? field('Features') ?? '').toLowerCase().split(/\s+/).filter(Boolean));
  return { model: field('model name') ?? 'unknown', vendor: field('vendor_id') ?? 'unknown', flags };
}

/** This machine's CPU (no flags where /proc/cpuinfo cannot be read, e.g. not Linux). */
export function readCpu(path = '/proc/cpuinfo'): CpuDescription {
  try {
    return parseCpuInfo(readFileSync(path, 'utf8'));
  } catch {
    return { model: 'unknown', vendor: 'unknown', flags: new Set() };
  }
}

/** The instruction-set extensions worth naming in a benchmark header or a log line. */
export function vectorExtensions(cpu: CpuDescription): string[] {
  // Linux calls SSE3 `pni` (Prescott New Instructions).
  const named = new Set([...cpu.flags].map((flag) => (flag === 'pni' ? 'sse3' : flag)));
  const names = ['sse3', 'ssse3', 'sse4_2', 'avx', 'fma', 'avx2', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'amx_tile'];
  return names.filter((name) => named.has(name));
}

/** AVX-512 subsets the SkylakeX kernels use. */
const AVX512_FOR_SKYLAKEX = ['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'];

/** A core choice and why. */
export interface BlasCoreChoice {
  /** The `OPENBLAS_CORETYPE` to set, or undefined to leave the choice to OpenBLAS. */
  core: string | undefined;
  /** One phrase for the log line. */
  reason: string;
}

/**
 * The fastest OpenBLAS core that runs correctly on a CPU with these instruction sets: SkylakeX
 * with AVX-512 (F, CD, BW, DQ, VL), Haswell with AVX2 and FMA (on AMD Zen too: OpenBLAS's own
 * Zen core measured slower there), otherwise none (OpenBLAS's own detection then stands: on
 * such old CPUs it knows the model). These are the cores OpenBLAS itself picks for the CPUs it
 * knows of those families, so setting them costs nothing where it knows the CPU.
 */
export function chooseBlasCore(cpu: CpuDescription): BlasCoreChoice {
  if (AVX512_FOR_SKYLAKEX.every((flag) => cpu.flags.has(flag))) return { core: 'SkylakeX', reason: 'CPU has AVX-512' };
  if (cpu.flags.has('avx2') && cpu.flags.has('fma')) return { core: 'Haswell', reason: 'CPU has AVX2 and FMA' };
  return { core: undefined, reason: 'CPU has neither AVX2 nor AVX-512: OpenBLAS detects it' };
}

/**
 * Settles `OPENBLAS_CORETYPE` in `env` before OpenBLAS loads, and says how. `setting`:
 * `auto` chooses by {@link chooseBlasCore} unless the environment already names a core;
 * `library` leaves the choice to OpenBLAS; anything else is a core name passed through
 * (e.g. `Haswell`, `SkylakeX`, `Prescott`), overriding the environment.
 */
export function settleBlasCore(setting: string, cpu: CpuDescription, env: NodeJS.ProcessEnv = process.env): string {
  if (setting === 'library') return 'core chosen by OpenBLAS (AUTOPEFT_BLAS_CORETYPE=library)';
  if (setting !== 'auto') {
    env.OPENBLAS_CORETYPE = setting;
    return `core ${setting} (AUTOPEFT_BLAS_CORETYPE)`;
  }
  if (env.OPENBLAS_CORETYPE) return `core ${env.OPENBLAS_CORETYPE} (OPENBLAS_CORETYPE)`;
  const choice = chooseBlasCore(cpu);
  if (choice.core === undefined) return choice.reason;
  env.OPENBLAS_CORETYPE = choice.core;
  return `core ${choice.core} (${choice.reason})`;
}
