/**
 * `npm run bench`: measures the product on this machine against floors measured in the same run, prints a table
 * with targets and pass/miss, and writes it as JSON under bench/results/. Not a test: nothing here fails `npm test`.
 *
 * Set-up: a throwaway redis-server on a free port (127.0.0.1), the bot as a child process exactly as `npm start`
 * runs it (REDIS_URL, local mode, PARTNER_TENANT_ID and ADMIN_AGENTS set), the floor bot (bench/floorBot.ts) as a
 * second child started the same way, and a local fake connector for replies. Load comes from this process over
 * keep-alive HTTP. BENCH_QUICK=1 runs smaller sizes (for working on the benchmark itself; figures not comparable).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { DirectoryService } from '../services/directory';
import { provision, readProvisioningFile } from '../services/provisioning';
import { connectRedis } from '../services/store/redis';
import { Agent, BotClient } from '../test/support/botClient';
import { startThrowawayRedis, ThrowawayRedis } from '../test/support/redisServer';
import { startTabSso, TAB_AUDIENCE, TabSso } from '../test/support/tabSso';
import {
  CONTENTION,
  contentionRow,
  HttpContext,
  invokeBody,
  invokeRows,
  LIST_TEXT,
  listingRow,
  tabListingRow,
  READ,
  typedRoundTripRow,
  warmUp,
  WRITE_CUSTOMER,
  WRITE_SKUS,
  TOGGLED_SKU,
  writer,
} from './httpRows';
import { BenchConnector, startBenchConnector } from './lib/connector';
import { closedLoop, post, targetOf } from './lib/load';
import { mainThreadProfile, summarizeProfile } from './lib/profile';
import { Child, killAll, startNodeServer } from './lib/processes';
import { Figure, renderTable, writeResult } from './lib/report';
import { tabBrowserRow } from './tabBrowser';
import { createMany, customer } from './lib/seed';
import { BENCH_PASSWORD_HASH_KEY, importRow, memoryRow, memoryRowSeconds, serviceOpsRow, ServiceContext } from './serviceRows';

/** data/demo.json, as the bot's embedded mode loads it (not imported from bot/app: that would load restify here). */
const DEMO_DATA_FILE = join(__dirname, '..', 'data', 'demo.json');
const QUICK = process.env.BENCH_QUICK === '1';
/**
 * BENCH_PROFILE=read|write|list: instead of the table, profile the bot (node --cpu-prof) under that load, at 10 callers
 * or BENCH_PROFILE_CALLERS.
 */
const PROFILE = process.env.BENCH_PROFILE as 'read' | 'write' | 'list' | undefined;
const PROFILE_CALLERS = Math.max(1, Number(process.env.BENCH_PROFILE_CALLERS) || 10);
/** BENCH_PROFILE_SERVER=floor|floorRedis: profile that floor under the same load instead of the bot (to compare). */
const PROFILE_SERVER = process.env.BENCH_PROFILE_SERVER === 'floor' || process.env.BENCH_PROFILE_SERVER === 'floorRedis' ? process.env.BENCH_PROFILE_SERVER : 'bot';
const SIZES = {
  durationMs: QUICK ? 800 : 2000,
  listUsers: QUICK ? 5_000 : 50_000,
  opsCount: QUICK ? 500 : 10_000,
  memoryUsers: QUICK ? 10_000 : 100_000,
};

/** The whole run stays under 3 minutes; this leaves a margin for start-up and shutdown. */
const BUDGET_S = 170;
/** Customers besides the ones the rows use (a mid-sized partner). */
const OTHER_CUSTOMERS = 200;
const TENANT = '7d0c9a4e-5b1f-4c3a-9e2d-1f0a2b3c4d5e';
const AGENT: Agent = { id: '29:1megan-bowen', aadObjectId: '3f6b2c1e-8a47-4d2b-9c1e-5a7b8c9d0e1f', name: 'Megan Bowen' };

