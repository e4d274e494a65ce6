/**
 * Builds the native kernel addon with node-gyp; run by `npm ci` / `npm install` (postinstall)
 * and by `npm run build:native`.
 *
 * Installation never fails because of it: without a C compiler or a CBLAS (Debian:
 * libopenblas-dev) it prints one line saying how to enable the kernels and exits 0, and the
 * workers use plain wasm. `AUTOPEFT_NATIVE_BUILD=0` skips the build; `AUTOPEFT_CBLAS_CFLAGS` and
 * `AUTOPEFT_CBLAS_LIBS` point it at a CBLAS outside the default paths (default `-lopenblas`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeBuildNotice } from './index.js';

const nativeDir = path.dirname(fileURLToPath(import.meta.url));

/** Whether a C compiler can build and link a CBLAS call with the configured flags; else why not. */
function probeCblas(): string | undefined {
  const compiler = process.env.CC ?? 'cc';
  const dir = mkdtempSync(path.join(tmpdir(), 'autopeft-cblas-'));
  try {
    const source = path.join(dir, 'probe.c');
    writeFileSync(source, '#include <cblas.h>\nint main(void) { float a = 1, b = 1, c = 0;\n' +
      '  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);\n  return c == 1 ? 0 : 1; }\n');
    const flags = (process.env.AUTOPEFT_CBLAS_CFLAGS ?? '').split(/\s+/).filter(Boolean);
    const libs = (process.env.AUTOPEFT_CBLAS_LIBS ?? '-lopenblas').split(/\s+/).filter(Boolean);
    const result = spawnSync(compiler, ['-Werror=implicit-function-declaration', ...flags, source, '-o', path.join(dir, 'probe'), ...libs], { encoding: 'utf8' });
    if (result.error) return `no C compiler (${compiler})`;
    if (result.status !== 0) {
      return /cblas\.h/.test(result.stderr) ? 'no cblas.h found' : `cannot link a CBLAS with ${libs.join(' ')}`;
    }
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** node-gyp: the one npm runs scripts with, else the one bundled with npm, else from PATH. */
function nodeGypCommand(): string[] {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  const bundled = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (existsSync(bundled)) return [process.execPath, bundled];
  return ['node-gyp'];
}

/**
 * Node's own headers when the install has them (official builds and Debian's do), so that
 * node-gyp does not try to download them (there may be no network).
 */
function nodeDirArgs(): string[] {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

function build(): string | undefined {
  if (process.env.AUTOPEFT_NATIVE_BUILD === '0') return 'AUTOPEFT_NATIVE_BUILD=0';
  const missing = probeCblas();
  if (missing) return missing;
  const [command, ...args] = nodeGypCommand();
  const result = spawnSync(command!, [...args, 'rebuild', ...nodeDirArgs()], { cwd: nativeDir, encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n');
    const errorLine = output.find((line) => /error/i.test(line)) ?? output.at(-1) ?? String(result.error);
    return `node-gyp failed: ${errorLine.trim()}`;
  }
  return undefined;
}

const failure = build();
if (failure) {
  // Whatever an earlier build left must not be loaded in place of the one that was not made.
  rmSync(path.join(nativeDir, 'build'), { recursive: true, force: true });
  console.warn(nativeBuildNotice(failure));
}
else console.info('autopeft: native kernels built (workers/native/build/Release/autopeft_native.node)');
