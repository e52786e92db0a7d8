/**
 * Redis faults: a Redis of the test's own (its own port, AOF with appendfsync always) is killed (SIGKILL) and
 * restarted in the middle of work, and replies are lost on the wire. Afterwards nothing is lost or doubled (users,
 * seats = holders counted from the user hashes, every invariant of services/storeCheck.ts, one audit entry per
 * operation), and every caller during the outage got a "try again" card over HTTP — never a 500, never silence.
 */
import type { Logger } from 'pino';
import { App, createApp } from '../../bot/app';
import { loadSettings } from '../../bot/config';
import { createLogger } from '../../bot/logger';
import { VERBS } from '../../cards/verbs';
import { DAY_MS, DirectoryService } from '../../services/directory';
import { isDirectoryError } from '../../services/errors';
import { KeyLayout } from '../../services/store/keys';
import { connectRedis, RedisClient } from '../../services/store/redis';
import { checkStore, formatReport, scanKeys } from '../../services/storeCheck';
import { CredentialVault } from '../../services/credentials';
import { parse } from 'csv-parse/sync';
import { partnerCenterCsv } from '../support/importCsv';
import { CustomerUser } from '../../services/types';
import { Agent, BotClient, Card, cardOf, InvokeAnswer, PERSONAL, visibleText } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { DurableRedis, FlakyProxy, startDurableRedis, startFlakyProxy } from '../support/faultyRedis';
import { FakeClock, fakeClock } from '../support/testDirectory';

const TENANT = '7d0c9a4e-5b1f-4c3a-9e2d-1f0a2b3c4d5e';
const MEGAN: Agent = { id: '29:1megan-bowen', aadObjectId: '3f6b2c1e-8a47-4d2b-9c1e-5a7b8c9d0e1f', name: 'Megan Bowen' };
const ACTOR = { id: 'agent-faults', name: 'Fault Agent' };
const CID = 'contoso';
const TRY_AGAIN = /not reachable right now.*try again/;
/** Short, so that a command lost in the outage fails fast; production uses REDIS_COMMAND_TIMEOUT_MS (5 s). */
const COMMAND_TIMEOUT_MS = 1500;

let redis: DurableRedis;
let connector: FakeConnector;

beforeAll(async () => {
  redis = await startDurableRedis();
  connector = await startFakeConnector();
});

afterAll(async () => {
  await connector?.stop();
  await redis?.stop();
});

interface World {
  keys: KeyLayout;
  clock: FakeClock;
  client: RedisClient;
  directory: DirectoryService;
  app: App;
  bot: BotClient;
  logLines: string[];
  close(): Promise<void>;
}

/** A service (5 s → short command timeout) and the bot over HTTP, each on its own connection, under a fresh key root. */
async function world(url = redis.url): Promise<World> {
  connector.reset();
  const keys = new KeyLayout(`pabfault:${Math.random().toString(36).slice(2, 10)}:`);
  const clock = fakeClock();
  const client = connectRedis({ url, commandTimeoutMs: COMMAND_TIMEOUT_MS });
  client.on('error', () => undefined); // reconnecting during the outage is expected
  const directory = new DirectoryService({ redis: client, keys, clock });
  const appClient = connectRedis({ url: redis.url, commandTimeoutMs: COMMAND_TIMEOUT_MS });
  const logLines: string[] = [];
  const logger: Logger = createLogger('warn', { write: (line: string) => void logLines.push(line) });
  const settings = loadSettings({ HOST: '127.0.0.1', LOG_LEVEL: 'warn', PARTNER_TENANT_ID: TENANT, ADMIN_AGENTS: MEGAN.aadObjectId });
  const app = await createApp({ ...settings, port: 0 }, { redis: appClient, keys, clock, logger });
  const endpoint = await app.listen();
  const bot = new BotClient({ endpoint, serviceUrl: connector.url, tenantId: TENANT, agent: MEGAN });
  return {
    keys,
    clock,
    client,
    directory,
    app,
    bot,
    logLines,
    async close() {
      await app.close();
      for (const key of await scanKeys(client, `${keys.root}*`)) await client.del(key);
      client.disconnect();
      appClient.disconnect();
    },
  };
}

