/**
 * Rows measured on the DirectoryService itself, in the benchmark's process, against the same Redis: operations per
 * second and round trips (3), bulk import (4), memory per user (6).
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { CredentialVault } from '../services/credentials';
import { DirectoryService } from '../services/directory';
import { newUserId } from '../services/directories/redis';
import { keyedPasswordHasher } from '../services/passwords';
import { connectRedis } from '../services/store/redis';
import type { CustomerUser } from '../services/types';
import { commandDelta, commandStats, countRoundTrips, perOperation, scriptMicros, totalOf, usedMemory } from './lib/redisStats';
import { atLeastFloor, atMost, Figure, figure, Target } from './lib/report';
import { BENCH_ACTOR, benchUser, createMany, customer } from './lib/seed';
import { cpuTimeMs } from './lib/processes';
import { nowMs } from './lib/stats';

export interface ServiceContext {
  redisUrl: string;
  admin: Redis;
  figures: Figure[];
  details: Record<string, unknown>;
  log(message: string): void;
  /** Operations per kind in row 3 (10,000: at about 10,000 a second, a second of load each, long enough for /proc's 10 ms CPU ticks and a warm JIT). */
  opsCount: number;
  /** Users in row 6. */
  memoryUsers: number;
}

export const OPS_CONCURRENCY = 10;
/**
 * The product as deployed with PASSWORD_HASH_KEY set (README, Security model): temporary passwords stored as a keyed
 * hash. The bot child gets the same key (bench/run.ts). The scrypt form, for deployments without a key, is row 3's
 * "scrypt" line.
 */
export const BENCH_PASSWORD_HASH_KEY = randomBytes(32);
const passwordHasher = keyedPasswordHasher(BENCH_PASSWORD_HASH_KEY);

/** Runs fn(0..count-1) with `concurrency` calls in flight; resolves with the elapsed milliseconds. */
async function pool(count: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = nowMs();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (let i = next++; i < count; i = next++) await fn(i);
    }),
  );
  return nowMs() - t0;
}

