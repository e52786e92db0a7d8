/**
 * Security model (SPEC §4–§5): roles and the tenant gate on every request, typed or clicked; temporary
 * passwords only in the agent's 1:1 chat; one-time downloads; Bot Framework tokens; no secret anywhere.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createLogger } from '../../bot/logger';
import { VERBS } from '../../cards/verbs';
import { CredentialVault } from '../../services/credentials';
import { BotApp, startBotApp, TENANT } from '../support/botApp';
import { Agent, BotClient, Card, cardOf, CHANNEL, GROUP_CHAT, PERSONAL, submission, texts, visibleText, Where } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { partnerCenterCsv } from '../support/importCsv';
import { dumpValues } from '../support/testDirectory';

const OTHER_TENANT = '11111111-2222-4333-8444-555555555555';
const ADMIN: Agent = { id: '29:1admin', aadObjectId: 'a0000000-0000-4000-8000-000000000001', name: 'Ada Admin' };
const HELPDESK: Agent = { id: '29:1helpdesk', aadObjectId: 'b0000000-0000-4000-8000-000000000002', name: 'Hal Helpdesk' };
const OTHER: Agent = { id: '29:1other', aadObjectId: 'c0000000-0000-4000-8000-000000000003', name: 'Otto Other' };

let connector: FakeConnector;
let bot: BotApp;
let logLines: string[];

beforeAll(async () => {
  connector = await startFakeConnector();
});
afterAll(async () => connector.stop());

async function start(extraEnv: Record<string, string> = {}): Promise<void> {
  bot = await startBotApp(connector, {
    seed: {
      id: 'contoso',
      name: 'Contoso Ltd',
      subscriptions: [
        { skuId: 'O365_E3', name: 'Office 365 E3', seats: 10 },
        { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 5 },
      ],
      users: [
        { username: 'alice', displayName: 'Alice Smith', licenses: ['O365_E3'] },
        { username: 'bob', displayName: 'Bob Jones' },
        { username: 'gone', displayName: 'Gone Away', licenses: ['O365_E3'] },
      ],
    },
    // Logged at info, not warn: the per-turn lines are what the secret scan below reads through.
    env: { LOG_LEVEL: 'info', ADMIN_AGENTS: ADMIN.aadObjectId, HELPDESK_AGENTS: HELPDESK.aadObjectId, ...extraEnv },
  });
  logLines = bot.logLines;
  await bot.t.directory.deleteUsers('contoso', [{ userId: bot.c.user('gone').id }], { actor: bot.t.actor });
}

const say = async (from: BotClient, text: string, where: Where = PERSONAL): Promise<Card> => (await bot.say(from, text, where)).card;

/** Everything about the customer except its audit trail (refusals are audited, nothing else may change). */
async function state(): Promise<string> {
  const values = await dumpValues(bot.t);
  return JSON.stringify([...values.entries()].filter(([k]) => !k.endsWith(':audit') && !k.endsWith('refusals')).sort());
}

const isRefusal = (card: Card) => /not allowed|serves only its partner/.test(visibleText(card));

/** A CSV of two new users (user00000@contoso.com, user00001@contoso.com) previewed by `owner`, as a file sent in the 1:1 chat would be: the job id. */
async function previewedImport(owner: Agent): Promise<string> {
  const result = await bot.app.importer.preview('contoso', partnerCenterCsv(2, { usageLocation: () => 'US' }), 'users.csv', { id: owner.aadObjectId, name: owner.name });
  if (!result.ok) throw new Error(`the import preview failed: ${JSON.stringify(result.problem)}`);
  return result.preview.jobId;
}

/** The data of the admin's "Finish and send passwords" button, after one "Save and add another" (Nina New). */
async function seriesOfOne(): Promise<Record<string, unknown>> {
  const admin = bot.client(ADMIN);
  const form = (await admin.invoke(VERBS.addUser, { customerId: 'contoso' })).card;
  const next = (await admin.click(form, 'Save and add another', { displayName: 'Nina New', username: 'nina', usageLocation: 'US' })).card;
  return submission(next, 'Finish and send passwords').data;
}

// ------------------------------------------------------------------------------------------ role matrix

