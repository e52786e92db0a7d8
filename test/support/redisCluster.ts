/**
 * A throwaway Redis Cluster of three masters on 127.0.0.1 (no replicas), for running the service suite against
 * Cluster: `redis-server --cluster-enabled yes` ×3 on free ports, joined with `redis-cli --cluster create`.
 *
 *   const cluster = await startThrowawayCluster();   // { nodes: [{ host, port }…], spec: '127.0.0.1:p1,…', stop() }
 *
 * Every node writes its cluster config file into a temporary directory of its own, removed by stop().
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { parseClusterNodes } from '../../services/store/redis';
import { freePort } from './redisServer';

export interface ThrowawayCluster {
  nodes: Array<{ host: string; port: number }>;
  /** "host:port,host:port,…" — the form TEST_REDIS_CLUSTER and REDIS_CLUSTER_NODES take. */
  spec: string;
  stop(): Promise<void>;
}

const run = promisify(execFile);

/** "127.0.0.1:7000,127.0.0.1:7001" → [{ host, port }…] (the parser REDIS_CLUSTER_NODES goes through). */
export function parseNodes(spec: string): Array<{ host: string; port: number }> {
  const nodes = parseClusterNodes(spec);
  if (!nodes) throw new Error(`not a host:port list: ${spec}`);
  return nodes;
}

/** Polls (no fixed sleeps) until `probe` resolves true, or fails after the deadline. */
async function until(what: string, probe: () => Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`redis cluster: ${what} within ${deadlineMs} ms`);
    await new Promise<void>((r) => setTimeout(r, 20));
  }
}

async function ask(port: number, ...command: string[]): Promise<string> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return String(await client.call(command[0], ...command.slice(1)));
  } finally {
    client.disconnect();
  }
}

export async function startThrowawayCluster(masters = 3): Promise<ThrowawayCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'pab-cluster-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  // Ports drawn here are distinct; a node that exits while starting (its port taken meanwhile by another process:
  // freePort only proves the port was free a moment ago) is started again on new ports, up to three times.
  const drawn = new Set<number>();
  const distinctFreePort = async (): Promise<number> => {
    for (;;) {
      const port = await freePort();
      if (!drawn.has(port)) {
        drawn.add(port);
        return port;
      }
    }
  };
  const startNode = async (attempt = 1): Promise<number> => {
    // The cluster bus gets a free port of its own (cluster-port), not port + 10000.
    const port = await distinctFreePort();
    const busPort = await distinctFreePort();
    const child = spawn(
      'redis-server',
      [
        '--port', String(port),
        '--cluster-port', String(busPort),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', '5000',
        '--dir', dir,
        '--save', '',
        '--appendonly', 'no',
      ],
      { stdio: 'ignore' },
    );
    children.push(child);
    let exited = false;
    child.once('exit', () => (exited = true));
    await until(`node ${port} answers PING`, async () => {
      if (exited) return true;
      return (await ask(port, 'PING')) === 'PONG';
    });
    if (!exited) return port;
    if (attempt >= 3) throw new Error(`redis cluster: a node exited while starting, ${attempt} times`);
    return startNode(attempt + 1);
  };
  try {
    for (let i = 0; i < masters; i++) ports.push(await startNode());
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    for (const port of ports) {
      await until(`node ${port} reports cluster_state:ok`, async () => /cluster_state:ok/.test(await ask(port, 'CLUSTER', 'INFO')));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const nodes = ports.map((port) => ({ host: '127.0.0.1', port }));
  return { nodes, spec: nodes.map((n) => `${n.host}:${n.port}`).join(','), stop };
}
