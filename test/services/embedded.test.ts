/**
 * The embedded store (ioredis-mock, Lua through fengari) runs the same scripts: a short story from
 * provisioning to purge, with the rules that matter most checked on the way.
 */
import { parse } from 'csv-parse/sync';
import { CredentialVault } from '../../services/credentials';
import { DAY_MS, OPERATION_TTL_MS } from '../../services/directory';
import { ImportService } from '../../services/import/importer';
import { PASSWORD_LENGTH } from '../../services/passwords';
import { isEmbedded } from '../../services/store/redis';
import { partnerCenterCsv } from '../support/importCsv';
import { createTestDirectory, directoryErrorOf, dumpValues, TestDirectory } from '../support/testDirectory';

const CID = 'contoso';
let t: TestDirectory;

beforeAll(async () => {
  t = await createTestDirectory({ embedded: true, passwords: 'real' });
});

afterAll(async () => {
  await t.cleanup();
});

it('runs on the embedded store', () => {
  expect(isEmbedded(t.redis)).toBe(true);
});

it('provision, create with licenses, list, assign, delete, restore, purge', async () => {
  const actor = t.actor;
  const c = await t.seed({
    id: CID,
    subscriptions: [
      { skuId: 'O365_E3', name: 'Office 365 E3', seats: 3 },
      { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 1 },
    ],
    users: [{ username: 'alice', displayName: 'Alice Smith', licenses: ['O365_E3'] }],
  });
  expect(await t.directory.upsertCustomer({ id: CID, name: 'Contoso Ltd', domains: c.customer.domains, subscriptions: [
    { skuId: 'O365_E3', name: 'Office 365 E3', seats: 3 },
    { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 1 },
  ] }, actor)).toEqual({ changed: 0 });

  // Create with two licenses; the temporary password is hashed, never stored.
  const bob = await t.directory.createUser(
    CID,
    { username: 'Bob', displayName: 'bob Jones', usageLocation: 'gb', licenses: ['SPE_E5', 'O365_E3'] },
    { actor, operationId: 'op-1' },
  );
  expect(bob.user).toMatchObject({ userPrincipalName: 'Bob@contoso.onmicrosoft.com', licenses: ['O365_E3', 'SPE_E5'], version: 1, state: 'active', usageLocation: 'GB' });
  expect(bob.user.createdAt).toBe(t.clock.now());
  expect(await t.directory.verifyUserPassword(CID, bob.user.id, bob.temporaryPassword)).toBe(true);
  expect([...(await dumpValues(t)).values()].flat().join('\n')).not.toContain(bob.temporaryPassword);
  const replay = await t.directory.createUser(CID, { username: 'Bob', displayName: 'bob Jones', usageLocation: 'GB' }, { actor, operationId: 'op-1' });
  expect(replay).toMatchObject({ replayed: true, user: { id: bob.user.id } });

  // All or nothing: no E5 seat left.
  const noSeat = await directoryErrorOf(
    t.directory.createUser(CID, { username: 'carol', displayName: 'Carol', usageLocation: 'US', licenses: ['O365_E3', 'SPE_E5'] }, { actor }),
  );
  expect([noSeat.code, noSeat.params.license, noSeat.params.seatsLeft]).toEqual(['NO_SEATS', 'SPE_E5', 0]);
  const taken = await directoryErrorOf(t.directory.createUser(CID, { username: 'BOB', displayName: 'B', usageLocation: 'US' }, { actor }));
  expect(taken.code).toBe('UPN_TAKEN');
  const carol = await t.directory.createUser(CID, { username: 'carol', displayName: 'Carol', usageLocation: 'US' }, { actor });

  // List: sorted by display name without regard to case, filters and search.
  const all = await t.directory.listUsers(CID);
  expect(all.users.map((u) => u.displayName)).toEqual(['Alice Smith', 'bob Jones', 'Carol']);
  expect(all.total).toBe(3);
  expect((await t.directory.listUsers(CID, { filter: { kind: 'unlicensed' } })).users.map((u) => u.username)).toEqual(['carol']);
  expect((await t.directory.listUsers(CID, { filter: { kind: 'licensed' } })).total).toBe(2);
  expect((await t.directory.listUsers(CID, { filter: { kind: 'license', skuId: 'SPE_E5' } })).users.map((u) => u.username)).toEqual(['Bob']);
  expect((await t.directory.listUsers(CID, { search: 'JONES' })).users.map((u) => u.username)).toEqual(['Bob']);
  // UPNs are searched in the UPN lookup (HSCAN MATCH in the embedded Lua too), glob characters literally.
  expect((await t.directory.listUsers(CID, { search: 'carol@' })).users.map((u) => u.username)).toEqual(['carol']);
  expect((await t.directory.listUsers(CID, { search: 'c*' })).total).toBe(0);
  expect((await t.directory.listUsers(CID, { pageSize: 2, page: 2 })).users.map((u) => u.username)).toEqual(['carol']);

  // Assign: the last E3 seat, then none left.
  const [assigned] = await t.directory.changeLicenses(CID, [{ userId: carol.user.id, expectedVersion: 1 }], { add: ['O365_E3'] }, { actor });
  expect(assigned).toEqual({ userId: carol.user.id, changed: true, added: ['O365_E3'], removed: [], version: 2, displayName: 'Carol', userPrincipalName: 'carol@contoso.onmicrosoft.com' });
  const stale = await directoryErrorOf(t.directory.changeLicenses(CID, [{ userId: carol.user.id, expectedVersion: 1 }], { remove: ['O365_E3'] }, { actor }));
  expect(stale.code).toBe('STALE');
  expect((await t.directory.getSubscriptions(CID)).map((s) => [s.skuId, s.assignedSeats, s.availableSeats])).toEqual([
    ['O365_E3', 3, 0],
    ['SPE_E5', 1, 0],
  ]);

  // Reset password.
  const reset = await t.directory.resetPassword(CID, { userId: bob.user.id }, { actor });
  expect(await t.directory.verifyUserPassword(CID, bob.user.id, bob.temporaryPassword)).toBe(false);
  expect(await t.directory.verifyUserPassword(CID, bob.user.id, reset.temporaryPassword)).toBe(true);

  // Delete frees the seats; the E5 seat is taken meanwhile; restore on day 29 names it.
  await t.directory.deleteUsers(CID, [{ userId: bob.user.id }, { userId: c.user('alice').id }], { actor });
  expect(await t.directory.getCounts(CID)).toEqual({ active: 1, unlicensed: 0, deleted: 2 });
  expect((await t.directory.listDeletedUsers(CID)).map((u) => u.daysLeft)).toEqual([30, 30]);
  await t.directory.changeLicenses(CID, [{ userId: carol.user.id }], { add: ['SPE_E5'] }, { actor });
  t.clock.advance(29 * DAY_MS);
  const [restored] = await t.directory.restoreUsers(CID, [{ userId: bob.user.id }], { actor });
  expect(restored).toEqual({ userId: bob.user.id, ok: true, userPrincipalName: 'Bob@contoso.onmicrosoft.com', restoredLicenses: ['O365_E3'], notRestoredLicenses: ['SPE_E5'] });
  expect(await t.directory.getUser(CID, bob.user.id)).toMatchObject({ state: 'active', licenses: ['O365_E3'], version: 4 });

  // Day 31: alice cannot be restored any more, and is purged once.
  t.clock.advance(2 * DAY_MS);
  const [late] = await t.directory.restoreUsers(CID, [{ userId: c.user('alice').id }], { actor });
  expect(late).toMatchObject({ ok: false, error: 'RESTORE_WINDOW_OVER' });
  const purged = await Promise.all([t.directory.purgeExpired(CID), t.directory.purgeExpired()]);
  expect(purged[0] + purged[1]).toBe(1);
  expect(await t.directory.getCounts(CID)).toEqual({ active: 2, unlicensed: 0, deleted: 0 });
  expect((await t.scanKeys()).filter((k) => k.includes(c.user('alice').id))).toEqual([]);

  // The audit saw every change, newest first.
  const log = await t.directory.audit(CID, 1, 4);
  expect(log.entries.map((e) => [e.action, e.result])).toEqual([
    ['purge', 'ok'],
    ['restore-users', 'ok'],
    ['restore-users', 'ok'],
    ['change-licenses', 'ok'],
  ]);
  expect(log.entries[0].actorId).toBe('system');
  expect(log.entries[1]).toMatchObject({ actorId: actor.id, actorName: actor.name });
});

