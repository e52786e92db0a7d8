/**
 * Records written by the earlier layout (before this version) still read and change correctly: user hashes with a
 * UUID id, `username`, `domain`, `sortKey` and empty fields, plain users in idx:role. Re-running the provisioning
 * (`npm run provision`) drops the old plain-user idx:role entries, after which the store check passes.
 */
import { randomUUID } from 'node:crypto';
import { checkStore } from '../../services/storeCheck';
import { SEP } from '../../services/store/keys';
import { createTestDirectory, TestDirectory } from '../support/testDirectory';

const CID = 'contoso';
let t: TestDirectory;

beforeEach(async () => {
  t = await createTestDirectory();
  await t.seed({ id: CID, users: [{ username: 'alice', displayName: 'Alice', licenses: ['O365_E3'] }] });
});
afterEach(async () => {
  await t.cleanup();
});

/** A user exactly as the earlier scripts wrote it, with its index entries and counters. */
async function legacyUser(username: string, displayName: string, licenses: string[]): Promise<string> {
  const id = randomUUID();
  const upn = `${username}@${CID}.onmicrosoft.com`;
  const sortKey = `${displayName.toLowerCase()}${SEP}${upn.toLowerCase()}`;
  const member = `${sortKey}${SEP}${id}`;
  const k = (n: Parameters<typeof t.keys.customerKey>[1]) => t.keys.customerKey(CID, n);
  const p = t.redis.pipeline();
  p.hset(t.keys.user(CID, id), {
    id, upn, username, domain: `${CID}.onmicrosoft.com`, displayName, firstName: '', lastName: '', usageLocation: 'US', role: 'user',
    licenses: licenses.join(','), state: 'active', createdAt: String(t.clock.now()), deletedAt: '', rememberedLicenses: '', version: '1', pwHash: '', mustChange: '0', sortKey,
  });
  p.zadd(k('idx:active'), 0, member).zadd(k('idx:role'), 0, `user${SEP}${member}`).hset(k('upn'), upn.toLowerCase(), id);
  p.hincrby(k('counts'), 'active', 1).hincrby(k('counts'), 'role:user', 1);
  if (!licenses.length) p.zadd(k('idx:unlicensed'), 0, member).hincrby(k('counts'), 'unlicensed', 1);
  for (const s of licenses) p.zadd(k('idx:license'), 0, `${s}${SEP}${member}`).hincrby(k('counts'), `lic:${s}`, 1);
  await p.exec();
  return id;
}

it('an older record reads, changes, deletes and restores (with a new name) like a new one, its stored halves in step', async () => {
  const id = await legacyUser('Dora.Old', 'Dora Old', ['O365_E3']);
  const listed = (await t.directory.listUsers(CID, { role: 'user' })).users.find((u) => u.id === id);
  expect(listed).toMatchObject({ userPrincipalName: `Dora.Old@${CID}.onmicrosoft.com`, username: 'Dora.Old', domain: `${CID}.onmicrosoft.com`, licenses: ['O365_E3'] });
  await t.directory.changeLicenses(CID, [{ userId: id, expectedVersion: 1 }], { add: ['SPE_E5'] }, { actor: t.actor });
  expect((await t.directory.listUsers(CID, { filter: { kind: 'license', skuId: 'SPE_E5' } })).users.map((u) => u.id)).toEqual([id]);
  await t.directory.deleteUsers(CID, [{ userId: id }], { actor: t.actor });
  const [restored] = await t.directory.restoreUsers(CID, [{ userId: id, newUsername: 'dora.new' }], { actor: t.actor });
  expect(restored).toMatchObject({ ok: true, userPrincipalName: `dora.new@${CID}.onmicrosoft.com` });
  const stored = await t.redis.hgetall(t.keys.user(CID, id));
  expect(stored).toMatchObject({ upn: `dora.new@${CID}.onmicrosoft.com`, username: 'dora.new', domain: `${CID}.onmicrosoft.com`, state: 'active' });
  expect(await t.directory.getUser(CID, id)).toMatchObject({ username: 'dora.new', licenses: ['O365_E3', 'SPE_E5'] });
  expect((await t.directory.listUsers(CID, { search: 'dora.new' })).users.map((u) => u.id)).toEqual([id]);
});

it('provisioning again drops the old plain-user idx:role entries; then every invariant holds', async () => {
  await legacyUser('erin', 'Erin', []);
  const before = await checkStore(t.redis, t.keys);
  expect(before.violations.map((v) => v.message).join('\n')).toMatch(/idx:role has 1 entry no user calls for/);
  const customer = await t.directory.getCustomer(CID);
  const subscriptions = await t.directory.getSubscriptions(CID);
  await t.directory.upsertCustomer({ id: CID, name: customer.name, domains: customer.domains, subscriptions: subscriptions.map((s) => ({ skuId: s.skuId, name: s.name, seats: s.totalSeats })) }, t.actor);
  expect(await t.redis.zcard(t.keys.customerKey(CID, 'idx:role'))).toBe(0);
  expect((await checkStore(t.redis, t.keys)).violations).toEqual([]);
  expect((await t.directory.listUsers(CID, { role: 'user' })).users.map((u) => u.username)).toEqual(['alice', 'erin']);
});

it('new records store neither the UPN halves nor an ASCII sort key; a non-ASCII name keeps its sort key', async () => {
  const plain = await t.directory.createUser(CID, { username: 'frank', displayName: 'Frank Ng', usageLocation: 'US' }, { actor: t.actor, withoutPassword: true });
  const accented = await t.directory.createUser(CID, { username: 'emile', displayName: 'Émile Zoë', usageLocation: 'FR' }, { actor: t.actor, withoutPassword: true });
  expect(plain.user.id).toMatch(/^[A-Za-z0-9]{16}$/);
  const a = await t.redis.hgetall(t.keys.user(CID, plain.user.id));
  expect(Object.keys(a).filter((f) => ['username', 'domain', 'sortKey', 'deletedAt', 'rememberedLicenses', 'pwHash'].includes(f))).toEqual([]);
  expect(await t.redis.hget(t.keys.user(CID, accented.user.id), 'sortKey')).toBe(`émile zoë${SEP}emile@${CID}.onmicrosoft.com`);
  expect((await t.directory.listUsers(CID, { search: 'émile' })).users.map((u) => u.id)).toEqual([accented.user.id]);
  await t.directory.deleteUsers(CID, [{ userId: accented.user.id }, { userId: plain.user.id }], { actor: t.actor });
  await t.directory.restoreUsers(CID, [{ userId: accented.user.id }, { userId: plain.user.id }], { actor: t.actor });
  expect((await checkStore(t.redis, t.keys)).violations).toEqual([]);
});
