/**
 * Time, at the edges of the 30-day window, with the clock injected: purgers racing exactly at the boundary, bot
 * instances whose clocks disagree, and clocks that jump back. (Restore at 29 d 23 h / 30 d + 1 s and a jump back after
 * a single purge are in directory.rules.test.ts.)
 */
import { DAY_MS, DirectoryService } from '../../services/directory';
import { checkStore, formatReport } from '../../services/storeCheck';
import { connectTestRedis, createTestDirectory, fakeClock, FakeClock, SeededCustomer, TestDirectory } from '../support/testDirectory';

const CID = 'contoso';
const HOUR = 3600_000;
let t: TestDirectory;
let c: SeededCustomer;
/** Other bot instances: their own connection and their own clock. */
let others: Array<{ directory: DirectoryService; clock: FakeClock }>;
let deletedAt: number;

beforeEach(async () => {
  t = await createTestDirectory();
  c = await t.seed({
    id: CID,
    users: [
      { username: 'alice', displayName: 'Alice', licenses: ['O365_E3'] },
      { username: 'bob', displayName: 'Bob', licenses: ['SPE_E5'] },
      { username: 'carol', displayName: 'Carol' },
    ],
  });
  await t.directory.deleteUsers(CID, ['alice', 'bob'].map((n) => ({ userId: c.user(n).id })), { actor: t.actor });
  deletedAt = t.clock.now();
  others = [0, 1].map(() => {
    const clock = fakeClock(deletedAt);
    return { clock, directory: new DirectoryService({ redis: connectTestRedis(), keys: t.keys, clock }) };
  });
});

afterEach(async () => {
  const report = await checkStore(t.redis, t.keys);
  for (const o of others) o.directory.redis.disconnect();
  await t.cleanup();
  if (!report.ok) throw new Error(formatReport(report));
});

const purgers = () => [t.directory, ...others.map((o) => o.directory)];
const setAll = (at: number) => [t.clock, ...others.map((o) => o.clock)].forEach((clock) => clock.set(at));
const purgeAudit = async () => (await t.directory.audit(CID, 1, 1000)).entries.filter((e) => e.action === 'purge');

it('at 29 d 23 h three purgers racing purge nobody, and the users still restore', async () => {
  setAll(deletedAt + 29 * DAY_MS + 23 * HOUR);
  expect(await Promise.all(purgers().map((p) => p.purgeExpired(CID)))).toEqual([0, 0, 0]);
  expect((await t.directory.listDeletedUsers(CID)).map((u) => [u.username, u.daysLeft]).sort()).toEqual([['alice', 1], ['bob', 1]]);
  const outcomes = await t.directory.restoreUsers(CID, [{ userId: c.user('alice').id }], { actor: t.actor });
  expect(outcomes).toEqual([expect.objectContaining({ ok: true, restoredLicenses: ['O365_E3'] })]);
  expect(await purgeAudit()).toEqual([]);
});

it('at 30 d + 1 s restore is refused, three purgers racing purge each user exactly once, and a clock jumped back finds nothing', async () => {
  setAll(deletedAt + 30 * DAY_MS + 1000);
  const [late] = await t.directory.restoreUsers(CID, [{ userId: c.user('alice').id }], { actor: t.actor });
  expect(late).toMatchObject({ ok: false, error: 'RESTORE_WINDOW_OVER' });

  const counts = await Promise.all(purgers().map((p) => p.purgeExpired(CID)));
  expect(counts.reduce((a, b) => a + b, 0)).toBe(2);
  expect((await purgeAudit()).flatMap((e) => e.detail.split(' ')).sort()).toEqual(['alice@contoso.onmicrosoft.com', 'bob@contoso.onmicrosoft.com']);

  // Every instance's clock jumps back a day: nothing comes back, nothing is purged twice, seats stay free.
  const audited = (await purgeAudit()).length;
  setAll(deletedAt + 29 * DAY_MS);
  for (const p of purgers()) {
    expect(await p.listDeletedUsers(CID)).toEqual([]);
    expect(await p.restoreUsers(CID, [{ userId: c.user('bob').id }], { actor: t.actor })).toEqual([expect.objectContaining({ ok: false, error: 'USER_NOT_FOUND' })]);
    expect(await p.purgeExpired(CID)).toBe(0);
  }
  await expect(t.directory.findUser(CID, 'alice')).rejects.toMatchObject({ code: 'USER_NOT_FOUND' });
  expect(await t.directory.getCounts(CID)).toEqual({ active: 1, unlicensed: 1, deleted: 0 });
  expect((await t.directory.getSubscriptions(CID)).map((s) => s.assignedSeats)).toEqual([0, 0]);
  expect(await purgeAudit()).toHaveLength(audited);
});