/** Row 3: create, assign, delete, restore driven directly; floor = a trivial EVALSHA at the same concurrency. */
export async function serviceOpsRow(ctx: ServiceContext): Promise<{ createOpsPerSecond: number; createWithPasswordOpsPerSecond: number }> {
  const redis = connectRedis({ url: ctx.redisUrl }) as Redis;
  await redis.ping();
  const directory = new DirectoryService({ redis, passwordHasher });
  const scryptDirectory = new DirectoryService({ redis });
  const CID = 'opsco';
  await customer(directory, CID, 'Opsco', [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 1_000_000 }]);
  // Load every script once (the first EVALSHA of a script falls back to EVAL).
  const [warm] = await createMany(directory, CID, { count: 1, prefix: 'warm' });
  await directory.changeLicenses(CID, [{ userId: warm.id }], { add: ['O365_E3'] }, { actor: BENCH_ACTOR });
  await directory.deleteUsers(CID, [{ userId: warm.id }], { actor: BENCH_ACTOR });
  await directory.restoreUsers(CID, [{ userId: warm.id }], { actor: BENCH_ACTOR });
  const counter = countRoundTrips(redis);

  const n = ctx.opsCount;
  const results: Record<string, unknown> = {};
  /**
   * Each kind: first a sequential sample (one operation in flight, so every write to the socket is a round trip of
   * that operation: exact round trips per operation, whatever the client batches), then the rest at
   * OPS_CONCURRENCY in flight for the throughput. Redis's commandstats over both give the commands it ran per operation.
   */
  const SEQUENTIAL = Math.min(100, Math.floor(n / 10));
  // What bounds the throughput: the CPU the Redis server and this process (the service, as the bot runs it) spend per
  // operation while `pool` runs, from /proc; a server near 100% of its one core is the limit.
  const redisPid = Number(/^process_id:(\d+)/m.exec(await ctx.admin.info('server'))?.[1]);
  const timedPool = async (count: number, fn: (i: number) => Promise<unknown>) => {
    const redis0 = cpuTimeMs(redisPid);
    const client0 = process.cpuUsage();
    const ms = await pool(count, OPS_CONCURRENCY, fn);
    const client = process.cpuUsage(client0);
    const redisMs = cpuTimeMs(redisPid) - redis0;
    return { ms, redisCpuMicrosPerOp: (redisMs * 1000) / count, redisBusy: redisMs / ms, clientCpuMicrosPerOp: (client.user + client.system) / count };
  };
  const measure = async (name: string, count: number, fn: (i: number) => Promise<unknown>) => {
    const before = await commandStats(ctx.admin);
    const rt0 = counter.roundTrips();
    for (let i = 0; i < SEQUENTIAL; i++) await fn(i);
    const roundTripsPerOp = (counter.roundTrips() - rt0) / SEQUENTIAL;
    const { ms, ...cpu } = await timedPool(count - SEQUENTIAL, (i) => fn(SEQUENTIAL + i));
    const delta = commandDelta(before, await commandStats(ctx.admin));
    const r = {
      count,
      ...cpu,
      opsPerSecond: ((count - SEQUENTIAL) / ms) * 1000,
      roundTripsPerOp,
      redisCommandsPerOp: totalOf(delta) / count,
      redisCommands: perOperation(delta, count),
      /** Time Redis spent running the operation's script, per operation. */
      scriptMicrosPerOp: scriptMicros(delta) / count,
    };
    results[name] = r;
    ctx.log(`  ${name}: ${r.opsPerSecond.toFixed(0)} ops/s, ${r.roundTripsPerOp.toFixed(2)} round trips/op, ${r.redisCommandsPerOp.toFixed(1)} Redis commands/op (${r.redisCommands}), script ${r.scriptMicrosPerOp.toFixed(0)} µs/op in Redis; Redis CPU ${r.redisCpuMicrosPerOp.toFixed(0)} µs/op (busy ${(r.redisBusy * 100).toFixed(0)}%), client CPU ${r.clientCpuMicrosPerOp.toFixed(0)} µs/op`);
    return r;
  };

  const users: CustomerUser[] = new Array(n);
  const create = await measure('create', n, async (i) => {
    users[i] = (await directory.createUser(CID, benchUser(i), { actor: BENCH_ACTOR, withoutPassword: true })).user;
  });
  const pwCount = Math.max(100, Math.round(n / 10));
  const createPw = await measure('create with temporary password', pwCount, (i) => directory.createUser(CID, benchUser(i, [], 'pw'), { actor: BENCH_ACTOR }));
  const createScrypt = await measure('create with temporary password, scrypt', SEQUENTIAL + Math.max(100, Math.round(n / 30)), (i) => scryptDirectory.createUser(CID, benchUser(i, [], 'scr'), { actor: BENCH_ACTOR }));
  const assign = await measure('assign', n, (i) => directory.changeLicenses(CID, [{ userId: users[i].id, expectedVersion: 1 }], { add: ['O365_E3'] }, { actor: BENCH_ACTOR }));
  const del = await measure('delete', n, (i) => directory.deleteUsers(CID, [{ userId: users[i].id, expectedVersion: 2 }], { actor: BENCH_ACTOR }));
  const restore = await measure('restore', n, (i) => directory.restoreUsers(CID, [{ userId: users[i].id, expectedVersion: 3 }], { actor: BENCH_ACTOR }));
  redis.disconnect();

  // Floor: the cheapest thing a script call can be, through a client configured as the product's (connectRedis).
  const floorClient = connectRedis({ url: ctx.redisUrl }) as Redis;
  floorClient.defineCommand('benchNoop', { numberOfKeys: 0, lua: 'return 1' });
  const noop = () => (floorClient as unknown as { benchNoop(): Promise<number> }).benchNoop();
  await noop();
  const floorCount = n * 4;
  await pool(floorCount / 10, OPS_CONCURRENCY, noop); // warm-up
  const floorBefore = await commandStats(ctx.admin);
  const { ms: floorMs, ...floorCpu } = await timedPool(floorCount, noop);
  const floorOps = (floorCount / floorMs) * 1000;
  const floorMicros = scriptMicros(commandDelta(floorBefore, await commandStats(ctx.admin))) / floorCount;
  floorClient.disconnect();
  results.floor = { opsPerSecond: floorOps, count: floorCount, scriptMicrosPerOp: floorMicros, ...floorCpu };
  ctx.details.serviceOps = results;
  ctx.log(`  floor (EVALSHA return 1): ${floorOps.toFixed(0)} ops/s, script ${floorMicros.toFixed(1)} µs/op in Redis; Redis CPU ${floorCpu.redisCpuMicrosPerOp.toFixed(1)} µs/op (busy ${(floorCpu.redisBusy * 100).toFixed(0)}%), client CPU ${floorCpu.clientCpuMicrosPerOp.toFixed(1)} µs/op`);

  const oneTrip: Target = atMost(1, 'round trip');
  const rows: Array<[string, typeof create, Target | undefined, Target | undefined]> = [
    ['create', create, atLeastFloor(0.3), atMost(2, 'round trips')],
    ['create with a temporary password (HMAC-SHA-256, PASSWORD_HASH_KEY set)', createPw, atLeastFloor(0.3), atMost(2, 'round trips')],
    ['create with a temporary password (scrypt: PASSWORD_HASH_KEY unset; no target)', createScrypt, undefined, atMost(2, 'round trips')],
    ['assign', assign, atLeastFloor(0.3), oneTrip],
    ['delete', del, atLeastFloor(0.3), oneTrip],
    ['restore', restore, atLeastFloor(0.3), oneTrip],
  ];
  for (const [name, r, speed, trips] of rows) {
    ctx.figures.push(
      figure({ row: '3', what: `service ${name}, ${OPS_CONCURRENCY} in flight: throughput`, value: r.opsPerSecond, floor: floorOps, unit: 'ops/s', target: speed }),
      figure({ row: '3', what: `service ${name}: round trips per op`, value: r.roundTripsPerOp, floor: 1, unit: 'RT', target: trips, note: `Redis ran ${r.redisCommandsPerOp.toFixed(1)} commands/op: ${r.redisCommands}` }),
      figure({ row: '3', what: `service ${name}: Redis time in the script per op (commandstats usec)`, value: r.scriptMicrosPerOp, floor: floorMicros, unit: 'µs' }),
      figure({
        row: '3',
        what: `service ${name}: Redis server CPU per op (/proc)`,
        value: r.redisCpuMicrosPerOp,
        floor: floorCpu.redisCpuMicrosPerOp,
        unit: 'µs',
        // The server's one core at that cost serves at most 1e6 / µs operations a second, whatever the client does.
        note: `Redis busy ${(r.redisBusy * 100).toFixed(0)}% of its core: at most ${Math.round(1e6 / r.redisCpuMicrosPerOp).toLocaleString('en-US')} ops/s = ${(1e6 / r.redisCpuMicrosPerOp / floorOps).toFixed(2)} of the floor; the service ${r.clientCpuMicrosPerOp.toFixed(0)} µs CPU per op (floor: Redis ${(floorCpu.redisBusy * 100).toFixed(0)}% busy, client ${floorCpu.clientCpuMicrosPerOp.toFixed(0)} µs)`,
      }),
    );
  }
  return { createOpsPerSecond: create.opsPerSecond, createWithPasswordOpsPerSecond: createPw.opsPerSecond };
}