it('a CSV import across two windows of rows, stopped and resumed: every row once, the results file in parts', async () => {
  const t2 = await createTestDirectory({ embedded: true });
  try {
    await t2.seed({ id: CID, subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 2000 }] });
    const vault = new CredentialVault(t2.redis, t2.keys, t2.clock);
    const importer = new ImportService(t2.directory, vault);
    // 1,010 rows: two windows; the last row repeats the first one's email.
    const p = await importer.preview(CID, partnerCenterCsv(1010, { username: (i) => (i === 1009 ? 'user0' : `user${i}`) }), 'users.csv', t2.actor);
    if (!p.ok) throw new Error(JSON.stringify(p.problem));
    expect((await importer.start(CID, p.preview.jobId, t2.actor, { mode: 'validRows', usageLocation: 'US', licenses: ['O365_E3'] })).started).toBe(true);
    let recorded = 0;
    const crash = () => {
      if (++recorded === 200) throw new Error('simulated crash');
    };
    await expect(importer.run(CID, p.preview.jobId, { afterRow: crash })).rejects.toThrow('simulated crash');
    const result = await importer.run(CID, p.preview.jobId);
    expect(result).toMatchObject({ state: 'done', created: 1009, failed: 1, passwordsRenewed: 200 });
    const download = await vault.redeemDownload(result!.downloadToken);
    if (!download.ok) throw new Error('results download is gone');
    const [, ...rows] = parse(download.content, { bom: true }) as string[][];
    expect(rows).toHaveLength(1010);
    expect(rows[1009].slice(3)).toEqual(['user0@contoso.com', 'Not created: DUPLICATE_IN_FILE user0@contoso.com 2', '']);
    expect(rows.slice(0, 1009).every((r, i) => r[4] === `Created user${i}@contoso.com` && r[5].length === PASSWORD_LENGTH)).toBe(true);
  } finally {
    await t2.cleanup();
  }
});

