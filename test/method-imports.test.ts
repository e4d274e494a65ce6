/**
 * The split of the method registry: the pure half (search/methods/) is what search/, the
 * scheduler's search calls and the dashboard bundle import, and it pulls in no tfjs and no
 * worker code but the error classes. The import graph is esbuild's (its metafile), resolved as
 * the dashboard's bundle resolves it; the controls show that the check sees worker code and
 * tfjs where they are.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every file and bare package an entry point reaches. */
async function importGraph(entry: string, platform: 'node' | 'browser'): Promise<{ files: string[]; packages: string[] }> {
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: root,
    bundle: true,
    write: false,
    metafile: true,
    platform,
    format: 'esm',
    logLevel: 'silent',
    // Packages stay unresolved so that a package import shows by name, however deep it is.
    packages: 'external',
  });
  const inputs = Object.values(result.metafile.inputs);
  return {
    files: Object.keys(result.metafile.inputs),
    packages: [...new Set(inputs.flatMap((input) => input.imports.filter((i) => i.external).map((i) => i.path)))],
  };
}

/** Worker files besides the error classes, which the pure checks throw. */
const workerCode = (files: string[]): string[] => files.filter((f) => f.startsWith('workers/') && f !== 'workers/errors.ts');
const tfjs = (packages: string[]): string[] => packages.filter((p) => p.startsWith('@tensorflow/'));

describe('the pure method registry stays free of the workers', () => {
  // The last column: whether the entry reaches the registry (so the check covers every method's spec).
  it.each([
    ['search/index.ts', 'node', false],
    ['search/param-count.ts', 'node', true],
    ['search/admission.ts', 'node', true],
    ['search/presets.ts', 'node', true],
    ['search/methods/registry.ts', 'node', true],
    ['dashboard/src/main.ts', 'browser', true],
  ] as const)('%s imports no tfjs and no worker code', async (entry, platform, reachesRegistry) => {
    const { files, packages } = await importGraph(entry, platform);
    expect(tfjs(packages)).toEqual([]);
    expect(workerCode(files)).toEqual([]);
    if (reachesRegistry) expect(files).toContain('search/methods/registry.ts');
  });

  it('sees worker code and tfjs where they are (the controls)', async () => {
    const registry = await importGraph('workers/methods/registry.ts', 'node');
    expect(workerCode(registry.files)).toEqual(expect.arrayContaining(['workers/peft/lora.ts', 'workers/peft/adalora.ts']));
    const trial = await importGraph('workers/train/train-trial.ts', 'node');
    expect(tfjs(trial.packages).length).toBeGreaterThan(0);
  });
});