export const IMPORT_ROWS = 10_000;

/** A Partner Center template CSV with usage location and licenses, as an agent would upload it. */
export function importCsv(customerId: string, rows: number): Buffer {
  const lines = ['First name,Last name,Display name,Email,Status update,Usage location,Licenses'];
  for (let i = 0; i < rows; i++) {
    const u = benchUser(i, [], 'imp');
    lines.push([u.firstName, u.lastName, u.displayName, `${u.username}@${customerId}.onmicrosoft.com`, '', 'US', i % 2 ? 'O365_E3' : 'O365_E3;M365_E5'].join(','));
  }
  return Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
}

interface ImportServiceLike {
  preview(customerId: string, bytes: Buffer, filename: string, owner: { id: string; name: string }): Promise<{ ok: boolean; preview?: { jobId: string; ready: number; issueCount: number }; problem?: unknown }>;
  start(customerId: string, jobId: string, owner: { id: string; name: string }, options: { mode: 'validRows' | 'allOrNothing' }): Promise<{ started: boolean }>;
  run(customerId: string, jobId: string): Promise<{ created: number; failed: number; downloadToken: string } | null>;
}

/**
 * Row 4: bulk import of 10,000 rows end to end — parse and validate (preview), start, create every user with a
 * temporary password and write the results CSV (run), then fetch that CSV once — through the import module
 * (services/import/importer.ts, ImportService) when it exists. Floor: creating the same number of users with a
 * temporary password one by one, at the rate row 3 measured.
 */
