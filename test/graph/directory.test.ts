/**
 * The service on the Microsoft Graph directory, against the Graph / Entra stand-in: each rule the Redis directory's
 * suites check, seen in the stand-in's state, plus what only Graph brings: GDAP roles from the token, Graph's 403,
 * throttling, lost replies, eventual consistency, the create roll-back, tokens per agent and customer.
 */
import { DAY_MS, DirectoryService } from '../../services/directory';
import { createGraphDirectory } from '../../services/directories/graph';
import { ROLE, SeededTenant } from '../support/graph';
import { createGraphTestDirectory, GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET, GraphTestDirectory, PARTNER_TENANT } from '../support/graphDirectory';
import { directoryErrorOf, dumpValues } from '../support/testDirectory';

let t: GraphTestDirectory;
let c: SeededTenant;

beforeEach(async () => {
  t = await createGraphTestDirectory({ passwords: 'deterministic' });
  c = t.seed({
    users: [
      { username: 'alice', displayName: 'Alice Smith', licenses: ['ENTERPRISEPACK'] },
      { username: 'bob', displayName: 'Bob Jones' },
      { username: 'carol', displayName: 'Carol Admin', licenses: ['ENTERPRISEPACK', 'SPE_E5'], role: ROLE.globalAdministrator },
    ],
  });
});
afterEach(async () => t.cleanup());

const admin = <T>(work: () => Promise<T>) => t.asAgent(t.admin, work);
const helpdesk = <T>(work: () => Promise<T>) => t.asAgent(t.helpdesk, work);

describe('customers, seats and listings come from Graph', () => {
  test('the GDAP customers are the customers; domains are the tenant’s verified ones, default first', async () => {
    const customers = await admin(() => t.directory.listCustomers());
    expect(customers).toEqual([{ id: c.tenantId, name: 'Contoso Ltd', domains: ['contoso.onmicrosoft.com', 'contoso.com'] }]);
    const found = await admin(() => t.directory.findCustomers('contoso'));
    expect(found.map((x) => x.id)).toEqual([c.tenantId]);
  });

  test('seats are prepaid minus consumed, shown with the product names; counts from $count', async () => {
    const { subscriptions, counts } = await admin(() => t.directory.getSubscriptionsAndCounts(c.tenantId));
    expect(subscriptions).toEqual([
      { skuId: 'ENTERPRISEPACK', name: 'Office 365 E3', totalSeats: 25, assignedSeats: 2, availableSeats: 23 },
      { skuId: 'SPE_E5', name: 'Microsoft 365 E5', totalSeats: 5, assignedSeats: 1, availableSeats: 4 },
    ]);
    expect(counts).toEqual({ active: 3, unlicensed: 1, deleted: 0 });
  });

  test('users by display name with licenses and roles; filters, role and search as the bot has them; pages follow nextLink', async () => {
    const all = await admin(() => t.directory.listUsers(c.tenantId));
    expect(all.users.map((u) => [u.displayName, u.licenses, u.role])).toEqual([
      ['Alice Smith', ['ENTERPRISEPACK'], 'user'],
      ['Bob Jones', [], 'user'],
      ['Carol Admin', ['ENTERPRISEPACK', 'SPE_E5'], 'global-admin'],
    ]);
    const unlicensed = await admin(() => t.directory.listUsers(c.tenantId, { filter: { kind: 'unlicensed' } }));
    expect(unlicensed.users.map((u) => u.username)).toEqual(['bob']);
    const e5 = await admin(() => t.directory.listUsers(c.tenantId, { filter: { kind: 'license', skuId: 'SPE_E5' } }));
    expect(e5.users.map((u) => u.username)).toEqual(['carol']);
    const admins = await admin(() => t.directory.listUsers(c.tenantId, { role: 'global-admin' }));
    expect(admins.users.map((u) => u.username)).toEqual(['carol']);
    const searched = await admin(() => t.directory.listUsers(c.tenantId, { search: 'bob' }));
    expect(searched.users.map((u) => u.username)).toEqual(['bob']);
    const page2 = await admin(() => t.directory.listUsers(c.tenantId, { page: 2, pageSize: 2 }));
    expect({ names: page2.users.map((u) => u.username), total: page2.total, pageCount: page2.pageCount }).toEqual({ names: ['carol'], total: 3, pageCount: 2 });
    // A window that straddles two Graph pages (the tab scrolls by rows, not pages).
    const window = await admin(() => t.directory.listUsers(c.tenantId, { offset: 1, pageSize: 2 }));
    expect(window.users.map((u) => u.username)).toEqual(['bob', 'carol']);
    expect(t.graph.countRequests({ method: 'GET', path: '/users' })).toBeGreaterThan(0);
  });
});

