/**
 * Fault injection around a real Redis, for the fault and soak tests.
 *
 *   const redis = await startDurableRedis();    // own redis-server, own port, AOF with appendfsync always, temp dir
 *   await redis.crash();                        // SIGKILL: no shutdown, no final fsync (nothing acknowledged is lost)
 *   await redis.restart();                      // same port, same AOF; resolves once it answers PING again
 *   await redis.stop();                         // and removes its directory
 *
 *   const proxy = await startFlakyProxy(redis.port);   // a TCP proxy on 127.0.0.1 in front of it
 *   connectRedis({ url: proxy.url });
 *   const lost = proxy.loseReplyTo('op-42');   // the reply to the request carrying "op-42" is dropped and that
 *   …send the command…; await lost;           // connection closed: the command ran, its caller never heard of it
 *   proxy.refuseConnections(true);             // reconnecting fails until turned off again
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startThrowawayRedis, ThrowawayRedis } from './redisServer';

export interface DurableRedis {
  readonly url: string;
  readonly port: number;
  crash(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startDurableRedis(): Promise<DurableRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'pab-aof-'));
  const args = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
  let server: ThrowawayRedis = await startThrowawayRedis(args);
  const port = server.port;
  const exited = (s: ThrowawayRedis) =>
    new Promise<void>((resolve) => (s.process.exitCode !== null || s.process.signalCode !== null ? resolve() : s.process.once('exit', () => resolve())));
  return {
    url: server.url,
    port,
    async crash() {
      const done = exited(server);
      server.process.kill('SIGKILL');
      await done;
    },
    async restart() {
      server = await startThrowawayRedis(args, port);
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface FlakyProxy {
  readonly url: string;
  readonly port: number;
  /**
   * The reply to the next request that contains `marker` (e.g. an operation id) is dropped and that client's
   * connection closed: the command ran, its caller never hears of it. Resolves once that has happened.
   */
  loseReplyTo(marker: string): Promise<void>;
  /** While on, new connections are closed at once (Redis unreachable for the client, though it runs). */
  refuseConnections(on: boolean): void;
  stop(): Promise<void>;
}

export async function startFlakyProxy(targetPort: number): Promise<FlakyProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let wanted: { marker: string; done: () => void } | null = null;
  let refusing = false;
  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = new Socket();
    const pair = { client, upstream };
    pairs.add(pair);
    let dropNext: (() => void) | null = null;
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    upstream.connect(targetPort, '127.0.0.1');
    client.on('data', (chunk: Buffer) => {
      if (wanted && chunk.includes(wanted.marker)) {
        dropNext = wanted.done;
        wanted = null;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (dropNext) {
        const done = dropNext;
        dropNext = null;
        close(); // the reply never reaches the client
        done();
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    loseReplyTo: (marker) => new Promise<void>((resolve) => (wanted = { marker, done: resolve })),
    refuseConnections(on) {
      refusing = on;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const p of [...pairs]) {
          p.client.destroy();
          p.upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
