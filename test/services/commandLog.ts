import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { TestDirectory } from '../support/testDirectory';

/** One command Redis executed: sent by the test directory's client, or run by one of its Lua scripts. */
export interface LoggedCommand {
  from: 'client' | 'lua';
  name: string;
  args: string[];
}

export interface Measured<T> {
  result: T;
  /** Commands the client sent (each pipeline command counts once; see roundTrips). */
  client: LoggedCommand[];
  /** Commands its scripts ran on the server. */
  lua: LoggedCommand[];
  /** Bytes the client received from Redis while fn ran. */
  bytesRead: number;
}

/**
 * Watches Redis with MONITOR and attributes commands to the directory's own connection (by its
 * address) and to Lua scripts touching its key root. `measure(fn)` brackets fn between two ECHO
 * markers sent on that connection, so the log is complete when it resolves — no sleeps.
 */
export async function commandLog(t: TestDirectory) {
  const client = t.redis as Redis;
  const info = String(await client.client('INFO'));
  const addr = /addr=(\S+)/.exec(info)?.[1];
  if (!addr) throw new Error(`cannot read the client address from ${info}`);
  const monitor = await client.monitor();
  const log: LoggedCommand[] = [];
  const waiting = new Map<string, () => void>();
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const [name, ...rest] = args;
    if (source === addr) {
      if (name.toLowerCase() === 'echo' && waiting.has(rest[0])) {
        waiting.get(rest[0])?.();
        return;
      }
      log.push({ from: 'client', name: name.toLowerCase(), args: rest });
    } else if (source === 'lua' && rest.some((a) => a.startsWith(t.root))) {
      log.push({ from: 'lua', name: name.toLowerCase(), args: rest });
    }
  });

  async function marker(): Promise<void> {
    const token = `mark-${randomBytes(6).toString('hex')}`;
    const seen = new Promise<void>((resolve) => waiting.set(token, resolve));
    await client.echo(token);
    await seen;
    waiting.delete(token);
  }

  return {
    async measure<T>(fn: () => Promise<T>): Promise<Measured<T>> {
      await marker();
      log.length = 0;
      const stream = (client as unknown as { stream: { bytesRead: number } }).stream;
      const before = stream.bytesRead;
      const result = await fn();
      const bytesRead = stream.bytesRead - before;
      await marker();
      const entries = log.splice(0);
      return {
        result,
        client: entries.filter((e) => e.from === 'client'),
        lua: entries.filter((e) => e.from === 'lua'),
        bytesRead,
      };
    },
    stop(): void {
      monitor.disconnect();
    },
  };
}

export const names = (cmds: LoggedCommand[]): string[] => cmds.map((c) => c.name);
export const countOf = (cmds: LoggedCommand[], name: string): number => cmds.filter((c) => c.name === name).length;
