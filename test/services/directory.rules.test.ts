import { randomBytes } from 'node:crypto';
/**
 * SPEC §1 domain rules, through the DirectoryService API on a real Redis.
 */
import { DAY_MS } from '../../services/directory';
import { NewUserInput } from '../../services/types';
import { hashPassword, keyedPasswordHasher, storedHashParameters } from '../../services/passwords';
import {
  createTestDirectory,
  directoryErrorOf,
  dumpValues,
  SeededCustomer,
  TestDirectory,
} from '../support/testDirectory';

const CID = 'contoso';
const LONG_DOMAIN = `${'x'.repeat(40)}.example`; // 48 characters, the longest Entra accepts

let t: TestDirectory;
let c: SeededCustomer;
const opts = () => ({ actor: t.actor });

async function seats(skuId: string) {
  const sub = (await t.directory.getSubscriptions(CID)).find((s) => s.skuId === skuId);
  if (!sub) throw new Error(`no subscription ${skuId}`);
  return sub;
}

async function activeUpns(): Promise<string[]> {
  const page = await t.directory.listUsers(CID, { pageSize: 100 });
  return page.users.map((u) => u.userPrincipalName.toLowerCase());
}

beforeEach(async () => {
  t = await createTestDirectory({ passwords: 'deterministic' });
  c = await t.seed({
    id: CID,
    domains: ['contoso.onmicrosoft.com', 'contoso.com', LONG_DOMAIN],
    users: [
      { username: 'alice', displayName: 'Alice Smith', licenses: ['O365_E3'] },
      { username: 'bob', displayName: 'Bob Jones', role: 'user-admin', licenses: ['O365_E3', 'SPE_E5'] },
      { username: 'carol', displayName: 'Carol White' },
    ],
  });
});

afterEach(async () => {
  await t.cleanup();
});

describe('create: every field is validated and a failure names the field', () => {
  const base: NewUserInput = { username: 'newbie', displayName: 'New Bie', usageLocation: 'US' };
  const cases: Array<[string, Partial<NewUserInput>, string, string]> = [
    ['username with a space', { username: 'new bie' }, 'username', 'characters'],
    ['username with an accent', { username: 'josé' }, 'username', 'characters'],
    ['username with a combining accent', { username: 'jose\u0301' }, 'username', 'characters'],
    ['username with a non-Latin letter', { username: 'андрей' }, 'username', 'characters'],
    ['username with @', { username: 'a@b' }, 'username', 'characters'],
    ['username with a comma', { username: 'a,b' }, 'username', 'characters'],
    ['username of 65 characters', { username: 'a'.repeat(65) }, 'username', 'tooLong'],
    ['empty username', { username: '' }, 'username', 'required'],
    ['dot just before the @', { username: 'new.' }, 'username', 'dotAtEdge'],
    ['domain that is not a domain', { domain: 'contoso' }, 'domain', 'format'],
    ['empty display name, no names to build one', { displayName: '', firstName: '', lastName: '' }, 'displayName', 'required'],
    ['blank display name', { displayName: '   ' }, 'displayName', 'required'],
    ['display name of 257 characters', { displayName: 'd'.repeat(257) }, 'displayName', 'tooLong'],
    ['display name with a control character', { displayName: 'New\u0007Bie' }, 'displayName', 'characters'],
    ['first name of 65 characters', { firstName: 'f'.repeat(65) }, 'firstName', 'tooLong'],
    ['last name of 65 characters', { lastName: 'l'.repeat(65) }, 'lastName', 'tooLong'],
    ['usage location not ISO 3166', { usageLocation: 'XX' }, 'usageLocation', 'country'],
    ['usage location alpha-3', { usageLocation: 'USA' }, 'usageLocation', 'country'],
    ['usage location missing', { usageLocation: '' }, 'usageLocation', 'required'],
    ['unknown role', { role: 'superuser' as never }, 'role', 'unknownRole'],
    ['malformed license id', { licenses: ['O365 E3'] }, 'licenses', 'sku'],
  ];

  it.each(cases)('%s → INVALID_FIELD %s (%s), nothing created', async (_name, patch, field, reason) => {
    const before = await t.directory.getCounts(CID);
    const err = await directoryErrorOf(t.directory.createUser(CID, { ...base, ...patch }, opts()));
    expect(err.code).toBe('INVALID_FIELD');
    expect(err.params).toMatchObject({ field, reason });
    expect(await t.directory.getCounts(CID)).toEqual(before);
    expect(await activeUpns()).not.toContain('newbie@contoso.onmicrosoft.com');
  });

  it('domain that is not the customer’s → DOMAIN_NOT_IN_CUSTOMER naming the field and the domain, nothing created', async () => {
    const before = await t.directory.getCounts(CID);
    const err = await directoryErrorOf(t.directory.createUser(CID, { ...base, domain: 'Fabrikam.com' }, opts()));
    expect(err.code).toBe('DOMAIN_NOT_IN_CUSTOMER');
    expect(err.params).toEqual({ field: 'domain', domain: 'fabrikam.com' });
    expect(await t.directory.getCounts(CID)).toEqual(before);
  });

  it('accepts every character Entra allows in the local part, and the longest UPN (64 + 1 + 48 = 113)', async () => {
    const special = await t.directory.createUser(CID, { ...base, username: "o'Brien.x-y_z!#^~9" }, opts());
    expect(special.user.userPrincipalName).toBe("o'Brien.x-y_z!#^~9@contoso.onmicrosoft.com");
    const longest = await t.directory.createUser(CID, { ...base, username: 'a'.repeat(64), domain: LONG_DOMAIN }, opts());
    expect(longest.user.userPrincipalName).toHaveLength(113);
    expect(longest.user.domain).toBe(LONG_DOMAIN);
  });

  it('refuses a UPN longer than 113: the customer domain of 49 characters cannot be used', async () => {
    const long49 = `${'y'.repeat(41)}.example`;
    await t.directory.upsertCustomer(
      { id: CID, name: 'Contoso Ltd', domains: ['contoso.onmicrosoft.com', 'contoso.com', LONG_DOMAIN, long49], subscriptions: [] },
      t.actor,
    );
    const err = await directoryErrorOf(t.directory.createUser(CID, { ...base, username: 'a'.repeat(64), domain: long49 }, opts()));
    expect(err.code).toBe('INVALID_FIELD');
    expect(err.params.field).toBe('domain');
  });

  it('accepts the boundaries: display name of 256, first/last name of 64, lower-case country', async () => {
    const { user } = await t.directory.createUser(
      CID,
      { ...base, displayName: 'd'.repeat(256), firstName: 'f'.repeat(64), lastName: 'l'.repeat(64), usageLocation: 'de' },
      opts(),
    );
    expect(user.displayName).toHaveLength(256);
    expect(user.firstName).toHaveLength(64);
    expect(user.lastName).toHaveLength(64);
    expect(user.usageLocation).toBe('DE');
  });

  it('builds the display name from first and last name when it is left empty', async () => {
    const { user } = await t.directory.createUser(CID, { ...base, displayName: '', firstName: 'Nina', lastName: 'Berg' }, opts());
    expect(user.displayName).toBe('Nina Berg');
  });

  it('creates in a non-default domain of the customer, with the chosen role', async () => {
    const { user } = await t.directory.createUser(CID, { ...base, domain: 'Contoso.COM', role: 'helpdesk-admin' }, opts());
    expect(user).toMatchObject({ userPrincipalName: 'newbie@contoso.com', domain: 'contoso.com', role: 'helpdesk-admin', state: 'active', version: 1 });
    expect(user.createdAt).toBe(t.clock.now());
  });

  it('refuses a license the customer has no subscription for, naming it', async () => {
    const err = await directoryErrorOf(t.directory.createUser(CID, { ...base, licenses: ['VISIO_P2'] }, opts()));
    expect(err.code).toBe('UNKNOWN_LICENSE');
    expect(err.params.license).toBe('VISIO_P2');
    expect(await activeUpns()).not.toContain('newbie@contoso.onmicrosoft.com');
  });
});