it('operation records: a replay 47 h later across a generation boundary, a record of the previous version, buckets that expire', async () => {
  const t3 = await createTestDirectory({ embedded: true });
  try {
    const c = await t3.seed({ id: CID, users: [{ username: 'alice', licenses: ['O365_E3'] }] });
    const alice = c.user('alice');
    const assign = (operationId: string) => t3.directory.changeLicenses(CID, [{ userId: alice.id }], { add: ['SPE_E5'] }, { actor: t3.actor, operationId });
    // An hour before the next generation of records starts.
    t3.clock.set((Math.floor(t3.clock.now() / OPERATION_TTL_MS) + 1) * OPERATION_TTL_MS - 3600_000);
    const first = await assign('op-gen');
    const { current } = t3.keys.operationRecords(CID, 'op-gen', t3.clock.now());
    const ttl = await t3.redis.pttl(current);
    expect(ttl).toBeGreaterThan(47 * 3600_000);
    expect(ttl).toBeLessThanOrEqual(49 * 3600_000);
    t3.clock.advance(47 * 3600_000);
    expect(await assign('op-gen')).toEqual(first);
    expect((await t3.directory.getUser(CID, alice.id)).version).toBe(2);
    // The same record as the previous version kept it.
    await t3.redis.set(t3.keys.operation(CID, 'op-old'), String(await t3.redis.hget(current, 'op-gen')), 'PX', OPERATION_TTL_MS);
    expect(await assign('op-old')).toEqual(first);
    expect((await t3.directory.getUser(CID, alice.id)).version).toBe(2);
  } finally {
    await t3.cleanup();
  }
});