export async function importRow(ctx: ServiceContext, createWithPasswordOpsPerSecond: number): Promise<void> {
  const what = `bulk import ${IMPORT_ROWS.toLocaleString('en-US')} rows (parse + validate + create + results CSV)`;
  const notMeasured = (reason: string) => {
    ctx.log(`  bulk import: not measured: ${reason}`);
    ctx.figures.push(figure({ row: '4', what, value: null, unit: 's', target: atMost(5, 's'), note: `not measured: ${reason}` }));
    ctx.details.import = { measured: false, reason };
  };
  const dir = join(__dirname, '..', 'services');
  const modulePath = [join(dir, 'import', 'importer.ts'), ...readdirSync(dir).filter((f) => /^import.*\.ts$/i.test(f)).map((f) => join(dir, f))].find((f) => existsSync(f));
  if (!modulePath) return notMeasured('import not built yet');
  let ImportService: (new (directory: DirectoryService, vault: CredentialVault) => ImportServiceLike) | undefined;
  try {
    ImportService = (require(modulePath) as { ImportService?: typeof ImportService }).ImportService;
  } catch (err) {
    return notMeasured(`${modulePath.slice(dir.length - 8)} does not load: ${String(err).slice(0, 120)}`);
  }
  if (typeof ImportService !== 'function' || !['preview', 'start', 'run'].every((m) => typeof (ImportService!.prototype as Record<string, unknown>)[m] === 'function')) {
    return notMeasured(`${modulePath.slice(dir.length - 8)} has no ImportService with preview/start/run`);
  }

  const redis = connectRedis({ url: ctx.redisUrl }) as Redis;
  const directory = new DirectoryService({ redis, passwordHasher });
  const vault = new CredentialVault(redis, directory.keys, directory.clock);
  const importer = new ImportService(directory, vault);
  const CID = 'importco';
  await customer(directory, CID, 'Importco', [
    { skuId: 'O365_E3', name: 'Office 365 E3', seats: 2 * IMPORT_ROWS },
    { skuId: 'M365_E5', name: 'Microsoft 365 E5', seats: 2 * IMPORT_ROWS },
  ]);
  const csv = importCsv(CID, IMPORT_ROWS);
  try {
    const t0 = nowMs();
    const previewed = await importer.preview(CID, csv, 'users.csv', BENCH_ACTOR);
    if (!previewed.ok || !previewed.preview) return notMeasured(`the preview refused the file: ${JSON.stringify(previewed.problem).slice(0, 120)}`);
    const tPreview = nowMs();
    const { started } = await importer.start(CID, previewed.preview.jobId, BENCH_ACTOR, { mode: 'validRows' });
    if (!started) return notMeasured(`the job did not start (${previewed.preview.ready} rows ready, ${previewed.preview.issueCount} issues)`);
    const result = await importer.run(CID, previewed.preview.jobId);
    if (!result) return notMeasured('the run returned no result');
    const tRun = nowMs();
    const download = (await vault.redeemDownload(result.downloadToken)) as { ok: boolean; content?: string };
    const seconds = (nowMs() - t0) / 1000;
    const csvLines = download.ok ? String(download.content ?? '').split(/\r?\n/).filter(Boolean).length - 1 : 0;
    if (result.created !== IMPORT_ROWS || csvLines !== IMPORT_ROWS) {
      return notMeasured(`the import created ${result.created} of ${IMPORT_ROWS} users and its results CSV has ${csvLines} rows`);
    }
    const floorSeconds = IMPORT_ROWS / createWithPasswordOpsPerSecond;
    ctx.details.import = { measured: true, seconds, previewSeconds: (tPreview - t0) / 1000, runSeconds: (tRun - tPreview) / 1000, created: result.created, failed: result.failed, floorSeconds };
    ctx.log(`  bulk import: ${seconds.toFixed(1)} s (preview ${((tPreview - t0) / 1000).toFixed(1)} s, start + run ${((tRun - tPreview) / 1000).toFixed(1)} s); ${(IMPORT_ROWS / seconds).toFixed(0)} rows/s`);
    ctx.figures.push(
      figure({ row: '4', what, value: seconds, floor: floorSeconds, unit: 's', target: atMost(5, 's'), note: 'floor: the same creates with passwords at row 3\'s rate' }),
      figure({ row: '4', what: 'bulk import: rows per second', value: IMPORT_ROWS / seconds, floor: createWithPasswordOpsPerSecond, unit: 'rows/s' }),
    );
  } catch (err) {
    return notMeasured(`the import failed: ${String(err).slice(0, 160)}`);
  } finally {
    redis.disconnect();
  }
  await importScalingRow(ctx);
}