describe('changes land in the tenant', () => {
  test('create: POST /users with a temporary password that must be changed, role and licenses; the password works in the tenant', async () => {
    const created = await admin(() =>
      t.directory.createUser(c.tenantId, { username: 'dana', displayName: 'Dana Lee', usageLocation: 'KR', role: 'helpdesk-admin', licenses: ['SPE_E5'] }, { actor: t.admin }),
    );
    const stored = t.graph.tenant(c.tenantId).user('dana@contoso.onmicrosoft.com');
    expect(stored).toMatchObject({ displayName: 'Dana Lee', usageLocation: 'KR' });
    expect(t.graph.tenant(c.tenantId).roleOf(created.user.id)).toBe(ROLE.helpdeskAdministrator);
    expect(created.user).toMatchObject({ userPrincipalName: 'dana@contoso.onmicrosoft.com', licenses: ['SPE_E5'], role: 'helpdesk-admin', state: 'active' });
    expect(created.temporaryPassword).not.toBe('');
    expect(t.graph.verifyPassword(c.tenantId, created.user.id, created.temporaryPassword)).toBe(true);
    const audit = await admin(() => t.directory.audit(c.tenantId));
    expect(audit.entries[0]).toMatchObject({ action: 'create-user', target: 'dana@contoso.onmicrosoft.com', result: 'ok', actorName: 'Megan Admin' });
  });

  test('a taken name, an unknown license and too few seats are the usual errors, and nothing is created', async () => {
    const before = t.graph.tenant(c.tenantId).users().length;
    const create = (username: string, licenses: string[] = []) =>
      admin(() => t.directory.createUser(c.tenantId, { username, displayName: username, usageLocation: 'US', licenses }, { actor: t.admin }));
    expect((await directoryErrorOf(create('alice'))).code).toBe('UPN_TAKEN');
    expect((await directoryErrorOf(create('x1', ['NOPE']))).code).toBe('UNKNOWN_LICENSE');
    // SPE_E5: 5 seats, 1 used: four creates take them, the fifth is refused before anything is written.
    for (let i = 0; i < 4; i++) await create(`e5-${i}`, ['SPE_E5']);
    expect(await directoryErrorOf(create('e5-4', ['SPE_E5']))).toMatchObject({ code: 'NO_SEATS', params: { license: 'SPE_E5', seatsLeft: 0 } });
    expect(t.graph.tenant(c.tenantId).users().length).toBe(before + 4);
  });

  test('create is all or nothing: when the license step fails the new user is deleted again, for good', async () => {
    t.graph.failBeforeApply({ method: 'POST', path: /\/assignLicense$/, times: 5, status: 403 });
    const err = await directoryErrorOf(
      admin(() => t.directory.createUser(c.tenantId, { username: 'erin', displayName: 'Erin', usageLocation: 'US', licenses: ['ENTERPRISEPACK'] }, { actor: t.admin })),
    );
    expect(err.code).toBe('DIRECTORY_REFUSED');
    expect(t.graph.tenant(c.tenantId).users().map((u) => u.userPrincipalName)).not.toContain('erin@contoso.onmicrosoft.com');
    expect(t.graph.tenant(c.tenantId).deletedUsers()).toEqual([]);
  });

  test('Graph’s own "no licenses available" (a seat taken through another bot instance meanwhile) is NO_SEATS, and the new user is rolled back', async () => {
    await admin(() => t.directory.getSubscriptions(c.tenantId));
    await admin(() => t.directory.listUsers(c.tenantId)); // this instance now has a 30-second view of the seats
    const other = new DirectoryService({
      redis: t.redis,
      keys: t.keys,
      clock: t.clock,
      backend: createGraphDirectory({ graphBaseUrl: t.graph.graphBaseUrl, authorityHost: t.graph.authorityHost, clientId: GRAPH_CLIENT_ID, clientSecret: GRAPH_CLIENT_SECRET, partnerTenantId: PARTNER_TENANT, redis: t.redis, keys: t.keys, now: () => t.clock.now() }),
    });
    const everyone = t.graph.tenant(c.tenantId).users().filter((u) => u.assignedLicenses.length === 0 || u.userPrincipalName.startsWith('alice')).map((u) => ({ userId: u.id }));
    await admin(() => other.changeLicenses(c.tenantId, everyone, { add: ['SPE_E5'] }, { actor: t.admin }));
    const left = () => t.graph.tenant(c.tenantId).skus().find((s) => s.skuPartNumber === 'SPE_E5')!;
    for (let i = 0; left().consumedUnits < 5; i++) await admin(() => other.createUser(c.tenantId, { username: `filler${i}`, displayName: `Filler ${i}`, usageLocation: 'US', licenses: ['SPE_E5'] }, { actor: t.admin }));
    const err = await directoryErrorOf(admin(() => t.directory.createUser(c.tenantId, { username: 'late', displayName: 'Late', usageLocation: 'US', licenses: ['SPE_E5'] }, { actor: t.admin })));
    expect(err.code).toBe('NO_SEATS');
    expect(t.graph.tenant(c.tenantId).users().map((u) => u.userPrincipalName)).not.toContain('late@contoso.onmicrosoft.com');
    expect(t.graph.tenant(c.tenantId).deletedUsers().map((u) => u.userPrincipalName)).toEqual([]);
  });

  test('assign and remove for many users: one $batch per 20 users, all or nothing on seats, each user’s result', async () => {
    const more = Array.from({ length: 22 }, (_, i) => ({ username: `u${String(i).padStart(2, '0')}` }));
    const big = t.seed({ name: 'Fabrikam', domains: ['fabrikam.onmicrosoft.com'], skus: [{ skuPartNumber: 'SPB', seats: 22 }, { skuPartNumber: 'POWER_BI_PRO', seats: 3 }], users: more });
    const ids = t.graph.tenant(big.tenantId).users().map((u) => ({ userId: u.id }));
    const batchesBefore = t.graph.countRequests({ method: 'POST', path: '/$batch' });
    const results = await admin(() => t.directory.changeLicenses(big.tenantId, ids, { add: ['SPB'] }, { actor: t.admin }));
    expect(results.every((r) => r.changed && r.added.join() === 'SPB')).toBe(true);
    expect(t.graph.tenant(big.tenantId).skus().find((s) => s.skuPartNumber === 'SPB')?.consumedUnits).toBe(22);
    expect(t.graph.countRequests({ method: 'POST', path: '/$batch' }) - batchesBefore).toBeGreaterThanOrEqual(2);
    const refused = await directoryErrorOf(admin(() => t.directory.changeLicenses(big.tenantId, ids.slice(0, 4), { add: ['POWER_BI_PRO'] }, { actor: t.admin })));
    expect(refused).toMatchObject({ code: 'NO_SEATS', params: { license: 'POWER_BI_PRO', seatsLeft: 3, seatsNeeded: 4 } });
    expect(t.graph.tenant(big.tenantId).skus().find((s) => s.skuPartNumber === 'POWER_BI_PRO')?.consumedUnits).toBe(0);
    const removed = await admin(() => t.directory.changeLicenses(big.tenantId, ids.slice(0, 2), { remove: ['SPB'] }, { actor: t.admin }));
    expect(removed.map((r) => r.removed)).toEqual([['SPB'], ['SPB']]);
  });

  test('a card drawn from an older state is refused as stale, and nothing changes', async () => {
    const [bob] = (await admin(() => t.directory.listUsers(c.tenantId, { search: 'bob' }))).users;
    await admin(() => t.directory.changeLicenses(c.tenantId, [{ userId: bob.id }], { add: ['ENTERPRISEPACK'] }, { actor: t.admin }));
    const err = await directoryErrorOf(admin(() => t.directory.changeLicenses(c.tenantId, [{ userId: bob.id, expectedVersion: bob.version }], { add: ['SPE_E5'] }, { actor: t.admin })));
    expect(err.code).toBe('STALE');
    expect(t.graph.tenant(c.tenantId).user(bob.id)?.assignedLicenses.length).toBe(1);
  });

  test('delete, deleted users with Entra’s days left, restore with the licenses that have seats', async () => {
    const alice = await admin(() => t.directory.findUser(c.tenantId, 'alice'));
    await admin(() => t.directory.deleteUsers(c.tenantId, [{ userId: alice.id, expectedVersion: alice.version }], { actor: t.admin }));
    expect(t.graph.tenant(c.tenantId).skus().find((s) => s.skuPartNumber === 'ENTERPRISEPACK')?.consumedUnits).toBe(1);
    t.clock.advance(3 * DAY_MS);
    const deleted = await admin(() => t.directory.listDeletedUsers(c.tenantId));
    expect(deleted.map((u) => [u.userPrincipalName, u.daysLeft, u.rememberedLicenses])).toEqual([['alice@contoso.onmicrosoft.com', 27, ['ENTERPRISEPACK']]]);
    const [outcome] = await admin(() => t.directory.restoreUsers(c.tenantId, [{ userId: alice.id, expectedVersion: deleted[0].version }], { actor: t.admin }));
    expect(outcome).toEqual({ userId: alice.id, ok: true, userPrincipalName: 'alice@contoso.onmicrosoft.com', restoredLicenses: ['ENTERPRISEPACK'], notRestoredLicenses: [] });
    expect(t.graph.tenant(c.tenantId).user(alice.id)?.assignedLicenses.length).toBe(1);
    expect(await admin(() => t.directory.listDeletedUsers(c.tenantId))).toEqual([]);
  });

  test('restore when the name was taken meanwhile: the conflict, then a new username; a license without seats is named', async () => {
    const carol = await admin(() => t.directory.findUser(c.tenantId, 'carol'));
    await admin(() => t.directory.deleteUsers(c.tenantId, [{ userId: carol.id }], { actor: t.admin }));
    await admin(() => t.directory.createUser(c.tenantId, { username: 'carol', displayName: 'Carol Two', usageLocation: 'US', licenses: ['SPE_E5'] }, { actor: t.admin }));
    // The other SPE_E5 seats go to new users meanwhile: Carol's SPE_E5 has no seat left to come back to.
    const e5 = () => t.graph.tenant(c.tenantId).skus().find((s) => s.skuPartNumber === 'SPE_E5')!;
    for (let i = 0; e5().consumedUnits < 5; i++) await admin(() => t.directory.createUser(c.tenantId, { username: `e5-${i}`, displayName: `E5 ${i}`, usageLocation: 'US', licenses: ['SPE_E5'] }, { actor: t.admin }));
    const [taken] = await admin(() => t.directory.restoreUsers(c.tenantId, [{ userId: carol.id }], { actor: t.admin }));
    expect(taken).toMatchObject({ ok: false, error: 'UPN_TAKEN' });
    const [renamed] = await admin(() => t.directory.restoreUsers(c.tenantId, [{ userId: carol.id, newUsername: 'carol.old' }], { actor: t.admin }));
    expect(renamed).toMatchObject({ ok: true, userPrincipalName: 'carol.old@contoso.onmicrosoft.com', restoredLicenses: ['ENTERPRISEPACK'], notRestoredLicenses: ['SPE_E5'] });
    expect(t.graph.tenant(c.tenantId).user(carol.id)).toMatchObject({ userPrincipalName: 'carol.old@contoso.onmicrosoft.com' });
  });

  test('reset password: a new temporary password the user must change; helpdesk may reset a non-admin only (Graph’s 403 is final)', async () => {
    const bob = await admin(() => t.directory.findUser(c.tenantId, 'bob'));
    const reset = await helpdesk(() => t.directory.resetPassword(c.tenantId, { userId: bob.id }, { actor: t.helpdesk }));
    expect(t.graph.verifyPassword(c.tenantId, bob.id, reset.temporaryPassword)).toBe(true);
    const carol = await admin(() => t.directory.findUser(c.tenantId, 'carol'));
    expect((await directoryErrorOf(helpdesk(() => t.directory.resetPassword(c.tenantId, { userId: carol.id }, { actor: t.helpdesk })))).code).toBe('DIRECTORY_REFUSED');
    expect((await directoryErrorOf(helpdesk(() => t.directory.createUser(c.tenantId, { username: 'hd', displayName: 'HD', usageLocation: 'US' }, { actor: t.helpdesk })))).code).toBe('DIRECTORY_REFUSED');
    expect(t.graph.tenant(c.tenantId).users().map((u) => u.userPrincipalName)).not.toContain('hd@contoso.onmicrosoft.com');
  });
});