type Caller = 'admin' | 'helpdesk' | 'other' | 'otherTenant';
const CALLERS: Record<Caller, () => BotClient> = {
  admin: () => bot.client(ADMIN),
  helpdesk: () => bot.client(HELPDESK),
  other: () => bot.client(OTHER),
  otherTenant: () => new BotClient({ ...bot.client(ADMIN).options, tenantId: OTHER_TENANT }),
};
type Access = 'everyone' | 'helpdesk' | 'admin';
const allowed = (access: Access, caller: Caller) =>
  caller !== 'otherTenant' && (access === 'everyone' || caller === 'admin' || (access === 'helpdesk' && caller === 'helpdesk'));

/** Command, who may run it, and (for some) what an allowed caller reads on the answer. */
const TYPED: Array<[string, Access, RegExp?]> = [
  ['help', 'everyone'],
  ['whoami', 'everyone'],
  ['customers', 'helpdesk'],
  ['users contoso', 'helpdesk'],
  ['licenses contoso', 'helpdesk'],
  ['add user contoso', 'admin'],
  // Without a file: how to send one (the preview itself is `importCheck` below).
  ['import users contoso', 'admin', /Attach the CSV file to the message: import users contoso/],
  ['assign O365_E3 contoso bob', 'admin'],
  ['unassign O365_E3 contoso alice', 'admin'],
  ['replace O365_E3 SPE_E5 contoso alice', 'admin', /Added: Microsoft 365 E5\. Removed: Office 365 E3\./],
  ['reset password contoso alice', 'helpdesk'],
  ['delete user contoso alice', 'admin'],
  ['deleted users contoso', 'helpdesk'],
  ['restore contoso gone', 'helpdesk'],
  ['audit contoso', 'helpdesk'],
  ['grant helpdesk d0000000-0000-4000-8000-000000000004', 'admin'],
  ['revoke d0000000-0000-4000-8000-000000000004', 'admin'],
];

/**
 * Hand-crafted invokes, as a client could send them without ever seeing the button; for some, what an allowed caller
 * reads on the answer. The data is made before the store is looked at (a series or an import job is set up first).
 */
function invokes(): Array<[string, () => unknown, Access, RegExp?]> {
  const alice = () => bot.c.user('alice');
  const op = (n: string) => `op-matrix-${n}-0001`;
  return [
    [VERBS.users, () => ({ customerId: 'contoso' }), 'helpdesk'],
    [VERBS.licenses, () => ({ customerId: 'contoso' }), 'helpdesk'],
    [VERBS.addUser, () => ({ customerId: 'contoso' }), 'admin'],
    [VERBS.createUser, () => ({ customerId: 'contoso', operationId: op('create'), addAnother: false, displayName: 'Eve', username: 'eve', usageLocation: 'US' }), 'admin'],
    [VERBS.manageLicenses, () => ({ customerId: 'contoso', userIds: alice().id }), 'admin'],
    [VERBS.saveLicenses, () => ({ customerId: 'contoso', operationId: op('save'), userIds: [alice().id], versions: { [alice().id]: alice().version }, initial: { O365_E3: 'all' }, lic_O365_E3: 'none' }), 'admin'],
    [VERBS.resetPassword, () => ({ customerId: 'contoso', userIds: alice().id }), 'helpdesk'],
    [VERBS.confirmResetPassword, () => ({ customerId: 'contoso', userId: alice().id, version: alice().version, operationId: op('reset') }), 'helpdesk'],
    [VERBS.deleteUsers, () => ({ customerId: 'contoso', userIds: alice().id }), 'admin'],
    [VERBS.confirmDeleteUsers, () => ({ customerId: 'contoso', userIds: [alice().id], versions: { [alice().id]: alice().version }, operationId: op('delete') }), 'admin'],
    [VERBS.deletedUsers, () => ({ customerId: 'contoso' }), 'helpdesk'],
    [VERBS.restoreUsers, () => ({ customerId: 'contoso', operationId: op('restore'), userIds: bot.c.user('gone').id }), 'helpdesk'],
    [VERBS.audit, () => ({ customerId: 'contoso' }), 'helpdesk'],
    // The admin's own series (one user added): only an admin may finish it.
    [VERBS.finishSeries, seriesOfOne, 'admin', /1 new user \u2014 Contoso Ltd[\s\S]*Nina New \u2014 nina@contoso\.onmicrosoft\.com/],
    // A job previewed by ADMIN (the caller of the admin and other-tenant rows).
    [VERBS.importCheck, async () => ({ customerId: 'contoso', jobId: await previewedImport(ADMIN) }), 'admin', /Import users \u2014 Contoso Ltd[\s\S]*2 rows are ready to import\./],
    [VERBS.importRun, async () => ({ customerId: 'contoso', jobId: await previewedImport(ADMIN), operationId: op('import') }), 'admin', /^Importing users \u2014 Contoso Ltd/],
    // A button that runs typed text: the role check is the one of the command the text names.
    [VERBS.runCommand, () => ({ text: 'help' }), 'everyone', /whoami/],
    [VERBS.runCommand, () => ({ text: 'users contoso' }), 'helpdesk', /alice@contoso\.onmicrosoft\.com/],
    [VERBS.runCommand, () => ({ text: 'delete user contoso alice' }), 'admin', /Delete 1 user\?/],
  ];
}

