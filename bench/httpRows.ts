/**
 * Rows measured over HTTP against the bot (a child process) and the floor bot: invoke latency and throughput (1),
 * the typed-command round trip through the fake connector (2), contention for seats (5) and the listing cost (7).
 */
import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { en } from '../cards/i18n/en';
import type { MessageKey } from '../cards/i18n';
import type { CustomerUser } from '../services/types';
import { Activity, BotClient } from '../test/support/botClient';
import type { BenchConnector } from './lib/connector';
import { Answer, burst, closedLoop, LoadResult, Request, targetOf } from './lib/load';
import { Child, cpuTimeMs } from './lib/processes';
import { commandDelta, commandStats, perOperation, totalOf } from './lib/redisStats';
import { atLeastFloor, atMost, atMostFloor, exactly, Figure, figure } from './lib/report';

export interface HttpContext {
  admin: Redis;
  bot: Child;
  floor?: Child;
  /** The floor with one Redis round trip per invoke (row 1's second reference). */
  floorRedis?: Child;
  connector: BenchConnector;
  client: BotClient;
  figures: Figure[];
  details: Record<string, unknown>;
  durationMs: number;
  log(message: string): void;
}

export const READ = { verb: 'users', data: { customerId: 'contoso' } } as const;
export const LIST_TEXT = 'users litware --unlicensed';
export const WRITE_CUSTOMER = 'northwind';
export const WRITE_SKUS = ['O365_E3', 'M365_E5', 'POWER_BI_PRO', 'VISIO_P2'];
export const TOGGLED_SKU = 'VISIO_P2';
export const CONTENTION = { customer: 'adatum', sku: 'O365_E3', seats: 100, callers: 500 };

/** The fixed start of an English catalog message (before its first placeholder), as it appears in a card's JSON. */
const catalogText = (key: MessageKey): string => {
  const message = en[key];
  return JSON.stringify((typeof message === 'string' ? message : message.other).split('{')[0]).slice(1, -1);
};
const isUsersCard = (a: Answer) => a.text.includes('"verb":"manageLicenses"') && !a.text.includes('"color":"Attention"');
const isResultsCard = (a: Answer) =>
  a.text.includes(catalogText('manage.resultsTitle')) && !a.text.includes(catalogText('manage.nothingChanged')) && !a.text.includes('"color":"Attention"');
const isNoSeats = (a: Answer) => a.text.includes(catalogText('error.noSeats'));

export function invokeBody(client: BotClient, verb: string, data: unknown): string {
  return JSON.stringify(client.invokeActivity(verb, data));
}

/** Caller i toggles one license of its own user; the version is tracked from each accepted answer. */
export function writer(client: BotClient, users: CustomerUser[]) {
  const state = users.map((u) => ({ id: u.id, version: u.version, has: u.licenses.includes(TOGGLED_SKU), base: u.licenses }));
  return {
    state,
    next(caller: number): Request {
      const s = state[caller];
      const initial = Object.fromEntries(WRITE_SKUS.map((sku) => [sku, (sku === TOGGLED_SKU ? s.has : s.base.includes(sku)) ? 'all' : 'none']));
      const data = {
        customerId: WRITE_CUSTOMER,
        operationId: randomUUID(),
        userIds: [s.id],
        versions: { [s.id]: s.version },
        initial,
        [`lic_${TOGGLED_SKU}`]: s.has ? 'none' : 'all',
      };
      return {
        body: invokeBody(client, 'saveLicenses', data),
        accept(answer) {
          if (!isResultsCard(answer)) return false;
          s.has = !s.has;
          s.version++;
          return true;
        },
      };
    },
  };
}

type Measured = LoadResult & { cpuMsPerRequest: number; redisCommandsPerRequest: number; redisCommands: string };

/**
 * A load against one server, with what it cost that server: its CPU time per request (from /proc — far less
 * disturbed by other processes on the machine than throughput is) and the Redis commands per request.
 */