describe('create: uniqueness, licenses, "like"', () => {
  it('keeps UPNs unique without regard to case', async () => {
    const err = await directoryErrorOf(
      t.directory.createUser(CID, { username: 'ALICE', displayName: 'Other Alice', usageLocation: 'US' }, opts()),
    );
    expect(err.code).toBe('UPN_TAKEN');
    expect(String(err.params.upn).toLowerCase()).toBe('alice@contoso.onmicrosoft.com');
    expect((await t.directory.getCounts(CID)).active).toBe(3);
    // The same username in another of the customer's domains is another UPN.
    const other = await t.directory.createUser(CID, { username: 'alice', domain: 'contoso.com', displayName: 'Alice Two', usageLocation: 'US' }, opts());
    expect(other.user.userPrincipalName).toBe('alice@contoso.com');
  });

  it('assigns several licenses all or nothing: one license without a seat → no user, no seat used', async () => {
    // SPE_E5 has 5 seats; bob holds one: fill the other 4.
    for (const n of [1, 2, 3, 4]) {
      await t.directory.createUser(CID, { username: `e5-${n}`, displayName: `E5 ${n}`, usageLocation: 'US', licenses: ['SPE_E5'] }, opts());
    }
    expect((await seats('SPE_E5')).availableSeats).toBe(0);
    const e3Before = await seats('O365_E3');
    const countsBefore = await t.directory.getCounts(CID);

    const err = await directoryErrorOf(
      t.directory.createUser(CID, { username: 'dave', displayName: 'Dave', usageLocation: 'US', licenses: ['O365_E3', 'SPE_E5'] }, opts()),
    );
    expect(err.code).toBe('NO_SEATS');
    expect(err.params).toMatchObject({ license: 'SPE_E5', seatsLeft: 0 });
    expect(await seats('O365_E3')).toEqual(e3Before);
    expect(await t.directory.getCounts(CID)).toEqual(countsBefore);
    await expect(t.directory.findUser(CID, 'dave')).rejects.toMatchObject({ code: 'USER_NOT_FOUND' });
    expect(await t.directory.listUsers(CID, { search: 'dave' })).toMatchObject({ total: 0, users: [] });
  });

  it('uses one seat of each license given at creation', async () => {
    const { user } = await t.directory.createUser(
      CID,
      { username: 'dave', displayName: 'Dave', usageLocation: 'US', licenses: ['SPE_E5', 'O365_E3'] },
      opts(),
    );
    expect(user.licenses).toEqual(['O365_E3', 'SPE_E5']);
    expect(await seats('O365_E3')).toMatchObject({ totalSeats: 25, assignedSeats: 3, availableSeats: 22 });
    expect(await seats('SPE_E5')).toMatchObject({ totalSeats: 5, assignedSeats: 2, availableSeats: 3 });
  });

  it('"like <user>" copies the role and the licenses of the model user', async () => {
    const bob = c.user('bob');
    const { user } = await t.directory.createUser(
      CID,
      { username: 'bobby', displayName: 'Bobby', usageLocation: 'GB', likeUserId: bob.id },
      opts(),
    );
    expect(user.role).toBe('user-admin');
    expect(user.licenses).toEqual(['O365_E3', 'SPE_E5']);
    expect((await seats('SPE_E5')).assignedSeats).toBe(2);
    // The model is unchanged.
    expect(await t.directory.getUser(CID, bob.id)).toEqual(bob);
  });

  it('"like" an unknown user is refused and creates nothing', async () => {
    const err = await directoryErrorOf(
      t.directory.createUser(CID, { username: 'bobby', displayName: 'Bobby', usageLocation: 'GB', likeUserId: 'no-such-id' }, opts()),
    );
    expect(err.code).toBe('USER_NOT_FOUND');
    expect((await t.directory.getCounts(CID)).active).toBe(3);
  });
});

