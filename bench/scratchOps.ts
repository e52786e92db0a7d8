import Redis from 'ioredis';
import { DirectoryService } from '../services/directory';
import { connectRedis } from '../services/store/redis';
import { startThrowawayRedis } from '../test/support/redisServer';
import { commandDelta, commandStats, perOperation, scriptMicros } from './lib/redisStats';
import { BENCH_ACTOR, benchUser, createMany, customer } from './lib/seed';

async function main() {
  const srv = await startThrowawayRedis();
  const admin = new Redis(srv.url);
  const redis = connectRedis({ url: srv.url }) as Redis;
  const d = new DirectoryService({ redis });
  await customer(d, 'opsco', 'Opsco', [{ skuId: 'O365_E3', name: 'E3', seats: 1e6 }]);
  // a big customer so the indexes are skiplists
  await createMany(d, 'opsco', { count: 2000, prefix: 'bg' });
  const n = Number(process.env.N ?? 3000);
  const pool = async (fn: (i: number) => Promise<unknown>) => { let next = 0; const t = performance.now(); await Promise.all(Array.from({ length: 10 }, async () => { for (let i = next++; i < n; i = next++) await fn(i); })); return performance.now() - t; };
  const measure = async (name: string, fn: (i: number) => Promise<unknown>) => {
    const b = await commandStats(admin); const c0 = process.cpuUsage();
    const ms = await pool(fn);
    const c = process.cpuUsage(c0); const delta = commandDelta(b, await commandStats(admin));
    console.log(`${name}: ${(n / ms * 1000).toFixed(0)} ops/s; client CPU ${((c.user + c.system) / n).toFixed(0)} µs/op; script ${(scriptMicros(delta) / n).toFixed(1)} µs/op; ${perOperation(delta, n, 12)}`);
    const usecs = [...delta.entries()].filter(([k]) => k.startsWith('usec:') && k !== 'usec:evalsha').map(([k, v]) => `${k.slice(5)} ${(v / n).toFixed(1)}`).join(', ');
    console.log(`   nested µs/op: ${usecs}`);
  };
  const users: any[] = [];
  await measure('create', async (i) => { users[i] = (await d.createUser('opsco', benchUser(i), { actor: BENCH_ACTOR, withoutPassword: true })).user; });
  await measure('assign', (i) => d.changeLicenses('opsco', [{ userId: users[i].id, expectedVersion: 1 }], { add: ['O365_E3'] }, { actor: BENCH_ACTOR }));
  await measure('delete', (i) => d.deleteUsers('opsco', [{ userId: users[i].id, expectedVersion: 2 }], { actor: BENCH_ACTOR }));
  await measure('restore', (i) => d.restoreUsers('opsco', [{ userId: users[i].id, expectedVersion: 3 }], { actor: BENCH_ACTOR }));
  const noop = `return 1`; redis.defineCommand('noop', { numberOfKeys: 0, lua: noop });
  await measure('noop', () => (redis as any).noop());
  redis.disconnect(); admin.disconnect(); await srv.stop();
}
main();
