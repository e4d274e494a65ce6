/**
 * The API as a process of its own (`autopeft api`), for tests that watch its memory, stop its
 * Redis under it, or must not share an event loop with the test.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../api/bin/autopeft.js', import.meta.url));

/** A running `autopeft api` (or other role) process. */
export interface ServiceProcess {
  /** The API's base URL (for the `api` role). */
  url: string;
  child: ChildProcess;
  /** Everything it printed so far. */
  output: () => string;
  /** Resident memory of the process in bytes (from /proc). */
  rss: () => number;
  close: () => Promise<void>;
}

/** Starts `autopeft <role>` with `env` added and waits until it says it is ready. */
export async function startServiceProcess(role: 'api' | 'scheduler' | 'worker', env: Record<string, string>, ready: RegExp = /API and dashboard at (\S+?)\/?\r?\n/): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [bin, role], { env: { ...process.env, AUTOPEFT_DEMO: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`autopeft ${role} did not start within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve((match[1] ?? '').replace(/\/$/, ''));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`autopeft ${role} exited (${code}):\n${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    rss: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