describe('temporary passwords', () => {
  let real: TestDirectory;
  beforeEach(async () => {
    real = await createTestDirectory({ passwords: 'real' });
    await real.seed({ id: CID });
  });
  afterEach(async () => {
    await real.cleanup();
  });

  const ENTRA_SYMBOLS = `@#$%^&*-_!+=[]{}|\\:',.?/\`~"();<>`;
  const meetsPolicy = (p: string) =>
    p.length >= 14 &&
    /[A-Z]/.test(p) &&
    /[a-z]/.test(p) &&
    /[0-9]/.test(p) &&
    [...p].some((ch) => ENTRA_SYMBOLS.includes(ch)) &&
    [...p].every((ch) => /[A-Za-z0-9]/.test(ch) || ENTRA_SYMBOLS.includes(ch)) &&
    !/[0Oo1lI]/.test(p);

  async function everyStoredValue(): Promise<string> {
    return [...(await dumpValues(real)).values()].flat().join('\n');
  }

  it('is shown once, meets the policy, verifies against the stored hash, and is stored nowhere in clear', async () => {
    const created = await real.directory.createUser(CID, { username: 'alice', displayName: 'Alice', usageLocation: 'US' }, { actor: real.actor });
    const pw = created.temporaryPassword;
    expect(meetsPolicy(pw)).toBe(true);
    expect(created.user).toMatchObject({ mustChangePassword: true, hasPassword: true });
    expect(await real.directory.verifyUserPassword(CID, created.user.id, pw)).toBe(true);
    expect(await real.directory.verifyUserPassword(CID, created.user.id, pw + 'x')).toBe(false);
    expect(await real.directory.verifyUserPassword(CID, created.user.id, pw.toLowerCase())).toBe(false);

    const stored = await everyStoredValue();
    expect(stored.length).toBeGreaterThan(0);
    expect(stored).not.toContain(pw);
    const pwHash = await real.redis.hget(real.keys.user(CID, created.user.id), 'pwHash');
    expect(storedHashParameters(pwHash ?? '')?.N).toBeGreaterThanOrEqual(1024);
    // The hash is short enough that Redis keeps the user's record in its compact encoding (README, Performance).
    expect(await real.redis.object('ENCODING', real.keys.user(CID, created.user.id))).toMatch(/^(listpack|ziplist)$/);
  });

  it('with PASSWORD_HASH_KEY: stored as a keyed hash (compact record), verifies; a scrypt hash stored before still verifies', async () => {
    const keyed = await createTestDirectory({ passwords: 'real', passwordHasher: keyedPasswordHasher(randomBytes(32)) });
    try {
      await keyed.seed({ id: CID });
      const created = await keyed.directory.createUser(CID, { username: 'alice', displayName: 'Alice', usageLocation: 'US' }, { actor: keyed.actor });
      const key = keyed.keys.user(CID, created.user.id);
      expect(await keyed.redis.hget(key, 'pwHash')).toMatch(/^h1\$/);
      expect(await keyed.directory.verifyUserPassword(CID, created.user.id, created.temporaryPassword)).toBe(true);
      expect(await keyed.directory.verifyUserPassword(CID, created.user.id, created.temporaryPassword + 'x')).toBe(false);
      expect(await keyed.redis.object('ENCODING', key)).toMatch(/^(listpack|ziplist)$/);
      expect([...(await dumpValues(keyed)).values()].flat().join('\n')).not.toContain(created.temporaryPassword);
      // A user whose password was hashed with scrypt before the key was set (an existing deployment's data).
      const old = await keyed.directory.createUser(CID, { username: 'olde', displayName: 'Olde', usageLocation: 'US' }, { actor: keyed.actor });
      await keyed.redis.hset(keyed.keys.user(CID, old.user.id), 'pwHash', await hashPassword('Old#Passw0rd-kept'));
      expect(await keyed.directory.verifyUserPassword(CID, old.user.id, 'Old#Passw0rd-kept')).toBe(true);
      expect(await keyed.directory.verifyUserPassword(CID, old.user.id, 'Old#Passw0rd-kepT')).toBe(false);
      // Reset writes the keyed form.
      const reset = await keyed.directory.resetPassword(CID, { userId: old.user.id }, { actor: keyed.actor });
      expect(await keyed.redis.hget(keyed.keys.user(CID, old.user.id), 'pwHash')).toMatch(/^h1\$/);
      expect(await keyed.directory.verifyUserPassword(CID, old.user.id, reset.temporaryPassword)).toBe(true);
      expect(await keyed.directory.verifyUserPassword(CID, old.user.id, 'Old#Passw0rd-kept')).toBe(false);
    } finally {
      await keyed.cleanup();
    }
  });

  it('reset replaces the hash: the old password stops working, the new one works, "must change" is set', async () => {
    // Provisioned users exist without a password and without "must change".
    const provisioned = await real.directory.createUser(
      CID,
      { username: 'pat', displayName: 'Pat', usageLocation: 'US' },
      { actor: real.actor, withoutPassword: true },
    );
    expect(provisioned.user).toMatchObject({ mustChangePassword: false, hasPassword: false });
    expect(provisioned.temporaryPassword).toBe('');

    const first = await real.directory.resetPassword(CID, { userId: provisioned.user.id }, { actor: real.actor });
    expect(first.user).toMatchObject({ mustChangePassword: true, hasPassword: true, version: 2 });
    expect(meetsPolicy(first.temporaryPassword)).toBe(true);

    const second = await real.directory.resetPassword(CID, { userId: provisioned.user.id }, { actor: real.actor });
    expect(second.temporaryPassword).not.toBe(first.temporaryPassword);
    expect(second.user.version).toBe(3);
    expect(await real.directory.verifyUserPassword(CID, provisioned.user.id, first.temporaryPassword)).toBe(false);
    expect(await real.directory.verifyUserPassword(CID, provisioned.user.id, second.temporaryPassword)).toBe(true);

    const stored = await everyStoredValue();
    expect(stored).not.toContain(first.temporaryPassword);
    expect(stored).not.toContain(second.temporaryPassword);
  });

  it('cannot reset the password of a deleted user', async () => {
    const { user } = await real.directory.createUser(CID, { username: 'gone', displayName: 'Gone', usageLocation: 'US' }, { actor: real.actor });
    await real.directory.deleteUsers(CID, [{ userId: user.id }], { actor: real.actor });
    const err = await directoryErrorOf(real.directory.resetPassword(CID, { userId: user.id }, { actor: real.actor }));
    expect(err.code).toBe('NOT_ACTIVE');
  });
});

