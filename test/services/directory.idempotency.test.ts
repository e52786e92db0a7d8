/**
 * Operation ids (SPEC §3): the same operation delivered again — later, or ten times at once — has one
 * effect and returns the first result.
 */
import { DAY_MS, OPERATION_TTL_MS } from '../../services/directory';
import { createTestDirectory, SeededCustomer, TestDirectory } from '../support/testDirectory';

const CID = 'contoso';
let t: TestDirectory;
let c: SeededCustomer;

beforeEach(async () => {
  t = await createTestDirectory({ passwords: 'deterministic' });
  c = await t.seed({
    id: CID,
    users: [
      { username: 'alice', displayName: 'Alice', licenses: ['O365_E3'] },
      { username: 'bob', displayName: 'Bob', licenses: ['SPE_E5'] },
    ],
  });
});

afterEach(async () => {
  await t.cleanup();
});

/** Everything a user could notice: users, seats, counts, audit. */
async function snapshot() {
  const ids = (await t.directory.listUsers(CID, { pageSize: 100 })).users.map((u) => u.id);
  const deleted = (await t.directory.listDeletedUsers(CID)).map((u) => u.id);
  return {
    users: await t.directory.readUsers(CID, [...ids, ...deleted].sort()),
    subscriptions: await t.directory.getSubscriptions(CID),
    counts: await t.directory.getCounts(CID),
    audit: await t.directory.audit(CID, 1, 1000),
  };
}

const op = (operationId: string) => ({ actor: t.actor, operationId });
const newUser = { username: 'dave', displayName: 'Dave', usageLocation: 'US', licenses: ['O365_E3'] };

describe('the same operation id again returns the first result and changes nothing', () => {
  it('createUser', async () => {
    const first = await t.directory.createUser(CID, newUser, op('op-create'));
    expect(first.replayed).toBe(false);
    expect(first.temporaryPassword).not.toBe('');
    const before = await snapshot();
    const again = await t.directory.createUser(CID, newUser, op('op-create'));
    expect(again).toMatchObject({ replayed: true, temporaryPassword: '' });
    expect(again.user).toEqual(first.user);
    expect(await snapshot()).toEqual(before);
    // The password shown the first time is still the one that works.
    expect(await t.directory.verifyUserPassword(CID, first.user.id, first.temporaryPassword)).toBe(true);
  });

  it('changeLicenses (assign), even after the state moved on', async () => {
    const alice = c.user('alice');
    const first = await t.directory.changeLicenses(CID, [{ userId: alice.id }], { add: ['SPE_E5'] }, op('op-assign'));
    expect(first).toEqual([{ userId: alice.id, changed: true, added: ['SPE_E5'], removed: [], version: 2, displayName: 'Alice', userPrincipalName: 'alice@contoso.onmicrosoft.com' }]);
    await t.directory.changeLicenses(CID, [{ userId: alice.id }], { remove: ['SPE_E5'] }, op('op-unassign'));
    const before = await snapshot();
    const again = await t.directory.changeLicenses(CID, [{ userId: alice.id }], { add: ['SPE_E5'] }, op('op-assign'));
    expect(again).toEqual(first);
    expect(await snapshot()).toEqual(before);
    expect((await t.directory.getUser(CID, alice.id)).licenses).toEqual(['O365_E3']);
  });

  it('deleteUsers, even after the user was restored', async () => {
    const bob = c.user('bob');
    const first = await t.directory.deleteUsers(CID, [{ userId: bob.id }], op('op-delete'));
    await t.directory.restoreUsers(CID, [{ userId: bob.id }], op('op-restore'));
    const before = await snapshot();
    expect(await t.directory.deleteUsers(CID, [{ userId: bob.id }], op('op-delete'))).toEqual(first);
    expect(await snapshot()).toEqual(before);
    expect((await t.directory.getUser(CID, bob.id)).state).toBe('active');
  });

  it('restoreUsers', async () => {
    const bob = c.user('bob');
    await t.directory.deleteUsers(CID, [{ userId: bob.id }], op('op-delete'));
    const first = await t.directory.restoreUsers(CID, [{ userId: bob.id }, { userId: 'ghost' }], op('op-restore'));
    expect(first.map((o) => o.ok)).toEqual([true, false]);
    const before = await snapshot();
    expect(await t.directory.restoreUsers(CID, [{ userId: bob.id }, { userId: 'ghost' }], op('op-restore'))).toEqual(first);
    expect(await snapshot()).toEqual(before);
  });

  it('resetPassword: the first password keeps working', async () => {
    const alice = c.user('alice');
    const first = await t.directory.resetPassword(CID, { userId: alice.id }, op('op-reset'));
    expect(first.replayed).toBe(false);
    const before = await snapshot();
    const again = await t.directory.resetPassword(CID, { userId: alice.id }, op('op-reset'));
    expect(again).toMatchObject({ replayed: true, temporaryPassword: '' });
    expect(again.user).toEqual(first.user);
    expect(await snapshot()).toEqual(before);
    expect(await t.directory.verifyUserPassword(CID, alice.id, first.temporaryPassword)).toBe(true);
  });

  it('a refused operation replays its refusal and audits it once', async () => {
    const alice = c.user('alice');
    const fail = () => t.directory.changeLicenses(CID, [{ userId: alice.id, expectedVersion: 7 }], { add: ['SPE_E5'] }, op('op-stale'));
    await expect(fail()).rejects.toMatchObject({ code: 'STALE' });
    const before = await snapshot();
    await expect(fail()).rejects.toMatchObject({ code: 'STALE' });
    expect(await snapshot()).toEqual(before);
  });

  it('a different operation id is a different operation', async () => {
    const alice = c.user('alice');
    await t.directory.resetPassword(CID, { userId: alice.id }, op('op-reset-1'));
    const second = await t.directory.resetPassword(CID, { userId: alice.id }, op('op-reset-2'));
    expect(second).toMatchObject({ replayed: false });
    expect(second.user.version).toBe(3);
  });
});

