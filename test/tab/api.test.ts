/**
 * The Users and licenses tab's JSON API (bot/tab/api.ts) over HTTP against the real app: Teams SSO tokens checked
 * against a local key set (test/support/tabSso.ts), roles from the same AgentRoles as the bot, and every change seen in
 * the store and compared with the same change made through the bot's cards.
 */
import { randomUUID } from 'node:crypto';
import { App, createApp } from '../../bot/app';
import { ApprovalService } from '../../services/approvals';
import { loadSettings } from '../../bot/config';
import { createLogger } from '../../bot/logger';
import { Agent, BotClient, Card, cardOf, texts } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { freePort } from '../support/redisServer';
import { startTabSso, TAB_AUDIENCE, TabSso } from '../support/tabSso';
import { createTestDirectory, TestDirectory } from '../support/testDirectory';

const TENANT = '7d0c9a4e-5b1f-4c3a-9e2d-1f0a2b3c4d5e';
const ADMIN: Agent = { id: '29:1megan-bowen', aadObjectId: '3f6b2c1e-8a47-4d2b-9c1e-5a7b8c9d0e1f', name: 'Megan Bowen' };
const HELPDESK = { oid: '5a1b2c3d-0000-4000-8000-00000000beef', name: 'Hal Desk' };
const NOBODY = { oid: '5a1b2c3d-0000-4000-8000-00000000dead', name: 'No Role' };

const BIG = 1300;
let t: TestDirectory;
let sso: TabSso;
let connector: FakeConnector;
let app: App;
let url: string;
const logLines: string[] = [];

/** 60 users in "contoso" (every third unlicensed), and the same 60 in "twin" for the cards path. */
const seedCustomer = (id: string) =>
  t.seed({
    id,
    name: id === 'contoso' ? 'Contoso Ltd' : 'Twin Ltd',
    subscriptions: [
      { skuId: 'O365_E3', name: 'Office 365 E3', seats: 60 },
      { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 5 },
    ],
    users: Array.from({ length: 60 }, (_, i) => ({ username: `user${String(i).padStart(2, '0')}`, displayName: `User ${String(i).padStart(2, '0')}`, licenses: i % 3 === 0 ? [] : ['O365_E3'] })),
  });

beforeAll(async () => {
  t = await createTestDirectory({ passwords: 'deterministic' });
  sso = await startTabSso(() => t.clock.now());
  connector = await startFakeConnector();
  await seedCustomer('contoso');
  await seedCustomer('twin');
  // More users than one change takes: 1,300, every second one unlicensed (650 "all matching").
  await t.seed({
    id: 'bigco',
    name: 'Big Co',
    subscriptions: [
      { skuId: 'O365_E3', name: 'Office 365 E3', seats: BIG },
      { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 5 },
    ],
    users: Array.from({ length: BIG }, (_, i) => ({ username: `big${String(i).padStart(4, '0')}`, displayName: `Big ${String(i).padStart(4, '0')}`, licenses: i % 2 ? ['O365_E3'] : [] })),
  });
  const port = await freePort();
  const settings = loadSettings({
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'info',
    PARTNER_TENANT_ID: TENANT,
    ADMIN_AGENTS: ADMIN.aadObjectId,
    HELPDESK_AGENTS: HELPDESK.oid,
    TAB_SSO_JWKS_URL: sso.jwksUrl,
    TAB_SSO_AUDIENCE: TAB_AUDIENCE,
  });
  app = await createApp(settings, { redis: t.redis, keys: t.keys, clock: t.clock, logger: createLogger('info', { write: (l: string) => void logLines.push(l) }) });
  url = await app.listen();
});

