/**
 * The command line as a user meets it: `watch` in a real terminal (tmux), `--json` on every
 * command, and every error path as one line with its exit code, against the real service.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchProgress } from '../api/watch-progress.js';
import { fmtElapsed } from '../dashboard/src/format.js';
import type { StudySummary, StudyView } from '../scheduler/types.js';
import { TEST_REDIS_URL } from './helpers/redis.js';
import { startStack, waitFor } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';

const bin = fileURLToPath(new URL('../api/bin/autopeft.js', import.meta.url));
const hasTmux = spawnSync('tmux', ['-V']).status === 0;

const training = { steps: 2, batchSize: 4, evalEvery: 1, maxSeqLength: 16, trainExamples: 8, devExamples: 4 };
const spec = (name: string, maxTrials: number, trainingChanges: Partial<typeof training> & { learningRate?: number } = {}, metric = 'f1') => ({
  name,
  task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric },
  budget: { maxTrials, maxParallel: 1 },
  training: { ...training, ...trainingChanges },
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `autopeft args` to the end. */
function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('watch progress (pure)', () => {
  const summary = (over: Partial<StudySummary>): StudySummary => ({
    id: 's1',
    name: 'n',
    state: 'running',
    createdAt: '2026-01-01T00:00:00.000Z',
    dataset: 'd',
    baseModel: 'm',
    metric: 'f1',
    updatedAt: '2026-01-01T00:00:00.000Z',
    trialsTotal: 4,
    trialsDone: 2,
    trialsByState: { complete: 2, running: 2 },
    maxTrials: 8,
    paretoFrontSize: 1,
    ...over,
  });
  const start = Date.parse('2026-01-01T00:00:00.000Z');

  it('estimates what is left from the pace so far, and stops estimating once the study ends', () => {
    const p = watchProgress(summary({ bestTrial: 1, bestMetric: 0.5 }), start + 60_000);
    expect(p).toMatchObject({ done: 2, budget: 8, running: 2, elapsedMs: 60_000, remainingMs: 180_000, best: { trial: 1, metric: 0.5 }, finished: false });
    expect(watchProgress(summary({ trialsDone: 0 }), start + 5000).remainingMs).toBeUndefined();
    const ended = watchProgress(summary({ state: 'completed', trialsDone: 8 }), start + 90_000);
    expect(ended.finished).toBe(true);
    expect(ended.remainingMs).toBeUndefined();
    expect([fmtElapsed(42_000), fmtElapsed(185_000), fmtElapsed(3_720_000)]).toEqual(['42s', '3m 05s', '1h 02m']);
  });
});