describe('who may do what (typed commands)', () => {
  beforeEach(() => start());
  afterEach(() => bot.stop());

  const cases = TYPED.flatMap(([text, access, answer]) => (Object.keys(CALLERS) as Caller[]).map((caller) => [text, caller, allowed(access, caller), answer] as const));
  it.each(cases)('%s by %s → allowed: %s', async (text, caller, expected, answer) => {
    const before = await state();
    const card = await say(CALLERS[caller](), text);
    expect(isRefusal(card)).toBe(!expected);
    if (expected && answer) expect(visibleText(card)).toMatch(answer);
    if (!expected) {
      expect(await state()).toBe(before);
      const refusals = await bot.t.directory.refusals();
      expect(refusals[0]).toMatchObject({ result: expect.stringMatching(/^refused: /) });
      if (caller === 'otherTenant') expect(visibleText(card)).not.toMatch(/Contoso|alice/);
    }
  });
});

describe('who may do what (hand-crafted card actions)', () => {
  beforeEach(() => start());
  afterEach(() => bot.stop());

  // runCommand rows are named by the text they run.
  const title = (verb: string, data: () => unknown) => (verb === VERBS.runCommand ? `${verb} "${(data() as { text: string }).text}"` : verb);
  const cases = invokes().flatMap(([verb, data, access, reads]) =>
    (Object.keys(CALLERS) as Caller[]).map((caller) => [title(verb, data), caller, allowed(access, caller), verb, data, reads] as const),
  );
  it.each(cases)('%s by %s → allowed: %s', async (_title, caller, expected, verb, data, reads) => {
    const payload = await data();
    const before = await state();
    const answer = await CALLERS[caller]().invoke(verb, payload);
    expect(answer.status).toBe(200);
    expect(answer.body.statusCode).toBe(200);
    expect(isRefusal(answer.card)).toBe(!expected);
    if (expected && reads) expect(visibleText(answer.card)).toMatch(reads);
    if (!expected) {
      await bot.app.importRunner.idle(); // a refused importRun must not have started anything either
      expect(await state()).toBe(before);
    }
    if (caller === 'otherTenant') expect(visibleText(answer.card)).toMatch(/serves only its partner/);
  });

  it('refusals land in the customer audit log too', async () => {
    await bot.client(HELPDESK).invoke(VERBS.confirmDeleteUsers, { customerId: 'contoso', userIds: [bot.c.user('alice').id], versions: { [bot.c.user('alice').id]: 1 }, operationId: 'op-helpdesk-delete-1' });
    const { entries } = await bot.t.directory.audit('contoso');
    expect(entries[0]).toMatchObject({ actorId: HELPDESK.aadObjectId, action: 'confirmDeleteUsers', result: 'refused: role helpdesk' });
    expect((await bot.t.directory.getUser('contoso', bot.c.user('alice').id)).state).toBe('active');
  });

  it('an import previewed by one admin cannot be checked or run by another admin; its owner still can', async () => {
    await say(bot.client(ADMIN), `grant admin ${OTHER.aadObjectId}`);
    const colleague = bot.client(OTHER);
    expect(visibleText(await say(colleague, 'whoami'))).toContain('Admin agent'); // an admin now, and its 1:1 chat is remembered
    const jobId = await previewedImport(ADMIN);
    const before = await state();

    const run = await colleague.invoke(VERBS.importRun, { customerId: 'contoso', jobId, operationId: 'op-colleague-import-0001' });
    const check = await colleague.invoke(VERBS.importCheck, { customerId: 'contoso', jobId });
    for (const answer of [run, check]) {
      expect(answer.status).toBe(200);
      expect(answer.body.statusCode).toBe(200);
      expect(visibleText(answer.card)).toContain('This import is no longer available (it finished, expired, or belongs to someone else). Send the file again.');
      // Nothing of the other admin's file shows.
      expect(visibleText(answer.card)).not.toMatch(/Importing|ready to import|user0000/);
    }
    await bot.app.importRunner.idle();
    expect(await state()).toBe(before);
    // Both refusals are audited, in the customer's log and the partner-wide one.
    const audited = (await bot.t.directory.audit('contoso')).entries.filter((e) => e.actorId === OTHER.aadObjectId && e.result.startsWith('refused'));
    expect(audited.map((e) => e.action)).toEqual(['import-check', 'import-run']);
    expect(audited[0].result).toBe(`refused: the import ${jobId} belongs to another agent`);
    expect((await bot.t.directory.refusals()).filter((e) => e.actorId === OTHER.aadObjectId).map((e) => e.action)).toEqual(['import-check', 'import-run']);
    expect((await bot.app.importer.progress('contoso', jobId)).state).toBe('preview');
    expect((await bot.t.directory.listUsers('contoso', { search: 'user0000' })).users).toEqual([]);
    expect(connector.createdConversations()).toEqual([]);

    const own = await bot.client(ADMIN).invoke(VERBS.importRun, { customerId: 'contoso', jobId, operationId: 'op-owner-import-0001' });
    expect(texts(own.card)[0]).toBe('Importing users \u2014 Contoso Ltd');
    await bot.app.importRunner.idle();
    expect((await bot.t.directory.listUsers('contoso', { search: 'user0000' })).users.map((u) => u.userPrincipalName).sort()).toEqual(['user00000@contoso.com', 'user00001@contoso.com']);
  });

  it('cards show only the buttons the caller may use', async () => {
    const forHelpdesk = await say(bot.client(HELPDESK), 'users contoso');
    const titles = visibleText(forHelpdesk);
    expect(titles).toContain('Reset password');
    expect(titles).not.toMatch(/Add user|Manage licenses|\nDelete\n/);
    const help = visibleText(await say(bot.client(OTHER), 'help'));
    expect(help).toContain('whoami');
    expect(help).not.toContain('reset password');
  });

  it('grant and revoke change what a colleague may do', async () => {
    expect(isRefusal(await say(bot.client(OTHER), 'users contoso'))).toBe(true);
    await say(bot.client(ADMIN), `grant helpdesk ${OTHER.aadObjectId}`);
    expect(isRefusal(await say(bot.client(OTHER), 'users contoso'))).toBe(false);
    expect(isRefusal(await say(bot.client(OTHER), 'delete user contoso alice'))).toBe(true);
    await say(bot.client(ADMIN), `revoke ${OTHER.aadObjectId}`);
    expect(isRefusal(await say(bot.client(OTHER), 'users contoso'))).toBe(true);
  });
});