it('instances whose clocks disagree: the one behind neither purges early nor undoes the one ahead', async () => {
  const [ahead, behind] = others;
  ahead.clock.set(deletedAt + 30 * DAY_MS + HOUR);
  behind.clock.set(deletedAt + 30 * DAY_MS - HOUR);
  t.clock.set(deletedAt + 30 * DAY_MS - HOUR);
  // Behind: still inside the window, nothing to purge.
  expect(await behind.directory.purgeExpired(CID)).toBe(0);
  // Ahead purges Alice; at that very moment the instance behind restores Bob, whose window it believes still open.
  const [purged, restored] = await Promise.all([
    ahead.directory.purgeExpired(CID),
    behind.directory.restoreUsers(CID, [{ userId: c.user('bob').id }], { actor: t.actor }),
  ]);
  // Either order is consistent: Bob was purged (and his restore found nobody) or restored (and the purge skipped him).
  if (restored[0].ok) {
    expect(purged).toBe(1);
    expect((await t.directory.getUser(CID, c.user('bob').id)).state).toBe('active');
  } else {
    expect(restored[0]).toMatchObject({ error: 'USER_NOT_FOUND' });
    expect(purged).toBe(2);
  }
  await expect(t.directory.getUser(CID, c.user('alice').id)).rejects.toMatchObject({ code: 'USER_NOT_FOUND' });
  // The instance behind cannot restore Alice: she is gone, whatever its clock says.
  expect(await behind.directory.restoreUsers(CID, [{ userId: c.user('alice').id }], { actor: t.actor })).toEqual([expect.objectContaining({ ok: false, error: 'USER_NOT_FOUND' })]);
  expect((await purgeAudit()).flatMap((e) => e.detail.split(' ')).filter((upn) => upn === 'alice@contoso.onmicrosoft.com')).toHaveLength(1);
});

it('a clock that jumps back between deleting and purging counts from the deletion time, never from "now"', async () => {
  // Deleted "in the future" of a clock that then jumps back a week: still listed, not purged.
  t.clock.set(deletedAt - 7 * DAY_MS);
  const listed = await t.directory.listDeletedUsers(CID);
  expect(listed.map((u) => u.username).sort()).toEqual(['alice', 'bob']);
  expect(await t.directory.purgeExpired(CID)).toBe(0);
  // Back to normal time + 30 d + 1 ms: purged, exactly as without the jump.
  t.clock.set(deletedAt + 30 * DAY_MS + 1);
  expect(await t.directory.purgeExpired(CID)).toBe(2);
});

it('an operation replays after the clock jumped back: applied once, same answer', async () => {
  const carol = c.user('carol').id;
  const first = await t.directory.changeLicenses(CID, [{ userId: carol }], { add: ['O365_E3'] }, { actor: t.actor, operationId: 'op-time-1' });
  t.clock.set(deletedAt - DAY_MS);
  expect(await t.directory.changeLicenses(CID, [{ userId: carol }], { add: ['O365_E3'] }, { actor: t.actor, operationId: 'op-time-1' })).toEqual(first);
  expect((await t.directory.getUser(CID, carol)).version).toBe(2);
  expect((await t.directory.audit(CID, 1, 1000)).entries.filter((e) => e.action === 'change-licenses')).toHaveLength(1);
});
