/**
 * The invariant checker kept for operators (`npm run check-store`): it passes on a store the service built, and
 * finds every kind of corruption planted by hand. Runs on the single server and, in the cluster run, on a cluster
 * (where it must SCAN every master).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DAY_MS } from '../../services/directory';
import { SEP } from '../../services/store/keys';
import { checkStore, formatReport, ViolationKind } from '../../services/storeCheck';
import { createTestDirectory, onCluster, SeededCustomer, TestDirectory } from '../support/testDirectory';

const CID = 'contoso';
let t: TestDirectory;
let c: SeededCustomer;

beforeEach(async () => {
  t = await createTestDirectory({ passwords: 'deterministic' });
  c = await t.seed({
    id: CID,
    users: [
      { username: 'alice', displayName: 'Alice Smith', licenses: ['O365_E3'] },
      { username: 'bob', displayName: 'Bob Jones', role: 'user-admin', licenses: ['O365_E3', 'SPE_E5'] },
      { username: 'carol', displayName: 'Carol White' },
      { username: 'dave', displayName: 'Dave Brown', licenses: ['SPE_E5'] },
      { username: 'erin', displayName: 'Erin Gray' },
    ],
  });
  await t.seed({ id: 'fabrikam', name: 'Fabrikam', users: [{ username: 'fred', licenses: ['O365_E3'] }] });
  // A little history: every kind of change, an audited refusal, a purge.
  const o = { actor: t.actor };
  await t.directory.changeLicenses(CID, [{ userId: c.user('carol').id }], { add: ['SPE_E5'] }, o);
  await t.directory.deleteUsers(CID, [{ userId: c.user('dave').id }, { userId: c.user('erin').id }], o);
  t.clock.advance(31 * DAY_MS);
  await t.directory.purgeExpired(CID);
  await t.directory.deleteUsers(CID, [{ userId: c.user('carol').id }], { actor: t.actor, operationId: 'op-delete-carol' });
  await t.directory.restoreUsers(CID, [{ userId: c.user('carol').id }], o);
  await t.directory.resetPassword(CID, { userId: c.user('alice').id }, o);
  await t.directory.deleteUsers(CID, [{ userId: c.user('bob').id }], o);
  await expect(t.directory.changeLicenses(CID, [{ userId: c.user('alice').id, expectedVersion: 1 }], { add: ['SPE_E5'] }, o)).rejects.toMatchObject({ code: 'STALE' });
  await t.directory.recordRefusal(t.actor, 'deleteUsers', 'role helpdesk', CID);
});

afterEach(async () => {
  await t.cleanup();
});

const user = (name: string) => c.user(name);
const key = (name: Parameters<TestDirectory['keys']['customerKey']>[1]) => t.keys.customerKey(CID, name);
const member = (u: { displayName: string; id: string }) => `${u.displayName.toLowerCase()}${SEP}${u.id}`;

it('passes on a store built by the service, and counts what it checked', async () => {
  const report = await checkStore(t.redis, t.keys);
  expect(report.violations).toEqual([]);
  expect(report).toMatchObject({ ok: true, customers: 2, activeUsers: 3, deletedUsers: 1 });
  expect(report.auditEntries).toBeGreaterThan(10);
  expect(formatReport(report)).toMatch(/^2 customer\(s\), 3 active and 1 deleted user\(s\), \d+ audit entries, \d+ key\(s\) checked: every invariant holds\.$/);
  // The operation records it accepted: buckets with an expiry, and a record in a key of its own with one.
  expect((await t.scanKeys()).filter((k) => k.startsWith(t.keys.operationBucketPrefix(CID))).length).toBeGreaterThan(0);
  await t.redis.set(t.keys.operation(CID, 'op-older'), 'OK\x1f1', 'PX', DAY_MS);
  expect((await checkStore(t.redis, t.keys)).violations).toEqual([]);
});

type Plant = () => Promise<unknown>;
const corruptions: Array<[string, Plant, ViolationKind, RegExp]> = [
  ['a seat counted that nobody holds', () => t.redis.hincrby(key('counts'), 'lic:O365_E3', 1), 'seats', /O365_E3: 2 seat\(s\) counted as used, 1 active user\(s\) hold it/],
  ['a license written into a user behind the indexes’ back', () => t.redis.hset(t.keys.user(CID, user('alice').id), 'licenses', 'O365_E3,SPE_E5'), 'seats', /SPE_E5: 1 seat\(s\) counted as used, 2 active user\(s\) hold it/],
  ['more holders than seats', () => t.redis.hset(key('seats'), 'O365_E3', '0'), 'seats', /O365_E3: 1 holder\(s\) for 0 seat\(s\)/],
  ['a license the customer has no subscription for', () => t.redis.hset(t.keys.user(CID, user('alice').id), 'licenses', 'O365_E3,VISIO_P2'), 'user', /holds VISIO_P2, which the customer has no subscription for/],
  ['an active user missing from idx:active', () => t.redis.zrem(key('idx:active'), `${'alice smith'}${SEP}${user('alice').id}`), 'index', /idx:active lacks 1 entry/],
  ['an idx:license entry for a user who does not hold it', () => t.redis.zadd(key('idx:license'), 0, `SPE_E5${SEP}${member(user('alice'))}`), 'index', /idx:license has 1 entry no user calls for/],
  ['an idx:unlicensed entry for a licensed user', () => t.redis.zadd(key('idx:unlicensed'), 0, member(user('alice'))), 'index', /idx:unlicensed has 1 entry/],
  ['an idx:role entry under the wrong role', () => t.redis.zadd(key('idx:role'), 0, `global-admin${SEP}${member(user('alice'))}`), 'index', /idx:role has 1 entry/],
  ['a UPN that points to another user', () => t.redis.hset(key('upn'), 'alice@contoso.onmicrosoft.com', user('carol').id), 'index', /upn lacks 1 entry.*upn has 1 entry|upn/],
  ['a deleted user missing from the deleted list', () => t.redis.zrem(key('deleted'), user('bob').id), 'index', /deleted lacks 1 entry/],
  ['a deletion time that differs from the user’s', () => t.redis.zadd(key('deleted'), 5, user('bob').id), 'index', /deleted lacks 1 entry/],
  ['a wrong active count', () => t.redis.hincrby(key('counts'), 'active', -1), 'counts', /counts\.active is 1, the users say 2/],
  ['a wrong deleted count', () => t.redis.hset(key('counts'), 'deleted', '4'), 'counts', /counts\.deleted is 4, the users say 1/],
  ['a wrong role count', () => t.redis.hincrby(key('counts'), 'role:user', 2), 'counts', /counts\.role:user/],
  ['a user hash lost while its indexes remain', () => t.redis.del(t.keys.user(CID, user('alice').id)), 'index', /idx:active has 1 entry no user calls for/],
  ['two active users with one UPN', () => t.redis.hset(t.keys.user(CID, user('carol').id), 'upn', 'alice@contoso.onmicrosoft.com', 'username', 'alice'), 'user', /UPN alice@contoso.onmicrosoft.com is also held by user/],
  ['a user hash with a broken version', () => t.redis.hset(t.keys.user(CID, user('carol').id), 'version', 'x'), 'user', /version "x"/],
  ['an unknown key under the customer’s tag', () => t.redis.set(`${t.root}{c:${CID}}:leftover`, '1'), 'orphan', /1 unknown key\(s\) under the customer's tag/],
  ['a bucket of operation results that never expires', () => t.redis.persist(t.keys.operationRecords(CID, 'op-delete-carol', t.clock.now()).current), 'orphan', /1 bucket\(s\) of operation results without an expiry/],
  // Still written by the Graph directory, and by the Redis directory before the buckets.
  ['an operation result (a key of its own) that never expires', () => t.redis.set(t.keys.operation(CID, 'op-older'), 'OK\x1f1'), 'orphan', /1 operation result\(s\) without an expiry/],
  ['a key under the buckets’ prefix that is not a bucket', () => t.redis.hset(`${t.keys.operationBucketPrefix(CID)}x`, 'op', 'OK'), 'orphan', /1 unknown key\(s\) under the customer's tag/],
  ['keys of a customer nobody registered', () => t.redis.hset(`${t.root}{c:ghost}:counts`, 'active', '1'), 'orphan', /under \{c:ghost\} but no such customer is registered/],
  ['an audit entry that does not parse', () => t.redis.lpush(key('audit'), 'garbage'), 'audit', /1 audit entry does not parse: "garbage"/],
  ['a refusal entry that does not parse', () => t.redis.lpush(t.keys.refusals(), 'x\x1fy'), 'audit', /1 refusals entry does not parse/],
  ['a domain lookup that names the wrong customer', () => t.redis.hset(t.keys.domains(), 'contoso.com', 'fabrikam'), 'customer', /sends "contoso\.com" to "fabrikam"/],
  ['a customer name listed for an unregistered customer', () => t.redis.hset(t.keys.customerNames(), 'ghost', 'Ghost'), 'customer', /customer-names has "ghost"/],
];

it.each(corruptions)('finds %s', async (_name, plant, kind, message) => {
  expect((await checkStore(t.redis, t.keys)).ok).toBe(true);
  await plant();
  const report = await checkStore(t.redis, t.keys);
  expect(report.ok).toBe(false);
  const found = report.violations.filter((x) => x.kind === kind);
  expect(found.map((x) => x.message).join('\n')).toMatch(message);
  expect(formatReport(report)).toMatch(new RegExp(`^VIOLATION \\[${kind}\\]`, 'm'));
});

describe('npm run check-store', () => {
  const exec = promisify(execFile);
  const cli = (args: string[]) =>
    exec(process.execPath, [join(__dirname, '../../node_modules/tsx/dist/cli.mjs'), join(__dirname, '../../scripts/checkStore.ts'), ...args], {
      env: { PATH: process.env.PATH, ...(onCluster() ? { REDIS_CLUSTER_NODES: process.env.TEST_REDIS_CLUSTER } : {}) },
    }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout + err.stderr }),
    );
  const target = () => (onCluster() ? [] : [process.env.TEST_REDIS_URL as string]);

  it('prints the report and exits 0 on a healthy store, 1 with the violations on a corrupted one', async () => {
    const healthy = await cli([...target(), '--root', t.root]);
    expect(healthy.stdout).toMatch(/2 customer\(s\), 3 active and 1 deleted user\(s\).*every invariant holds\./);
    expect(healthy.code).toBe(0);

    await t.redis.hincrby(key('counts'), 'lic:SPE_E5', 1);
    const broken = await cli([...target(), '--root', t.root]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain('VIOLATION [seats] customer contoso: SPE_E5: 2 seat(s) counted as used, 1 active user(s) hold it');
    expect(broken.stdout).toMatch(/1 violation\(s\)\.$/m);
  });

  it('explains its usage and exits 2 without a Redis to check', async () => {
    const none = await promisify(execFile)(process.execPath, [join(__dirname, '../../node_modules/tsx/dist/cli.mjs'), join(__dirname, '../../scripts/checkStore.ts')], {
      env: { PATH: process.env.PATH },
    }).catch((err: { code: number; stderr: string }) => err);
    expect((none as { code: number }).code).toBe(2);
    expect((none as { stderr: string }).stderr).toMatch(/No Redis to check\. Usage: npm run check-store -- \[redis:\/\/host:port\]/);
  });

  it('reads REDIS_URL and REDIS_CLUSTER_NODES with the bot\'s own rules: a bad value is named, exit 2', async () => {
    const run = (env: Record<string, string>) =>
      promisify(execFile)(process.execPath, [join(__dirname, '../../node_modules/tsx/dist/cli.mjs'), join(__dirname, '../../scripts/checkStore.ts')], {
        env: { PATH: process.env.PATH, ...env },
      }).catch((err: { code: number; stderr: string }) => err) as Promise<{ code: number; stderr: string }>;
    const badUrl = await run({ REDIS_URL: 'http://127.0.0.1:6379' });
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('Invalid setting REDIS_URL: must be a redis:// or rediss:// URL');
    const badNodes = await run({ REDIS_CLUSTER_NODES: '127.0.0.1' });
    expect(badNodes.code).toBe(2);
    expect(badNodes.stderr).toContain('Invalid setting REDIS_CLUSTER_NODES: must be a comma-separated list of host:port seed nodes');
  });
});