async function measured(ctx: HttpContext, server: Child, run: () => Promise<LoadResult>): Promise<Measured> {
  const before = await commandStats(ctx.admin);
  const cpu0 = cpuTimeMs(server.process.pid);
  const result = await run();
  const cpu = cpuTimeMs(server.process.pid) - cpu0;
  const delta = commandDelta(before, await commandStats(ctx.admin));
  const n = result.completed + result.errors;
  return { ...result, cpuMsPerRequest: cpu / (n || 1), redisCommandsPerRequest: totalOf(delta) / (n || 1), redisCommands: perOperation(delta, n || 1) };
}

function describe(r: LoadResult): Record<string, unknown> {
  return { ...r, latency: Object.fromEntries(Object.entries(r.latency).map(([k, v]) => [k, Number(v.toFixed(3))])), requestsPerSecond: Number(r.requestsPerSecond.toFixed(1)) };
}

function mustBeClean(name: string, r: LoadResult): void {
  if (r.errors) throw new Error(`${name}: ${r.errors} wrong answers of ${r.errors + r.completed}; first: ${r.firstError}`);
}

/** Warms both servers up (JIT, connections, Redis scripts) before anything is measured. */
export async function warmUp(ctx: HttpContext, writeUsers: CustomerUser[]): Promise<void> {
  for (const server of [ctx.bot, ctx.floor, ctx.floorRedis]) {
    if (!server) continue;
    const target = targetOf(server.url);
    await closedLoop({ target, concurrency: 10, durationMs: 1200, next: () => ({ body: invokeBody(ctx.client, READ.verb, READ.data), accept: () => true }) });
    const w = writer(ctx.client, writeUsers.slice(0, 10));
    await closedLoop({ target, concurrency: 10, durationMs: 800, next: (i) => (server === ctx.bot ? w.next(i) : { ...w.next(i), accept: () => true }) });
    if (server === ctx.bot) writeUsers.splice(0, 10, ...(await refreshed(ctx, writeUsers.slice(0, 10))));
  }
}

/** The users as they are now (versions moved on during the warm-up). */
async function refreshed(ctx: HttpContext, users: CustomerUser[]): Promise<CustomerUser[]> {
  const pipeline = ctx.admin.pipeline();
  for (const u of users) pipeline.hmget(`pab:{c:${WRITE_CUSTOMER}}:user:${u.id}`, 'version', 'licenses');
  const rows = (await pipeline.exec()) ?? [];
  return users.map((u, i) => {
    const [version, licenses] = rows[i][1] as [string, string];
    return { ...u, version: Number(version), licenses: licenses.split(',').filter(Boolean) };
  });
}

