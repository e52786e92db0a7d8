/**
 * Races: seats are never over-assigned, UPNs never duplicated, bulk changes all or nothing, purgers
 * running side by side purge each user once.
 */
import { DAY_MS, DirectoryService } from '../../services/directory';
import { DirectoryError } from '../../services/errors';
import { CustomerUser } from '../../services/types';
import { connectTestRedis, createTestDirectory, directoryErrorOf, SeedUser, TestDirectory } from '../support/testDirectory';

const CID = 'contoso';
let t: TestDirectory;

beforeEach(async () => {
  t = await createTestDirectory({ passwords: 'deterministic' });
});

afterEach(async () => {
  await t.cleanup();
});

const seedUsers = (prefix: string, n: number, extra: Partial<SeedUser> = {}): SeedUser[] =>
  Array.from({ length: n }, (_, i) => ({ username: `${prefix}${i}`, displayName: `${prefix} ${i}`, ...extra }));

async function subscription(skuId: string) {
  const s = (await t.directory.getSubscriptions(CID)).find((x) => x.skuId === skuId);
  if (!s) throw new Error(skuId);
  return s;
}

it('200 parallel assignments racing for 50 free seats: exactly 50 succeed, 150 NO_SEATS, counts true', async () => {
  const c = await t.seed({
    id: CID,
    subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 60 }],
    users: [...seedUsers('holder', 10, { licenses: ['O365_E3'] }), ...seedUsers('racer', 200)],
  });
  const racers = c.users.filter((u) => u.username.startsWith('racer'));
  expect((await subscription('O365_E3')).availableSeats).toBe(50);

  const results = await Promise.allSettled(
    racers.map((u) => t.directory.changeLicenses(CID, [{ userId: u.id }], { add: ['O365_E3'] }, { actor: t.actor })),
  );
  const ok = results.filter((r) => r.status === 'fulfilled');
  const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as DirectoryError] : []));
  expect(ok).toHaveLength(50);
  expect(refused).toHaveLength(150);
  for (const e of refused) {
    expect(e).toBeInstanceOf(DirectoryError);
    expect([e.code, e.params.license, e.params.seatsLeft]).toEqual(['NO_SEATS', 'O365_E3', 0]);
  }

  const everyUser = (await t.directory.readUsers(CID, c.users.map((u) => u.id))) as CustomerUser[];
  const holding = everyUser.filter((u) => u.licenses.includes('O365_E3'));
  expect(holding).toHaveLength(60);
  expect(await subscription('O365_E3')).toMatchObject({ totalSeats: 60, assignedSeats: holding.length, availableSeats: 0 });
  expect((await t.directory.listUsers(CID, { filter: { kind: 'license', skuId: 'O365_E3' } })).total).toBe(60);
  expect((await t.directory.listUsers(CID, { filter: { kind: 'unlicensed' }, pageSize: 100 })).total).toBe(150);
  // The winners are exactly the users the service said it changed.
  const winners = ok.flatMap((r) => (r.status === 'fulfilled' ? r.value.map((x) => x.userId) : []));
  expect(new Set(winners)).toEqual(new Set(holding.filter((u) => u.username.startsWith('racer')).map((u) => u.id)));
});

it('30 parallel creates with a license of 5 seats: 5 users, the others refused and not created', async () => {
  await t.seed({ id: CID });
  const results = await Promise.allSettled(
    Array.from({ length: 30 }, (_, i) =>
      t.directory.createUser(CID, { username: `e5user${i}`, displayName: `E5 ${i}`, usageLocation: 'US', licenses: ['O365_E3', 'SPE_E5'] }, { actor: t.actor }),
    ),
  );
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
  expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(Array(25).fill('NO_SEATS'));
  expect(await t.directory.getCounts(CID)).toMatchObject({ active: 5 });
  expect((await subscription('SPE_E5')).assignedSeats).toBe(5);
  expect((await subscription('O365_E3')).assignedSeats).toBe(5);
});