describe('delete and restore', () => {
  it('delete frees the seats, remembers the licenses and lists the user under deleted users with days left', async () => {
    const bob = c.user('bob');
    const [result] = await t.directory.deleteUsers(CID, [{ userId: bob.id }], opts());
    expect(result).toEqual({ userId: bob.id, version: bob.version + 1, rememberedLicenses: ['O365_E3', 'SPE_E5'] });
    expect(await seats('O365_E3')).toMatchObject({ assignedSeats: 1, availableSeats: 24 });
    expect(await seats('SPE_E5')).toMatchObject({ assignedSeats: 0, availableSeats: 5 });

    const stored = await t.directory.getUser(CID, bob.id);
    expect(stored).toMatchObject({ state: 'deleted', licenses: [], rememberedLicenses: ['O365_E3', 'SPE_E5'], deletedAt: t.clock.now() });
    expect(await activeUpns()).not.toContain('bob@contoso.onmicrosoft.com');
    expect(await t.directory.getCounts(CID)).toEqual({ active: 2, unlicensed: 1, deleted: 1 });
    expect((await t.directory.listUsers(CID, { role: 'user-admin' })).total).toBe(0);

    let deleted = await t.directory.listDeletedUsers(CID);
    expect(deleted.map((u) => [u.userPrincipalName, u.daysLeft])).toEqual([['bob@contoso.onmicrosoft.com', 30]]);
    t.clock.advance(10 * DAY_MS + 1);
    deleted = await t.directory.listDeletedUsers(CID);
    expect(deleted.map((u) => u.daysLeft)).toEqual([20]);
    t.clock.advance(19 * DAY_MS);
    expect((await t.directory.listDeletedUsers(CID)).map((u) => u.daysLeft)).toEqual([1]);
    t.clock.advance(DAY_MS);
    expect(await t.directory.listDeletedUsers(CID)).toEqual([]);
  });

  it('delete is all or nothing: one unknown user in the selection deletes nobody', async () => {
    const err = await directoryErrorOf(
      t.directory.deleteUsers(CID, [{ userId: c.user('alice').id }, { userId: 'nope' }], opts()),
    );
    expect(err.code).toBe('USER_NOT_FOUND');
    expect((await t.directory.getUser(CID, c.user('alice').id)).state).toBe('active');
    expect((await t.directory.getCounts(CID)).deleted).toBe(0);
  });

  it('deleting an already deleted user is refused (NOT_ACTIVE)', async () => {
    await t.directory.deleteUsers(CID, [{ userId: c.user('carol').id }], opts());
    const err = await directoryErrorOf(t.directory.deleteUsers(CID, [{ userId: c.user('carol').id }], opts()));
    expect(err.code).toBe('NOT_ACTIVE');
    expect((await t.directory.getCounts(CID)).deleted).toBe(1);
  });

  it('restore on day 29 gives back the licenses that have a seat and names the others', async () => {
    const bob = c.user('bob');
    await t.directory.deleteUsers(CID, [{ userId: bob.id }], opts());
    t.clock.advance(3 * DAY_MS);
    // Meanwhile every SPE_E5 seat is taken.
    for (const n of [1, 2, 3, 4, 5]) {
      await t.directory.createUser(CID, { username: `e5-${n}`, displayName: `E5 ${n}`, usageLocation: 'US', licenses: ['SPE_E5'] }, opts());
    }
    t.clock.advance(26 * DAY_MS);

    const [outcome] = await t.directory.restoreUsers(CID, [{ userId: bob.id }], opts());
    expect(outcome).toEqual({
      userId: bob.id,
      ok: true,
      userPrincipalName: 'bob@contoso.onmicrosoft.com',
      restoredLicenses: ['O365_E3'],
      notRestoredLicenses: ['SPE_E5'],
    });
    const restored = await t.directory.getUser(CID, bob.id);
    expect(restored).toMatchObject({ state: 'active', licenses: ['O365_E3'], rememberedLicenses: [], deletedAt: null, role: 'user-admin' });
    expect(await seats('SPE_E5')).toMatchObject({ assignedSeats: 5, availableSeats: 0 });
    expect(await seats('O365_E3')).toMatchObject({ assignedSeats: 2 });
    expect(await t.directory.listDeletedUsers(CID)).toEqual([]);
    expect(await activeUpns()).toContain('bob@contoso.onmicrosoft.com');
    expect((await t.directory.listUsers(CID, { filter: { kind: 'license', skuId: 'O365_E3' } })).users.map((u) => u.id)).toContain(bob.id);
    expect((await t.directory.listUsers(CID, { role: 'user-admin' })).users.map((u) => u.id)).toEqual([bob.id]);
    // The password (none for a provisioned user) and the other fields are kept.
    expect(restored).toMatchObject({ displayName: bob.displayName, hasPassword: bob.hasPassword, createdAt: bob.createdAt });
  });

  it('restores within 30 days only: 29 d 23 h yes, 30 d + 1 s no, 31 d no', async () => {
    const [a, b, d] = ['alice', 'bob', 'carol'].map((n) => c.user(n));
    await t.directory.deleteUsers(CID, [a, b, d].map((u) => ({ userId: u.id })), opts());
    const deletedAt = t.clock.now();

    t.clock.set(deletedAt + 29 * DAY_MS + 23 * 3600_000);
    const [okA] = await t.directory.restoreUsers(CID, [{ userId: a.id }], opts());
    expect(okA).toMatchObject({ ok: true, restoredLicenses: ['O365_E3'] });

    t.clock.set(deletedAt + 30 * DAY_MS + 1000);
    const [lateB] = await t.directory.restoreUsers(CID, [{ userId: b.id }], opts());
    expect(lateB).toMatchObject({ ok: false, error: 'RESTORE_WINDOW_OVER', userId: b.id });

    t.clock.set(deletedAt + 31 * DAY_MS);
    const [lateD] = await t.directory.restoreUsers(CID, [{ userId: d.id }], opts());
    expect(lateD).toMatchObject({ ok: false, error: 'RESTORE_WINDOW_OVER' });

    expect((await t.directory.getUser(CID, b.id)).state).toBe('deleted');
    expect((await t.directory.getUser(CID, d.id)).state).toBe('deleted');
    expect(await t.directory.getCounts(CID)).toEqual({ active: 1, unlicensed: 0, deleted: 2 });
    expect((await seats('SPE_E5')).assignedSeats).toBe(0);
  });

  it('two users restored in one request share the seats left: the first gets the last one, the second is told', async () => {
    const bob = c.user('bob');
    const e5 = await t.directory.createUser(CID, { username: 'e5-a', displayName: 'E5 A', usageLocation: 'US', licenses: ['SPE_E5'] }, opts());
    await t.directory.deleteUsers(CID, [{ userId: bob.id }, { userId: e5.user.id }], opts());
    // Four of the five SPE_E5 seats are taken meanwhile: one is left for the two.
    for (const n of [1, 2, 3, 4]) {
      await t.directory.createUser(CID, { username: `e5-${n}`, displayName: `E5 ${n}`, usageLocation: 'US', licenses: ['SPE_E5'] }, opts());
    }
    const outcomes = await t.directory.restoreUsers(CID, [{ userId: bob.id }, { userId: e5.user.id }], opts());
    expect(outcomes.map((o) => (o.ok ? [o.restoredLicenses, o.notRestoredLicenses] : o.error))).toEqual([
      [['O365_E3', 'SPE_E5'], []],
      [[], ['SPE_E5']],
    ]);
    expect(await seats('SPE_E5')).toMatchObject({ assignedSeats: 5, availableSeats: 0 });
    expect(await t.directory.getCounts(CID)).toEqual({ active: 8, unlicensed: 2, deleted: 0 });
  });

  it('UPN taken meanwhile: that restore fails with UPN_TAKEN, the others in the request still restore; newUsername fixes it', async () => {
    const [alice, carol] = [c.user('alice'), c.user('carol')];
    await t.directory.deleteUsers(CID, [{ userId: alice.id }, { userId: carol.id }], opts());
    const newAlice = await t.directory.createUser(CID, { username: 'Alice', displayName: 'Alice New', usageLocation: 'US' }, opts());
    t.clock.advance(DAY_MS);

    const outcomes = await t.directory.restoreUsers(CID, [{ userId: alice.id }, { userId: carol.id }], opts());
    expect(outcomes).toEqual([
      { userId: alice.id, ok: false, error: 'UPN_TAKEN', userPrincipalName: 'alice@contoso.onmicrosoft.com' },
      { userId: carol.id, ok: true, userPrincipalName: 'carol@contoso.onmicrosoft.com', restoredLicenses: [], notRestoredLicenses: [] },
    ]);
    expect((await t.directory.getUser(CID, alice.id)).state).toBe('deleted');
    expect((await t.directory.getUser(CID, carol.id)).state).toBe('active');

    const [renamed] = await t.directory.restoreUsers(CID, [{ userId: alice.id, newUsername: 'alice.smith' }], opts());
    expect(renamed).toMatchObject({ ok: true, userPrincipalName: 'alice.smith@contoso.onmicrosoft.com', restoredLicenses: ['O365_E3'] });
    expect(await t.directory.findUser(CID, 'alice.smith')).toMatchObject({ id: alice.id, username: 'alice.smith', state: 'active' });
    expect((await t.directory.findUser(CID, 'alice')).id).toBe(newAlice.user.id);
    expect((await t.directory.listUsers(CID, { search: 'alice.smith' })).users.map((u) => u.id)).toEqual([alice.id]);
    expect(await t.directory.getCounts(CID)).toEqual({ active: 4, unlicensed: 2, deleted: 0 });
  });

  it('a new username is validated like a username', async () => {
    await t.directory.deleteUsers(CID, [{ userId: c.user('alice').id }], opts());
    const err = await directoryErrorOf(
      t.directory.restoreUsers(CID, [{ userId: c.user('alice').id, newUsername: 'ali ce' }], opts()),
    );
    expect(err.code).toBe('INVALID_FIELD');
    expect(err.params.field).toBe('newUsername');
  });

  it('restoring an active user answers NOT_DELETED and changes nothing', async () => {
    const alice = c.user('alice');
    const [outcome] = await t.directory.restoreUsers(CID, [{ userId: alice.id }], opts());
    expect(outcome).toMatchObject({ ok: false, error: 'NOT_DELETED' });
    expect(await t.directory.getUser(CID, alice.id)).toEqual(alice);
  });
});