afterAll(async () => {
  await app.close();
  await sso.stop();
  await connector.stop();
  await t.cleanup();
  expect(logLines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
  // No token ever reaches the log.
  expect(logLines.join('\n')).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
});

const adminToken = () => sso.token({ oid: ADMIN.aadObjectId, name: ADMIN.name, tid: TENANT });

async function call(method: 'GET' | 'POST', path: string, token: string | undefined, body?: unknown, locale = 'en-US') {
  const response = await fetch(`${url}/api/tab${path}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), 'Accept-Language': locale, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}

const licensesOf = async (customerId: string) => {
  const page = await t.directory.listUsers(customerId, { pageSize: 100 });
  return page.users.map((u) => `${u.username}:${u.licenses.join('+')}`);
};

describe('authentication: the Teams SSO token only', () => {
  test('no token, a malformed one, another tenant, a wrong audience or issuer, an unknown key, an expired token: 401 and nothing read', async () => {
    const cases: Array<[string, string | undefined, string]> = [
      ['none', undefined, 'missing'],
      ['garbage', 'not-a-token-at-all-but-long-enough', 'malformed'],
      ['other tenant', await sso.token({ oid: ADMIN.aadObjectId, tid: '11111111-2222-4333-8444-555555555555' }), 'otherTenant'],
      ['wrong audience', await sso.token({ oid: ADMIN.aadObjectId, tid: TENANT, aud: 'api://elsewhere/botid-x' }), 'invalid'],
      ['wrong issuer', await sso.token({ oid: ADMIN.aadObjectId, tid: TENANT, iss: 'https://sts.example/' + TENANT + '/v2.0' }), 'invalid'],
      ['unknown key', await sso.token({ oid: ADMIN.aadObjectId, tid: TENANT, foreignKey: true }), 'invalid'],
      ['expired', await sso.token({ oid: ADMIN.aadObjectId, tid: TENANT, expiresIn: -120 }), 'expired'],
    ];
    for (const [what, token, reason] of cases) {
      const answer = await call('GET', '/customers/contoso/users', token);
      expect({ what, status: answer.status, reason: answer.body.reason }).toEqual({ what, status: 401, reason });
      expect(answer.body.users).toBeUndefined();
      expect(answer.headers.get('www-authenticate')).toBe('Bearer');
      expect(answer.body.message).toMatch(/Open this page in Teams/);
    }
  });

  test('a token valid now expires on the injected clock', async () => {
    const token = await sso.token({ oid: ADMIN.aadObjectId, tid: TENANT, expiresIn: 300 });
    expect((await call('GET', '/me', token)).status).toBe(200);
    t.clock.advance(10 * 60 * 1000);
    try {
      expect((await call('GET', '/me', token)).body).toMatchObject({ error: 'unauthenticated', reason: 'expired' });
    } finally {
      t.clock.advance(-10 * 60 * 1000);
    }
  });

  test('the page and the API carry the dialog page\u2019s headers: CSP with Teams\u2019 frame-ancestors, no-store, no-referrer', async () => {
    const page = await fetch(`${url}/tabs/users?locale=ko-KR`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain('frame-ancestors https://teams.microsoft.com');
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await page.text();
    expect(html).toContain('<html lang="ko-KR">');
    expect(html).toContain('사용자 및 라이선스');
    expect(html).not.toMatch(/<script>(?!\s*<)/); // no inline script: only the JSON block and the bundle
    const api = await call('GET', '/me', await adminToken());
    expect(api.headers.get('cache-control')).toBe('no-store');
  });
});

describe('reading', () => {
  test('me: the role from the same AgentRoles as the bot', async () => {
    expect((await call('GET', '/me', await adminToken())).body).toMatchObject({ id: ADMIN.aadObjectId, role: 'admin', permissions: { manageUsers: true, resetPassword: true, restore: true } });
    const helpdesk = await call('GET', '/me', await sso.token({ ...HELPDESK, tid: TENANT }));
    expect(helpdesk.body).toMatchObject({ role: 'helpdesk', permissions: { manageUsers: false, resetPassword: true, restore: true } });
  });

  test('customers, seats and counts; 100-row windows by display name, A to Z and Z to A, filtered and searched', async () => {
    const token = await adminToken();
    expect((await call('GET', '/customers?q=twin', token)).body.customers).toEqual([{ id: 'twin', name: 'Twin Ltd', domain: 'twin.onmicrosoft.com' }]);
    const summary = (await call('GET', '/customers/contoso', token)).body;
    expect(summary.counts).toEqual({ active: 60, unlicensed: 20, deleted: 0 });
    expect(summary.subscriptions[0]).toMatchObject({ skuId: 'O365_E3', totalSeats: 60, assignedSeats: 40, availableSeats: 20 });

    const asc = (await call('GET', '/customers/contoso/users?offset=0', token)).body;
    expect(asc.total).toBe(60);
    expect(asc.users.map((u: any) => u.displayName).slice(0, 3)).toEqual(['User 00', 'User 01', 'User 02']);
    expect(Object.keys(asc.users[0]).sort()).toEqual(['displayName', 'id', 'licenses', 'role', 'state', 'userPrincipalName', 'version']);
    const desc = (await call('GET', '/customers/contoso/users?offset=0&order=desc', token)).body;
    expect(desc.users.map((u: any) => u.displayName).slice(0, 2)).toEqual(['User 59', 'User 58']);
    const descLater = (await call('GET', '/customers/contoso/users?offset=50&order=desc', token)).body;
    expect(descLater.users.map((u: any) => u.displayName)).toEqual(Array.from({ length: 10 }, (_, i) => `User ${String(9 - i).padStart(2, '0')}`));

    const unlicensed = (await call('GET', '/customers/contoso/users?filter=unlicensed', token)).body;
    expect(unlicensed.total).toBe(20);
    expect(unlicensed.users.every((u: any) => u.licenses.length === 0)).toBe(true);
    const searched = (await call('GET', '/customers/contoso/users?search=user%203', token)).body;
    expect(searched.users.map((u: any) => u.displayName)).toEqual(Array.from({ length: 10 }, (_, i) => `User 3${i}`));
    expect((await call('GET', '/customers/contoso/users?filter=bogus', token)).body).toMatchObject({ error: 'directory', code: 'INVALID_FIELD' });
    expect((await call('GET', '/customers/nowhere/users', token)).body).toMatchObject({ error: 'directory', code: 'CUSTOMER_NOT_FOUND', message: expect.stringContaining('nowhere') });
  });
});

describe('changes', () => {
  test('a helpdesk agent sees the table but is refused a license change, audited as the bot audits it; nothing changes', async () => {
    const token = await sso.token({ ...HELPDESK, tid: TENANT });
    expect((await call('GET', '/customers/contoso/users', token)).body).toMatchObject({ total: 60 });
    const before = await licensesOf('contoso');
    const [user] = (await t.directory.listUsers('contoso', { filter: { kind: 'unlicensed' } })).users;
    const refused = await call('POST', '/customers/contoso/licenses', token, { operationId: randomUUID(), users: [{ id: user.id, version: user.version }], add: ['O365_E3'] });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: 'forbidden', role: 'helpdesk', message: 'You are not allowed to do that. Your role: Helpdesk agent.' });
    expect(await licensesOf('contoso')).toEqual(before);
    expect((await t.directory.refusals(5))[0]).toMatchObject({ actorId: HELPDESK.oid, action: 'saveLicenses', result: 'refused: role helpdesk' });
    expect((await t.directory.audit('contoso')).entries[0]).toMatchObject({ actorId: HELPDESK.oid, action: 'saveLicenses', result: 'refused: role helpdesk' });
    // Without any bot role: not even the table.
    expect((await call('GET', '/customers/contoso/users', await sso.token({ ...NOBODY, tid: TENANT }))).status).toBe(403);
  });

  test('select all unlicensed, assign a license: the same result as the bot\u2019s "Manage licenses for all N users in this view"', async () => {
    const token = await adminToken();
    const selection = await call('POST', '/customers/contoso/selection', token, { filter: 'unlicensed' });
    expect(selection.body).toMatchObject({ count: 20, selectionId: expect.any(String) });
    const operationId = randomUUID();
    const change = { operationId, selectionId: selection.body.selectionId, add: ['O365_E3'] };
    const changed = await call('POST', '/customers/contoso/licenses', token, change);
    expect(changed.status).toBe(200);
    expect(changed.body.results).toHaveLength(20);
    expect(changed.body.counts).toEqual({ active: 60, unlicensed: 0, deleted: 0 });
    expect(changed.body.subscriptions[0]).toMatchObject({ assignedSeats: 60, availableSeats: 0 });
    // The same click delivered again: one effect, the same answer.
    const again = await call('POST', '/customers/contoso/licenses', token, change);
    expect(again.body.results).toEqual(changed.body.results);
    expect((await t.directory.audit('contoso')).entries.filter((e) => e.action === 'change-licenses')).toHaveLength(1);

    // The cards' path on the twin customer.
    const client = new BotClient({ endpoint: url, serviceUrl: connector.url, tenantId: TENANT, agent: ADMIN });
    const manage = await client.invoke('manageLicenses', { customerId: 'twin', allInView: true, viewFilter: 'unlicensed', viewRole: '', viewSearch: '' });
    const saved = await client.click(manage.card as Card, 'Save', { lic_O365_E3: 'all' });
    expect(texts(saved.card as Card).join('\n')).toMatch(/Licenses updated|License/);
    const strip = (rows: string[]) => rows.map((r) => r.replace(/^user/, ''));
    expect(strip(await licensesOf('contoso'))).toEqual(strip(await licensesOf('twin')));
    expect(await t.directory.getSubscriptions('contoso')).toEqual(await t.directory.getSubscriptions('twin'));
    expect(await t.directory.getCounts('contoso')).toEqual(await t.directory.getCounts('twin'));
  });

  test('a change short of seats is refused whole with the typed error; a stale row is refused; nothing changes', async () => {
    const token = await adminToken();
    const users = (await t.directory.listUsers('contoso', { pageSize: 10 })).users;
    const before = await licensesOf('contoso');
    const refused = await call('POST', '/customers/contoso/licenses', token, { operationId: randomUUID(), users: users.map((u) => ({ id: u.id, version: u.version })), add: ['SPE_E5'] });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'directory', code: 'NO_SEATS', params: { license: 'SPE_E5' } });
    expect(refused.body.message).toMatch(/Microsoft 365 E5|SPE_E5/);
    const stale = await call('POST', '/customers/contoso/licenses', token, { operationId: randomUUID(), users: [{ id: users[0].id, version: users[0].version - 1 }], remove: ['O365_E3'] });
    expect(stale.body).toMatchObject({ error: 'directory', code: 'STALE' });
    const korean = await call('POST', '/customers/contoso/licenses', token, { operationId: randomUUID(), users: users.map((u) => ({ id: u.id, version: u.version })), add: ['SPE_E5'] }, 'ko-KR');
    expect(korean.body.message).toMatch(/[가-힣]/);
    expect(await licensesOf('contoso')).toEqual(before);
    expect((await call('POST', '/customers/contoso/licenses', token, { operationId: 'not-a-uuid', users: [], add: [] })).status).toBe(400);
  });

  test('delete two users, restore them: per license what came back', async () => {
    const token = await adminToken();
    const [a, b] = (await t.directory.listUsers('contoso', { pageSize: 2 })).users;
    const deleted = await call('POST', '/customers/contoso/delete', token, { operationId: randomUUID(), users: [a, b].map((u) => ({ id: u.id, version: u.version })) });
    expect(deleted.status).toBe(200);
    expect(deleted.body.counts).toMatchObject({ active: 58, deleted: 2 });
    const listed = (await call('GET', '/customers/contoso/deleted', token)).body.users;
    expect(listed.map((u: any) => [u.displayName, u.daysLeft])).toEqual([
      ['User 00', 30],
      ['User 01', 30],
    ]);
    const helpdesk = await sso.token({ ...HELPDESK, tid: TENANT });
    const restored = await call('POST', '/customers/contoso/restore', helpdesk, { operationId: randomUUID(), users: listed.map((u: any) => ({ id: u.id, version: u.version })) });
    expect(restored.status).toBe(200);
    expect(restored.body.outcomes.map((o: any) => o.ok)).toEqual([true, true]);
    expect(restored.body.lines[0]).toMatch(/restored\. Licenses given back: Office 365 E3/);
    expect(restored.body.counts).toMatchObject({ active: 60, deleted: 0 });
  });

  test('with four-eyes approvals on, the tab refuses a delete and a license removal (409, audited) and changes nothing; adding still works', async () => {
    const approvals = new ApprovalService(t.directory);
    await approvals.setEnabled('twin', true, { id: ADMIN.aadObjectId!, name: ADMIN.name });
    try {
      const token = await adminToken();
      const [a] = (await t.directory.listUsers('twin', { filter: { kind: 'licensed' }, pageSize: 1 })).users;
      const before = await t.directory.getCounts('twin');
      const deleted = await call('POST', '/customers/twin/delete', token, { operationId: randomUUID(), users: [{ id: a.id, version: a.version }] });
      expect(deleted).toMatchObject({ status: 409, body: { error: 'approvalRequired' } });
      const removed = await call('POST', '/customers/twin/licenses', token, { operationId: randomUUID(), users: [{ id: a.id, version: a.version }], add: [], remove: ['O365_E3'] });
      expect(removed).toMatchObject({ status: 409, body: { error: 'approvalRequired' } });
      expect(await t.directory.getCounts('twin')).toEqual(before);
      expect((await t.directory.getUser('twin', a.id)).licenses).toEqual(['O365_E3']);
      expect((await t.directory.audit('twin')).entries.filter((e) => e.result.startsWith('refused: approval required'))).toHaveLength(2);
      const added = await call('POST', '/customers/twin/licenses', token, { operationId: randomUUID(), users: [{ id: a.id, version: a.version }], add: ['SPE_E5'], remove: [] });
      expect(added.status).toBe(200);
      expect((await t.directory.getUser('twin', a.id)).licenses.sort()).toEqual(['O365_E3', 'SPE_E5']);
    } finally {
      await approvals.setEnabled('twin', false, { id: ADMIN.aadObjectId!, name: ADMIN.name });
    }
  });

  test('reset password: the passwords go to the agent\u2019s 1:1 chat, the answer only says so', async () => {
    const client = new BotClient({ endpoint: url, serviceUrl: connector.url, tenantId: TENANT, agent: ADMIN });
    const personal = client.conversationId();
    const earlier = connector.activitiesIn(personal).length;
    await client.message('whoami'); // the bot remembers the agent's 1:1 chat
    await connector.waitForActivities(personal, earlier + 1);
    const before = connector.activitiesIn(personal).length;
    const token = await adminToken();
    const [a, b] = (await t.directory.listUsers('contoso', { pageSize: 2 })).users;
    const answer = await call('POST', '/customers/contoso/reset-password', token, { operationId: randomUUID(), users: [a, b].map((u) => ({ id: u.id, version: u.version })) });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ sent: true, count: 2, message: expect.stringContaining('sent to your 1:1 chat') });
    const [delivered] = (await connector.waitForActivities(personal, before + 1)).slice(before);
    const lines = texts(cardOf(delivered)).join('\n');
    expect(lines).toContain(a.userPrincipalName);
    expect(JSON.stringify(answer.body)).not.toMatch(/Temporary password/);
    expect(await t.directory.getUser('contoso', a.id)).toMatchObject({ mustChangePassword: true, hasPassword: true });
    // An agent whose 1:1 chat the bot does not know: nothing is shown, the answer says why.
    const helpdesk = await sso.token({ ...HELPDESK, tid: TENANT });
    const [c] = (await t.directory.listUsers('contoso', { pageSize: 1, page: 3 })).users;
    const failed = await call('POST', '/customers/contoso/reset-password', helpdesk, { operationId: randomUUID(), users: [{ id: c.id, version: c.version }] });
    expect(failed.body).toMatchObject({ sent: false, reason: 'notFound', message: expect.stringContaining('could not be sent') });
  });
});

describe('all matching beyond one change: a bulk job', () => {
  /** The job's progress until it ends (each poll a request; the job runs in the app meanwhile). */
  async function finished(token: string, started: { body: any }) {
    let progress = started.body;
    for (let polls = 0; ['running', 'undoing'].includes(progress.job.state); polls++) {
      if (polls > 5000) throw new Error('the job did not end');
      progress = (await call('GET', `/customers/bigco/jobs/${started.body.job.id}`, token)).body;
    }
    return progress;
  }

  test('650 unlicensed users selected, a license assigned: 202 with a job, its progress, the counts changed; the same click again is the same job', async () => {
    const token = await adminToken();
    const selection = await call('POST', '/customers/bigco/selection', token, { filter: 'unlicensed' });
    expect(selection.body).toMatchObject({ count: BIG / 2 });
    const change = { operationId: randomUUID(), selectionId: selection.body.selectionId, add: ['O365_E3'] };
    const started = await call('POST', '/customers/bigco/licenses', token, change);
    expect(started.status).toBe(202);
    expect(started.body.job).toMatchObject({ id: expect.stringMatching(/^[\w-]{16}$/), kind: 'licenses', total: BIG / 2 });
    // Another agent does not see it.
    const helpdesk = await sso.token({ ...HELPDESK, tid: TENANT });
    expect((await call('GET', `/customers/bigco/jobs/${started.body.job.id}`, helpdesk)).status).toBe(404);
    const done = await finished(token, started);
    expect(done).toMatchObject({ job: { state: 'done', processed: BIG / 2, changed: BIG / 2 }, message: 'Licenses updated for 650 users.', counts: { active: BIG, unlicensed: 0 } });
    expect(done.subscriptions[0]).toMatchObject({ skuId: 'O365_E3', assignedSeats: BIG, availableSeats: 0 });
    expect(await t.directory.getCounts('bigco')).toMatchObject({ unlicensed: 0 });
    const again = await call('POST', '/customers/bigco/licenses', token, change);
    expect(again.body.job).toMatchObject({ id: started.body.job.id, state: 'done', changed: BIG / 2 });
    // Two chunks (500 + 150), each one audited change.
    expect((await t.directory.audit('bigco', 1, 50)).entries.filter((e) => e.action === 'change-licenses')).toHaveLength(2);
  });

  test('all 1,300 users, a license with 5 seats: the job is refused before anything changes, in the agent’s language', async () => {
    const token = await adminToken();
    const selection = await call('POST', '/customers/bigco/selection', token, { filter: 'all' });
    expect(selection.body.count).toBe(BIG);
    const started = await call('POST', '/customers/bigco/licenses', token, { operationId: randomUUID(), selectionId: selection.body.selectionId, add: ['SPE_E5'] });
    expect(started.status).toBe(202);
    const done = await finished(token, started);
    expect(done.job).toMatchObject({ state: 'refused', changed: 0 });
    expect(done.message).toBe('Refused: Not enough seats of Microsoft 365 E5: 5 left, 1,300 needed. Nothing was changed.');
    // The progress speaks the language of the request that asks for it.
    expect((await call('GET', `/customers/bigco/jobs/${started.body.job.id}`, token, undefined, 'ko-KR')).body.message).toMatch(/[가-힣]/);
    expect((await t.directory.getSubscriptions('bigco')).find((s) => s.skuId === 'SPE_E5')).toMatchObject({ assignedSeats: 0 });
  });

  test('delete every licensed user (1,300): one job, all deleted, restorable', async () => {
    const token = await adminToken();
    const selection = await call('POST', '/customers/bigco/selection', token, { filter: 'licensed' });
    const started = await call('POST', '/customers/bigco/delete', token, { operationId: randomUUID(), selectionId: selection.body.selectionId });
    expect(started.status).toBe(202);
    const done = await finished(token, started);
    expect(done).toMatchObject({ job: { state: 'done', changed: selection.body.count }, counts: { active: BIG - selection.body.count, deleted: selection.body.count } });
    expect(done.message).toMatch(/users deleted/);
  });
});