// ------------------------------------------------------------------------------------------ passwords

/** "Temporary password: X" on a card → X. */
const passwordsOn = (card: Card): string[] => texts(card).filter((s) => s.startsWith('Temporary password: ')).map((s) => s.slice('Temporary password: '.length));

describe('temporary passwords reach only the acting agent', () => {
  beforeEach(() => start());
  afterEach(() => bot.stop());

  it.each([
    ['personal chat', PERSONAL],
    ['group chat', GROUP_CHAT],
    ['channel', CHANNEL],
  ] as Array<[string, Where]>)('reset password in a %s', async (_name, where) => {
    const admin = bot.client(ADMIN);
    const confirm = await say(admin, 'reset password contoso alice', where);
    const answer = await admin.click(confirm, 'Reset password', {}, where);
    const personal = admin.conversationId(PERSONAL);
    let password: string;
    if (where.kind === 'personal') {
      [password] = passwordsOn(answer.card);
    } else {
      expect(passwordsOn(answer.card)).toEqual([]);
      expect(visibleText(answer.card)).toContain('sent to you in a private chat');
      const privateCards = (await connector.waitForActivities(personal, 1)).map(cardOf);
      [password] = privateCards.flatMap(passwordsOn);
      expect(connector.createdConversations()[0].parameters).toMatchObject({ members: [{ id: ADMIN.id }], tenantId: TENANT });
      // Nothing sent anywhere but the 1:1 chat carries the password.
      for (const r of connector.records().filter((x) => x.conversationId !== personal)) expect(JSON.stringify(r.activity)).not.toContain(password);
    }
    expect(password).toMatch(/^.{14,}$/);
    expect(JSON.stringify(answer.body).includes(password)).toBe(where.kind === 'personal');
    expect(await bot.t.directory.verifyUserPassword('contoso', bot.c.user('alice').id, password)).toBe(true);
  });

  it('when the bot cannot reach the agent privately, the reply says how to fix it and shows no password', async () => {
    connector.failCreateConversation(403);
    const admin = bot.client(ADMIN);
    const confirm = await say(admin, 'reset password contoso alice', CHANNEL);
    const answer = await admin.click(confirm, 'Reset password', {}, CHANNEL);
    expect(visibleText(answer.card)).toMatch(/not installed for you.*Open a 1:1 chat/s);
    expect(passwordsOn(answer.card)).toEqual([]);
    expect(connector.createdConversations()).toHaveLength(0);
    expect(connector.records().filter((r) => r.conversationId === admin.conversationId(PERSONAL))).toHaveLength(0);
  });

  it('a remembered 1:1 chat is used again instead of creating a new one', async () => {
    const admin = bot.client(ADMIN);
    await say(admin, 'help', PERSONAL); // the agent's 1:1 chat is now known
    const confirm = await say(admin, 'reset password contoso bob', CHANNEL);
    await admin.click(confirm, 'Reset password', {}, CHANNEL);
    expect(connector.createdConversations()).toHaveLength(0);
    expect((await connector.waitForActivities(admin.conversationId(PERSONAL), 2)).map(cardOf).flatMap(passwordsOn)).toHaveLength(1);
  });
});