describe('purge', () => {
  /** Values of every key under the root except operation results (their buckets expire within 96 h of real time). */
  async function valuesOutsideOperations(): Promise<string[]> {
    const all = await dumpValues(t);
    return [...all.entries()].filter(([k]) => !isOperationRecord(k)).flatMap(([, v]) => v);
  }
  const isOperationRecord = (k: string) => k.startsWith(t.keys.operationBucketPrefix(CID)) || k.startsWith(t.keys.operation(CID, ''));

  it('removes, 30 days after deletion, every key and index entry of the user; later deletions stay', async () => {
    const [alice, bob] = [c.user('alice'), c.user('bob')];
    await t.directory.deleteUsers(CID, [{ userId: alice.id }], opts());
    t.clock.advance(5 * DAY_MS);
    await t.directory.deleteUsers(CID, [{ userId: bob.id }], opts());

    t.clock.advance(25 * DAY_MS); // alice: exactly 30 days
    expect(await t.directory.purgeExpired(CID)).toBe(0);
    t.clock.advance(1);
    expect(await t.directory.purgeExpired(CID)).toBe(1);

    const keys = await t.scanKeys();
    expect(keys.filter((k) => k.includes(alice.id))).toEqual([]);
    for (const v of await valuesOutsideOperations()) expect(v).not.toContain(alice.id);
    // Bob is still restorable, with his remembered licenses.
    expect(await t.directory.redis.exists(t.keys.user(CID, bob.id))).toBe(1);
    expect((await t.directory.listDeletedUsers(CID)).map((u) => u.id)).toEqual([bob.id]);
    expect(await t.directory.getCounts(CID)).toEqual({ active: 1, unlicensed: 1, deleted: 1 });
    await expect(t.directory.findUser(CID, 'alice@contoso.onmicrosoft.com')).rejects.toMatchObject({ code: 'USER_NOT_FOUND' });
    await expect(t.directory.getUser(CID, alice.id)).rejects.toMatchObject({ code: 'USER_NOT_FOUND' });
    // Operation results that mention alice are transient: their buckets expire within 96 h.
    const records = keys.filter(isOperationRecord);
    expect(records.length).toBeGreaterThan(0);
    for (const k of records) {
      const ttl = await t.redis.pttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(96 * 3600_000);
    }

    t.clock.advance(5 * DAY_MS);
    expect(await t.directory.purgeExpired()).toBe(1);
    for (const v of await valuesOutsideOperations()) expect(v).not.toContain(bob.id);
    expect(await t.directory.getCounts(CID)).toEqual({ active: 1, unlicensed: 1, deleted: 0 });
  });

  it('moving the clock back after a purge resurrects nothing', async () => {
    const alice = c.user('alice');
    await t.directory.deleteUsers(CID, [{ userId: alice.id }], opts());
    const deletedAt = t.clock.now();
    t.clock.advance(31 * DAY_MS);
    expect(await t.directory.purgeExpired(CID)).toBe(1);

    t.clock.set(deletedAt + DAY_MS);
    expect(await t.directory.listDeletedUsers(CID)).toEqual([]);
    const [outcome] = await t.directory.restoreUsers(CID, [{ userId: alice.id }], opts());
    expect(outcome).toMatchObject({ ok: false, error: 'USER_NOT_FOUND' });
    expect(await t.directory.purgeExpired(CID)).toBe(0);
    expect(await t.directory.getCounts(CID)).toEqual({ active: 2, unlicensed: 1, deleted: 0 });
    expect(await t.scanKeys()).not.toContain(t.keys.user(CID, alice.id));
    expect((await seats('O365_E3')).assignedSeats).toBe(1);
  });
});

