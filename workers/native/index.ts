/**
 * Native kernels for the TensorFlow.js wasm backend: BLAS matrix products and a few row and
 * elementwise kernels, computed in place in the wasm heap by a Node-API addon. Used by
 * `workers/backend.ts` after it activates wasm; everything else sees only faster kernels.
 */
import type { Tf } from '../backend.js';
import { ENABLE_HINT, loadNativeAddon } from './addon.js';
import type { NativeKernelName } from './kernels.js';
import { DEFAULT_NATIVE_KERNELS, activeNativeKernels, registerNativeKernels, unregisterNativeKernels } from './kernels.js';

export { ADDON_PATH, ENABLE_HINT, loadNativeAddon } from './addon.js';
export { chooseBlasCore, parseCpuInfo, readCpu, settleBlasCore, vectorExtensions } from './cpu-features.js';
export type { BlasCoreChoice, CpuDescription } from './cpu-features.js';
export type { LoadNativeAddonOptions, NativeAddon, NativeAddonLoad } from './addon.js';
export {
  DEFAULT_NATIVE_KERNELS,
  NATIVE_KERNEL_NAMES,
  activeNativeKernels,
  nativeMatMulFlops,
  registerNativeKernels,
  unregisterNativeKernels,
} from './kernels.js';
export type { NativeKernelName } from './kernels.js';

/** Options of {@link enableNativeKernels}; also `selectBackend`'s `nativeKernels`. */
export interface NativeKernelsOptions {
  /** Whether to use the native kernels at all (false restores the plain wasm kernels). @defaultValue true */
  enabled?: boolean;
  /** BLAS threads in this process; one, as workers run one process per core. @defaultValue 1 */
  blasThreads?: number;
  /** Which kernels to replace. @defaultValue {@link DEFAULT_NATIVE_KERNELS} */
  kernels?: readonly NativeKernelName[];
  /** OpenBLAS's kernel set: `auto`, `library` or a core name, as `loadNativeAddon` takes it. @defaultValue 'auto' */
  blasCore?: string;
}

/** What {@link enableNativeKernels} did. */
export interface NativeKernelsStatus {
  /** Kernels of the wasm backend now native (empty when off). */
  kernels: NativeKernelName[];
  /** One phrase for the backend's log line: the library and kernels, or why they are off. */
  note: string;
}

/**
 * Replaces the wasm backend's kernels with native ones when the addon is built and loads, or
 * restores the wasm kernels when `enabled` is false or the addon is missing. Never throws for
 * a missing or broken addon: the reason is in the returned note and wasm keeps working.
 */
export function enableNativeKernels(tf: Tf, options: NativeKernelsOptions = {}): NativeKernelsStatus {
  if (options.enabled === false) {
    unregisterNativeKernels(tf);
    return { kernels: [], note: 'native kernels off (disabled by configuration)' };
  }
  const load = loadNativeAddon({ blasThreads: options.blasThreads, blasCore: options.blasCore });
  if (!load.ok) {
    unregisterNativeKernels(tf);
    return { kernels: [], note: `native kernels off: ${load.reason}` };
  }
  const kernels = options.kernels ?? DEFAULT_NATIVE_KERNELS;
  unregisterNativeKernels(tf, activeNativeKernels().filter((name) => !kernels.includes(name)));
  const active = registerNativeKernels(tf, load.addon, kernels);
  const { library, core, threads } = load.addon.blasInfo();
  const coreText = core ? `, ${core} kernels [${load.coreNote}]` : '';
  const blas = `${library.split(' ').slice(0, 2).join(' ')}${coreText}, ${threads < 0 ? '?' : threads} BLAS thread${threads === 1 ? '' : 's'}`;
  return { kernels: active, note: `native kernels (${blas}): ${active.join(', ')}` };
}

/** The line printed when the addon could not be built at install time. */
export function nativeBuildNotice(reason: string): string {
  return `autopeft: native kernels not built (${reason}); workers use plain wasm. To enable: ${ENABLE_HINT}`;
}