describe('GDAP roles, sign-in and tokens', () => {
  test('access follows the agent’s GDAP roles in that customer', async () => {
    expect(await admin(() => t.directory.accessFor(c.tenantId))).toEqual({ level: 'admin', missing: [] });
    expect(await helpdesk(() => t.directory.accessFor(c.tenantId))).toEqual({ level: 'helpdesk', missing: ['User Administrator', 'License Administrator'] });
    expect(await t.asAgent(t.nobody, () => t.directory.accessFor(c.tenantId))).toMatchObject({ level: 'none' });
  });

  test('without a signed-in agent every call is SIGN_IN_REQUIRED, and nothing is asked of Graph', async () => {
    const before = t.graph.requests.length;
    expect((await directoryErrorOf(t.directory.listCustomers())).code).toBe('SIGN_IN_REQUIRED');
    expect(t.graph.requests.length).toBe(before);
  });

  test('one token per agent and customer, kept until it expires; never another agent’s', async () => {
    await admin(() => t.directory.listUsers(c.tenantId));
    await admin(() => t.directory.listUsers(c.tenantId));
    await admin(() => t.directory.getSubscriptions(c.tenantId));
    expect(t.graph.tokenRequestCount(t.admin.id, c.tenantId)).toBe(1);
    await helpdesk(() => t.directory.listUsers(c.tenantId));
    expect(t.graph.tokenRequestCount(t.helpdesk.id, c.tenantId)).toBe(1);
    t.clock.advance(2 * 3600 * 1000);
    await admin(() => t.directory.listUsers(c.tenantId));
    expect(t.graph.tokenRequestCount(t.admin.id, c.tenantId)).toBe(2);
  });
});