describe('audit', () => {
  it('records every change with actor and result, newest first, never a password', async () => {
    const agent = { id: 'agent-42', name: 'Kim Agent' };
    const created = await t.directory.createUser(CID, { username: 'dave', displayName: 'Dave', usageLocation: 'US' }, { actor: agent });
    t.clock.advance(1000);
    await t.directory.changeLicenses(CID, [{ userId: created.user.id }], { add: ['SPE_E5'] }, { actor: agent });
    t.clock.advance(1000);
    const reset = await t.directory.resetPassword(CID, { userId: created.user.id }, { actor: agent });
    t.clock.advance(1000);
    await t.directory.deleteUsers(CID, [{ userId: created.user.id }], { actor: agent });
    t.clock.advance(1000);
    await t.directory.restoreUsers(CID, [{ userId: created.user.id }], { actor: agent });
    t.clock.advance(1000);
    const refused = await directoryErrorOf(
      t.directory.changeLicenses(CID, [{ userId: c.user('carol').id }], { add: ['NOPE'] }, { actor: agent }),
    );
    expect(refused.code).toBe('UNKNOWN_LICENSE');

    const { entries, total } = await t.directory.audit(CID, 1, 6);
    expect(entries.map((e) => [e.action, e.result])).toEqual([
      ['change-licenses', 'UNKNOWN_LICENSE'],
      ['restore-users', 'ok'],
      ['delete-users', 'ok'],
      ['reset-password', 'ok'],
      ['change-licenses', 'ok'],
      ['create-user', 'ok'],
    ]);
    for (const e of entries) expect(e).toMatchObject({ actorId: 'agent-42', actorName: 'Kim Agent' });
    expect(entries.map((e) => e.at)).toEqual([0, 1000, 2000, 3000, 4000, 5000].map((d) => t.clock.now() - d));
    expect(entries[5].target).toBe('dave@contoso.onmicrosoft.com');
    expect(entries[3].target).toBe('dave@contoso.onmicrosoft.com');
    // The provisioning load and the three seeded users came first.
    expect(total).toBe(6 + 1 + 3);
    const everything = await t.directory.audit(CID, 1, 100);
    expect(everything.entries.at(-1)).toMatchObject({ action: 'provision', actorId: 'provisioning', result: 'ok' });

    const text = JSON.stringify(everything);
    expect(text).not.toContain(created.temporaryPassword);
    expect(text).not.toContain(reset.temporaryPassword);
    expect(text).not.toContain('scrypt');
  });

  it('is capped at the newest 1000 entries', async () => {
    const carol = c.user('carol');
    for (let i = 0; i < 1004; i++) {
      await t.directory.changeLicenses(CID, [{ userId: carol.id }], i % 2 ? { remove: ['O365_E3'] } : { add: ['O365_E3'] }, {
        actor: { id: `agent-${i}`, name: `Agent ${i}` },
      });
    }
    let log = await t.directory.audit(CID, 1, 2);
    expect(log.total).toBe(1000);
    expect(log.entries.map((e) => e.actorId)).toEqual(['agent-1003', 'agent-1002']);
    expect((await t.directory.audit(CID, 50, 20)).entries.at(-1)?.actorId).toBe('agent-4');
    expect((await t.directory.audit(CID, 51, 20)).entries).toEqual([]);

    // A refused change is audited under the same cap.
    await expect(
      t.directory.changeLicenses(CID, [{ userId: carol.id }], { add: ['NOPE'] }, { actor: { id: 'late', name: 'Late' } }),
    ).rejects.toMatchObject({ code: 'UNKNOWN_LICENSE' });
    log = await t.directory.audit(CID, 1, 1);
    expect(log.total).toBe(1000);
    expect(log.entries[0]).toMatchObject({ actorId: 'late', action: 'change-licenses', result: 'UNKNOWN_LICENSE' });
  });
});