// ------------------------------------------------------------------------------------------ series and downloads

async function createSeries(from: BotClient, where: Where, usernames: string[]): Promise<{ confirmation: Card; passwords: string[]; link: string }> {
  const privateChat = from.conversationId(PERSONAL);
  const before = connector.activitiesIn(privateChat).length;
  let form = (await from.invoke(VERBS.addUser, { customerId: 'contoso' }, where)).card;
  for (const [i, username] of usernames.entries()) {
    const last = i === usernames.length - 1;
    const answer = await from.click(form, last ? 'Save' : 'Save and add another', { displayName: `New ${username}`, username, usageLocation: 'US', licenses: 'O365_E3' }, where);
    form = answer.card;
  }
  const confirmation = where.kind === 'personal' ? form : cardOf((await connector.waitForActivities(privateChat, before + 1))[before]);
  const link = JSON.stringify(confirmation).match(/http:\/\/127\.0\.0\.1:1\/downloads\/[A-Za-z0-9_.-]+/)![0];
  return { confirmation, passwords: passwordsOn(confirmation), link };
}

const download = (link: string) => fetch(link.replace('http://127.0.0.1:1', bot.url));

describe('Save and add another ends with one confirmation and a one-time download', () => {
  beforeEach(() => start());
  afterEach(() => bot.stop());

  it('lists every new user with a password that works, once, in the 1:1 chat', async () => {
    const admin = bot.client(ADMIN);
    const { confirmation, passwords, link } = await createSeries(admin, CHANNEL, ['nina', 'omar', 'priya']);
    expect(texts(confirmation)).toEqual(expect.arrayContaining(['3 new users \u2014 Contoso Ltd', 'New nina \u2014 nina@contoso.onmicrosoft.com']));
    expect(passwords).toHaveLength(3);
    for (const [i, name] of ['nina', 'omar', 'priya'].entries()) {
      const user = await bot.t.directory.findUser('contoso', name);
      expect(await bot.t.directory.verifyUserPassword('contoso', user.id, passwords[i])).toBe(true);
    }
    // The channel saw names only.
    const channelTraffic = JSON.stringify(connector.records().filter((r) => r.conversationId !== admin.conversationId(PERSONAL)));
    for (const p of passwords) expect(channelTraffic).not.toContain(p);
    expect(channelTraffic).not.toContain('/downloads/');

    const first = await download(link);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.headers.get('content-type')).toMatch(/text\/csv/);
    const csv = await first.text();
    for (const p of passwords) expect(csv).toContain(p);
    expect(csv).toContain('nina@contoso.onmicrosoft.com');
    expect(await download(link).then((r) => r.status)).toBe(410);
    // Nothing of it is left in Redis.
    expect((await bot.t.scanKeys()).filter((k) => k.includes('download:') || k.includes(':series:'))).toEqual([]);
  });

  it('answers 410 after 10 minutes, and keeps the file only as ciphertext', async () => {
    const { passwords, link } = await createSeries(bot.client(ADMIN), PERSONAL, ['sam', 'sue']);
    const stored = JSON.stringify([...(await dumpValues(bot.t)).entries()]);
    expect(stored).not.toContain(passwords[0]);
    expect(stored).not.toContain(link.split('/downloads/')[1].split('.')[1]); // the key is in the link only
    bot.t.clock.advance(10 * 60 * 1000 + 1);
    const late = await download(link);
    expect(late.status).toBe(410);
    expect(late.headers.get('cache-control')).toBe('no-store');
  });

  it('a file in parts (an import\'s results) is sent part by part; a part lost after the answer began cuts the connection', async () => {
    const vault = new CredentialVault(bot.t.redis, bot.t.keys, bot.t.clock);
    const parts = ['\ufeffa,b\r\n', ...Array.from({ length: 3 }, (_, i) => `${String(i).repeat(100_000)},x\r\n`)];
    const write = async (n: number) => {
      const file = vault.newPartedDownload();
      const key = bot.t.keys.importJobRun('contoso', 'job', 'out', String(n));
      await bot.t.redis.rpush(key, ...parts.map((p, i) => file.seal(i, p)));
      return `${bot.url}/downloads/${await vault.createPartedDownload(ADMIN.aadObjectId, 'contoso-import-results.csv', file, key, parts.length)}`;
    };
    const whole = await fetch(await write(1));
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toMatch(/text\/csv/);
    expect(await whole.text()).toBe(parts.join('').replace(/^\ufeff/, '')); // fetch's text() drops the BOM
    // The third part is gone by the time it is read (expired on its own, say): the file must not look complete.
    const broken = await write(2);
    const lindex = bot.t.redis.lindex.bind(bot.t.redis);
    jest.spyOn(bot.t.redis, 'lindex').mockImplementation(((key: string, index: number) => (index === 2 ? Promise.resolve(null) : lindex(key, index))) as typeof bot.t.redis.lindex);
    const cut = await fetch(broken);
    expect(cut.status).toBe(200);
    await expect(cut.text()).rejects.toThrow();
    jest.restoreAllMocks();
    expect((await bot.t.scanKeys()).filter((k) => k.includes(':out:') || k.includes('download:'))).toEqual([]);
  });

  it('a forged or mangled link is gone, not an error', async () => {
    const { link } = await createSeries(bot.client(ADMIN), PERSONAL, ['tom', 'tia']);
    const [id, key] = link.split('/downloads/')[1].split('.');
    const wrongKey = `${id}.${key.slice(0, -2)}${key.endsWith('AA') ? 'BB' : 'AA'}`;
    expect((await fetch(`${bot.url}/downloads/${wrongKey}`)).status).toBe(410);
    expect((await fetch(`${bot.url}/downloads/not-a-token`)).status).toBe(410);
  });
});

