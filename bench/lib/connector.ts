/**
 * The Bot Framework connector (Teams' `serviceUrl`) as the benchmark needs it: answers every activity the bot sends
 * with 200 and notes the moment the reply to a given activity arrived. Same protocol as test/support/fakeConnector.ts,
 * but it keeps nothing and finds a waiting caller in O(1), so it does not slow down under load.
 */
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nowMs } from './stats';

export interface BenchConnector {
  url: string;
  /** Resolves with the arrival time (nowMs) of the bot's reply to activity `activityId`. */
  replyTo(activityId: string, timeoutMs?: number): Promise<number>;
  received(): number;
  stop(): Promise<void>;
}

export async function startBenchConnector(): Promise<BenchConnector> {
  const waiting = new Map<string, (at: number) => void>();
  const early = new Map<string, number>();
  let received = 0;
  let counter = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = nowMs();
      const m = /^\/v3\/conversations\/[^/]+\/activities\/([^/?]+)/.exec(req.url ?? '');
      received++;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: `bench-${++counter}` }));
      if (!m) return;
      const replyTo = decodeURIComponent(m[1]);
      const resolve = waiting.get(replyTo);
      if (resolve) {
        waiting.delete(replyTo);
        resolve(at);
      } else early.set(replyTo, at);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    replyTo(activityId, timeoutMs = 15_000) {
      const at = early.get(activityId);
      if (at !== undefined) {
        early.delete(activityId);
        return Promise.resolve(at);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(activityId);
          reject(new Error(`no reply to ${activityId} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(activityId, (t) => {
          clearTimeout(timer);
          resolve(t);
        });
      });
    },
    received: () => received,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