/** Types a command; the reply must arrive through the connector (no silence). */
async function say(w: World, text: string, activity = w.bot.messageActivity(text)): Promise<Card> {
  const conversation = w.bot.conversationId(PERSONAL);
  const before = connector.activitiesIn(conversation).length;
  const { status } = await w.bot.post(activity);
  expect(status).toBe(200);
  return cardOf((await connector.waitForActivities(conversation, before + 1))[before]);
}

function expectCard(answer: InvokeAnswer): Card {
  expect(answer.status).toBe(200);
  expect(answer.body.statusCode).toBe(200);
  expect(answer.card.type).toBe('AdaptiveCard');
  return answer.card;
}

/** Every user hash of the customer, read directly, with the id its key names: the ground truth seats are compared with. */
async function storedUsers(w: World): Promise<Array<Record<string, string>>> {
  const keys = await scanKeys(w.client, `${w.keys.root}{c:${CID}}:user:*`);
  return Promise.all(keys.map(async (k) => ({ ...(await w.client.hgetall(k)), id: k.slice(k.lastIndexOf(':user:') + ':user:'.length) })));
}

async function expectHealthyStore(w: World): Promise<void> {
  const report = await checkStore(w.client, w.keys);
  if (!report.ok) throw new Error(formatReport(report));
}

const noTurnFailed = (w: World) => expect(w.logLines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);

/** Calls a script command of the client through `hook` (to crash Redis at a chosen call). */
function hookScript(client: RedisClient, name: string, hook: (call: number, send: () => Promise<unknown>) => Promise<unknown>): void {
  const target = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = target[name];
  let calls = 0;
  target[name] = function (this: unknown, ...args: unknown[]) {
    return hook(++calls, () => original.apply(this, args));
  };
}

const unavailable = (err: unknown) => !isDirectoryError(err);

