/**
 * Records written by the earlier layouts (before this version) still read and change correctly: user hashes with a
 * UUID id, `username`, `domain`, `sortKey` and empty fields, plain users in idx:role, index entries with the UPN in
 * them. The bot's start-up rewrites those entries to layout 3 (RedisDirectory.migrateLayout, one script per customer);
 * re-running the provisioning (`npm run provision`) drops the old plain-user idx:role entries, after which the store
 * check passes.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { createApp } from '../../bot/app';
import { loadSettings } from '../../bot/config';
import { RedisDirectory } from '../../services/directories/redis';
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

/**
 * A user exactly as the earlier scripts wrote it, with its index entries (with the UPN) and counters: layout 1 (UUID,
 * the UPN's halves, the sort key and empty fields stored, plain users in idx:role) or layout 2 (none of those; the sort
 * key stored only for a non-ASCII name).
 */
async function legacyUser(username: string, displayName: string, licenses: string[], layout: 1 | 2 = 1, role = 'user'): Promise<string> {
  const id = layout === 1 ? randomUUID() : randomUUID().replace(/-/g, '').slice(0, 16);
  const upn = `${username}@${CID}.onmicrosoft.com`;
  const sortKey = `${displayName.toLowerCase()}${SEP}${upn.toLowerCase()}`;
  const member = `${sortKey}${SEP}${id}`;
  const k = (n: Parameters<typeof t.keys.customerKey>[1]) => t.keys.customerKey(CID, n);
  const p = t.redis.pipeline();
  const common = { id, upn, displayName, firstName: '', lastName: '', usageLocation: 'US', role, licenses: licenses.join(','), state: 'active', createdAt: String(t.clock.now()), version: '1' };
  if (layout === 1) {
    p.hset(t.keys.user(CID, id), { ...common, username, domain: `${CID}.onmicrosoft.com`, deletedAt: '', rememberedLicenses: '', pwHash: '', mustChange: '0', sortKey });
  } else {
    p.hset(t.keys.user(CID, id), { ...common, ...(/^[\x00-\x7f]*$/.test(displayName) ? {} : { sortKey }) });
  }
  p.zadd(k('idx:active'), 0, member).hset(k('upn'), upn.toLowerCase(), id);
  if (layout === 1 || role !== 'user') p.zadd(k('idx:role'), 0, `${role}${SEP}${member}`);
  p.hincrby(k('counts'), 'active', 1).hincrby(k('counts'), `role:${role}`, 1);
  if (!licenses.length) p.zadd(k('idx:unlicensed'), 0, member).hincrby(k('counts'), 'unlicensed', 1);
  for (const s of licenses) p.zadd(k('idx:license'), 0, `${s}${SEP}${member}`).hincrby(k('counts'), `lic:${s}`, 1);
  await p.exec();
  return id;
}

/** What the bot's start-up does before serving. */
const migrate = () => (t.directory.backend as RedisDirectory).migrateLayout();

it('an older record reads, changes, deletes and restores (with a new name) like a new one, its stored halves in step', async () => {
  const id = await legacyUser('Dora.Old', 'Dora Old', ['O365_E3']);
  expect(await migrate()).toBe(3); // idx:active, idx:role, idx:license
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
  await migrate();
  const before = await checkStore(t.redis, t.keys);
  expect(before.violations.map((v) => v.message).join('\n')).toMatch(/idx:role has 1 entry no user calls for/);
  const customer = await t.directory.getCustomer(CID);
  const subscriptions = await t.directory.getSubscriptions(CID);
  await t.directory.upsertCustomer({ id: CID, name: customer.name, domains: customer.domains, subscriptions: subscriptions.map((s) => ({ skuId: s.skuId, name: s.name, seats: s.totalSeats })) }, t.actor);
  expect(await t.redis.zcard(t.keys.customerKey(CID, 'idx:role'))).toBe(0);
  expect((await checkStore(t.redis, t.keys)).violations).toEqual([]);
  expect((await t.directory.listUsers(CID, { role: 'user' })).users.map((u) => u.username)).toEqual(['alice', 'erin']);
});

