/**
 * The one place that chooses the TensorFlow.js backend of a worker process.
 *
 * Order of preference: `@tensorflow/tfjs-node-gpu` (libtensorflow with CUDA), then
 * `@tensorflow/tfjs-node` (libtensorflow on the CPU), then the WebAssembly backend, then the
 * pure-JavaScript `cpu` backend. The native packages are optional: they download libtensorflow
 * at install time and are absent wherever that cannot happen, so each candidate is tried and
 * skipped with its reason. Everything else gets `tf` from {@link getTf} after selection and never
 * calls `tf.setBackend` itself.
 *
 * When wasm is taken, its matrix products and a few other kernels are replaced by native ones
 * (`workers/native/`, OpenBLAS through a Node-API addon) if the addon was built; the log line
 * says which kernels are native, or why none are.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tfjs from '@tensorflow/tfjs';
import type { NativeKernelsOptions } from './native/index.js';
import { enableNativeKernels } from './native/index.js';
import { registerWasmSegmentSum } from './wasm-segment-sum.js';

/** The `@tensorflow/tfjs` module namespace: every op, `tf.train`, `tf.memory`, ... */
export type Tf = typeof tfjs;

/** Names of the built-in candidates; also the accepted values of `prefer`. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** One way of getting a working backend. */
export interface BackendCandidate {
  /** Name reported in logs and trial results, and matched by `prefer`. */
  name: string;
  /** The tfjs backend name to activate once `load` has registered it. */
  tfBackend: string;
  /** Registers the backend with tfjs; throws (or rejects) when it is not available here. */
  load: (tf: Tf) => Promise<void>;
  /** Optional note logged after activation (e.g. whether a GPU device was found). */
  describe?: (tf: Tf) => string | undefined;
}

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  /**
   * Name of the candidate to try first (a {@link BackendName} for the built-in list, e.g. from
   * the worker's config); the others follow in their usual order if it fails. `'auto'` or
   * undefined keeps the usual order; an unknown name is rejected.
   */
  prefer?: string;
  /** Where the one summary line goes. @defaultValue console.info */
  log?: (message: string) => void;
  /** Candidates in order of preference. @defaultValue {@link DEFAULT_BACKEND_CANDIDATES} */
  candidates?: readonly BackendCandidate[];
  /**
   * Native kernels under the wasm backend (only when wasm is taken): `false` turns them off,
   * an object tunes them (BLAS threads, which kernels). @defaultValue on, 1 BLAS thread
   */
  nativeKernels?: boolean | NativeKernelsOptions;
}

/** The outcome of a selection. */
export interface SelectedBackend {
  /** Name of the candidate taken, e.g. `wasm`. */
  name: string;
  /** The tfjs backend name now active, e.g. `wasm` or `tensorflow`. */
  tfBackend: string;
  /** The tfjs namespace, with this backend active. */
  tf: Tf;
  /** Candidates tried before this one, with the reason each was skipped. */
  skipped: { name: string; reason: string }[];
  /** Kernels of the wasm backend computed natively (empty or absent: none). */
  nativeKernels?: readonly string[];
}

/** Thrown when no candidate could be activated. */
export class NoBackendError extends Error {
  override name = 'NoBackendError';
}

// The native packages are not dependencies of this project; a specifier held in a variable keeps
// TypeScript from requiring their type declarations, and `import()` of a missing package
// rejects, which the selection treats as "not available".
const NODE_GPU_PACKAGE: string = '@tensorflow/tfjs-node-gpu';
const NODE_CPU_PACKAGE: string = '@tensorflow/tfjs-node';

async function loadNativePackage(specifier: string): Promise<void> {
  await import(specifier);
}

/** Whether the active native backend reports a GPU device (a property of tfjs-node's backend). */
function nativeDeviceNote(tf: Tf): string | undefined {
  const backend: unknown = tf.backend();
  if (typeof backend === 'object' && backend !== null && 'isUsingGpuDevice' in backend) {
    return backend.isUsingGpuDevice === true ? 'GPU device in use' : 'no GPU device registered, running on CPU';
  }
  return undefined;
}

/**
 * Points the wasm backend at the `.wasm` binaries in its own package. Node's own loader finds
 * them next to the package's main file anyway, but a bundler or a test runner that inlines the
 * package would not, so the location is made explicit.
 */
async function loadWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  const distDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  // In Node the wasm backend is single-threaded (tfjs disables its thread pool there), so
  // `setThreadsCount` would have no effect: parallelism comes from one worker process per core.
  wasm.setWasmPaths(distDir + path.sep);
}