/** Row 1: the Users and licenses card (read) and a license toggle (write), at 1, 10 and 50 callers. */
export async function invokeRows(ctx: HttpContext, writeUsers: CustomerUser[]): Promise<void> {
  const results: Record<string, unknown> = {};
  for (const kind of ['read', 'write'] as const) {
    for (const concurrency of [1, 10, 50]) {
      const label = `${kind} c=${concurrency}`;
      let bot: Measured;
      if (kind === 'read') {
        bot = await measured(ctx, ctx.bot, () =>
          closedLoop({ target: targetOf(ctx.bot.url), concurrency, durationMs: ctx.durationMs, next: () => ({ body: invokeBody(ctx.client, READ.verb, READ.data), accept: isUsersCard }) }),
        );
      } else {
        const users = await refreshed(ctx, writeUsers.slice(0, concurrency));
        const w = writer(ctx.client, users);
        bot = await measured(ctx, ctx.bot, () => closedLoop({ target: targetOf(ctx.bot.url), concurrency, durationMs: ctx.durationMs, next: (i) => w.next(i) }));
        // The versions the benchmark tracked must be the stored ones: no answer was a silent STALE refusal.
        const after = await refreshed(ctx, users);
        const drift = after.filter((u, i) => u.version !== w.state[i].version).length;
        if (drift) throw new Error(`write ${label}: ${drift} users' versions differ from the tracked ones`);
      }
      mustBeClean(`bot ${label}`, bot);
      const floorTarget = targetOf(ctx.floor!.url);
      const floor = await measured(ctx, ctx.floor!, () => {
        if (kind === 'read') {
          return closedLoop({ target: floorTarget, concurrency, durationMs: ctx.durationMs, next: () => ({ body: invokeBody(ctx.client, READ.verb, READ.data), accept: isUsersCard }) });
        }
        const w = writer(ctx.client, writeUsers.slice(0, concurrency));
        return closedLoop({ target: floorTarget, concurrency, durationMs: ctx.durationMs, next: (i) => w.next(i) });
      });
      mustBeClean(`floor ${label}`, floor);
      // The same empty handler after one no-op Redis round trip: what checking the data against Redis once costs.
      const withRedis = ctx.floorRedis
        ? await measured(ctx, ctx.floorRedis, () => {
            const next = kind === 'read' ? () => ({ body: invokeBody(ctx.client, READ.verb, READ.data), accept: isUsersCard }) : writer(ctx.client, writeUsers.slice(0, concurrency)).next;
            return closedLoop({ target: targetOf(ctx.floorRedis!.url), concurrency, durationMs: ctx.durationMs, next });
          })
        : undefined;
      if (withRedis) mustBeClean(`floor with Redis ${label}`, withRedis);
      results[label] = { bot: describe(bot), floor: describe(floor), ...(withRedis ? { floorWithOneRedisRoundTrip: describe(withRedis) } : {}) };
      ctx.log(
        `  ${label}: bot ${bot.requestsPerSecond.toFixed(0)} req/s p99 ${bot.latency.p99.toFixed(2)} ms ${bot.cpuMsPerRequest.toFixed(2)} CPU ms/req; ` +
          `floor ${floor.requestsPerSecond.toFixed(0)} req/s p99 ${floor.latency.p99.toFixed(2)} ms ${floor.cpuMsPerRequest.toFixed(2)} CPU ms/req; ${bot.redisCommandsPerRequest.toFixed(1)} Redis commands/request`,
      );
      const what = kind === 'read' ? `invoke read (users card, 300 users), ${concurrency} caller${concurrency > 1 ? 's' : ''}` : `invoke write (saveLicenses toggle), ${concurrency} caller${concurrency > 1 ? 's' : ''}`;
      ctx.figures.push(
        figure({ row: '1', what: `${what}: throughput`, value: bot.requestsPerSecond, floor: floor.requestsPerSecond, unit: 'req/s', target: atLeastFloor(0.6) }),
        figure({ row: '1', what: `${what}: p50`, value: bot.latency.p50, floor: floor.latency.p50, unit: 'ms' }),
        figure({ row: '1', what: `${what}: p95`, value: bot.latency.p95, floor: floor.latency.p95, unit: 'ms' }),
        figure({ row: '1', what: `${what}: p99`, value: bot.latency.p99, floor: floor.latency.p99, unit: 'ms', target: atMostFloor(2) }),
      );
      if (withRedis) {
        ctx.figures.push(
          figure({ row: '1', what: `${what}: the floor with one no-op Redis round trip per request (no target: the most a design that checks Redis once reaches)`, value: withRedis.requestsPerSecond, floor: floor.requestsPerSecond, unit: 'req/s' }),
        );
      }
      if (concurrency === 10) {
        const short = kind === 'read' ? 'invoke read' : 'invoke write';
        ctx.figures.push(
          figure({ row: '1', what: `${short}, 10 callers: server CPU time per request`, value: bot.cpuMsPerRequest, floor: floor.cpuMsPerRequest, unit: 'ms' }),
          figure({ row: '1', what: `${short}: Redis commands per request (commandstats)`, value: bot.redisCommandsPerRequest, unit: 'cmds', note: bot.redisCommands }),
        );
      }
    }
  }
  ctx.details.invoke = results;
}