describe('Redis restarts in the middle of work', () => {
  it('(b) 200 concurrent license changes: no user lost or doubled, seats = holders, each change applied once; callers during the outage were told to try again', async () => {
    const w = await world();
    try {
      await w.directory.upsertCustomer({ id: CID, name: 'Contoso Ltd', domains: ['contoso.onmicrosoft.com'], subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 150 }] }, ACTOR);
      const users: CustomerUser[] = [];
      // Two users outside the batch, for the callers over HTTP.
      const [spareA, spareB] = await Promise.all(
        ['spare-a', 'spare-b'].map((username) => w.directory.createUser(CID, { username, displayName: username, usageLocation: 'US' }, { actor: ACTOR, withoutPassword: true }).then((r) => r.user)),
      );
      for (let i = 0; i < 200; i += 50) {
        const batch = await Promise.all(
          Array.from({ length: 50 }, (_, j) => {
            const n = String(i + j).padStart(3, '0');
            return w.directory.createUser(CID, { username: `u${n}`, displayName: `User ${n}`, usageLocation: 'US', licenses: i + j < 100 ? ['O365_E3'] : [] }, { actor: ACTOR, withoutPassword: true });
          }),
        );
        users.push(...batch.map((b) => b.user));
      }

      // 100 holders give their license up, 100 others ask for one: 150 seats, so the order decides who gets one.
      const ops = users.map((u, i) => ({ user: u, change: i < 100 ? { remove: ['O365_E3'] } : { add: ['O365_E3'] }, operationId: `op-b-${i}` }));
      const run = (op: (typeof ops)[number]) => w.directory.changeLicenses(CID, [{ userId: op.user.id }], op.change, { actor: ACTOR, operationId: op.operationId });

      // Redis dies when the 100th change has been sent: 100 changes are unanswered, 100 are sent into the outage.
      let crashed: Promise<void> = Promise.resolve();
      hookScript(w.client, 'pabChangeLicenses', (call, send) => {
        if (call < 100) return send();
        if (call === 100) {
          const sent = send();
          crashed = redis.crash();
          return sent;
        }
        return call <= 200 ? crashed.then(send) : send();
      });
      const first = ops.map((op) => run(op).then((r) => ({ ok: true as const, r }), (err: unknown) => ({ ok: false as const, err })));
      await crashed;

      // While Redis is down, the bot answers every caller with "try again", typed or clicked.
      const typed = w.bot.messageActivity(`assign O365_E3 ${CID} ${spareA.username}`);
      expect(visibleText(await say(w, '', typed))).toMatch(TRY_AGAIN);
      const readCard = expectCard(await w.bot.invoke(VERBS.users, { customerId: CID }));
      expect(visibleText(readCard)).toMatch(TRY_AGAIN);
      const deleteClick = w.bot.invokeActivity(VERBS.confirmDeleteUsers, { customerId: CID, userIds: [spareB.id], versions: { [spareB.id]: 1 }, operationId: 'op-b-http-delete' });
      expect(visibleText(expectCard(await w.bot.sendInvoke(deleteClick)))).toMatch(TRY_AGAIN);
      const health = await fetch(`${w.bot.options.endpoint}/healthz`);
      expect(health.status).toBe(503);

      await redis.restart();
      const outcomes = await Promise.all(first);
      const lost = outcomes.filter((o) => !o.ok && unavailable(o.err)).length;

      // Whoever was told to try again does so with the same operation id (the same card, or Teams' retry).
      const results = new Map<string, string>();
      for (let attempt = 0; attempt < 5; attempt++) {
        await Promise.all(
          ops.filter((op) => !results.has(op.operationId)).map(async (op) => {
            try {
              const [r] = await run(op);
              results.set(op.operationId, r.changed ? 'changed' : 'unchanged');
            } catch (err) {
              if (isDirectoryError(err)) results.set(op.operationId, err.code);
              else if (attempt === 4) throw err;
            }
          }),
        );
      }
      expect(results.size).toBe(200);
      // The first answers that did arrive agree with the final ones.
      outcomes.forEach((o, i) => {
        if (o.ok) expect(o.r[0].changed ? 'changed' : 'unchanged').toBe(results.get(ops[i].operationId));
        else if (isDirectoryError(o.err)) expect(o.err.code).toBe(results.get(ops[i].operationId));
      });
      // The typed command and the click, delivered again after the outage, now do what they said, once.
      expect(visibleText(await say(w, '', typed))).toMatch(/Licenses updated/);
      expect(visibleText(expectCard(await w.bot.sendInvoke(deleteClick)))).toMatch(/1 user deleted/);
      expect(visibleText(expectCard(await w.bot.sendInvoke(deleteClick)))).toMatch(/1 user deleted/);

      // Nothing lost, nothing doubled.
      const stored = await storedUsers(w);
      expect(stored).toHaveLength(202);
      expect(new Set(stored.map((u) => u.upn.toLowerCase())).size).toBe(202);
      expect(new Set(stored.map((u) => u.id))).toEqual(new Set([...users, spareA, spareB].map((u) => u.id)));
      expect(stored.find((u) => u.id === spareA.id)).toMatchObject({ state: 'active', licenses: 'O365_E3', version: '2' });
      expect(stored.find((u) => u.id === spareB.id)).toMatchObject({ state: 'deleted', version: '2' });
      const holders = stored.filter((u) => u.state === 'active' && u.licenses.split(',').includes('O365_E3'));
      const [e3] = await w.directory.getSubscriptions(CID);
      expect(e3.assignedSeats).toBe(holders.length);
      expect(holders.length).toBeLessThanOrEqual(150);
      for (const [i, op] of ops.entries()) {
        const u = stored.find((x) => x.id === op.user.id) as Record<string, string>;
        const holds = u.licenses.split(',').includes('O365_E3');
        expect([op.operationId, results.get(op.operationId), holds]).toEqual([op.operationId, results.get(op.operationId), i < 100 ? false : results.get(op.operationId) === 'changed']);
      }
      // Each change is in the audit log exactly once (applied or refused), however often it was delivered.
      const audit = (await w.directory.audit(CID, 1, 1000)).entries;
      expect(audit.filter((e) => e.action === 'change-licenses' && e.actorId === ACTOR.id)).toHaveLength(200);
      expect(audit.filter((e) => e.action === 'change-licenses' && e.actorId === MEGAN.aadObjectId)).toHaveLength(1);
      expect(audit.filter((e) => e.action === 'delete-users')).toHaveLength(1);
      await expectHealthyStore(w);
      noTurnFailed(w);
      // The outage really hit the batch: changes were cut off and had to be tried again.
      expect(lost).toBeGreaterThan(0);
    } finally {
      await w.close();
    }
  });

  it('(c) a purge run: every expired user purged exactly once, recent deletions kept; the deleted-users list said "try again" meanwhile', async () => {
    const w = await world();
    try {
      await w.directory.upsertCustomer({ id: CID, name: 'Contoso Ltd', domains: ['contoso.onmicrosoft.com'], subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 1000 }] }, ACTOR);
      const users: CustomerUser[] = [];
      for (let i = 0; i < 800; i += 100) {
        const batch = await Promise.all(
          Array.from({ length: 100 }, (_, j) =>
            w.directory.createUser(CID, { username: `p${i + j}`, displayName: `P ${i + j}`, usageLocation: 'US', licenses: ['O365_E3'] }, { actor: ACTOR, withoutPassword: true }),
          ),
        );
        users.push(...batch.map((b) => b.user));
      }
      const expired = users.slice(0, 650);
      const recent = users.slice(650, 750);
      for (let i = 0; i < expired.length; i += 325) {
        await w.directory.deleteUsers(CID, expired.slice(i, i + 325).map((u) => ({ userId: u.id })), { actor: ACTOR });
      }
      w.clock.advance(31 * DAY_MS);
      await w.directory.deleteUsers(CID, recent.map((u) => ({ userId: u.id })), { actor: ACTOR });

      // The purge runs in batches of 200; Redis dies as the second batch is sent.
      const crashed = new Promise<void>((resolve) =>
        hookScript(w.client, 'pabPurgeUsers', (call, send) => {
          const sent = send();
          if (call === 2) void redis.crash().then(resolve);
          return sent;
        }),
      );
      const purge = w.directory.purgeExpired(CID).then((n) => ({ ok: true as const, n }), (err: unknown) => ({ ok: false as const, err }));
      await crashed;
      expect(visibleText(expectCard(await w.bot.invoke(VERBS.deletedUsers, { customerId: CID })))).toMatch(TRY_AGAIN);
      await redis.restart();
      const interrupted = await purge;
      if (!interrupted.ok) expect(unavailable(interrupted.err)).toBe(true);

      // Purging again (the next run, on any instance) finishes the job; nothing is purged twice.
      await w.directory.purgeExpired(CID);
      expect(await w.directory.purgeExpired(CID)).toBe(0);

      const stored = await storedUsers(w);
      expect(stored).toHaveLength(150);
      expect(new Set(stored.map((u) => u.id))).toEqual(new Set([...recent, ...users.slice(750)].map((u) => u.id)));
      expect(await w.directory.getCounts(CID)).toEqual({ active: 50, unlicensed: 0, deleted: 100 });
      expect((await w.directory.getSubscriptions(CID))[0].assignedSeats).toBe(50);
      const purged = (await w.directory.audit(CID, 1, 1000)).entries.filter((e) => e.action === 'purge').flatMap((e) => e.detail.split(' '));
      expect(purged).toHaveLength(650);
      expect(new Set(purged)).toEqual(new Set(expired.map((u) => u.userPrincipalName)));
      const deletedCard = expectCard(await w.bot.invoke(VERBS.deletedUsers, { customerId: CID }));
      expect(visibleText(deletedCard)).toMatch(/P 650/);
      await expectHealthyStore(w);
      noTurnFailed(w);
    } finally {
      await w.close();
    }
  });

  it('the bot starting while Redis is down does not crash: callers are told to try again, and it serves once Redis is back', async () => {
    const w = await world();
    try {
      await w.directory.upsertCustomer({ id: CID, name: 'Contoso Ltd', domains: ['contoso.onmicrosoft.com'], subscriptions: [] }, ACTOR);
      await redis.crash();
      // A second instance comes up now: its start-up work (purge, resuming imports) fails, and must not end the process.
      const client = connectRedis({ url: redis.url, commandTimeoutMs: COMMAND_TIMEOUT_MS });
      client.on('error', () => undefined);
      const lines: string[] = [];
      const settings = loadSettings({ HOST: '127.0.0.1', LOG_LEVEL: 'warn', PARTNER_TENANT_ID: TENANT, ADMIN_AGENTS: MEGAN.aadObjectId });
      const second = await createApp({ ...settings, port: 0 }, { redis: client, keys: w.keys, clock: w.clock, logger: createLogger('warn', { write: (l: string) => void lines.push(l) }) });
      const bot = new BotClient({ endpoint: await second.listen(), serviceUrl: connector.url, tenantId: TENANT, agent: MEGAN });
      try {
        expect(visibleText(expectCard(await bot.invoke(VERBS.licenses, { customerId: CID })))).toMatch(TRY_AGAIN);
        await redis.restart();
        expect(visibleText(expectCard(await bot.invoke(VERBS.licenses, { customerId: CID })))).toMatch(/Licenses \u2014 Contoso Ltd/);
        expect(lines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
      } finally {
        await second.close();
        client.disconnect();
      }
    } finally {
      await w.close();
    }
  });

  it('(a) a 2,000-row CSV import: resumed after Redis is back, nothing created twice, every new user listed with a usable password', async () => {
    const w = await world();
    try {
      await w.directory.upsertCustomer({ id: CID, name: 'Contoso Ltd', domains: ['contoso.onmicrosoft.com', 'contoso.com'], subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 5000 }] }, ACTOR);
      const previewed = await w.app.importer.preview(CID, partnerCenterCsv(2000), 'users.csv', ACTOR);
      if (!previewed.ok) throw new Error(JSON.stringify(previewed.problem));
      const jobId = previewed.preview.jobId;
      const options = { mode: 'validRows' as const, usageLocation: 'US', licenses: ['O365_E3'] };
      expect((await w.app.importer.start(CID, jobId, ACTOR, options)).started).toBe(true);

      // Redis dies once 700 rows are recorded; the run stops with "unavailable", never with a half-written row.
      let crash: Promise<void> | undefined;
      const interrupted = await w.app.importer
        .run(CID, jobId, { afterRow: (i) => void (i >= 700 && !crash && (crash = redis.crash())) })
        .then(() => null, (err: unknown) => err);
      expect(crash).toBeDefined();
      await crash;
      expect(interrupted === null || unavailable(interrupted)).toBe(true);
      await redis.restart();
      // The stopped runner's lock is Redis's to expire (30 s); let it expire now rather than wait for it.
      await w.client.pexpire(w.keys.importJob(CID, jobId, ':lock'), 1);
      while (await w.client.exists(w.keys.importJob(CID, jobId, ':lock'))) await new Promise((r) => setImmediate(r));

      const result = await w.app.importer.run(CID, jobId);
      expect(result).toMatchObject({ state: 'done', total: 2000, created: 2000, failed: 0 });
      expect(result!.passwordsRenewed).toBeGreaterThan(0);
      const stored = await storedUsers(w);
      expect(stored).toHaveLength(2000);
      expect(new Set(stored.map((u) => u.upn.toLowerCase())).size).toBe(2000);
      expect(stored.every((u) => u.pwHash && u.licenses === 'O365_E3')).toBe(true);
      expect((await w.directory.getSubscriptions(CID))[0].assignedSeats).toBe(2000);

      // The results list every user with a password that works, including those created before the crash.
      const vault = new CredentialVault(w.client, w.keys, w.clock);
      const download = await vault.redeemDownload(result!.downloadToken);
      if (!download.ok) throw new Error('results download gone');
      const rows = (parse(download.content, { bom: true }) as string[][]).slice(1);
      expect(rows).toHaveLength(2000);
      for (const i of [0, 1, 350, 699, 1200, 1999]) {
        const [, , , email, status, password] = rows[i];
        expect(status).toBe(`Created ${email}`);
        const user = stored.find((u) => u.upn === email)!;
        expect(await w.directory.verifyUserPassword(CID, user.id, password)).toBe(true);
      }
      await expectHealthyStore(w);
    } finally {
      await w.close();
    }
  });
});