it('20 parallel creates of the same UPN (in any case) create exactly one user', async () => {
  await t.seed({ id: CID });
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) =>
      t.directory.createUser(CID, { username: i % 2 ? 'Sam.Lee' : 'sam.lee', displayName: `Sam ${i}`, usageLocation: 'US', licenses: ['SPE_E5'] }, { actor: t.actor }),
    ),
  );
  const created = results.filter((r) => r.status === 'fulfilled');
  expect(created).toHaveLength(1);
  const reasons = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code);
  expect(reasons).toEqual(Array(19).fill('UPN_TAKEN'));
  expect(await t.directory.getCounts(CID)).toMatchObject({ active: 1 });
  expect((await subscription('SPE_E5')).assignedSeats).toBe(1);
  const userKeys = (await t.scanKeys()).filter((k) => k.includes(':user:'));
  expect(userKeys).toHaveLength(1);
  expect((await t.directory.findUser(CID, 'SAM.LEE')).id).toBe((created[0] as PromiseFulfilledResult<{ user: CustomerUser }>).value.user.id);
});

it('bulk changeLicenses with too few seats for the whole selection changes nothing', async () => {
  const c = await t.seed({
    id: CID,
    subscriptions: [
      { skuId: 'O365_E3', name: 'Office 365 E3', seats: 20 },
      { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 5 },
    ],
    users: seedUsers('bulk', 10, { licenses: ['O365_E3'] }),
  });
  const before = {
    users: await t.directory.readUsers(CID, c.users.map((u) => u.id)),
    subs: await t.directory.getSubscriptions(CID),
    counts: await t.directory.getCounts(CID),
    e5: await t.directory.listUsers(CID, { filter: { kind: 'license', skuId: 'SPE_E5' } }),
  };
  const err = await directoryErrorOf(
    t.directory.changeLicenses(CID, c.users.map((u) => ({ userId: u.id })), { add: ['SPE_E5'], remove: ['O365_E3'] }, { actor: t.actor }),
  );
  expect(err.code).toBe('NO_SEATS');
  expect(err.params).toEqual({ license: 'SPE_E5', seatsLeft: 5, seatsNeeded: 10 });
  expect(await t.directory.readUsers(CID, c.users.map((u) => u.id))).toEqual(before.users);
  expect(await t.directory.getSubscriptions(CID)).toEqual(before.subs);
  expect(await t.directory.getCounts(CID)).toEqual(before.counts);
  expect(await t.directory.listUsers(CID, { filter: { kind: 'license', skuId: 'SPE_E5' } })).toEqual(before.e5);

  // Five of them fit.
  const five = await t.directory.changeLicenses(CID, c.users.slice(0, 5).map((u) => ({ userId: u.id })), { add: ['SPE_E5'] }, { actor: t.actor });
  expect(five.every((r) => r.changed)).toBe(true);
  expect(await subscription('SPE_E5')).toMatchObject({ assignedSeats: 5, availableSeats: 0 });
});

it('two purgers racing purge each expired user once', async () => {
  const c = await t.seed({ id: CID, users: [...seedUsers('old', 250), ...seedUsers('recent', 10), ...seedUsers('kept', 3)] });
  const old = c.users.filter((u) => u.username.startsWith('old'));
  const recent = c.users.filter((u) => u.username.startsWith('recent'));
  await t.directory.deleteUsers(CID, old.map((u) => ({ userId: u.id })), { actor: t.actor });
  t.clock.advance(2 * DAY_MS);
  await t.directory.deleteUsers(CID, recent.map((u) => ({ userId: u.id })), { actor: t.actor });
  t.clock.advance(29 * DAY_MS); // old: 31 days, recent: 29 days

  const second = new DirectoryService({ redis: connectTestRedis(), keys: t.keys, clock: t.clock });
  try {
    const counts = await Promise.all([t.directory.purgeExpired(CID), second.purgeExpired(), t.directory.purgeExpired(CID)]);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(250);
  } finally {
    second.redis.disconnect();
  }
  expect(await t.directory.getCounts(CID)).toEqual({ active: 3, unlicensed: 3, deleted: 10 });
  expect(new Set((await t.directory.listDeletedUsers(CID)).map((u) => u.id))).toEqual(new Set(recent.map((u) => u.id)));
  expect((await t.scanKeys()).filter((k) => k.includes(':user:'))).toHaveLength(13);
  const purgeAudit = (await t.directory.audit(CID, 1, 1000)).entries.filter((e) => e.action === 'purge');
  expect(purgeAudit.map((e) => e.detail.split(' ').length).reduce((a, b) => a + b, 0)).toBe(250);
});