// ------------------------------------------------------------------------------------------ the scan

describe('no password or token anywhere but the 1:1 chat', () => {
  beforeEach(() => start());
  afterEach(() => bot.stop());

  it('create, reset, bulk create, delete, restore: logs, activities, audit and Redis hold no secret', async () => {
    const admin = bot.client(ADMIN);
    const secrets: string[] = [];
    // Invoke answers are activities too (the updated cards): keep every one of them.
    const invokeAnswers: string[] = [];
    const send = admin.sendInvoke.bind(admin);
    admin.sendInvoke = async (activity) => {
      const answer = await send(activity);
      invokeAnswers.push(JSON.stringify(answer.body));
      return answer;
    };
    // create (channel: the password goes privately)
    const form = (await admin.invoke(VERBS.addUser, { customerId: 'contoso' }, CHANNEL)).card;
    await admin.click(form, 'Save', { displayName: 'Uma', username: 'uma', usageLocation: 'US' }, CHANNEL);
    // reset
    const confirm = await say(admin, 'reset password contoso alice', CHANNEL);
    await admin.click(confirm, 'Reset password', {}, CHANNEL);
    // bulk create
    const series = await createSeries(admin, CHANNEL, ['vic', 'wes']);
    secrets.push(...series.passwords, series.link.split('/downloads/')[1]);
    secrets.push(...(await connector.waitForActivities(admin.conversationId(PERSONAL), 3)).map(cardOf).flatMap(passwordsOn));
    // delete and restore
    const del = await say(admin, 'delete user contoso uma', CHANNEL);
    await admin.click(del, 'Delete', {}, CHANNEL);
    await say(admin, 'restore contoso uma', CHANNEL);
    expect(new Set(secrets.filter((s) => !s.includes('.'))).size).toBe(4);

    const personal = admin.conversationId(PERSONAL);
    const elsewhere = [...connector.records().filter((r) => r.conversationId !== personal).map((r) => JSON.stringify(r.activity)), ...invokeAnswers];
    const audit = (await bot.t.directory.audit('contoso', 1, 1000)).entries.map((e) => JSON.stringify(e));
    const redisValues = [...(await dumpValues(bot.t)).entries()].map(([k, v]) => `${k} ${v.join(' ')}`);
    for (const secret of secrets) {
      const token = secret.includes('.') ? secret.split('.')[0] : secret;
      for (const [what, haystack] of [['log', logLines], ['activity', elsewhere], ['audit', audit], ['redis', redisValues]] as const) {
        const hit = haystack.find((h) => h.includes(secret) || h.includes(token));
        expect({ what, hit }).toEqual({ what, hit: undefined });
      }
    }
    // What the scan covered, for the record (test-output/secret-scan.json).
    const counts = { secrets: secrets.length, logLines: logLines.length, activities: elsewhere.length, auditEntries: audit.length, redisKeys: redisValues.length };
    mkdirSync('test-output', { recursive: true });
    writeFileSync('test-output/secret-scan.json', JSON.stringify(counts, null, 2));
    expect(counts.logLines).toBeGreaterThan(5);
    expect(counts.activities).toBeGreaterThan(8);
    expect(counts.redisKeys).toBeGreaterThan(10);
  });
});

