import { describe, expect, it } from 'vitest';
import { chooseBlasCore, loadNativeAddon, parseCpuInfo, settleBlasCore, vectorExtensions } from '../workers/native/index.js';

/** A /proc/cpuinfo of two processors; only the first one's fields count. */
function cpuinfo(vendor: string, model: string, flags: string): string {
  const processor = (n: number): string =>
    [`processor\t: ${n}`, `vendor_id\t: ${vendor}`, 'cpu family\t: 6', 'model\t\t: 207', `model name\t: ${model}`, `flags\t\t: ${flags}`].join('\n');
  return `${processor(0)}\n\n${processor(1).replace(flags, 'fpu')}\n`;
}

const BASE = 'fpu sse sse2 pni ssse3 sse4_1 sse4_2 avx';
const XEON = cpuinfo(
  'GenuineIntel',
  'INTEL(R) XEON(R) PLATINUM 8581C CPU @ 2.10GHz',
  `${BASE} fma avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni avx512_bf16 amx_tile`,
);
const EPYC = cpuinfo('AuthenticAMD', 'AMD EPYC', `${BASE} fma avx2`);
const OLD = cpuinfo('GenuineIntel', 'Intel Core i7-2600', BASE);

describe('choosing the OpenBLAS core from the instruction sets', () => {
  it('reads the first processor of /proc/cpuinfo', () => {
    const cpu = parseCpuInfo(XEON);
    expect(cpu.model).toBe('INTEL(R) XEON(R) PLATINUM 8581C CPU @ 2.10GHz');
    expect(cpu.vendor).toBe('GenuineIntel');
    expect(cpu.flags.has('avx512f')).toBe(true);
    expect(vectorExtensions(cpu)).toEqual(['sse3', 'ssse3', 'sse4_2', 'avx', 'fma', 'avx2', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'amx_tile']);
  });

  it('picks SkylakeX with AVX-512, Haswell with AVX2 + FMA (Intel or AMD), and leaves older CPUs to OpenBLAS', () => {
    expect(chooseBlasCore(parseCpuInfo(XEON)).core).toBe('SkylakeX');
    expect(chooseBlasCore(parseCpuInfo(EPYC)).core).toBe('Haswell');
    expect(chooseBlasCore(parseCpuInfo(OLD)).core).toBeUndefined();
    // AVX-512 without the BW/VL subsets (Knights Landing) cannot run the SkylakeX kernels.
    expect(chooseBlasCore(parseCpuInfo(cpuinfo('GenuineIntel', 'Xeon Phi', `${BASE} fma avx2 avx512f avx512cd`))).core).toBe('Haswell');
  });

  it('sets OPENBLAS_CORETYPE unless the environment names a core; AUTOPEFT_BLAS_CORETYPE overrides, library leaves it', () => {
    const xeon = parseCpuInfo(XEON);
    const env: NodeJS.ProcessEnv = {};
    expect(settleBlasCore('auto', xeon, env)).toMatch(/SkylakeX.*AVX-512/);
    expect(env.OPENBLAS_CORETYPE).toBe('SkylakeX');

    const preset: NodeJS.ProcessEnv = { OPENBLAS_CORETYPE: 'Prescott' };
    settleBlasCore('auto', xeon, preset);
    expect(preset.OPENBLAS_CORETYPE).toBe('Prescott');
    settleBlasCore('Haswell', xeon, preset);
    expect(preset.OPENBLAS_CORETYPE).toBe('Haswell');

    const untouched: NodeJS.ProcessEnv = {};
    settleBlasCore('library', xeon, untouched);
    expect(untouched.OPENBLAS_CORETYPE).toBeUndefined();
    settleBlasCore('auto', parseCpuInfo(OLD), untouched);
    expect(untouched.OPENBLAS_CORETYPE).toBeUndefined();
  });

  it('the loaded OpenBLAS runs the core that was settled before it loaded', () => {
    const load = loadNativeAddon();
    if (!load.ok) return; // no addon built: the wasm fallback is tested in native.test.ts
    const { core } = load.addon.blasInfo();
    const wanted = process.env.OPENBLAS_CORETYPE;
    if (wanted) expect(core.toLowerCase()).toBe(wanted.toLowerCase());
    expect(load.coreNote).toMatch(/core|OpenBLAS/);
  });
});
