/**
 * What each change costs in Redis commands, measured with MONITOR on the directory's own connection.
 * Every change is one script call (one round trip) plus the reads the API promises to return.
 */
import { DAY_MS } from '../../services/directory';
import { createTestDirectory, SeededCustomer, TestDirectory } from '../support/testDirectory';
import { commandLog, names } from './commandLog';

const CID = 'contoso';
let t: TestDirectory;
let c: SeededCustomer;
let log: Awaited<ReturnType<typeof commandLog>>;

beforeAll(async () => {
  t = await createTestDirectory({ passwords: 'deterministic' });
  c = await t.seed({
    id: CID,
    users: [
      { username: 'warm', displayName: 'Warm Up', licenses: ['O365_E3'] },
      { username: 'alice', displayName: 'Alice', licenses: ['O365_E3'] },
      { username: 'bob', displayName: 'Bob' },
    ],
  });
  // Load every script once (EVALSHA falls back to EVAL the first time a server sees a script).
  const warm = c.user('warm').id;
  await t.directory.changeLicenses(CID, [{ userId: warm }], { add: ['SPE_E5'] }, { actor: t.actor });
  await t.directory.resetPassword(CID, { userId: warm }, { actor: t.actor });
  await t.directory.deleteUsers(CID, [{ userId: warm }], { actor: t.actor });
  await t.directory.restoreUsers(CID, [{ userId: warm }], { actor: t.actor });
  await t.directory.purgeExpired(CID);
  await t.directory.listUsers(CID);
  log = await commandLog(t);
});

afterAll(async () => {
  log?.stop();
  await t.cleanup();
});

it('createUser: read the customer, one script (2 round trips); the user it returns is the stored one', async () => {
  const m = await log.measure(() =>
    t.directory.createUser(CID, { username: 'dave', displayName: 'Dave', usageLocation: 'US', licenses: ['O365_E3', 'SPE_E5'] }, { actor: t.actor }),
  );
  expect(m.result.user.licenses).toEqual(['O365_E3', 'SPE_E5']);
  expect(names(m.client)).toEqual(['hgetall', 'evalsha']);
  expect(m.result.user).toEqual(await t.directory.getUser(CID, m.result.user.id));
  // "like <user>" adds one read of the model user.
  const like = await log.measure(() =>
    t.directory.createUser(CID, { username: 'erin', displayName: 'Erin', usageLocation: 'US', likeUserId: c.user('alice').id }, { actor: t.actor }),
  );
  expect(names(like.client)).toEqual(['hgetall', 'hmget', 'evalsha']);
});

it('changeLicenses (assign, one or many users): one script call', async () => {
  const one = await log.measure(() => t.directory.changeLicenses(CID, [{ userId: c.user('bob').id }], { add: ['O365_E3'] }, { actor: t.actor }));
  expect(one.result[0].changed).toBe(true);
  expect(names(one.client)).toEqual(['evalsha']);
  const many = await log.measure(() =>
    t.directory.changeLicenses(CID, [c.user('alice'), c.user('bob')].map((u) => ({ userId: u.id })), { add: ['SPE_E5'] }, { actor: t.actor }),
  );
  expect(many.result.map((r) => r.changed)).toEqual([true, true]);
  expect(names(many.client)).toEqual(['evalsha']);
});

it('deleteUsers and restoreUsers: one script call each', async () => {
  const refs = [c.user('alice'), c.user('bob')].map((u) => ({ userId: u.id }));
  const del = await log.measure(() => t.directory.deleteUsers(CID, refs, { actor: t.actor }));
  expect(del.result).toHaveLength(2);
  expect(names(del.client)).toEqual(['evalsha']);
  t.clock.advance(DAY_MS);
  const res = await log.measure(() => t.directory.restoreUsers(CID, refs, { actor: t.actor }));
  expect(res.result.every((o) => o.ok)).toBe(true);
  expect(names(res.client)).toEqual(['evalsha']);
});

it('resetPassword: read the user, one script (2 round trips); the user it returns is the stored one', async () => {
  const m = await log.measure(() => t.directory.resetPassword(CID, { userId: c.user('alice').id }, { actor: t.actor }));
  expect(m.result.temporaryPassword).not.toBe('');
  expect(names(m.client)).toEqual(['hmget', 'evalsha']);
  expect(m.result.user).toEqual(await t.directory.getUser(CID, m.result.user.id));
});

it('a replayed operation is one script call that writes nothing', async () => {
  const ref = [{ userId: c.user('bob').id }];
  await t.directory.changeLicenses(CID, ref, { remove: ['SPE_E5'] }, { actor: t.actor, operationId: 'op-rt' });
  const m = await log.measure(() => t.directory.changeLicenses(CID, ref, { remove: ['SPE_E5'] }, { actor: t.actor, operationId: 'op-rt' }));
  expect(names(m.client)).toEqual(['evalsha']);
  // Found in the current generation's bucket, the first place looked.
  expect(names(m.lua)).toEqual(['hget']);
});