describe('customers and subscriptions', () => {
  const def = () => ({
    id: CID,
    name: 'Contoso Ltd',
    domains: ['contoso.onmicrosoft.com', 'contoso.com', LONG_DOMAIN],
    subscriptions: [
      { skuId: 'O365_E3', name: 'Office 365 E3', seats: 25 },
      { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 5 },
    ],
  });

  it('upsertCustomer is idempotent: re-loading the same file changes and audits nothing', async () => {
    const subsBefore = await t.directory.getSubscriptions(CID);
    const auditBefore = await t.directory.audit(CID);
    expect(await t.directory.upsertCustomer(def(), t.actor)).toEqual({ changed: 0 });
    expect(await t.directory.upsertCustomer(def(), t.actor)).toEqual({ changed: 0 });
    expect(await t.directory.getSubscriptions(CID)).toEqual(subsBefore);
    expect(await t.directory.audit(CID)).toEqual(auditBefore);
    expect(await t.directory.listCustomers()).toEqual([{ id: CID, name: 'Contoso Ltd', domains: def().domains }]);
    expect((await t.directory.getCounts(CID)).active).toBe(3);
  });

  it('raises seats and adds subscriptions; lowering below the assigned seats is refused and changes nothing', async () => {
    const more = def();
    more.subscriptions[1].seats = 10;
    more.subscriptions.push({ skuId: 'VISIO_P2', name: 'Visio Plan 2', seats: 3 });
    expect(await t.directory.upsertCustomer(more, t.actor)).toEqual({ changed: 2 });
    expect((await seats('SPE_E5')).totalSeats).toBe(10);
    expect(await seats('VISIO_P2')).toMatchObject({ totalSeats: 3, assignedSeats: 0, availableSeats: 3 });

    await t.directory.changeLicenses(CID, [{ userId: c.user('alice').id }, { userId: c.user('carol').id }], { add: ['SPE_E5'] }, opts());
    const lower = def();
    lower.name = 'Contoso Renamed';
    lower.subscriptions[1].seats = 2; // 3 assigned
    const err = await directoryErrorOf(t.directory.upsertCustomer(lower, t.actor));
    expect(err.code).toBe('SEATS_BELOW_ASSIGNED');
    expect(err.params).toEqual({ license: 'SPE_E5', assigned: 3, seats: 2 });
    expect((await seats('SPE_E5')).totalSeats).toBe(10);
    expect((await t.directory.getCustomer(CID)).name).toBe('Contoso Ltd');

    lower.subscriptions[1].seats = 3; // equal to assigned is fine
    expect((await t.directory.upsertCustomer(lower, t.actor)).changed).toBe(2);
    expect(await seats('SPE_E5')).toMatchObject({ totalSeats: 3, assignedSeats: 3, availableSeats: 0 });
    expect((await t.directory.getCustomer(CID)).name).toBe('Contoso Renamed');
  });

  it('re-loading with a domain dropped or renamed customer: lookups follow the file', async () => {
    const next = def();
    next.name = 'Contoso Group';
    next.domains = ['contoso.onmicrosoft.com', 'contoso.net'];
    expect((await t.directory.upsertCustomer(next, t.actor)).changed).toBe(1);
    expect((await t.directory.findCustomers('contoso.com')).map((x) => x.id)).toEqual([]);
    expect((await t.directory.findCustomers('contoso.net')).map((x) => x.id)).toEqual([CID]);
    expect((await t.directory.findCustomers('contoso group')).map((x) => x.id)).toEqual([CID]);
    expect(await t.directory.findCustomers('Contoso Ltd')).toEqual([]);
    const err = await directoryErrorOf(t.directory.createUser(CID, { username: 'x', domain: 'contoso.com', displayName: 'X', usageLocation: 'US' }, opts()));
    expect([err.code, err.params.field]).toEqual(['DOMAIN_NOT_IN_CUSTOMER', 'domain']);
    // A domain that moved to another customer stays with it.
    await t.seed({ id: 'other', name: 'Other', domains: ['other.onmicrosoft.com', 'contoso.net'] });
    await t.directory.upsertCustomer(def(), t.actor);
    expect((await t.directory.findCustomers('contoso.net')).map((x) => x.id)).toEqual(['other']);
    expect((await t.directory.findCustomers('contoso.com')).map((x) => x.id)).toEqual([CID]);
  });

  it('findCustomers by id, any domain, exact name, part of a name; an ambiguous name returns several', async () => {
    await t.seed({ id: 'ctso-pharma', name: 'Contoso Pharma', domains: ['contosopharma.onmicrosoft.com'] });
    await t.seed({ id: 'fabrikam', name: 'Fabrikam Inc', domains: ['fabrikam.onmicrosoft.com', 'fabrikam.com'] });
    const ids = async (ref: string) => (await t.directory.findCustomers(ref)).map((x) => x.id);

    expect(await ids('fabrikam')).toEqual(['fabrikam']);
    expect(await ids('FABRIKAM.COM')).toEqual(['fabrikam']);
    expect(await ids('contoso.com')).toEqual([CID]);
    expect(await ids('contosopharma.onmicrosoft.com')).toEqual(['ctso-pharma']);
    expect(await ids('contoso pharma')).toEqual(['ctso-pharma']);
    expect(await ids('Contoso Ltd')).toEqual([CID]);
    expect(await ids('pharma')).toEqual(['ctso-pharma']);
    expect((await ids(' CONTO ')).sort()).toEqual([CID, 'ctso-pharma'].sort());
    expect(await ids('northwind')).toEqual([]);
    expect(await ids('  ')).toEqual([]);
    const [found] = await t.directory.findCustomers('fabrikam.com');
    expect(found).toEqual({ id: 'fabrikam', name: 'Fabrikam Inc', domains: ['fabrikam.onmicrosoft.com', 'fabrikam.com'] });
  });
});