// ------------------------------------------------------------------------------------------ tokens and logs

describe('Bot Framework authentication', () => {
  beforeEach(() => start({ MicrosoftAppId: '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b', MicrosoftAppPassword: 'not-a-real-secret', MicrosoftAppType: 'MultiTenant' }));
  afterEach(() => bot.stop());

  it('rejects requests without a valid token with 401 and runs nothing', async () => {
    const admin = bot.client(ADMIN);
    const before = await state();
    const anonymous = await admin.post(admin.messageActivity('delete user contoso alice'));
    expect(anonymous.status).toBe(401);
    const forged = await fetch(`${bot.url}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJtZSJ9.' },
      body: JSON.stringify(admin.invokeActivity(VERBS.users, { customerId: 'contoso' })),
    });
    expect(forged.status).toBe(401);
    expect(await state()).toBe(before);
    expect(connector.records()).toEqual([]);
    expect(logLines.join('')).not.toContain('Bearer eyJ');
  });
});

describe('local mode', () => {
  it('says so in the log at start-up', async () => {
    await start();
    try {
      expect(logLines.some((l) => /local mode/.test(JSON.parse(l).msg))).toBe(true);
    } finally {
      await bot.stop();
    }
  });
});

describe('log redaction', () => {
  it('blanks passwords, tokens and Authorization headers wherever they appear', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (l: string) => void lines.push(l) });
    logger.info({ password: 'Pw-1', user: { temporaryPassword: 'Pw-2' }, downloadToken: 'tok-3', req: { headers: { authorization: 'Bearer tok-4' } } }, 'x');
    expect(lines.join('')).not.toMatch(/Pw-1|Pw-2|tok-3|tok-4/);
    expect(lines.join('')).toContain('[redacted]');
  });
});