describe('a reply lost on the wire', () => {
  let proxy: FlakyProxy;
  let w: World;
  let c: { alice: CustomerUser; bob: CustomerUser; carol: CustomerUser };

  beforeEach(async () => {
    proxy = await startFlakyProxy(redis.port);
    w = await world(proxy.url);
    await w.directory.upsertCustomer({ id: CID, name: 'Contoso Ltd', domains: ['contoso.onmicrosoft.com'], subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 10 }] }, ACTOR);
    const make = (username: string, licenses: string[]) => w.directory.createUser(CID, { username, displayName: username, usageLocation: 'US', licenses }, { actor: ACTOR }).then((r) => r.user);
    c = { alice: await make('alice', ['O365_E3']), bob: await make('bob', []), carol: await make('carol', ['O365_E3']) };
    // Every script once on this connection, so that each request below is one small EVALSHA.
    await w.directory.changeLicenses(CID, [{ userId: c.bob.id }], { add: ['O365_E3'] }, { actor: ACTOR });
    await w.directory.resetPassword(CID, { userId: c.bob.id }, { actor: ACTOR });
    await w.directory.deleteUsers(CID, [{ userId: c.bob.id }], { actor: ACTOR });
    await w.directory.restoreUsers(CID, [{ userId: c.bob.id }], { actor: ACTOR });
  });

  afterEach(async () => {
    proxy.refuseConnections(false);
    await w.close();
    await proxy.stop();
  });

  /** Every key and value, the operation records too (a replay writes none, and the first record must not change). */
  async function state(): Promise<string> {
    const keys = await scanKeys(w.client, `${w.keys.root}*`);
    const values = await Promise.all(
      keys.map(async (k) => {
        const type = await w.client.type(k);
        if (type === 'hash') return [k, Object.entries(await w.client.hgetall(k)).sort()];
        if (type === 'zset') return [k, await w.client.zrange(k, 0, -1, 'WITHSCORES')];
        if (type === 'list') return [k, await w.client.lrange(k, 0, -1)];
        if (type === 'set') return [k, (await w.client.smembers(k)).sort()];
        return [k, await w.client.get(k)];
      }),
    );
    return JSON.stringify(values);
  }

  type Op = [string, (id: string) => Promise<unknown>];
  const ops = (): Op[] => [
    ['create', (id) => w.directory.createUser(CID, { username: 'dave', displayName: 'Dave', usageLocation: 'US', licenses: ['O365_E3'] }, { actor: ACTOR, operationId: id })],
    ['change licenses', (id) => w.directory.changeLicenses(CID, [{ userId: c.alice.id, expectedVersion: 1 }], { remove: ['O365_E3'] }, { actor: ACTOR, operationId: id })],
    ['reset password', (id) => w.directory.resetPassword(CID, { userId: c.carol.id }, { actor: ACTOR, operationId: id })],
    ['delete', (id) => w.directory.deleteUsers(CID, [{ userId: c.carol.id }], { actor: ACTOR, operationId: id })],
  ];

  it.each(ops().map(([name], i) => [name, i] as const))('%s: the client re-sends it after reconnecting; applied once, answered as the first time', async (_name, i) => {
    const [, call] = ops()[i];
    const id = `op-lost-${i}-0123`;
    const auditBefore = (await w.directory.audit(CID)).total;
    const lost = proxy.loseReplyTo(id);
    const answer = await call(id);
    await lost;
    const after = await state();
    expect((await w.directory.audit(CID)).total).toBe(auditBefore + 1);
    // Retried by the caller with the same operation id: the same answer (a password is shown once), no change.
    const again = (await call(id)) as { temporaryPassword?: string };
    expect(await state()).toBe(after);
    if (again && typeof again === 'object' && 'temporaryPassword' in again) {
      const first = answer as { temporaryPassword: string; user: CustomerUser; replayed: boolean };
      // The first answer came from the re-sent script: it is not a "replay" to its caller, and it shows the password.
      expect(first.replayed).toBe(false);
      expect(first.temporaryPassword).not.toBe('');
      expect(await w.directory.verifyUserPassword(CID, first.user.id, first.temporaryPassword)).toBe(true);
      expect(again).toMatchObject({ replayed: true, temporaryPassword: '', user: first.user });
    } else {
      expect(again).toEqual(answer);
    }
    await expectHealthyStore(w);
  });

  it('when Redis stays unreachable, the caller gets "try again" within the command timeout, and the same click afterwards applies once', async () => {
    const bob = await w.directory.getUser(CID, c.bob.id);
    const click = w.bot.invokeActivity(VERBS.confirmDeleteUsers, { customerId: CID, userIds: [bob.id], versions: { [bob.id]: bob.version }, operationId: 'op-lost-http-1' });
    // The app's own connection goes through the proxy in this test.
    await w.app.close();
    const appClient = connectRedis({ url: proxy.url, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    const app = await createApp({ ...loadSettings({ HOST: '127.0.0.1', LOG_LEVEL: 'warn', PARTNER_TENANT_ID: TENANT, ADMIN_AGENTS: MEGAN.aadObjectId }), port: 0 }, { redis: appClient, keys: w.keys, clock: w.clock, logger: createLogger('silent') });
    const bot = new BotClient({ endpoint: await app.listen(), serviceUrl: connector.url, tenantId: TENANT, agent: MEGAN });
    try {
      const lost = proxy.loseReplyTo('op-lost-http-1');
      lost.then(() => proxy.refuseConnections(true));
      const started = Date.now();
      const first = expectCard(await bot.sendInvoke(click));
      expect(visibleText(first)).toMatch(TRY_AGAIN);
      expect(Date.now() - started).toBeLessThan(COMMAND_TIMEOUT_MS + 5000);
      proxy.refuseConnections(false);

      const second = expectCard(await bot.sendInvoke(click));
      expect(visibleText(second)).toMatch(/1 user deleted/);
      expect(visibleText(expectCard(await bot.sendInvoke(click)))).toBe(visibleText(second));
      expect((await w.directory.getUser(CID, bob.id)).state).toBe('deleted');
      expect((await w.directory.audit(CID, 1, 1000)).entries.filter((e) => e.action === 'delete-users' && e.actorId === MEGAN.aadObjectId)).toHaveLength(1);
      await expectHealthyStore(w);
    } finally {
      await app.close();
      appClient.disconnect();
    }
  });
});