describe('the autopeft command line', () => {
  let stack: TestStack;
  let dir: string;
  let specFile: string;
  let api: string[];
  let studyId: string;
  let prefixEnv: Record<string, string>;

  beforeAll(async () => {
    stack = await startStack(1);
    dir = mkdtempSync(join(tmpdir(), 'autopeft-cli-'));
    specFile = join(dir, 'spec.json');
    // Trials long enough (40 steps) that the terminal shows the bar before the study ends, at a
    // learning rate too small to learn anything: the study ends with the no-learning warning.
    writeFileSync(specFile, JSON.stringify(spec('cli watch', 2, { steps: 40, learningRate: 1e-7, devExamples: 64 }, 'accuracy')));
    api = ['--url', `${stack.url}/`, '--token', stack.token];
    prefixEnv = { REDIS_URL: TEST_REDIS_URL, AUTOPEFT_KEY_PREFIX: stack.prefix };
  });

  afterAll(async () => {
    if (hasTmux) spawnSync('tmux', ['kill-server']);
    await stack?.close();
  });

  it('submits with --json and watches the study to the end in a real terminal', async () => {
    const submitted = await run(['submit', specFile, '--json', ...api]);
    expect(submitted.stderr).toBe('');
    expect(submitted.code).toBe(0);
    const body = JSON.parse(submitted.stdout) as { id: string; state: string };
    expect(body.state).toBe('queued');
    studyId = body.id;

    if (!hasTmux) {
      // Without a terminal multiplexer the same command still runs, with a line per change.
      const watched = await run(['watch', studyId, '--interval', '0.2', ...api]);
      expect(watched.code).toBe(0);
      expect(watched.stdout).toMatch(/2\/2 trials done/);
      return;
    }
    const session = `cli-${process.pid}`;
    // -u: the terminal is UTF-8, as a user's is, so the bar draws with block characters.
    const command = [process.execPath, bin, 'watch', studyId, '--interval', '0.2', ...api].map((a) => `'${a}'`).join(' ');
    execFileSync('tmux', ['-u', 'new-session', '-d', '-s', session, '-x', '160', '-y', '12', `${command}; echo EXIT:$?; sleep 60`]);
    const frames = new Set<string>();
    const screen = await waitFor(
      async () => {
        const pane = execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' });
        const bar = pane.split('\n').find((line) => line.includes('trials |'));
        if (bar) frames.add(bar.trim());
        return pane.includes('EXIT:') ? pane : undefined;
      },
      90_000,
      'watch to end',
    );
    // The pane wraps long lines: join them back (160 columns each).
    const text = screen.split('\n').map((line) => line.padEnd(160)).join('').replace(/\s+/g, ' ');
    // The bar redraws in place: one line of progress, the warning, then the exit code.
    expect(text).toMatch(/^cli watch \[█+\] 2\/2 trials \| 0 running \| best accuracy \d\.\d{4} \(trial \d\) \| \d+s elapsed \| completed warning: every complete trial \(2\) scored within noise of the majority-class baseline: .* What usually helps: more training steps .*\. EXIT:0 $/);
    // Frames seen while it ran: the bar went through the study's progress, not only its end.
    expect([...frames].some((f) => /\[[░█]*░[░█]*\] [01]\/2 trials/.test(f)), [...frames].join('\n')).toBe(true);
  });

  it('status gives the counts the API (and the page) give, as text and as JSON', async () => {
    const view = (await (await stack.api(`/api/studies/${studyId}?trials=1000`)).json()) as StudyView;
    const done = view.trials.filter((t) => t.state === 'complete' || t.state === 'pruned' || t.state === 'failed').length;
    expect(view.summary.trialsDone).toBe(done);
    const text = await run(['status', studyId, ...api]);
    expect(text.code).toBe(0);
    // No reference point in the spec: the majority-class level and the largest configuration.
    expect(view.reference?.source).toBe('default');
    expect(view.reference!.point[0]).toBe(view.trials[0]!.majorityBaseline);
    expect(view.reference!.point[1]).toBeGreaterThanOrEqual(Math.max(...view.trials.map((t) => t.trainableParams)));
    // The study learned nothing (see above): the API and status say so, the same words.
    expect(view.warnings?.map((w) => w.code)).toContain('no-learning');
    expect(text.stderr.trim().split('\n')).toEqual(view.warnings!.map((w) => `warning: ${w.message}. What usually helps: ${w.advice}.`));
    expect(text.stdout).toContain(`${done}/2 trials done | 0 running`);
    const trialLines = text.stdout.split('\n').filter((line) => /^\d+\t/.test(line));
    expect(trialLines).toHaveLength(view.trials.length);
    const asJson = JSON.parse((await run(['status', studyId, '--json', ...api])).stdout) as StudyView;
    expect(asJson.summary.trialsDone).toBe(done);
    expect(asJson.trials.map((t) => [t.number, t.state, t.metric])).toEqual(view.trials.map((t) => [t.number, t.state, t.metric]));
  });

  it('prints JSON for every other command: watch, download, cancel, delete, tokens, help', async () => {
    const watched = await run(['watch', studyId, '--json', ...api]);
    expect(watched.code).toBe(0);
    const last = JSON.parse(watched.stdout.trim().split('\n').at(-1)!) as { state: string; done: number; budget: number };
    expect(last).toMatchObject({ state: 'completed', done: 2, budget: 2 });

    const out = join(dir, 'best.json');
    const downloaded = JSON.parse((await run(['download', studyId, '--out', out, '--json', ...api])).stdout) as { file: string; bytes: number };
    expect(downloaded.file).toBe(out);
    expect(downloaded.bytes).toBe(readFileSync(out).length);
    expect((JSON.parse(readFileSync(out, 'utf8')) as { format: string }).format).toBe('autopeft.trial-config/v1');
    // --bundle: the best trial's ZIP; --trial N: that trial's.
    const zipOut = join(dir, 'best.zip');
    const bundled = JSON.parse((await run(['download', studyId, '--bundle', '--out', zipOut, '--json', ...api])).stdout) as { file: string; bytes: number; kind: string };
    expect(bundled).toMatchObject({ id: studyId, file: zipOut, kind: 'bundle', bytes: readFileSync(zipOut).length });
    const names = execFileSync('unzip', ['-Z1', zipOut], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toEqual(expect.arrayContaining(['README.md', 'autopeft/autopeft_config.json', 'autopeft/adapter_weights.safetensors', 'hf-peft/adapter_model.safetensors']));
    const trialZip = join(dir, 'trial0.zip');
    const byTrial = JSON.parse((await run(['download', studyId, '--trial', '0', '--bundle', '--out', trialZip, '--json', ...api])).stdout) as { trial: number };
    expect(byTrial).toMatchObject({ trial: 0, kind: 'bundle' });
    expect(execFileSync('unzip', ['-p', trialZip, 'README.md'], { encoding: 'utf8' })).toMatch(/^# cli.*: trial 0\n/);

    writeFileSync(join(dir, 'long.json'), JSON.stringify(spec('cli cancel', 50)));
    const second = (JSON.parse((await run(['submit', join(dir, 'long.json'), '--json', ...api])).stdout) as { id: string }).id;
    expect(JSON.parse((await run(['cancel', second, '--json', ...api])).stdout)).toEqual({ id: second, state: 'cancelling' });
    const cancelled = await run(['watch', second, '--json', '--interval', '0.2', ...api]);
    expect(cancelled.code).toBe(1);
    expect((JSON.parse(cancelled.stdout.trim().split('\n').at(-1)!) as { state: string }).state).toBe('cancelled');
    expect(JSON.parse((await run(['delete', second, '--json', ...api])).stdout)).toEqual({ id: second, deleted: true });

    const created = JSON.parse((await run(['token', 'create', '--name', 'cli-json', '--scope', 'read', '--json'], prefixEnv)).stdout) as { name: string; token: string };
    expect(created).toMatchObject({ name: 'cli-json', scope: 'read' });
    expect(created.token).toMatch(/^apt_/);
    const listed = JSON.parse((await run(['token', 'list', '--json'], prefixEnv)).stdout) as { name: string }[];
    expect(listed.map((t) => t.name)).toContain('cli-json');
    expect(JSON.parse((await run(['token', 'revoke', 'cli-json', '--json'], prefixEnv)).stdout)).toEqual({ name: 'cli-json', revoked: true });
    expect((JSON.parse((await run(['--help', '--json'])).stdout) as { usage: string }).usage).toMatch(/^usage: autopeft/);
  });

  it('says every error in one line with its exit code, never a stack trace', async () => {
    const htmlServer = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<!DOCTYPE html>\n<html>\n<body><pre>Cannot GET /x</pre></body>\n</html>\n'));
    await new Promise<void>((resolve) => htmlServer.listen(0, '127.0.0.1', resolve));
    const htmlUrl = `http://127.0.0.1:${(htmlServer.address() as AddressInfo).port}/`;
    const closed = await closedPort();
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...spec('bad', 2), budget: { maxTrials: 0 } }));
    const cases: [string, string[], number, RegExp, Record<string, string>?][] = [
      ['no command', [], 2, /no command given/],
      ['unknown command', ['frobnicate'], 2, /unknown command "frobnicate"/],
      ['unknown option', ['status', studyId, '--frob', ...api], 2, /^autopeft: Unknown option '--frob' \(see autopeft --help\)$/],
      ['missing argument', ['watch', ...api], 2, /missing argument: autopeft watch <id>/],
      ['bad --url', ['status', studyId, '--url', 'http://'], 2, /--url "http:\/\/" is not a URL/],
      ['bad --interval', ['watch', studyId, '--interval', 'soon', ...api], 2, /--interval "soon"/],
      ['API not running', ['status', studyId, '--url', `127.0.0.1:${closed}`], 3, /cannot reach the API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/],
      ['not the API', ['status', studyId, '--url', htmlUrl, '--token', 'x'], 1, /HTTP 404 from http:\/\/127\.0\.0\.1:\d+, not an AutoPEFT API answer \(is --url the API\?\): Cannot GET \/x$/],
      ['bad token', ['status', studyId, '--url', stack.url, '--token', 'apt_wrong'], 1, /token/i],
      ['unknown study', ['status', 'nosuchstudy', ...api], 1, /nosuchstudy/],
      ['unwritable --out', ['download', studyId, '--out', '/missing/dir/x.json', ...api], 1, /^autopeft: cannot write \/missing\/dir\/x\.json: its directory does not exist$/],
      ['a bad --trial', ['download', studyId, '--trial', 'x', '--bundle', ...api], 2, /^autopeft: --trial "x": a trial number \(0, 1, 2, \.\.\.\)$/],
      ['a trial without weights', ['download', studyId, '--trial', '99', '--bundle', ...api], 1, /^autopeft: study "[^"]+" has no trial 99$/],
      ['missing spec file', ['submit', join(dir, 'nope.json'), ...api], 2, /nope\.json: ENOENT/],
      ['invalid spec', ['submit', join(dir, 'bad.json'), ...api], 1, /bad\.json: .*budget\.maxTrials/],
      ['bad token scope', ['token', 'create', '--name', 'x', '--scope', 'root'], 2, /token create --scope/, prefixEnv],
      ['unknown token', ['token', 'revoke', 'nobody'], 1, /no token named "nobody"/, prefixEnv],
      ['Redis down', ['token', 'list'], 3, /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/, { REDIS_URL: `redis://127.0.0.1:${closed}` }],
    ];
    const check = async ([what, args, code, message, env]: (typeof cases)[number]): Promise<void> => {
        const plain = await run(args, env);
        expect({ what, code: plain.code, stdout: plain.stdout }).toEqual({ what, code, stdout: '' });
        const lines = plain.stderr.trimEnd().split('\n');
        expect({ what, lines: lines.length }).toEqual({ what, lines: 1 });
        expect(lines[0], what).toMatch(/^autopeft: /);
        expect(lines[0], what).toMatch(message);
        const asJson = await run([...args, '--json'], env);
        expect({ what, code: asJson.code }).toEqual({ what, code });
        const error = (JSON.parse(asJson.stderr) as { error: { message: string; exitCode: number } }).error;
        expect({ what, exitCode: error.exitCode }).toEqual({ what, exitCode: code });
        expect(`autopeft: ${error.message}`, what).toMatch(message);
    };
    try {
      // A few at a time: each is a fresh process, and there are two cores.
      for (let i = 0; i < cases.length; i += 4) await Promise.all(cases.slice(i, i + 4).map(check));
    } finally {
      htmlServer.close();
    }
  });
});
