import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataPathError, loadDataset, resolveModelDir, resolveUnderRoot } from '../workers/data/index.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'data');

// A temporary tree: <tmp>/root is the allow-listed root, <tmp>/outside is not.
let tmp: string;
let root: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'autopeft-paths-'));
  root = path.join(tmp, 'root');
  const outside = path.join(tmp, 'outside');
  await mkdir(path.join(root, 'models', 'tiny-bert'), { recursive: true });
  await mkdir(path.join(root, 'models', 'org', 'small'), { recursive: true });
  await mkdir(path.join(root, 'models', 'no-config'), { recursive: true });
  await mkdir(path.join(root, 'models', 'config-link'), { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(path.join(root, 'models', 'tiny-bert', 'config.json'), '{}');
  await writeFile(path.join(root, 'models', 'org', 'small', 'config.json'), '{}');
  await writeFile(path.join(outside, 'secret.csv'), 'text,label\na,x\nb,y\nc,x\nd,y\ne,x\n');
  await writeFile(path.join(outside, 'config.json'), '{}');
  await cp(path.join(FIXTURES, 'glue'), path.join(root, 'glue'), { recursive: true });
  await writeFile(path.join(root, 'plain.csv'), 'text,label\na,x\nb,y\nc,x\nd,y\ne,x\n');
  // Symlinks: one inside the root (fine), some pointing out of it (refused).
  await symlink(path.join(root, 'plain.csv'), path.join(root, 'inner-link.csv'));
  await symlink(path.join(outside, 'secret.csv'), path.join(root, 'outer-link.csv'));
  await symlink(outside, path.join(root, 'outer-dir'));
  await symlink(path.join(outside, 'config.json'), path.join(root, 'models', 'config-link', 'config.json'));
  await symlink(outside, path.join(root, 'models', 'escaped'));
  await mkdir(path.join(root, 'sneaky'));
  await symlink(path.join(outside, 'secret.csv'), path.join(root, 'sneaky', 'train.csv'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('resolveUnderRoot', () => {
  it('resolves files and directories inside the root, including through inner symlinks', async () => {
    expect(await resolveUnderRoot(root, 'plain.csv')).toMatch(/root[\\/]plain\.csv$/);
    expect(await resolveUnderRoot(root, 'glue/SST-2')).toMatch(/glue[\\/]SST-2$/);
    expect(await resolveUnderRoot(root, './glue/./RTE/dev.tsv')).toMatch(/RTE[\\/]dev\.tsv$/);
    expect(await resolveUnderRoot(root, 'inner-link.csv')).toMatch(/root[\\/]plain\.csv$/);
  });

  it.each([
    ['../outside/secret.csv', /contains ".."/],
    ['glue/../../outside/secret.csv', /contains ".."/],
    ['glue\\..\\..\\outside', /contains ".."/],
    ['/etc/passwd', /is absolute/],
    ['C:\\Windows\\win.ini', /is absolute/],
    ['', /is empty/],
    ['a\0b', /NUL/],
    ['outer-link.csv', /resolves outside the data root \(through a symlink\)/],
    ['outer-dir/secret.csv', /resolves outside the data root/],
    ['missing.csv', /"missing.csv" does not exist under the data root/],
  ])('refuses %j', async (relative, message) => {
    const error = await resolveUnderRoot(root, relative).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataPathError);
    expect((error as Error).message).toMatch(message);
    // Messages never reveal the server's directories.
    expect((error as Error).message).not.toContain(tmp);
  });

  it('needs a configured, existing root', async () => {
    await expect(resolveUnderRoot('', 'plain.csv')).rejects.toThrow(/no data root is configured/);
    await expect(resolveUnderRoot(path.join(tmp, 'nope'), 'plain.csv')).rejects.toThrow(/the data root does not exist/);
  });
});

describe('resolveModelDir', () => {
  it('finds a model directory with a config.json, also as org/name', async () => {
    expect(await resolveModelDir(path.join(root, 'models'), 'tiny-bert')).toMatch(/models[\\/]tiny-bert$/);
    expect(await resolveModelDir(path.join(root, 'models'), 'org/small')).toMatch(/org[\\/]small$/);
  });

  it.each([
    ['../root', /model name "..\/root" is not valid/],
    ['/abs', /is not valid/],
    ['a/b/c', /is not valid/],
    ['.hidden', /is not valid/],
    ['org/..', /is not valid/],
    ['missing', /model path "missing" does not exist under the model root/],
    ['no-config', /model "no-config" has no config.json/],
    ['config-link', /model "config-link" has no config.json/],
    ['escaped', /resolves outside the model root/],
  ])('refuses %j', async (name, message) => {
    const error = await resolveModelDir(path.join(root, 'models'), name).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataPathError);
    expect((error as Error).message).toMatch(message);
  });
});

describe('loadDataset with file: references', () => {
  it('loads a GLUE directory and a single file under the data root', async () => {
    const rte = await loadDataset('file:glue/RTE', { dataRoot: root });
    expect([rte.name, rte.train.length, rte.dev.length]).toEqual(['glue/RTE', 4, 2]);
    const plain = await loadDataset('file:plain.csv?devFraction=0.4', { dataRoot: root });
    expect([plain.labels, plain.train.length, plain.dev.length]).toEqual([['x', 'y'], 3, 2]);
  });

  it('refuses escapes, including a directory whose train file links outside', async () => {
    await expect(loadDataset('file:../outside/secret.csv', { dataRoot: root })).rejects.toThrow(/contains "\.\."/);
    await expect(loadDataset('file:outer-link.csv', { dataRoot: root })).rejects.toThrow(/resolves outside the data root/);
    await expect(loadDataset('file:sneaky', { dataRoot: root })).rejects.toThrow(/"sneaky\/train.csv" resolves outside the data root/);
  });

  it('needs a data root, and names a directory without train file', async () => {
    await expect(loadDataset('file:plain.csv')).rejects.toThrow(/no data root is configured \(AUTOPEFT_DATA_ROOT\)/);
    await expect(loadDataset('file:models', { dataRoot: root })).rejects.toThrow(/data directory "models" has no train.tsv, train.csv or train.jsonl/);
  });
});