/** Row 2: a typed command (`users contoso`), from the POST until the reply reaches the fake connector. */
export async function typedRoundTripRow(ctx: HttpContext): Promise<void> {
  const run = (server: Child) =>
    closedLoop({
      target: targetOf(server.url),
      concurrency: 1,
      durationMs: ctx.durationMs,
      next: () => {
        const activity: Activity = ctx.client.messageActivity('users contoso');
        const arrived = ctx.connector.replyTo(activity.id);
        return { body: JSON.stringify(activity), accept: () => true, done: () => arrived };
      },
    });
  const bot = await run(ctx.bot);
  mustBeClean('typed round trip (bot)', bot);
  const floor = await run(ctx.floor!);
  mustBeClean('typed round trip (floor)', floor);
  ctx.details.typedRoundTrip = { bot: describe(bot), floor: describe(floor) };
  ctx.log(`  typed: bot p50 ${bot.latency.p50.toFixed(2)} p99 ${bot.latency.p99.toFixed(2)} ms; floor p50 ${floor.latency.p50.toFixed(2)} p99 ${floor.latency.p99.toFixed(2)} ms`);
  ctx.figures.push(
    figure({ row: '2', what: 'typed `users contoso`, POST → reply at connector: p50', value: bot.latency.p50, floor: floor.latency.p50, unit: 'ms' }),
    figure({ row: '2', what: 'typed `users contoso`, POST → reply at connector: p99', value: bot.latency.p99, floor: floor.latency.p99, unit: 'ms' }),
  );
}

/** Row 5: 500 simultaneous "assign" clicks for 100 free seats, one user each. */
export async function contentionRow(ctx: HttpContext, users: CustomerUser[]): Promise<void> {
  const bodies = users.map((u) =>
    invokeBody(ctx.client, 'saveLicenses', {
      customerId: CONTENTION.customer,
      operationId: randomUUID(),
      userIds: [u.id],
      versions: { [u.id]: u.version },
      initial: { [CONTENTION.sku]: 'none' },
      [`lic_${CONTENTION.sku}`]: 'all',
    }),
  );
  const bot = await burst(targetOf(ctx.bot.url), bodies);
  const answers = bot.answers.filter((a): a is Answer => !(a instanceof Error));
  const succeeded = answers.filter(isResultsCard).length;
  const refused = answers.filter(isNoSeats).length;
  const other = bot.answers.length - succeeded - refused;
  // What Redis holds afterwards: the seat counter, the license index and the users themselves must all say 100.
  const k = (name: string) => `pab:{c:${CONTENTION.customer}}:${name}`;
  const counter = Number(await ctx.admin.hget(k('counts'), `lic:${CONTENTION.sku}`));
  const indexed = await ctx.admin.zlexcount(k('idx:license'), `[${CONTENTION.sku}\x01`, `(${CONTENTION.sku}\x02`);
  const pipeline = ctx.admin.pipeline();
  for (const u of users) pipeline.hget(k(`user:${u.id}`), 'licenses');
  const holders = ((await pipeline.exec()) ?? []).filter(([, v]) => String(v ?? '').split(',').includes(CONTENTION.sku)).length;
  const floor = await burst(targetOf(ctx.floor!.url), bodies);
  ctx.details.contention = { succeeded, refused, other, counter, indexed, holders, settleMs: bot.settleMs, floorSettleMs: floor.settleMs };
  ctx.log(`  contention: ${succeeded} ok, ${refused} no seats, ${other} other; counter ${counter}, index ${indexed}, holders ${holders}; settled in ${bot.settleMs.toFixed(0)} ms (floor ${floor.settleMs.toFixed(0)} ms)`);
  const consistent = counter === succeeded && indexed === succeeded && holders === succeeded && other === 0;
  ctx.figures.push(
    figure({
      row: '5',
      what: `${CONTENTION.callers} concurrent assigns for ${CONTENTION.seats} seats: succeeded`,
      value: succeeded,
      unit: '',
      target: exactly(CONTENTION.seats),
      note: `${refused} refused "not enough seats", ${other} other; counter/index/users agree: ${consistent ? 'yes' : 'NO'}`,
    }),
    figure({ row: '5', what: `${CONTENTION.callers} concurrent assigns: time to settle`, value: bot.settleMs, floor: floor.settleMs, unit: 'ms' }),
  );
  if (!consistent) ctx.figures[ctx.figures.length - 2].pass = false;
}