it('new records store neither their id (the key has it), the UPN halves nor an ASCII sort key; a non-ASCII name keeps its sort key', async () => {
  const plain = await t.directory.createUser(CID, { username: 'frank', displayName: 'Frank Ng', usageLocation: 'US' }, { actor: t.actor, withoutPassword: true });
  const accented = await t.directory.createUser(CID, { username: 'emile', displayName: 'Émile Zoë', usageLocation: 'FR' }, { actor: t.actor, withoutPassword: true });
  expect(plain.user.id).toMatch(/^[A-Za-z0-9]{16}$/);
  const a = await t.redis.hgetall(t.keys.user(CID, plain.user.id));
  expect(Object.keys(a).filter((f) => ['id', 'username', 'domain', 'sortKey', 'deletedAt', 'rememberedLicenses', 'pwHash'].includes(f))).toEqual([]);
  expect(await t.redis.hget(t.keys.user(CID, accented.user.id), 'sortKey')).toBe('émile zoë');
  expect((await t.directory.listUsers(CID, { search: 'émile' })).users.map((u) => u.id)).toEqual([accented.user.id]);
  await t.directory.deleteUsers(CID, [{ userId: accented.user.id }, { userId: plain.user.id }], { actor: t.actor });
  await t.directory.restoreUsers(CID, [{ userId: accented.user.id }, { userId: plain.user.id }], { actor: t.actor });
  expect((await checkStore(t.redis, t.keys)).violations).toEqual([]);
});

it('the start-up migration rewrites every earlier index entry of a customer in one script, once; then all reads and changes agree', async () => {
  await t.directory.createUser(CID, { username: 'bea', displayName: 'Bea Ng', usageLocation: 'US', licenses: ['O365_E3'] }, { actor: t.actor, withoutPassword: true });
  const one = await legacyUser('carl', 'Carl One', ['O365_E3', 'SPE_E5'], 1, 'user-admin');
  const two = await legacyUser('dora', 'Dora Two', [], 2);
  const accented = await legacyUser('emile', 'Émile Zoë', ['SPE_E5'], 2, 'global-admin');
  const before = await checkStore(t.redis, t.keys);
  expect(before.violations.map((v) => v.message).join('\n')).toMatch(/idx:active has 3 entries in the form before layout 3/);
  const scripts = jest.spyOn(t.redis as unknown as { pabMigrateLayout: (...a: unknown[]) => Promise<unknown> }, 'pabMigrateLayout');
  // Entries: carl 1 active + 2 license + 1 role, dora 1 active + 1 unlicensed, emile 1 active + 1 license + 1 role.
  expect(await migrate()).toBe(9);
  // The customer's entries changed in one script (atomic: no reader saw both forms).
  expect(scripts.mock.calls.filter((c) => String(c[1]).includes(`{c:${CID}}`))).toHaveLength(1);
  scripts.mockRestore();
  expect(await migrate()).toBe(0);
  expect(await t.redis.hget(t.keys.customerKey(CID, 'counts'), 'layout')).toBe('3');
  expect((await checkStore(t.redis, t.keys)).violations).toEqual([]);
  const ids = async (q: Parameters<typeof t.directory.listUsers>[1]) => (await t.directory.listUsers(CID, q)).users.map((u) => u.id);
  expect(await ids({ search: 'dora@' })).toEqual([two]);
  expect(await ids({ search: 'zoë' })).toEqual([accented]);
  expect(await ids({ filter: { kind: 'license', skuId: 'SPE_E5' } })).toEqual([one, accented]);
  expect(await ids({ role: 'user-admin' })).toEqual([one]);
  expect(await ids({ filter: { kind: 'unlicensed' } })).toEqual([two]);
  await t.directory.changeLicenses(CID, [{ userId: two }], { add: ['O365_E3'] }, { actor: t.actor });
  await t.directory.deleteUsers(CID, [{ userId: one }, { userId: accented }], { actor: t.actor });
  await t.directory.restoreUsers(CID, [{ userId: accented, newUsername: 'emile.z' }], { actor: t.actor });
  expect(await t.redis.hget(t.keys.user(CID, accented), 'sortKey')).toBe('émile zoë'); // the older stored key's name part
  expect(await ids({ search: 'emile.z@' })).toEqual([accented]);
  expect(await ids({ filter: { kind: 'unlicensed' } })).toEqual([]);
  expect((await checkStore(t.redis, t.keys)).violations).toEqual([]);
});

it('the bot migrates the index entries at start-up, before it serves', async () => {
  await legacyUser('dora', 'Dora Two', ['O365_E3'], 2);
  const app = await createApp({ ...loadSettings({}), port: 0 }, { redis: t.redis, keys: t.keys, clock: t.clock, logger: pino({ level: 'silent' }) });
  try {
    expect((await checkStore(t.redis, t.keys)).violations).toEqual([]);
  } finally {
    await app.close();
  }
});