describe('faults: throttling, lost replies, eventual consistency, repeated operations', () => {
  test('429 and 503 wait the Retry-After seconds, then the call succeeds', async () => {
    t.graph.throttle({ method: 'POST', path: '/users', times: 2, retryAfterSeconds: 3, status: 429 });
    const created = await admin(() => t.directory.createUser(c.tenantId, { username: 'gina', displayName: 'Gina', usageLocation: 'US' }, { actor: t.admin }));
    expect(created.user.userPrincipalName).toBe('gina@contoso.onmicrosoft.com');
    expect(t.waits).toEqual([3000, 3000]);
  });

  test('a create whose reply was lost is read back, not sent twice: one user, its password works', async () => {
    t.graph.failAfterApply({ method: 'POST', path: '/users', times: 1, mode: 'dropConnection' });
    const created = await admin(() => t.directory.createUser(c.tenantId, { username: 'hank', displayName: 'Hank', usageLocation: 'US' }, { actor: t.admin }));
    expect(t.graph.tenant(c.tenantId).users().filter((u) => u.userPrincipalName === 'hank@contoso.onmicrosoft.com').length).toBe(1);
    expect(t.graph.verifyPassword(c.tenantId, created.user.id, created.temporaryPassword)).toBe(true);
    expect(t.graph.countRequests({ method: 'POST', path: '/users' })).toBe(1);
  });

  test('a license change answered with a 500 after it applied is read back and reported done', async () => {
    const bob = await admin(() => t.directory.findUser(c.tenantId, 'bob'));
    t.graph.failAfterApply({ method: 'POST', path: /\/assignLicense$/, times: 1, mode: 'status500' });
    const [result] = await admin(() => t.directory.changeLicenses(c.tenantId, [{ userId: bob.id }], { add: ['ENTERPRISEPACK'] }, { actor: t.admin }));
    expect(result).toMatchObject({ changed: true, added: ['ENTERPRISEPACK'] });
    expect(t.graph.tenant(c.tenantId).user(bob.id)?.assignedLicenses.length).toBe(1);
  });

  test('a new user not yet visible to GET /users is still found by name, and not created twice', async () => {
    t.graph.consistencyLag(5, c.tenantId);
    await admin(() => t.directory.createUser(c.tenantId, { username: 'ivy', displayName: 'Ivy', usageLocation: 'US' }, { actor: t.admin }));
    const listed = await admin(() => t.directory.listUsers(c.tenantId));
    expect(listed.users.map((u) => u.username)).not.toContain('ivy');
    expect((await admin(() => t.directory.findUser(c.tenantId, 'ivy'))).displayName).toBe('Ivy');
    expect((await directoryErrorOf(admin(() => t.directory.createUser(c.tenantId, { username: 'ivy', displayName: 'Ivy', usageLocation: 'US' }, { actor: t.admin })))).code).toBe('UPN_TAKEN');
  });

  test('the same operation id twice: one change, the first result again (without the password)', async () => {
    const options = { actor: t.admin, operationId: 'op-create-jack' };
    const first = await admin(() => t.directory.createUser(c.tenantId, { username: 'jack', displayName: 'Jack', usageLocation: 'US' }, options));
    const again = await admin(() => t.directory.createUser(c.tenantId, { username: 'jack', displayName: 'Jack', usageLocation: 'US' }, options));
    expect(again).toMatchObject({ replayed: true, temporaryPassword: '', user: { id: first.user.id } });
    expect(t.graph.countRequests({ method: 'POST', path: '/users' })).toBe(1);
  });

  test('no password, token or secret in any Redis value after a run', async () => {
    const created = await admin(() => t.directory.createUser(c.tenantId, { username: 'kim', displayName: 'Kim', usageLocation: 'US', licenses: ['ENTERPRISEPACK'] }, { actor: t.admin }));
    const reset = await admin(() => t.directory.resetPassword(c.tenantId, { userId: created.user.id }, { actor: t.admin }));
    await admin(() => t.directory.deleteUsers(c.tenantId, [{ userId: created.user.id }], { actor: t.admin }));
    await admin(() => t.directory.restoreUsers(c.tenantId, [{ userId: created.user.id }], { actor: t.admin }));
    const values = [...(await dumpValues(t)).values()].flat().join('\n');
    const sso = await t.graph.issueUserToken({ agentId: t.admin.id, name: t.admin.name });
    for (const secret of [created.temporaryPassword, reset.temporaryPassword, 'graph-test-secret', sso.split('.')[1], 'eyJ']) expect(values).not.toContain(secret);
  });
});
