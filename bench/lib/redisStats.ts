/** What Redis itself reports: commands executed (INFO commandstats) and memory (INFO memory). */
import type Redis from 'ioredis';

/** Calls per command; `usec:<command>` entries hold the microseconds Redis spent in it. */
export type CommandStats = Map<string, number>;

export async function commandStats(redis: Redis): Promise<CommandStats> {
  const info = await redis.info('commandstats');
  const out: CommandStats = new Map();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    out.set(m[1], Number(m[2]));
    out.set(`usec:${m[1]}`, Number(m[3]));
  }
  return out;
}

/** Commands executed between two snapshots, without the benchmark's own INFO calls. */
export function commandDelta(before: CommandStats, after: CommandStats): CommandStats {
  const out: CommandStats = new Map();
  for (const [name, calls] of after) {
    if (name === 'info' || name === 'usec:info') continue;
    const d = calls - (before.get(name) ?? 0);
    if (d > 0) out.set(name, d);
  }
  return out;
}

export const totalOf = (delta: CommandStats): number => [...delta.entries()].filter(([k]) => !k.startsWith('usec:')).reduce((a, [, b]) => a + b, 0);

/** Microseconds Redis spent in top-level script calls (EVALSHA/EVAL: the commands they run are inside that time). */
export const scriptMicros = (delta: CommandStats): number => (delta.get('usec:evalsha') ?? 0) + (delta.get('usec:eval') ?? 0);

/** "evalsha 1, hgetall 21, hget 3" per operation, largest first. */
export function perOperation(delta: CommandStats, operations: number, top = 8): string {
  return [...delta.entries()]
    .filter(([name]) => !name.startsWith('usec:'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, n]) => `${name} ${Number((n / operations).toFixed(2))}`)
    .join(', ');
}

export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
}

/**
 * Counts what one ioredis connection sends: commands (a pipelined command counts once) and round trips (a single
 * command or a whole pipeline = one write to the socket). Redis's own counters cannot tell these apart: INFO
 * commandstats also counts every command a Lua script runs.
 */
export function countRoundTrips(redis: Redis): { roundTrips(): number; commands(): number } {
  let writes = 0;
  let commands = 0;
  const stream = (redis as unknown as { stream: { write: (...a: unknown[]) => boolean } }).stream;
  const write = stream.write.bind(stream);
  stream.write = (...a: unknown[]) => {
    writes++;
    return write(...a);
  };
  const send = redis.sendCommand.bind(redis);
  (redis as unknown as { sendCommand: (...a: unknown[]) => unknown }).sendCommand = (...a: unknown[]) => {
    commands++;
    return send(...(a as Parameters<typeof send>));
  };
  return { roundTrips: () => writes, commands: () => commands };
}