/** What one import in a process of its own reports (bench/importChild.ts). */
interface ChildImport {
  rows: number;
  seconds: number;
  lines: number;
  rssPeakAboveBase: number;
  heapPeakAboveBase: number;
  vmHWM: number;
  baseRss: number;
}

function importInChild(ctx: ServiceContext, rows: number): Promise<ChildImport> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(__dirname, 'importChild.ts')],
      { cwd: join(__dirname, '..'), env: { ...process.env, REDIS_URL: ctx.redisUrl, IMPORT_ROWS: String(rows), PASSWORD_HASH_KEY: BENCH_PASSWORD_HASH_KEY.toString('base64') }, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message} ${stderr.slice(0, 300)}`)) : resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as ChildImport)),
    );
  });
}

/**
 * Row 4, scaling: the same import of 10,000 and of 100,000 rows, each in a fresh process (so that its memory high-water
 * is its own), with SPEC §6's 10,000-row limit raised for the measurement. Targets: 100,000 rows within 10× the
 * 10,000-row time, and the process's memory high-water flat (at most twice the 10,000-row one for ten times the rows).
 */
async function importScalingRow(ctx: ServiceContext): Promise<void> {
  const MB = (b: number) => b / 2 ** 20;
  try {
    const small = await importInChild(ctx, 10_000);
    const large = await importInChild(ctx, 100_000);
    ctx.details.importScaling = { small, large };
    ctx.log(`  import scaling: 10,000 rows ${small.seconds.toFixed(1)} s, RSS +${MB(small.rssPeakAboveBase).toFixed(0)} MB, heap +${MB(small.heapPeakAboveBase).toFixed(0)} MB; 100,000 rows ${large.seconds.toFixed(1)} s, RSS +${MB(large.rssPeakAboveBase).toFixed(0)} MB, heap +${MB(large.heapPeakAboveBase).toFixed(0)} MB`);
    ctx.figures.push(
      figure({ row: '4', what: 'bulk import 100,000 rows, own process (floor: 10× the same 10,000-row import)', value: large.seconds, floor: 10 * small.seconds, unit: 's', target: { on: 'ratio', op: '<=', limit: 1, text: '≤ 10× the 10,000-row time' }, note: `10,000 rows: ${small.seconds.toFixed(1)} s` }),
      figure({ row: '4', what: 'bulk import 100,000 rows: process RSS high-water above its start (floor: the 10,000-row import\'s)', value: MB(large.rssPeakAboveBase), floor: MB(small.rssPeakAboveBase), unit: 'MB', target: { on: 'ratio', op: '<=', limit: 2, text: 'flat: ≤ 2× the 10,000-row one' }, note: `heap high-water +${MB(large.heapPeakAboveBase).toFixed(0)} MB vs +${MB(small.heapPeakAboveBase).toFixed(0)} MB` }),
    );
  } catch (err) {
    ctx.log(`  import scaling: not measured: ${String(err).slice(0, 200)}`);
    ctx.figures.push(figure({ row: '4', what: 'bulk import 100,000 rows', value: null, unit: 's', note: `not measured: ${String(err).slice(0, 120)}` }));
  }
}

/** Bytes per user of plain records: one hash per user with the product's fields and values, nothing else. Removed afterwards. */
async function floorRecords(admin: Redis, n: number, licenses: string[], pwHash: string): Promise<number> {
  const root = 'pab:{c:floorco}:user:';
  const m0 = await usedMemory(admin);
  for (let i = 0; i < n; i += 1000) {
    const p = admin.pipeline();
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      const u = benchUser(j, licenses);
      const upn = `${u.username}@floorco.onmicrosoft.com`;
      // The fields the product stores for such a user now (no id, username/domain/sort key or empty fields), under a
      // key with an id of the product's length.
      const id = newUserId();
      p.hset(`${root}${id}`, {
        upn, displayName: u.displayName, firstName: u.firstName, lastName: u.lastName, usageLocation: 'US', role: 'user',
        licenses: licenses.join(','), state: 'active', createdAt: String(Date.now()), version: '1', ...(pwHash ? { pwHash, mustChange: '1' } : {}),
      });
    }
    await p.exec();
  }
  const perUser = ((await usedMemory(admin)) - m0) / n;
  await deleteMatching(admin, `${root}*`);
  return perUser;
}

/**
 * The audit list is capped (1,000 entries per customer): filled to the cap with entries like the ones creation writes
 * before measuring, it stays the same size, so it does not count against the users of a small sample.
 */
async function fillAudit(admin: Redis, customerId: string): Promise<void> {
  const key = `pab:{c:${customerId}}:audit`;
  const missing = 1000 - (await admin.llen(key));
  if (missing <= 0) return;
  const entries = Array.from({ length: missing }, (_, i) => {
    const upn = `${benchUser(i).username}@${customerId}.onmicrosoft.com`;
    return [Date.now(), BENCH_ACTOR.id, BENCH_ACTOR.name, 'create-user', upn, 'ok', `${upn} M365_E5,O365_E3`].join('\x1f');
  });
  await admin.rpush(key, ...entries);
}

/** Where a customer's bytes are, per user: MEMORY USAGE of each index, of a sample of user hashes and of operation records. */
async function memoryBreakdown(admin: Redis, customerId: string, users: number): Promise<Record<string, number>> {
  const key = (name: string) => `pab:{c:${customerId}}:${name}`;
  const usage = async (k: string) => Number(await admin.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
  const out: Record<string, number> = {};
  const sample = async (pattern: string, max = 500) => {
    const picked: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 20000);
      picked.push(...keys.slice(0, max - picked.length));
      cursor = next;
    } while (cursor !== '0' && picked.length < max);
    let sum = 0;
    for (const k of picked) sum += await usage(k);
    return picked.length ? sum / picked.length : 0;
  };
  out['user hash'] = Math.round(await sample(key('user:*')));
  for (const name of ['idx:active', 'idx:role', 'idx:license', 'idx:unlicensed', 'upn']) out[name] = Math.round((await usage(key(name))) / users);
  // Operation records are fields of bucket hashes: a bucket's bytes over the records it holds.
  const buckets: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await admin.scan(cursor, 'MATCH', key('ops:*'), 'COUNT', 20000);
    buckets.push(...found.slice(0, 200 - buckets.length));
    cursor = next;
  } while (cursor !== '0' && buckets.length < 200);
  let bytes = 0;
  let records = 0;
  for (const k of buckets) {
    bytes += await usage(k);
    records += await admin.hlen(k);
  }
  out['operation record (48–96 h)'] = records ? Math.round(bytes / records) : 0;
  return out;
}

async function deleteMatching(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    if (keys.length) deleted += await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}

export const PASSWORD_SAMPLE = 1000;

/** Seconds row 6 should take at `users` users, from the creation rates row 3 measured on this machine in this run. */
export function memoryRowSeconds(users: number, rates: { createOpsPerSecond: number; createWithPasswordOpsPerSecond: number }): number {
  // Measured: the creations, plus about 30% for the floor records, the breakdown and removing the operation records.
  return (1.3 * users) / rates.createOpsPerSecond + (2 * PASSWORD_SAMPLE) / rates.createWithPasswordOpsPerSecond + 15;
}

/** Row 6: Redis used_memory per user with two licenses each, at `memoryUsers` users. */
export async function memoryRow(ctx: ServiceContext): Promise<void> {
  const N = ctx.memoryUsers;
  const redis = connectRedis({ url: ctx.redisUrl }) as Redis;
  const directory = new DirectoryService({ redis, passwordHasher });
  const licenses = ['M365_E5', 'O365_E3'];

  // Floor: each user's record alone — a hash with the fields and values the product stores, under a key of the
  // same length, and nothing else (no indexes, no counters, no UPN lookup).
  const floorPerUser = await floorRecords(ctx.admin, N, licenses, '');

  const CID = 'memco';
  await customer(directory, CID, 'Memco', [
    { skuId: 'O365_E3', name: 'Office 365 E3', seats: 2 * N },
    { skuId: 'M365_E5', name: 'Microsoft 365 E5', seats: 2 * N },
  ]);
  await createMany(directory, CID, { count: 10, licenses: () => licenses, prefix: 'warm' }); // scripts loaded
  await fillAudit(ctx.admin, CID);
  const before = await usedMemory(ctx.admin);
  const t0 = nowMs();
  await createMany(directory, CID, { count: N, licenses: () => licenses, inFlight: 256 });
  const createSeconds = (nowMs() - t0) / 1000;
  const withOps = ((await usedMemory(ctx.admin)) - before) / N;
  const breakdown = await memoryBreakdown(ctx.admin, CID, N);
  // Each create keeps its operation record for 48–96 h (idempotency; fields of the customer's bucket hashes, and a key
  // of its own before those); after that the user costs what is left.
  const opKeys = (await deleteMatching(ctx.admin, `pab:{c:${CID}}:ops:*`)) + (await deleteMatching(ctx.admin, `pab:{c:${CID}}:op:*`));
  const steady = ((await usedMemory(ctx.admin)) - before) / N;

  // Users created with a temporary password also store its hash (the keyed form; scrypt's is as long); a sample.
  // Its floor: the same plain record with a password hash of the product's length.
  const PW_SAMPLE = Math.min(PASSWORD_SAMPLE, N);
  const pwHashLength = (await passwordHasher.hash('Bench#Password-1')).length;
  const floorPw = await floorRecords(ctx.admin, PW_SAMPLE, licenses, 'x'.repeat(pwHashLength));
  const passwordSample = async (customerId: string) => {
    await customer(directory, customerId, customerId, [
      { skuId: 'O365_E3', name: 'Office 365 E3', seats: 2 * PW_SAMPLE },
      { skuId: 'M365_E5', name: 'Microsoft 365 E5', seats: 2 * PW_SAMPLE },
    ]);
    await createMany(directory, customerId, { count: 10, licenses: () => licenses, prefix: 'warm', withoutPassword: false });
    await fillAudit(ctx.admin, customerId);
    const m = await usedMemory(ctx.admin);
    await createMany(directory, customerId, { count: PW_SAMPLE, licenses: () => licenses, inFlight: 32, withoutPassword: false });
    await deleteMatching(ctx.admin, `pab:{c:${customerId}}:ops:*`);
    await deleteMatching(ctx.admin, `pab:{c:${customerId}}:op:*`);
    const perUser = ((await usedMemory(ctx.admin)) - m) / PW_SAMPLE;
    const [first] = await ctx.admin.zrange(`pab:{c:${customerId}}:idx:active`, 0, 0);
    const encoding = await ctx.admin.object('ENCODING', `pab:{c:${customerId}}:user:${first.split('\x01').pop()}`);
    return { perUser, encoding };
  };
  const pw = await passwordSample('memco-pw');
  const withPassword = pw.perUser;
  const encoding = pw.encoding;
  // The stored hash (85 characters) is longer than Redis's hash-max-listpack-value (64), which turns the whole user
  // hash from a compact listpack into a hash table. The same sample with that limit raised to 128:
  const [, listpackValue] = (await ctx.admin.config('GET', 'hash-max-listpack-value')) as string[];
  await ctx.admin.config('SET', 'hash-max-listpack-value', '128');
  const floorPw128 = await floorRecords(ctx.admin, PW_SAMPLE, licenses, 'x'.repeat(pwHashLength));
  const pw128 = await passwordSample('memco-pw128');
  await ctx.admin.config('SET', 'hash-max-listpack-value', listpackValue);
  redis.disconnect();

  ctx.details.memory = { users: N, createSeconds, opKeys, floorPerUser, withOps, steady, withPassword, floorWithPassword: floorPw, passwordSample: PW_SAMPLE, passwordHashLength: pwHashLength, passwordUserHashEncoding: encoding, withPasswordListpack128: pw128, breakdownBytesPerUser: breakdown };
  ctx.log(`  memory per user by structure (MEMORY USAGE): ${Object.entries(breakdown).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  ctx.log(`  memory: ${steady.toFixed(0)} B/user steady, ${withOps.toFixed(0)} B/user with 48–96 h operation records, ${withPassword.toFixed(0)} B/user with a password hash (${encoding}); floor ${floorPerUser.toFixed(0)} B/user; ${N} users created in ${createSeconds.toFixed(1)} s`);
  const label = N >= 1000 ? `${N / 1000}k` : String(N);
  const scaled = N < 100_000 ? `measured at ${N.toLocaleString('en-US')} users, not 100,000, to stay within the time budget; bytes per user scale linearly` : undefined;
  ctx.figures.push(
    figure({ row: '6', what: `used_memory per user, ${label} users × 2 licenses, no password (after the 48 h operation records expire)`, value: steady, floor: floorPerUser, unit: 'B', target: atMost(1024, 'B'), note: scaled }),
    figure({ row: '6', what: `same, within 48 h of creation (operation records kept for idempotency)`, value: withOps, floor: floorPerUser, unit: 'B', target: atMost(1024, 'B') }),
    figure({ row: '6', what: `per user with a stored password hash (${PW_SAMPLE.toLocaleString('en-US')}-user sample)`, value: withPassword, floor: floorPw, unit: 'B', target: atMost(1024, 'B'), note: `user hash encoding: ${encoding}` }),
    figure({ row: '6', what: `same, Redis hash-max-listpack-value 128 (default 64)`, value: pw128.perUser, floor: floorPw128, unit: 'B', target: atMost(1024, 'B'), note: `user hash encoding: ${pw128.encoding}` }),
  );
}