describe('optimistic concurrency: an old expectedVersion is STALE and changes nothing', () => {
  it('every write bumps the version', async () => {
    const carol = c.user('carol');
    expect(carol.version).toBe(1);
    const [r] = await t.directory.changeLicenses(CID, [{ userId: carol.id, expectedVersion: 1 }], { add: ['O365_E3'] }, opts());
    expect(r).toEqual({ userId: carol.id, changed: true, added: ['O365_E3'], removed: [], version: 2, displayName: carol.displayName, userPrincipalName: carol.userPrincipalName });
    expect((await t.directory.resetPassword(CID, { userId: carol.id, expectedVersion: 2 }, opts())).user.version).toBe(3);
    expect((await t.directory.deleteUsers(CID, [{ userId: carol.id, expectedVersion: 3 }], opts()))[0].version).toBe(4);
    await t.directory.restoreUsers(CID, [{ userId: carol.id, expectedVersion: 4 }], opts());
    expect((await t.directory.getUser(CID, carol.id)).version).toBe(5);
    // A change that changes nothing (already held) does not bump it.
    const [same] = await t.directory.changeLicenses(CID, [{ userId: carol.id }], { add: ['O365_E3'] }, opts());
    expect(same).toMatchObject({ changed: false, version: 5 });
  });

  it('changeLicenses, resetPassword, deleteUsers and restoreUsers refuse an old version', async () => {
    const alice = c.user('alice');
    await t.directory.resetPassword(CID, { userId: alice.id }, opts()); // version 2, password Pw#Test-2-Kyzx
    const now = await t.directory.getUser(CID, alice.id);
    const subs = await t.directory.getSubscriptions(CID);
    const auditCount = (await t.directory.audit(CID)).total;

    const e1 = await directoryErrorOf(t.directory.changeLicenses(CID, [{ userId: alice.id, expectedVersion: 1 }], { add: ['SPE_E5'] }, opts()));
    const e2 = await directoryErrorOf(t.directory.resetPassword(CID, { userId: alice.id, expectedVersion: 1 }, opts()));
    const e3 = await directoryErrorOf(t.directory.deleteUsers(CID, [{ userId: c.user('carol').id }, { userId: alice.id, expectedVersion: 1 }], opts()));
    for (const e of [e1, e2, e3]) {
      expect(e.code).toBe('STALE');
      expect(e.params.user).toBe(alice.id);
    }
    expect(await t.directory.getUser(CID, alice.id)).toEqual(now);
    expect((await t.directory.getUser(CID, c.user('carol').id)).state).toBe('active');
    expect(await t.directory.getSubscriptions(CID)).toEqual(subs);
    expect(await t.directory.verifyUserPassword(CID, alice.id, 'Pw#Test-2-Kyzx')).toBe(true);
    // The refusals are audited, and only them.
    const log = await t.directory.audit(CID, 1, 3);
    expect(log.total).toBe(auditCount + 3);
    expect(log.entries.map((e) => e.result)).toEqual(['STALE', 'STALE', 'STALE']);

    await t.directory.deleteUsers(CID, [{ userId: alice.id }], opts()); // version 3
    const [stale] = await t.directory.restoreUsers(CID, [{ userId: alice.id, expectedVersion: 2 }], opts());
    expect(stale).toMatchObject({ ok: false, error: 'STALE' });
    expect((await t.directory.getUser(CID, alice.id)).state).toBe('deleted');
  });
});

describe('unknown customer, unknown user', () => {
  it('every call on an unknown customer fails with CUSTOMER_NOT_FOUND', async () => {
    const o = opts();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['getCustomer', () => t.directory.getCustomer('nope')],
      ['getSubscriptions', () => t.directory.getSubscriptions('nope')],
      ['getCounts', () => t.directory.getCounts('nope')],
      ['listUsers', () => t.directory.listUsers('nope')],
      ['listUsers filtered', () => t.directory.listUsers('nope', { filter: { kind: 'licensed' }, search: 'a' })],
      ['findUser', () => t.directory.findUser('nope', 'alice')],
      ['getUser', () => t.directory.getUser('nope', c.user('alice').id)],
      ['listDeletedUsers', () => t.directory.listDeletedUsers('nope')],
      ['audit', () => t.directory.audit('nope')],
      ['createUser', () => t.directory.createUser('nope', { username: 'x', displayName: 'X', usageLocation: 'US' }, o)],
      ['changeLicenses', () => t.directory.changeLicenses('nope', [{ userId: c.user('alice').id }], { add: ['O365_E3'] }, o)],
      ['resetPassword', () => t.directory.resetPassword('nope', { userId: c.user('alice').id }, o)],
      ['deleteUsers', () => t.directory.deleteUsers('nope', [{ userId: c.user('alice').id }], o)],
      ['restoreUsers', () => t.directory.restoreUsers('nope', [{ userId: c.user('alice').id }], o)],
    ];
    for (const [name, call] of calls) {
      const err = await directoryErrorOf(call());
      expect([name, err.code, err.params.customer]).toEqual([name, 'CUSTOMER_NOT_FOUND', 'nope']);
    }
    expect((await t.scanKeys()).filter((k) => k.includes('{c:nope}'))).toEqual([]);
  });

  it('every call on an unknown user fails with USER_NOT_FOUND', async () => {
    const o = opts();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['getUser', () => t.directory.getUser(CID, 'ghost')],
      ['findUser', () => t.directory.findUser(CID, 'ghost')],
      ['findUser by UPN', () => t.directory.findUser(CID, 'ghost@contoso.com')],
      ['changeLicenses', () => t.directory.changeLicenses(CID, [{ userId: 'ghost' }], { add: ['O365_E3'] }, o)],
      ['resetPassword', () => t.directory.resetPassword(CID, { userId: 'ghost' }, o)],
      ['deleteUsers', () => t.directory.deleteUsers(CID, [{ userId: 'ghost' }], o)],
    ];
    for (const [name, call] of calls) {
      const err = await directoryErrorOf(call());
      expect([name, err.code]).toEqual([name, 'USER_NOT_FOUND']);
    }
    const [outcome] = await t.directory.restoreUsers(CID, [{ userId: 'ghost' }], o);
    expect(outcome).toMatchObject({ userId: 'ghost', ok: false, error: 'USER_NOT_FOUND' });
    expect(await t.directory.getCounts(CID)).toEqual({ active: 3, unlicensed: 1, deleted: 0 });
  });

  it('findUser by id, by UPN in any case, by username in any of the customer’s domains, and deleted users too', async () => {
    const alice = c.user('alice');
    expect(await t.directory.findUser(CID, alice.id)).toEqual(alice);
    expect(await t.directory.findUser(CID, 'ALICE@Contoso.OnMicrosoft.com')).toEqual(alice);
    expect(await t.directory.findUser(CID, ' alice ')).toEqual(alice);
    expect(await t.directory.findUser(CID, 'Alice')).toEqual(alice);
    const other = await t.directory.createUser(CID, { username: 'erin', domain: 'contoso.com', displayName: 'Erin', usageLocation: 'US' }, opts());
    expect((await t.directory.findUser(CID, 'erin')).id).toBe(other.user.id);
    expect((await t.directory.findUser(CID, 'erin@CONTOSO.com')).id).toBe(other.user.id);
    await expect(t.directory.findUser(CID, 'erin@contoso.onmicrosoft.com')).rejects.toMatchObject({ code: 'USER_NOT_FOUND' });

    await t.directory.deleteUsers(CID, [{ userId: alice.id }], opts());
    expect(await t.directory.findUser(CID, 'alice')).toMatchObject({ id: alice.id, state: 'deleted' });
    expect(await t.directory.findUser(CID, 'Alice@contoso.onmicrosoft.com')).toMatchObject({ id: alice.id, state: 'deleted' });
  });
});