/** Row 7: `users litware --unlicensed` (50,000 users) typed, answered in the HTTP response; Redis commands per request. */
export async function listingRow(ctx: HttpContext): Promise<void> {
  const body = () => invokeBody(ctx.client, 'runCommand', { text: LIST_TEXT });
  const bot = await measured(ctx, ctx.bot, () => closedLoop({ target: targetOf(ctx.bot.url), concurrency: 1, durationMs: ctx.durationMs, next: () => ({ body: body(), accept: isUsersCard }) }));
  mustBeClean('listing (bot)', bot);
  const floor = await closedLoop({ target: targetOf(ctx.floor!.url), concurrency: 1, durationMs: ctx.durationMs, next: () => ({ body: body(), accept: isUsersCard }) });
  mustBeClean('listing (floor)', floor);
  ctx.details.listing = { bot: describe(bot), floor: describe(floor) };
  ctx.log(`  listing: p50 ${bot.latency.p50.toFixed(2)} p99 ${bot.latency.p99.toFixed(2)} ms; ${bot.redisCommandsPerRequest.toFixed(1)} commands/request (${bot.redisCommands})`);
  ctx.figures.push(
    figure({ row: '7', what: `\`${LIST_TEXT}\` (50,000 users), 1 caller: p50`, value: bot.latency.p50, floor: floor.latency.p50, unit: 'ms' }),
    figure({ row: '7', what: `\`${LIST_TEXT}\` (50,000 users), 1 caller: p99`, value: bot.latency.p99, floor: floor.latency.p99, unit: 'ms', target: atMost(30, 'ms') }),
    figure({ row: '7', what: `\`${LIST_TEXT}\`: Redis commands per request (commandstats)`, value: bot.redisCommandsPerRequest, floor: 0, ratio: null, unit: 'cmds', note: bot.redisCommands }),
  );
}

/** The Users and licenses tab's API: the customers it reads a window of 100 rows from, and the filter. */
export const TAB_LISTING = { big: 'litware', small: 'contoso', query: 'filter=unlicensed&offset=0&order=asc' } as const;

/**
 * Row 8: the Users and licenses tab's JSON API, a window of 100 unlicensed users by display name of the 50,000-user
 * customer against the same window of the 300-user one (same filter, same order): p50 / p99 and Redis commands per
 * request, which must be the same for both (nothing read grows with the customer). `token`: the agent's Teams SSO token.
 */
export async function tabListingRow(ctx: HttpContext, token: string): Promise<void> {
  const headers = { Authorization: `Bearer ${token}` };
  const accept = (answer: Answer) => {
    const body = JSON.parse(answer.text) as { users?: unknown[]; total?: number };
    return Array.isArray(body.users) && body.users.length > 0 && typeof body.total === 'number';
  };
  const run = (customer: string) =>
    measured(ctx, ctx.bot, () =>
      closedLoop({ target: targetOf(ctx.bot.url), concurrency: 1, durationMs: ctx.durationMs, next: () => ({ body: '', get: { path: `/api/tab/customers/${customer}/users?${TAB_LISTING.query}`, headers }, accept }) }),
    );
  const big = await run(TAB_LISTING.big);
  mustBeClean('tab listing (50,000 users)', big);
  const small = await run(TAB_LISTING.small);
  mustBeClean('tab listing (300 users)', small);
  ctx.details.tabListing = { big: describe(big), small: describe(small) };
  ctx.log(`  tab: p50 ${big.latency.p50.toFixed(2)} p99 ${big.latency.p99.toFixed(2)} ms; ${big.redisCommandsPerRequest.toFixed(1)} commands/request (300 users: ${small.redisCommandsPerRequest.toFixed(1)})`);
  ctx.figures.push(
    figure({ row: '8', what: 'tab API, 100 unlicensed users by name of 50,000 (vs 300), 1 caller: p50', value: big.latency.p50, floor: small.latency.p50, unit: 'ms' }),
    figure({ row: '8', what: 'tab API, 100 unlicensed users by name of 50,000 (vs 300), 1 caller: p99', value: big.latency.p99, floor: small.latency.p99, unit: 'ms', target: atMost(30, 'ms') }),
    // An average per request over fresh and cached windows (a cached page costs one small reply): "the same" within 10%.
    figure({ row: '8', what: 'tab API: Redis commands per request, 50,000 users (vs 300)', value: big.redisCommandsPerRequest, floor: small.redisCommandsPerRequest, unit: 'cmds', target: atMostFloor(1.1), note: big.redisCommands }),
  );
}