describe('sent 10 times at once, an operation applies once', () => {
  const tenTimes = <T>(fn: () => Promise<T>) => Promise.all(Array.from({ length: 10 }, fn));

  it('createUser: one user, one password, nine replays of the same id', async () => {
    const auditBefore = (await t.directory.audit(CID)).total;
    const results = await tenTimes(() => t.directory.createUser(CID, newUser, op('op-create-10')));
    expect(new Set(results.map((r) => r.user.id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(results.filter((r) => r.temporaryPassword !== '')).toHaveLength(1);
    expect((await t.directory.getCounts(CID)).active).toBe(3);
    expect((await t.directory.getSubscriptions(CID)).find((s) => s.skuId === 'O365_E3')?.assignedSeats).toBe(2);
    expect((await t.directory.audit(CID)).total).toBe(auditBefore + 1);
  });

  it('changeLicenses: one seat, one version step, identical results', async () => {
    const alice = c.user('alice');
    const results = await tenTimes(() => t.directory.changeLicenses(CID, [{ userId: alice.id }], { add: ['SPE_E5'] }, op('op-assign-10')));
    for (const r of results) expect(r).toEqual([{ userId: alice.id, changed: true, added: ['SPE_E5'], removed: [], version: 2, displayName: 'Alice', userPrincipalName: 'alice@contoso.onmicrosoft.com' }]);
    expect((await t.directory.getUser(CID, alice.id)).version).toBe(2);
    expect((await t.directory.getSubscriptions(CID)).find((s) => s.skuId === 'SPE_E5')?.assignedSeats).toBe(2);
    expect((await t.directory.audit(CID, 1, 2)).entries.map((e) => e.action)).toEqual(['change-licenses', 'create-user']);
  });

  it('deleteUsers and restoreUsers: one deletion, one restore', async () => {
    const bob = c.user('bob');
    const deletions = await tenTimes(() => t.directory.deleteUsers(CID, [{ userId: bob.id }], op('op-delete-10')));
    for (const d of deletions) expect(d).toEqual(deletions[0]);
    expect((await t.directory.getCounts(CID)).deleted).toBe(1);
    const restores = await tenTimes(() => t.directory.restoreUsers(CID, [{ userId: bob.id }], op('op-restore-10')));
    for (const r of restores) expect(r).toEqual([expect.objectContaining({ ok: true, restoredLicenses: ['SPE_E5'] })]);
    expect(await t.directory.getCounts(CID)).toEqual({ active: 2, unlicensed: 0, deleted: 0 });
    expect((await t.directory.getUser(CID, bob.id)).version).toBe(3);
    expect((await t.directory.audit(CID, 1, 3)).entries.map((e) => e.action)).toEqual(['restore-users', 'delete-users', 'create-user']);
  });

  it('resetPassword: one new password, and it is the one that works', async () => {
    const alice = c.user('alice');
    const results = await tenTimes(() => t.directory.resetPassword(CID, { userId: alice.id }, op('op-reset-10')));
    const fresh = results.filter((r) => !r.replayed);
    expect(fresh).toHaveLength(1);
    expect(results.filter((r) => r.temporaryPassword !== '')).toHaveLength(1);
    expect(await t.directory.verifyUserPassword(CID, alice.id, fresh[0].temporaryPassword)).toBe(true);
    expect((await t.directory.getUser(CID, alice.id)).version).toBe(2);
  });
});

describe('operation results are kept for at least 48 hours (48–96 h)', () => {
  const HOUR = 3600_000;
  const GENERATION = OPERATION_TTL_MS;
  const assign = (id: string) => t.directory.changeLicenses(CID, [{ userId: c.user('alice').id }], { add: ['SPE_E5'] }, op(id));
  /** Moves the clock to `offset` into the next generation of operation records. */
  const toGeneration = (offset: number) => t.clock.set((Math.floor(t.clock.now() / GENERATION) + 1) * GENERATION + offset);

  it('still replays after the fake clock moved 24 h, and the record’s bucket lives 48–96 h', async () => {
    const first = await assign('op-kept');
    const { current } = t.keys.operationRecords(CID, 'op-kept', t.clock.now());
    // The result as the script returned it: OK, one user, its id, changed, added, removed, version, display name, UPN.
    expect(await t.redis.hget(current, 'op-kept')).toBe(['OK', '1', c.user('alice').id, '1', 'SPE_E5', '', '2', 'Alice', 'alice@contoso.onmicrosoft.com'].join('\x1f'));
    const ttl = await t.redis.pttl(current);
    expect(ttl).toBeGreaterThan(48 * HOUR - 60_000);
    expect(ttl).toBeLessThanOrEqual(96 * HOUR);

    t.clock.advance(DAY_MS);
    const before = await snapshot();
    expect(await assign('op-kept')).toEqual(first);
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['1 h before a generation ends (found in the previous generation’s bucket)', GENERATION - HOUR],
    ['as a generation starts (found in the same bucket)', 0],
  ])('replays 47 h later when written %s', async (_when, offset) => {
    toGeneration(offset);
    const first = await assign('op-47h');
    t.clock.advance(47 * HOUR);
    const before = await snapshot();
    expect(await assign('op-47h')).toEqual(first);
    expect(await snapshot()).toEqual(before);
    expect((await t.directory.getUser(CID, c.user('alice').id)).version).toBe(2);
  });

  it('replays 48 h later at the latest moment a record can be written (the last millisecond of a generation)', async () => {
    toGeneration(GENERATION - 1);
    const first = await t.directory.resetPassword(CID, { userId: c.user('alice').id }, op('op-48h'));
    // What is left of its bucket's life covers the 48 h.
    expect(t.keys.operationRecords(CID, 'op-48h', t.clock.now()).ttlMs).toBe(GENERATION + 1);
    t.clock.advance(48 * HOUR);
    const again = await t.directory.resetPassword(CID, { userId: c.user('alice').id }, op('op-48h'));
    expect(again).toMatchObject({ replayed: true, user: first.user });
  });

  it('replays for a clock behind the writer’s, in the generation before (another instance, a clock that jumped back)', async () => {
    toGeneration(HOUR);
    const first = await assign('op-behind');
    t.clock.advance(-2 * HOUR);
    const before = await snapshot();
    expect(await assign('op-behind')).toEqual(first);
    expect(await snapshot()).toEqual(before);
  });

  it('a record older than 96 h is gone: the same id applies again', async () => {
    toGeneration(0);
    const alice = c.user('alice');
    await t.directory.resetPassword(CID, { userId: alice.id }, op('op-old'));
    t.clock.advance(96 * HOUR);
    const again = await t.directory.resetPassword(CID, { userId: alice.id }, op('op-old'));
    expect(again).toMatchObject({ replayed: false, user: { version: 3 } });
  });

  it('honours a record written by the previous version (a key of its own, `op:<id>`)', async () => {
    const first = await assign('op-legacy');
    // Moved to where the previous version kept it, with its 48 h.
    const { current, legacy } = t.keys.operationRecords(CID, 'op-legacy', t.clock.now());
    const stored = await t.redis.hget(current, 'op-legacy');
    await t.redis.hdel(current, 'op-legacy');
    await t.redis.set(legacy, stored ?? '', 'PX', OPERATION_TTL_MS);
    t.clock.advance(DAY_MS);
    const before = await snapshot();
    expect(await assign('op-legacy')).toEqual(first);
    expect(await snapshot()).toEqual(before);
    // A replay writes nothing: the record stays where it was.
    expect(await t.redis.hexists(t.keys.operationRecords(CID, 'op-legacy', t.clock.now()).current, 'op-legacy')).toBe(0);
  });

  it('a license change recorded before the names were (five values per user) replays as it was recorded', async () => {
    const first = await assign('op-five');
    expect(first.map((r) => [r.displayName, r.userPrincipalName])).toEqual([['Alice', 'alice@contoso.onmicrosoft.com']]);
    const { current } = t.keys.operationRecords(CID, 'op-five', t.clock.now());
    const stored = String(await t.redis.hget(current, 'op-five')).split('\x1f');
    await t.redis.hset(current, 'op-five', stored.slice(0, 7).join('\x1f'));
    const before = await snapshot();
    expect(await assign('op-five')).toEqual(first.map(({ displayName: _n, userPrincipalName: _u, ...r }) => r));
    expect(await snapshot()).toEqual(before);
  });

  it('every bucket of records has an expiry, none a key per record', async () => {
    await assign('op-a');
    await t.directory.deleteUsers(CID, [{ userId: c.user('bob').id }], op('op-b'));
    toGeneration(HOUR);
    await t.directory.restoreUsers(CID, [{ userId: c.user('bob').id }], op('op-c'));
    await t.directory.createUser(CID, newUser, { actor: t.actor }); // a drawn id
    const keys = await t.scanKeys();
    expect(keys.filter((k) => k.includes(':op:'))).toEqual([]);
    const buckets = keys.filter((k) => k.startsWith(t.keys.operationBucketPrefix(CID)));
    const fields = await Promise.all(buckets.map((k) => t.redis.hlen(k)));
    expect(fields.reduce((a, b) => a + b, 0)).toBe(4 + 2); // and the seed's two creates
    for (const k of buckets) {
      const ttl = await t.redis.pttl(k);
      expect([k, ttl > 0 && ttl <= 96 * HOUR]).toEqual([k, true]);
    }
  });

  it('an operation without an id to keep (purge) writes no record', async () => {
    const scan = async () => (await t.scanKeys()).filter((k) => k.startsWith(t.keys.operationBucketPrefix(CID)));
    const before = await scan();
    const fieldsBefore = await Promise.all(before.map((k) => t.redis.hlen(k)));
    await t.directory.deleteUsers(CID, [{ userId: c.user('bob').id }], op('op-del'));
    t.clock.advance(31 * DAY_MS);
    expect(await t.directory.purgeExpired(CID)).toBe(1);
    const after = await scan();
    const fieldsAfter = await Promise.all(after.map((k) => t.redis.hlen(k)));
    expect(fieldsAfter.reduce((a, b) => a + b, 0)).toBe(fieldsBefore.reduce((a, b) => a + b, 0) + 1);
  });
});
