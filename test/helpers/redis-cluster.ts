/**
 * A real Redis Cluster of a test's own: three masters (no replicas) on free loopback ports, each
 * a `redis-server --cluster-enabled yes` in a temporary folder, joined by `redis-cli --cluster
 * create` so that the 16,384 slots are split between them.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { redisAnswers } from '../../api/local-redis.js';
import { freePort } from './redis-server.js';

/** A running cluster. */
export interface OwnCluster {
  /** `host:port,host:port,host:port` (AUTOPEFT_REDIS_CLUSTER). */
  seeds: string;
  ports: number[];
  /** A plain connection to one master (it answers only for its own slots). */
  node(port: number): Redis;
  /** The port of the master that serves `key`'s slot. */
  masterOf(key: string): Promise<number>;
  close(): Promise<void>;
}

/** Starts a 3-master cluster and waits until it reports `cluster_state:ok` on every node. */
export async function startOwnCluster(): Promise<OwnCluster> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(path.join(tmpdir(), 'autopeft-cluster-'));
  const children: ChildProcess[] = [];
  const connections: Redis[] = [];
  for (const port of ports) {
    const nodeDir = path.join(dir, String(port));
    spawnSync('mkdir', ['-p', nodeDir]);
    children.push(
      spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir, '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '3000', '--save', '', '--appendonly', 'no'],
        { stdio: 'ignore' },
      ),
    );
  }
  for (const port of ports) {
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = await redisAnswers(`redis://127.0.0.1:${port}`, 500);
      if (!up) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!up) throw new Error(`cluster node on port ${port} did not answer`);
  }
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${created.stdout}\n${created.stderr}`);
  const node = (port: number): Redis => {
    const connection = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    connections.push(connection);
    return connection;
  };
  const probes = ports.map(node);
  for (let i = 0; i < 100; i++) {
    const infos = await Promise.all(probes.map((p) => p.cluster('INFO') as Promise<string>));
    if (infos.every((info) => info.includes('cluster_state:ok'))) break;
    if (i === 99) throw new Error(`the cluster did not become ok:\n${infos.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    seeds: ports.map((p) => `127.0.0.1:${p}`).join(','),
    ports,
    node,
    async masterOf(key) {
      const slot = (await probes[0]!.cluster('KEYSLOT', key)) as number;
      const ranges = await probes[0]!.cluster('SLOTS');
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      const master = range?.[2];
      if (!master) throw new Error(`no master serves slot ${slot}`);
      return master[1];
    },
    async close() {
      for (const connection of connections) connection.disconnect();
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGKILL');
            }),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