/** Whether the wasm backend runs its SIMD build (several times faster than the plain one). */
function wasmNote(tf: Tf): string | undefined {
  try {
    return tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD, 1 thread' : 'no SIMD, 1 thread';
  } catch {
    // The flag is evaluated during initialisation; if not, there is simply nothing to report.
    return undefined;
  }
}

/** The built-in candidates, fastest first. */
export const DEFAULT_BACKEND_CANDIDATES: readonly BackendCandidate[] = [
  {
    name: 'tensorflow-gpu',
    tfBackend: 'tensorflow',
    load: () => loadNativePackage(NODE_GPU_PACKAGE),
    describe: nativeDeviceNote,
  },
  {
    name: 'tensorflow',
    tfBackend: 'tensorflow',
    load: () => loadNativePackage(NODE_CPU_PACKAGE),
  },
  { name: 'wasm', tfBackend: 'wasm', load: loadWasm, describe: wasmNote },
  {
    // Registered by @tensorflow/tfjs itself: always there, slowest.
    name: 'cpu',
    tfBackend: 'cpu',
    load: async (tf) => {
      // Production mode silences the cpu backend's multi-line "install tfjs-node" banner; the
      // selection's own log line already says why this backend was taken.
      tf.enableProdMode();
    },
  },
];

let selected: SelectedBackend | undefined;

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // Module-not-found messages carry a long "imported from <path>" tail; the package name is enough.
  const firstLine = message.split('\n')[0] ?? message;
  return firstLine.replace(/ imported from .*$/, '');
}

function ordered(candidates: readonly BackendCandidate[], prefer: string | undefined): BackendCandidate[] {
  if (prefer === undefined || prefer === 'auto') return [...candidates];
  const first = candidates.find((c) => c.name === prefer);
  if (!first) {
    const known = candidates.map((c) => c.name).join(', ');
    throw new NoBackendError(`Unknown backend "${prefer}" requested; known backends: ${known}, auto`);
  }
  return [first, ...candidates.filter((c) => c !== first)];
}

function nativeOptions(option: SelectBackendOptions['nativeKernels']): NativeKernelsOptions {
  if (option === undefined || option === true) return {};
  if (option === false) return { enabled: false };
  return option;
}

/**
 * Activates the first candidate that loads and initialises, logs one line naming it and why
 * the ones before it were skipped, and remembers it for {@link getTf} / {@link currentBackend}.
 * Calling it again re-selects (e.g. a test forcing `cpu`).
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<SelectedBackend> {
  const log = options.log ?? ((message: string) => console.info(message));
  const candidates = ordered(options.candidates ?? DEFAULT_BACKEND_CANDIDATES, options.prefer);
  const skipped: { name: string; reason: string }[] = [];
  for (const candidate of candidates) {
    try {
      await candidate.load(tfjs);
      // setBackend resolves false (rather than throwing) when initialisation fails.
      const ok = await tfjs.setBackend(candidate.tfBackend);
      if (!ok || tfjs.getBackend() !== candidate.tfBackend) {
        throw new Error(`tfjs could not initialise backend "${candidate.tfBackend}"`);
      }
      await tfjs.ready();
      let note = candidate.describe?.(tfjs);
      let nativeKernels: string[] = [];
      if (candidate.tfBackend === 'wasm') {
        registerWasmSegmentSum(tfjs);
        const native = enableNativeKernels(tfjs, nativeOptions(options.nativeKernels));
        nativeKernels = native.kernels;
        note = note ? `${note}; ${native.note}` : native.note;
      }
      const skippedText = skipped.length === 0 ? '' : `; skipped ${skipped.map((s) => `${s.name} (${s.reason})`).join(', ')}`;
      const preferText = options.prefer && options.prefer !== 'auto' ? ` (preferred: ${options.prefer})` : '';
      log(`tfjs backend: ${candidate.name}${note ? ` [${note}]` : ''}${preferText}${skippedText}`);
      selected = { name: candidate.name, tfBackend: candidate.tfBackend, tf: tfjs, skipped, nativeKernels };
      return selected;
    } catch (error) {
      skipped.push({ name: candidate.name, reason: reasonOf(error) });
    }
  }
  const reasons = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new NoBackendError(`No TensorFlow.js backend could be initialised (${reasons})`);
}

/** The backend chosen by the last successful {@link selectBackend}, if any. */
export function currentBackend(): SelectedBackend | undefined {
  return selected;
}

/** The tfjs namespace; throws if {@link selectBackend} has not run in this process. */
export function getTf(): Tf {
  if (!selected) throw new NoBackendError('No TensorFlow.js backend selected yet: call selectBackend() first');
  return selected.tf;
}