const started = Date.now();
const log = (message: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}`);

async function seed(directory: DirectoryService) {
  await provision(directory, await readProvisioningFile(DEMO_DATA_FILE)); // contoso (300 users), fabrikam, tailspin
  // A partner has many customers: every request names one, so what that costs must not grow with their number.
  for (let i = 0; i < OTHER_CUSTOMERS; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, OTHER_CUSTOMERS - i) }, (_, j) =>
        customer(directory, `customer-${i + j}`, `Customer ${i + j} Ltd`, [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 25 }]),
      ),
    );
  }
  await customer(directory, WRITE_CUSTOMER, 'Northwind Traders', WRITE_SKUS.map((skuId) => ({ skuId, name: skuId.replace(/_/g, ' '), seats: 1000 })));
  const writeUsers = await createMany(directory, WRITE_CUSTOMER, { count: 300, licenses: (i) => (i % 3 === 2 ? [] : ['O365_E3']) });
  await customer(directory, CONTENTION.customer, 'Adatum', [{ skuId: CONTENTION.sku, name: 'Office 365 E3', seats: CONTENTION.seats }]);
  const contentionUsers = await createMany(directory, CONTENTION.customer, { count: CONTENTION.callers });
  // Row 7: a large customer, one user in three without a license.
  await customer(directory, 'litware', 'Litware', [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: SIZES.listUsers }]);
  await createMany(directory, 'litware', { count: SIZES.listUsers, licenses: (i) => (i % 3 === 0 ? [] : ['O365_E3']) });
  return { writeUsers: writeUsers.filter((u) => !u.licenses.includes(TOGGLED_SKU)), contentionUsers };
}

/** The cards the bot answers with, recorded so that the floor bot sends the very same bytes. */
async function recordCards(bot: Child, client: BotClient, connector: BenchConnector, writeUser: { id: string; version: number; licenses: string[] }) {
  const target = targetOf(bot.url);
  const agent = new (await import('node:http')).Agent({ keepAlive: false });
  const card = async (body: string) => (JSON.parse((await post(agent, target, '/api/messages', body)).text) as { value: unknown }).value;
  const w = writer(client, [{ ...writeUser } as never]);
  const toggle = async () => {
    const request = w.next(0);
    const answer = await post(agent, target, '/api/messages', request.body);
    if (!request.accept(answer)) throw new Error(`the license toggle was not answered with the results card: ${answer.text.slice(0, 300)}`);
    return (JSON.parse(answer.text) as { value: unknown }).value;
  };
  const message = client.messageActivity('users contoso');
  const arrived = connector.replyTo(message.id);
  await post(agent, target, '/api/messages', JSON.stringify(message));
  await arrived;
  const cards = {
    [READ.verb]: await card(invokeBody(client, READ.verb, READ.data)),
    saveLicenses: await toggle(),
    [`text:${LIST_TEXT}`]: await card(invokeBody(client, 'runCommand', { text: LIST_TEXT })),
    // The typed reply is the same users card as the invoke answers with.
    message: await card(invokeBody(client, READ.verb, READ.data)),
  };
  await toggle(); // back to the seeded state
  const sizes = Object.fromEntries(Object.entries(cards).map(([k, v]) => [k, JSON.stringify(v).length]));
  return { cards, sizes };
}

/** Which code was measured: the commit, and whether the working tree differed from it. */
function gitState(): { commit: string; changedFiles: number } {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: join(__dirname, '..'), encoding: 'utf8' });
    return { commit: git('rev-parse', '--short', 'HEAD').trim(), changedFiles: git('status', '--porcelain', '--untracked-files=no').split('\n').filter(Boolean).length };
  } catch {
    return { commit: 'unknown', changedFiles: -1 };
  }
}

async function main(): Promise<void> {
  const loadStart = loadavg();
  const figures: Figure[] = [];
  const details: Record<string, unknown> = { sizes: SIZES };
  let redisServer: ThrowawayRedis | undefined;
  let connector: BenchConnector | undefined;
  let tabSso: TabSso | undefined;
  const children: Child[] = [];
  const closers: Array<() => void> = [];
  try {
    redisServer = await startThrowawayRedis();
    const admin = new Redis(redisServer.url);
    closers.push(() => admin.disconnect());
    const redisVersion = /^redis_version:(.*)$/m.exec(await admin.info('server'))?.[1]?.trim();
    log(`redis-server ${redisVersion} on ${redisServer.url}; ${cpus().length} CPUs (${cpus()[0]?.model}), Node ${process.version}${QUICK ? '; QUICK sizes' : ''}`);
    details.redisVersion = redisVersion;
    if (loadStart[0] > 0.5) log(`note: load average ${loadStart.map((x) => x.toFixed(2)).join(' ')} before the start: other processes share the CPUs, figures will be noisier`);

    const seeding = connectRedis({ url: redisServer.url });
    closers.push(() => seeding.disconnect());
    const directory = new DirectoryService({ redis: seeding });
    const { writeUsers, contentionUsers } = await seed(directory);
    log(`seeded: contoso 300 users, northwind 300, adatum ${CONTENTION.callers}, litware ${SIZES.listUsers.toLocaleString('en-US')}; ${OTHER_CUSTOMERS} more customers`);

    connector = await startBenchConnector();
    // The tab's Teams SSO tokens: a local key set (as the tab's tests use), on the wall clock.
    tabSso = await startTabSso(() => Date.now());
    const client = new BotClient({ endpoint: '', serviceUrl: connector.url, tenantId: TENANT, agent: AGENT });
    const runDir = tmpdir();
    const profileDir = join(runDir, `pab-bench-profile-${process.pid}`);
    const bot = await startNodeServer(
      'bot',
      'bot/index.ts',
      {
        REDIS_URL: redisServer.url,
        PARTNER_TENANT_ID: TENANT,
        ADMIN_AGENTS: AGENT.aadObjectId,
        LOG_LEVEL: 'info',
        PASSWORD_HASH_KEY: BENCH_PASSWORD_HASH_KEY.toString('base64'),
        TAB_SSO_JWKS_URL: tabSso.jwksUrl,
        TAB_SSO_AUDIENCE: TAB_AUDIENCE,
      },
      join(runDir, `pab-bench-bot-${process.pid}.log`),
      PROFILE && PROFILE_SERVER === 'bot' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    );
    children.push(bot);
    if (PROFILE && PROFILE_SERVER === 'bot') {
      await profileBot({ admin, bot, connector, client, figures, details, durationMs: 6000, log }, writeUsers, profileDir);
      return;
    }
    const recorded = await recordCards(bot, client, connector, writeUsers[writeUsers.length - 1]);
    details.cardBytes = recorded.sizes;
    const cardsFile = join(runDir, `pab-bench-floor-cards-${process.pid}.json`);
    writeFileSync(cardsFile, JSON.stringify(recorded.cards));
    if (PROFILE) {
      const env = { FLOOR_CARDS: cardsFile, ...(PROFILE_SERVER === 'floorRedis' ? { FLOOR_REDIS_URL: redisServer.url } : {}) };
      const profiled = await startNodeServer(PROFILE_SERVER, 'bench/floorBot.ts', env, join(runDir, `pab-bench-${PROFILE_SERVER}-${process.pid}.log`), ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]);
      children.push(profiled);
      await profileBot({ admin, bot: profiled, connector, client, figures, details, durationMs: 6000, log }, writeUsers, profileDir);
      return;
    }
    const floor = await startNodeServer('floor bot', 'bench/floorBot.ts', { FLOOR_CARDS: cardsFile }, join(runDir, `pab-bench-floor-${process.pid}.log`));
    children.push(floor);
    // Row 1's second reference: the same floor, with one Redis round trip per invoke.
    const floorRedis = await startNodeServer('floor bot with Redis', 'bench/floorBot.ts', { FLOOR_CARDS: cardsFile, FLOOR_REDIS_URL: redisServer.url }, join(runDir, `pab-bench-floor-redis-${process.pid}.log`));
    children.push(floorRedis);
    log(`bot ${bot.url} and floor bots ${floor.url}, ${floorRedis.url} ready; card sizes ${JSON.stringify(recorded.sizes)}`);

    const http: HttpContext = { admin, bot, floor, floorRedis, connector, client, figures, details, durationMs: SIZES.durationMs, log };
    await warmUp(http, writeUsers);
    log('row 1: invoke latency and throughput');
    await invokeRows(http, writeUsers);
    log('row 2: typed command round trip');
    await typedRoundTripRow(http);
    log('row 5: contention');
    await contentionRow(http, contentionUsers);
    log('row 7: listing a 50,000-user customer');
    await listingRow(http);
    log('row 8: the Users and licenses tab, a window of a 50,000-user customer');
    const tabToken = await tabSso.token({ oid: AGENT.aadObjectId as string, name: AGENT.name, tid: TENANT, expiresIn: 3600 });
    await tabListingRow(http, tabToken);
    log('row 8: the tab in Chromium (first render; select all 16,667 unlicensed and assign)');
    await tabBrowserRow(http, { oid: AGENT.aadObjectId as string, tid: TENANT }, tabToken);

    const svc: ServiceContext = { redisUrl: redisServer.url, admin, figures, details, log, opsCount: SIZES.opsCount, memoryUsers: SIZES.memoryUsers };
    log('row 3: service operations');
    const ops = await serviceOpsRow(svc);
    log('row 4: bulk import');
    await importRow(svc, ops.createWithPasswordOpsPerSecond);
    // The run must end within 3 minutes. On a busy machine the memory row (its time estimated from row 3's creation
    // rates) measures fewer users, which its label says: bytes per user do not depend on the number of users.
    const left = BUDGET_S - (Date.now() - started) / 1000;
    while (svc.memoryUsers > 10_000 && memoryRowSeconds(svc.memoryUsers, ops) > left) svc.memoryUsers /= 2;
    if (svc.memoryUsers < SIZES.memoryUsers) {
      log(`behind the 3-minute budget (${left.toFixed(0)} s left): row 6 measures ${svc.memoryUsers.toLocaleString('en-US')} users instead of ${SIZES.memoryUsers.toLocaleString('en-US')}`);
    }
    log('row 6: memory per user');
    await memoryRow(svc);

    for (const child of children.splice(0)) await child.stop();
    details.botLogErrors = countLogErrors(bot.logFile);
    // A clean run leaves nothing behind in the temporary directory (a failed one keeps the logs it names).
    for (const f of [bot.logFile, floor.logFile, cardsFile]) rmSync(f, { force: true });
  } finally {
    for (const child of children) await child.stop().catch(() => undefined);
    killAll();
    closers.forEach((c) => c());
    await connector?.stop();
    await tabSso?.stop();
    await redisServer?.stop();
  }

  const seconds = (Date.now() - started) / 1000;
  const order = ['1', '2', '3', '4', '5', '6', '7'];
  figures.sort((a, b) => order.indexOf(a.row) - order.indexOf(b.row));
  console.log(`\n${renderTable(figures)}\n`);
  const file = writeResult({
    startedAt: new Date(started).toISOString(),
    seconds,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      quick: QUICK,
      loadAverageAtStart: loadStart.map((x) => Number(x.toFixed(2))),
      loadAverageAtEnd: loadavg().map((x) => Number(x.toFixed(2))),
      ...gitState(),
    },
    figures,
    details,
  });
  const missed = figures.filter((f) => f.pass === false).length;
  if (Number(details.botLogErrors) > 0) log(`warning: the bot logged ${details.botLogErrors} error line(s) during the run`);
  log(`done in ${seconds.toFixed(0)} s; ${missed} target(s) missed; written to ${file}`);
}

/** BENCH_PROFILE: one load at PROFILE_CALLERS callers against the bot under --cpu-prof, then where its CPU time went. */
async function profileBot(ctx: HttpContext, writeUsers: Awaited<ReturnType<typeof seed>>['writeUsers'], dir: string): Promise<void> {
  const target = targetOf(ctx.bot.url);
  const w = writer(ctx.client, writeUsers.slice(0, Math.max(10, PROFILE_CALLERS)));
  const next = (i: number) =>
    PROFILE === 'write'
      ? w.next(i)
      : { body: PROFILE === 'list' ? invokeBody(ctx.client, 'runCommand', { text: LIST_TEXT }) : invokeBody(ctx.client, READ.verb, READ.data), accept: () => true };
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const result = await closedLoop({ target, concurrency: PROFILE_CALLERS, durationMs: ctx.durationMs, next });
  const toUs = Number(process.hrtime.bigint() / 1000n);
  log(`${PROFILE} at ${PROFILE_CALLERS} caller(s): ${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.latency.p50.toFixed(2)} ms, p99 ${result.latency.p99.toFixed(2)} ms (under the profiler)`);
  await ctx.bot.stop();
  const file = mainThreadProfile(dir);
  if (!file) throw new Error(`no profile written to ${dir}`);
  const summary = summarizeProfile(file, join(__dirname, '..'), 25, { fromUs, toUs });
  const perRequest = (ms: number) => ((ms / (result.completed + result.errors)) * 1000).toFixed(0);
  console.log(`\nbot CPU busy ${summary.busyMs.toFixed(0)} ms of ${summary.totalMs.toFixed(0)} ms under load (${((summary.busyMs / summary.totalMs) * 100).toFixed(0)}%); per request ≈ ${perRequest(summary.busyMs)} µs\n`);
  console.log('self time by package:');
  for (const p of summary.byPackage) console.log(`  ${(p.share * 100).toFixed(1).padStart(5)}%  ${perRequest(p.ms).padStart(5)} µs/req  ${p.name}`);
  console.log('\nself time by function:');
  for (const f of summary.byFunction) console.log(`  ${(f.share * 100).toFixed(1).padStart(5)}%  ${perRequest(f.ms).padStart(5)} µs/req  ${f.name}`);
  console.log(`\nprofile: ${file}`);
}

function countLogErrors(file: string): number {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => /"level":(50|60)/.test(l)).length;
}

process.once('SIGINT', () => {
  killAll();
  process.exit(130);
});

main().catch((err) => {
  console.error('benchmark failed:', err instanceof Error ? err.stack : err);
  killAll();
  process.exitCode = 1;
});
