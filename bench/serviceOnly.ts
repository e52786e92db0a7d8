/**
 * `npx tsx bench/serviceOnly.ts [3] [6]`: rows 3 (service operations) and 6 (memory per user) alone, on a throwaway
 * redis-server, without the bot or the HTTP rows (about 40 s instead of `npm run bench`'s 2 minutes): for comparing a
 * change of the scripts or the layout back to back. Same code and sizes as the full run (BENCH_QUICK=1: small sizes);
 * prints the table, writes nothing.
 */
import { cpus, loadavg } from 'node:os';
import Redis from 'ioredis';
import { startThrowawayRedis } from '../test/support/redisServer';
import { Figure, renderTable } from './lib/report';
import { memoryRow, serviceOpsRow, ServiceContext } from './serviceRows';

const QUICK = process.env.BENCH_QUICK === '1';
const rows = process.argv.slice(2).length ? process.argv.slice(2) : ['3', '6'];
const started = Date.now();
const log = (message: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}`);

async function main(): Promise<void> {
  const server = await startThrowawayRedis();
  const admin = new Redis(server.url);
  const figures: Figure[] = [];
  try {
    log(`${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}${QUICK ? '; QUICK sizes' : ''}`);
    const ctx: ServiceContext = { redisUrl: server.url, admin, figures, details: {}, log, opsCount: QUICK ? 500 : 10_000, memoryUsers: QUICK ? 10_000 : 100_000 };
    if (rows.includes('3')) await serviceOpsRow(ctx);
    if (rows.includes('6')) await memoryRow(ctx);
  } finally {
    admin.disconnect();
    await server.stop();
  }
  console.log(`\n${renderTable(figures)}\n`);
  log(`done; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

main().catch((err) => {
  console.error('benchmark failed:', err instanceof Error ? err.stack : err);
  process.exitCode = 1;
});
