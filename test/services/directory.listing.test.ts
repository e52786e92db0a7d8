/**
 * Users and licenses listing: filters, role, text search, their combinations, paging and sorting —
 * compared with a reference computed from the stored users — and the cost of a page on a big customer.
 */
import { DAY_MS, DirectoryService } from '../../services/directory';
import type { RedisClient } from '../../services/store/redis';
import { CustomerUser, ListUsersQuery } from '../../services/types';
import { connectTestRedis, createTestDirectory, onCluster, SeedUser, TestDirectory } from '../support/testDirectory';
import { commandLog, countOf } from './commandLog';

const CID = 'contoso';

/** Reference order: display name without regard to case, then id (unique: a stable order for equal names). */
const byDisplayName = (a: CustomerUser, b: CustomerUser) => {
  const ka = `${a.displayName.toLowerCase()}\x01${a.id}`;
  const kb = `${b.displayName.toLowerCase()}\x01${b.id}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};

function reference(users: CustomerUser[], q: ListUsersQuery): CustomerUser[] {
  const f = q.filter ?? { kind: 'all' };
  const s = q.search?.trim().toLowerCase() ?? '';
  return users
    .filter((u) => u.state === 'active')
    .filter((u) =>
      f.kind === 'licensed' ? u.licenses.length > 0 : f.kind === 'unlicensed' ? u.licenses.length === 0 : f.kind === 'license' ? u.licenses.includes(f.skuId) : true,
    )
    .filter((u) => !q.role || u.role === q.role)
    .filter((u) => !s || u.displayName.toLowerCase().includes(s) || u.userPrincipalName.toLowerCase().includes(s))
    .sort(byDisplayName);
}

describe('listing a small customer', () => {
  let t: TestDirectory;
  let everyone: CustomerUser[];

  const users: SeedUser[] = [
    { username: 'alice', displayName: 'alice Smith', licenses: ['O365_E3'] },
    { username: 'aaron', displayName: 'Aaron Smithers', licenses: ['O365_E3', 'SPE_E5'], role: 'global-admin' },
    { username: 'adam', displayName: 'adam', role: 'user-admin' },
    { username: 'bea', displayName: 'Bea Brown', domain: 'contoso.com', licenses: ['SPE_E5'] },
    { username: 'bob', displayName: 'Bob', licenses: ['O365_E3'], role: 'user-admin' },
    { username: 'bob2', displayName: 'BOB', domain: 'contoso.com' },
    { username: 'yann', displayName: 'Yann Le Smith', licenses: ['O365_E3'], role: 'billing-admin' },
    { username: 'zed', displayName: 'zed', role: 'billing-admin' },
    { username: 'zoe.smith', displayName: 'Zoë Z', licenses: ['O365_E3', 'SPE_E5'], role: 'user-admin' },
    { username: 'carl', displayName: 'Carl Brown', licenses: ['SPE_E5'], role: 'user-admin' },
    { username: 'dora', displayName: 'Dora', domain: 'contoso.com', licenses: ['O365_E3'] },
    { username: 'gone', displayName: 'Gone Smith', licenses: ['O365_E3'], role: 'user-admin' },
    { username: 'gone2', displayName: 'Also Gone' },
  ];

  beforeAll(async () => {
    t = await createTestDirectory({ passwords: 'deterministic' });
    const c = await t.seed({
      id: CID,
      subscriptions: [
        { skuId: 'O365_E3', name: 'Office 365 E3', seats: 25 },
        { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 5 },
        { skuId: 'VISIO_P2', name: 'Visio Plan 2', seats: 2 },
      ],
      users,
    });
    // Deleted users never appear in the active lists.
    await t.directory.deleteUsers(CID, [{ userId: c.user('gone').id }, { userId: c.user('gone2').id }], { actor: t.actor });
    everyone = (await t.directory.readUsers(CID, c.users.map((u) => u.id))) as CustomerUser[];
    expect(everyone.filter((u) => u.state === 'active')).toHaveLength(11);
  });

  afterAll(async () => {
    await t.cleanup();
  });

  /** Reads every page of a query with page size 3 and checks totals on each. */
  async function allPages(q: ListUsersQuery): Promise<{ upns: string[]; total: number }> {
    const first = await t.directory.listUsers(CID, { ...q, page: 1, pageSize: 3 });
    const upns = first.users.map((u) => u.userPrincipalName);
    expect(first.pageCount).toBe(Math.max(1, Math.ceil(first.total / 3)));
    for (let page = 2; page <= first.pageCount; page++) {
      const p = await t.directory.listUsers(CID, { ...q, page, pageSize: 3 });
      expect([p.total, p.page, p.pageSize, p.pageCount]).toEqual([first.total, page, 3, first.pageCount]);
      expect(p.users.length).toBe(page < first.pageCount ? 3 : first.total - 3 * (page - 1));
      upns.push(...p.users.map((u) => u.userPrincipalName));
    }
    return { upns, total: first.total };
  }

  const queries: Array<[string, ListUsersQuery]> = [
    ['all', {}],
    ['licensed', { filter: { kind: 'licensed' } }],
    ['unlicensed', { filter: { kind: 'unlicensed' } }],
    ['license O365_E3', { filter: { kind: 'license', skuId: 'O365_E3' } }],
    ['license SPE_E5', { filter: { kind: 'license', skuId: 'SPE_E5' } }],
    ['license nobody holds', { filter: { kind: 'license', skuId: 'VISIO_P2' } }],
    ['role user-admin', { role: 'user-admin' }],
    ['role nobody has', { role: 'service-admin' }],
    ['search in display names', { search: 'SMITH' }],
    ['search in UPNs (domain)', { search: '@contoso.com' }],
    ['search in UPNs (username)', { search: 'zoe.' }],
    ['search with spaces around', { search: '  brown ' }],
    ['search nothing matches', { search: 'xyz' }],
    ['search with glob characters (taken literally)', { search: '*[?\\]' }],
    ['search for a dot in UPNs only', { search: 'e.s' }],
    ['licensed + role', { filter: { kind: 'licensed' }, role: 'user-admin' }],
    ['unlicensed + role', { filter: { kind: 'unlicensed' }, role: 'user-admin' }],
    ['license + role', { filter: { kind: 'license', skuId: 'SPE_E5' }, role: 'user-admin' }],
    ['license + search', { filter: { kind: 'license', skuId: 'O365_E3' }, search: 'smith' }],
    ['unlicensed + search', { filter: { kind: 'unlicensed' }, search: 'b' }],
    ['licensed + search', { filter: { kind: 'licensed' }, search: 'brown' }],
    ['role + search', { role: 'billing-admin', search: 'smith' }],
    ['license + role + search', { filter: { kind: 'license', skuId: 'O365_E3' }, role: 'user-admin', search: 'Z' }],
  ];

  it.each(queries)('%s: every page, sorted by display name (case-insensitive), totals right', async (_name, q) => {
    const expected = reference(everyone, q).map((u) => u.userPrincipalName);
    const got = await allPages(q);
    expect(got).toEqual({ upns: expected, total: expected.length });
  });

  it('the reference queries are not trivial: they cover empty, single-page and multi-page results', () => {
    const sizes = queries.map(([, q]) => reference(everyone, q).length);
    expect(sizes).toContain(0);
    expect(sizes.some((n) => n > 0 && n <= 3)).toBe(true);
    expect(sizes.some((n) => n > 6)).toBe(true);
  });

  it('sorts without regard to case, shorter name first, equal names by id (layout 3: the UPN is not in the index)', async () => {
    const page = await t.directory.listUsers(CID, { pageSize: 100 });
    const bobs = everyone.filter((u) => u.displayName.toLowerCase() === 'bob').sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(page.users.map((u) => u.displayName)).toEqual([
      'Aaron Smithers',
      'adam',
      'alice Smith',
      'Bea Brown',
      ...bobs.map((u) => u.displayName),
      'Carl Brown',
      'Dora',
      'Yann Le Smith',
      'zed',
      'Zoë Z',
    ]);
    expect(page.users.slice(4, 6).map((u) => u.id)).toEqual(bobs.map((u) => u.id));
  });

  it('returns users with their licenses, and the text search never matches the internal id', async () => {
    const page = await t.directory.listUsers(CID, { search: 'aaron' });
    expect(page.users).toEqual([expect.objectContaining({ displayName: 'Aaron Smithers', licenses: ['O365_E3', 'SPE_E5'], role: 'global-admin' })]);
    const idPart = page.users[0].id.slice(0, 8).toLowerCase();
    const expected = reference(everyone, { search: idPart });
    expect((await t.directory.listUsers(CID, { search: idPart })).total).toBe(expected.length);
  });

  it('a page past the end is empty with the right total; page size is capped at 100', async () => {
    expect(await t.directory.listUsers(CID, { page: 9, pageSize: 5 })).toEqual({ users: [], total: 11, page: 9, pageSize: 5, pageCount: 3 });
    expect((await t.directory.listUsers(CID, { pageSize: 1000 })).pageSize).toBe(100);
    expect((await t.directory.listUsers(CID, { page: 0 })).page).toBe(1);
  });

  it('follows changes: assigning, unassigning, deleting and restoring move users between the lists', async () => {
    const dora = everyone.find((u) => u.username === 'dora') as CustomerUser;
    const upnsOf = async (q: ListUsersQuery) => (await t.directory.listUsers(CID, { ...q, pageSize: 100 })).users.map((u) => u.username);
    await t.directory.changeLicenses(CID, [{ userId: dora.id }], { remove: ['O365_E3'], add: ['VISIO_P2'] }, { actor: t.actor });
    expect(await upnsOf({ filter: { kind: 'license', skuId: 'VISIO_P2' } })).toEqual(['dora']);
    expect(await upnsOf({ filter: { kind: 'license', skuId: 'O365_E3' } })).not.toContain('dora');
    await t.directory.changeLicenses(CID, [{ userId: dora.id }], { remove: ['VISIO_P2'] }, { actor: t.actor });
    expect(await upnsOf({ filter: { kind: 'unlicensed' } })).toContain('dora');
    expect(await upnsOf({ filter: { kind: 'licensed' } })).not.toContain('dora');
    await t.directory.deleteUsers(CID, [{ userId: dora.id }], { actor: t.actor });
    expect(await upnsOf({})).not.toContain('dora');
    expect(await upnsOf({ filter: { kind: 'unlicensed' } })).not.toContain('dora');
    await t.directory.restoreUsers(CID, [{ userId: dora.id }], { actor: t.actor });
    expect(await upnsOf({ filter: { kind: 'unlicensed' } })).toContain('dora');
    expect(await t.directory.getCounts(CID)).toEqual({ active: 11, unlicensed: 4, deleted: 2 });
  });
});

// MONITOR watches one server: on a cluster the commands spread over three masters, so the cost of a page is
// measured in the single-server run only (the listing results themselves are checked on the cluster above).
const describeMonitored = onCluster() ? describe.skip : describe;

describeMonitored('listing a customer with 2,000 users', () => {
  let t: TestDirectory;
  let log: Awaited<ReturnType<typeof commandLog>>;
  const N = 2000;
  const pageSize = 25;
  let perUser = 0;

  beforeAll(async () => {
    t = await createTestDirectory({ passwords: 'deterministic' });
    const users: SeedUser[] = [];
    for (let i = 0; i < N; i++) {
      const n = String(i).padStart(4, '0');
      users.push({
        username: `user${n}`,
        displayName: `${i % 3 ? 'Member' : 'member'} ${n} ${'x'.repeat(40)}`,
        firstName: 'F'.repeat(30),
        lastName: 'L'.repeat(30),
        licenses: i % 5 < 2 ? [] : ['O365_E3'], // 800 unlicensed
        role: i % 100 === 0 ? 'user-admin' : 'user',
      });
    }
    await t.seed({ id: CID, subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: N }], users });
    log = await commandLog(t);
    // What one user costs to read: the unit for "only the page was transferred".
    const [sample] = (await t.directory.listUsers(CID, { pageSize: 1 })).users;
    perUser = (await log.measure(() => t.directory.getUser(CID, sample.id))).bytesRead;
  }, 120_000);

  afterAll(async () => {
    log?.stop();
    await t.cleanup();
  });

  it('reads an --unlicensed page with a bounded number of commands and transfers only the page', async () => {
    // Warm-up (loads the script if this server has not seen it yet).
    await t.directory.listUsers(CID, { filter: { kind: 'unlicensed' } });

    const m = await log.measure(() => t.directory.listUsers(CID, { filter: { kind: 'unlicensed' }, page: 7, pageSize }));
    expect(m.result.total).toBe(800);
    expect(m.result.users).toHaveLength(pageSize);
    expect(m.result.users.every((u) => u.licenses.length === 0)).toBe(true);
    const names = m.result.users.map((u) => u.displayName.toLowerCase());
    expect([...names].sort()).toEqual(names);

    // One script call plus one HMGET per user shown, nothing else.
    expect(countOf(m.client, 'hmget')).toBe(pageSize);
    expect(countOf(m.client, 'evalsha')).toBe(1);
    expect(m.client).toHaveLength(pageSize + 1);
    expect(m.client.filter((c) => c.name === 'hmget').map((c) => c.args[0])).toEqual(m.result.users.map((u) => t.keys.user(CID, u.id)));
    // On the server: the counter (read with the customer version, in one HMGET) and one range of the index, not a walk
    // over 800 users.
    expect(m.lua.map((c) => c.name).sort()).toEqual(['hmget', 'zrangebylex']);
    // Bytes: about the page's users, far from the 800 unlicensed users.
    expect(perUser).toBeGreaterThan(200);
    expect(m.bytesRead).toBeLessThan(pageSize * perUser * 1.5);
    expect(m.bytesRead).toBeGreaterThan(pageSize * perUser * 0.7);
  });

  it('a searched page walks the index on the server but still ships only the page', async () => {
    const m = await log.measure(() => t.directory.listUsers(CID, { search: 'member 1', role: 'user', page: 2, pageSize }));
    expect(m.result.total).toBeGreaterThan(pageSize * 2);
    expect(m.result.users).toHaveLength(pageSize);
    expect(m.result.users.every((u) => u.displayName.toLowerCase().startsWith('member 1') && u.role === 'user')).toBe(true);
    expect(countOf(m.client, 'hmget')).toBe(pageSize);
    expect(m.client).toHaveLength(pageSize + 1);
    expect(m.bytesRead).toBeLessThan(pageSize * perUser * 1.5);
  });
});

describe('every user of a view, for one change (Manage licenses for all users in a view)', () => {
  let t: TestDirectory;
  const N = 260;

  beforeAll(async () => {
    t = await createTestDirectory({ passwords: 'deterministic' });
    const users: SeedUser[] = Array.from({ length: N }, (_, i) => ({
      username: `u${String(i).padStart(3, '0')}`,
      displayName: `${i % 2 ? 'Member' : 'member'} ${N - i}`,
      licenses: i % 4 === 0 ? ['O365_E3'] : [], // 195 unlicensed
    }));
    await t.seed({ id: CID, subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: N }], users });
  });
  afterAll(async () => t.cleanup());

  it('reads every page of the view, in the listing’s order', async () => {
    const all = await t.directory.listAllUsers(CID, { filter: { kind: 'unlicensed' } });
    expect(all).toHaveLength(195);
    const pages: CustomerUser[] = [];
    for (let page = 1; page <= 10; page++) pages.push(...(await t.directory.listUsers(CID, { filter: { kind: 'unlicensed' }, page, pageSize: 20 })).users);
    expect(all.map((u) => u.id)).toEqual(pages.map((u) => u.id));
    expect(await t.directory.listAllUsers(CID, { search: 'member 25' })).toHaveLength(1 + 10); // 25 and 250–259
  });

  it('refuses a view longer than the limit, saying how long it is', async () => {
    await expect(t.directory.listAllUsers(CID, {}, 259)).rejects.toMatchObject({ code: 'TOO_MANY_USERS', params: { given: N, max: 259 } });
    expect(await t.directory.listAllUsers(CID, {}, N)).toHaveLength(N);
  });

  it('keeps a selection with the versions it was drawn at, for a day; an unknown one reads as expired', async () => {
    const users = await t.directory.listAllUsers(CID, { filter: { kind: 'license', skuId: 'O365_E3' } });
    const id = await t.directory.saveSelection(CID, users);
    expect(await t.directory.readSelection(CID, id)).toEqual(Object.fromEntries(users.map((u) => [u.id, u.version])));
    const ttl = await t.redis.pttl(t.keys.selection(CID, id));
    expect(ttl).toBeGreaterThan(DAY_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(DAY_MS);
    expect(await t.directory.readSelection(CID, 'a2b4c6d8-0000-4000-8000-000000000000')).toBeNull();
    await expect(t.directory.saveSelection(CID, [])).rejects.toMatchObject({ code: 'INVALID_FIELD' });
  });
});

describe('a page already read is served again only while the customer is unchanged', () => {
  let t: TestDirectory;
  let other: DirectoryService;
  let otherRedis: RedisClient;
  beforeAll(async () => {
    t = await createTestDirectory();
    await t.seed({
      id: CID,
      users: [
        { username: 'alice', displayName: 'Alice', licenses: ['O365_E3'] },
        { username: 'bob', displayName: 'Bob' },
        { username: 'carol', displayName: 'Carol', role: 'global-admin' },
      ],
    });
    // Another bot instance: its own connection and service over the same store.
    otherRedis = connectTestRedis();
    other = new DirectoryService({ redis: otherRedis, keys: t.keys, clock: t.clock });
  });
  afterAll(async () => {
    otherRedis.disconnect();
    await t.cleanup();
  });

  /** The subscriptions as a new instance reads them from Redis. */
  const fresh = () => new DirectoryService({ redis: otherRedis, keys: t.keys, clock: t.clock }).getSubscriptionsAndCounts(CID);

  // MONITOR watches one server: on the cluster run the command count is skipped, as for the listing above.
  (onCluster() ? it.skip : it)('the same page again is one script call that answers "unchanged"; the users are equal copies', async () => {
    const first = await t.directory.listUsers(CID);
    const [subscriptions] = [await t.directory.getSubscriptionsAndCounts(CID)];
    const log = await commandLog(t);
    try {
      const again = await log.measure(() => t.directory.listUsers(CID));
      expect(again.result).toEqual(first);
      expect(again.result.users[0]).not.toBe(first.users[0]);
      expect(again.client.map((c) => c.name)).toEqual(['evalsha']);
      const subs = await log.measure(() => t.directory.getSubscriptionsAndCounts(CID));
      expect(subs.result).toEqual(subscriptions);
      expect(subs.client.map((c) => c.name)).toEqual(['hget']);
    } finally {
      log.stop();
    }
  });

  (onCluster() ? it.skip : it)('a page and the subscriptions read side by side (the users card) are one script call, and still show another instance\'s change', async () => {
    const side = () => Promise.all([t.directory.listUsers(CID), t.directory.getSubscriptionsAndCounts(CID)]);
    await side();
    const log = await commandLog(t);
    try {
      const again = await log.measure(side);
      expect(again.client.map((c) => c.name)).toEqual(['evalsha']);
      const bob = again.result[0].users.find((u) => u.username === 'bob') as CustomerUser;
      await other.changeLicenses(CID, [{ userId: bob.id }], { add: ['O365_E3'] }, { actor: t.actor });
      const [page, subs] = (await log.measure(side)).result;
      expect(page.users.find((u) => u.id === bob.id)?.licenses).toEqual(['O365_E3']);
      expect(subs).toEqual(await other.getSubscriptionsAndCounts(CID));
      await other.changeLicenses(CID, [{ userId: bob.id }], { remove: ['O365_E3'] }, { actor: t.actor });
      // Read on their own, the subscriptions check the version with a command of their own.
      expect((await t.directory.getSubscriptionsAndCounts(CID)).counts.unlicensed).toBe(subs.counts.unlicensed + 1);
    } finally {
      log.stop();
    }
  });

  (onCluster() ? it.skip : it)('the customer read beside its page (the users card from a button) comes from the same script call until a provisioning changes it', async () => {
    const card = () => Promise.all([t.directory.listUsers(CID), t.directory.getSubscriptionsAndCounts(CID), t.directory.getCustomer(CID)]);
    const first = await card();
    const customerKey = t.keys.customerKey(CID, 'customer');
    const log = await commandLog(t);
    try {
      const again = await log.measure(card);
      expect(again.client.map((c) => c.name)).toEqual(['evalsha']);
      expect(again.result[2]).toEqual(first[2]);
      expect(again.result[2]).not.toBe(first[2]);
      // This instance's change leaves the customer as it was: still not read again.
      const bob = again.result[0].users.find((u) => u.username === 'bob') as CustomerUser;
      await t.directory.changeLicenses(CID, [{ userId: bob.id }], { add: ['O365_E3'] }, { actor: t.actor });
      const afterOwn = await log.measure(card);
      expect(afterOwn.result[0].users.find((u) => u.id === bob.id)?.licenses).toEqual(['O365_E3']);
      expect(afterOwn.client.filter((c) => c.args[0] === customerKey)).toEqual([]);
      // Another instance renames the customer: the next card shows the new name.
      const { subscriptions } = await other.getSubscriptionsAndCounts(CID);
      const def = { id: CID, domains: first[2].domains, subscriptions: subscriptions.map((s) => ({ skuId: s.skuId, name: s.name, seats: s.totalSeats })) };
      await other.upsertCustomer({ ...def, name: 'Contoso Renamed' }, t.actor);
      const renamed = await log.measure(card);
      expect(renamed.result[2].name).toBe('Contoso Renamed');
      expect(renamed.client.filter((c) => c.args[0] === customerKey).map((c) => c.name)).toContain('hgetall');
      // Asked for alone (a change's card, an import), the customer is read as it always was: one command.
      const alone = await log.measure(() => t.directory.getCustomer(CID));
      expect(alone.result.name).toBe('Contoso Renamed');
      expect(alone.client.map((c) => c.name)).toEqual(['hgetall']);
      await other.upsertCustomer({ ...def, name: first[2].name }, t.actor);
      expect((await card())[2]).toEqual(first[2]);
      await t.directory.changeLicenses(CID, [{ userId: bob.id }], { remove: ['O365_E3'] }, { actor: t.actor });
    } finally {
      log.stop();
    }
  });

  // The subscriptions this instance keeps follow its own changes from the counters the change script returns.
  (onCluster() ? it.skip : it)('after this instance\'s change the seat counts are exact without reading the counters again; after another\'s, or a provisioning, they are read', async () => {
    const users = (await t.directory.listUsers(CID)).users;
    const bob = users.find((u) => u.username === 'bob') as CustomerUser;
    const carol = users.find((u) => u.username === 'carol') as CustomerUser;
    await t.directory.getSubscriptionsAndCounts(CID);
    const log = await commandLog(t);
    try {
      await t.directory.changeLicenses(CID, [{ userId: bob.id, expectedVersion: bob.version }], { add: ['O365_E3'] }, { actor: t.actor });
      const own = await log.measure(() => t.directory.getSubscriptionsAndCounts(CID));
      expect(own.result).toEqual(await fresh());
      expect(own.result.counts.unlicensed).toBe(users.filter((u) => !u.licenses.length).length - 1);
      expect(own.client.map((c) => c.name)).toEqual(['hget']);
      await t.directory.deleteUsers(CID, [{ userId: carol.id, expectedVersion: carol.version }], { actor: t.actor });
      expect(await t.directory.getSubscriptionsAndCounts(CID)).toEqual(await fresh());
      // Another instance changes first: this instance's next change cannot bring its kept counts up to date.
      await other.changeLicenses(CID, [{ userId: bob.id }], { remove: ['O365_E3'] }, { actor: t.actor });
      await t.directory.restoreUsers(CID, [{ userId: carol.id }], { actor: t.actor });
      const afterOther = await log.measure(() => t.directory.getSubscriptionsAndCounts(CID));
      expect(afterOther.result).toEqual(await fresh());
      expect(afterOther.client.map((c) => c.name)).toContain('hgetall');
      // Provisioning changes seats: read again, never taken from the kept ones.
      const e3 = afterOther.result.subscriptions.find((s) => s.skuId === 'O365_E3') as { totalSeats: number };
      const customer = await t.directory.getCustomer(CID);
      const subscriptions = afterOther.result.subscriptions.map((s) => ({ skuId: s.skuId, name: s.name, seats: s.skuId === 'O365_E3' ? e3.totalSeats + 5 : s.totalSeats }));
      await t.directory.upsertCustomer({ id: CID, name: customer.name, domains: customer.domains, subscriptions }, t.actor);
      const provisioned = await t.directory.getSubscriptionsAndCounts(CID);
      expect(provisioned.subscriptions.find((s) => s.skuId === 'O365_E3')?.totalSeats).toBe(e3.totalSeats + 5);
      expect(provisioned).toEqual(await fresh());
    } finally {
      log.stop();
    }
  });

  (onCluster() ? it.skip : it)('changes in flight together, each followed by a read of the subscriptions (Save on many cards at once), keep them exact and read the counters once', async () => {
    const users = (await t.directory.listUsers(CID)).users.filter((u) => u.state === 'active');
    await t.directory.getSubscriptionsAndCounts(CID);
    const log = await commandLog(t);
    try {
      const saves = await log.measure(() =>
        Promise.all(
          users.flatMap((u) => [0, 1, 2, 3].map(() => u)).map(async (u, i) => {
            // Sent in this order: each user gains E5, loses it, gains it and loses it again.
            await t.directory.changeLicenses(CID, [{ userId: u.id }], i % 2 === 0 ? { add: ['SPE_E5'] } : { remove: ['SPE_E5'] }, { actor: t.actor });
            return t.directory.getSubscriptionsAndCounts(CID);
          }),
        ),
      );
      expect(saves.result[saves.result.length - 1]).toEqual(await fresh());
      // Every save's counters reach the kept subscriptions in the order Redis answered: none reads them again.
      expect(saves.client.filter((c) => c.name === 'hgetall')).toEqual([]);
    } finally {
      log.stop();
    }
  });

  it('a change made by another instance (or this one) shows on the next read: every change moves the customer version', async () => {
    const bob = (await t.directory.listUsers(CID)).users.find((u) => u.username === 'bob') as CustomerUser;
    await t.directory.getSubscriptionsAndCounts(CID);
    await other.changeLicenses(CID, [{ userId: bob.id, expectedVersion: bob.version }], { add: ['O365_E3'] }, { actor: t.actor });
    const after = (await t.directory.listUsers(CID)).users.find((u) => u.id === bob.id) as CustomerUser;
    expect(after).toMatchObject({ licenses: ['O365_E3'], version: bob.version + 1 });
    expect((await t.directory.getSubscriptionsAndCounts(CID)).subscriptions.find((s) => s.skuId === 'O365_E3')?.assignedSeats).toBe(2);
    // Reset password changes only the user's version (which cards carry to refuse stale submits): it shows too.
    await other.resetPassword(CID, { userId: bob.id }, { actor: t.actor });
    expect((await t.directory.listUsers(CID)).users.find((u) => u.id === bob.id)?.version).toBe(bob.version + 2);
    await other.deleteUsers(CID, [{ userId: bob.id }], { actor: t.actor });
    expect((await t.directory.listUsers(CID)).users.map((u) => u.username)).toEqual(['alice', 'carol']);
    expect((await t.directory.getSubscriptionsAndCounts(CID)).counts).toMatchObject({ active: 2, deleted: 1 });
    expect((await t.directory.listUsers(CID, { role: 'user' })).users.map((u) => u.username)).toEqual(['alice']);
    expect((await t.directory.listUsers(CID, { role: 'global-admin' })).users.map((u) => u.username)).toEqual(['carol']);
  });
});
