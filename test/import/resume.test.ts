/**
 * An interrupted import can be resumed and never creates a user twice; users it created before the interruption get
 * a fresh temporary password on resume (SPEC §6). One runner per job. All or nothing creates nothing when a row is
 * invalid, and rolls back what it created when a row fails during the run.
 *
 * Crashes are simulated in-process: the `afterRow` hook throws (after a batch was recorded), or a wrapped directory
 * call throws after its write was applied (the reply was lost), or a lock is left behind as a killed instance leaves it.
 */
import { parse } from 'csv-parse/sync';
import { CredentialVault } from '../../services/credentials';
import { ImportOptions, ImportResult, ImportService } from '../../services/import/importer';
import { BotApp, errorLogs, MEGAN, startBotApp } from '../support/botApp';
import { cardOf, texts } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { partnerCenterCsv } from '../support/importCsv';
import { createTestDirectory, dumpValues, SeedCustomer, TestDirectory } from '../support/testDirectory';
import { PASSWORD_LENGTH } from '../../services/passwords';

const ROWS = 600;
const SEED: SeedCustomer = {
  subscriptions: [
    { skuId: 'O365_E3', name: 'Office 365 E3', seats: 1000 },
    { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 300 },
  ],
  users: [{ username: 'alice', displayName: 'Alice Smith', licenses: ['O365_E3'] }],
};
/** A third of the rows bring their own licenses; the others take the batch's O365_E3. */
const FILE = partnerCenterCsv(ROWS, { licenses: (i) => (i % 3 === 0 ? 'O365_E3;SPE_E5' : '') });
const OPTIONS: ImportOptions = { mode: 'validRows', usageLocation: 'US', licenses: ['O365_E3'] };

/** Throws on the n-th call: a crash after n rows were recorded. */
function crashAfter(n: number): (index: number) => void {
  let rows = 0;
  return () => {
    if (++rows === n) throw new Error('simulated crash');
  };
}

interface Harness {
  t: TestDirectory;
  importer: ImportService;
  vault: CredentialVault;
}

async function harness(seed: SeedCustomer = SEED): Promise<Harness> {
  const t = await createTestDirectory();
  await t.seed(seed);
  const vault = new CredentialVault(t.redis, t.keys, t.clock);
  return { t, importer: new ImportService(t.directory, vault), vault };
}

async function startJob(h: Harness, bytes: Buffer = FILE, options: ImportOptions = OPTIONS, owner = h.t.actor): Promise<string> {
  const p = await h.importer.preview('contoso', bytes, 'users.csv', owner);
  if (!p.ok) throw new Error(JSON.stringify(p.problem));
  const { started } = await h.importer.start('contoso', p.preview.jobId, owner, options);
  expect(started).toBe(true);
  return p.preview.jobId;
}

/** What an agent sees of the customer afterwards: every active user, seats, counters. */
async function endState(t: TestDirectory) {
  const ids = Object.values(await t.redis.hgetall(t.keys.customerKey('contoso', 'upn')));
  const users = (await t.directory.readUsers('contoso', ids)).map((u) => ({
    upn: u!.userPrincipalName,
    displayName: u!.displayName,
    licenses: u!.licenses,
    usageLocation: u!.usageLocation,
    role: u!.role,
    state: u!.state,
  }));
  users.sort((a, b) => a.upn.localeCompare(b.upn));
  const seats = (await t.directory.getSubscriptions('contoso')).map((s) => ({ sku: s.skuId, assigned: s.assignedSeats, available: s.availableSeats }));
  return { users, seats, counts: await t.directory.getCounts('contoso') };
}

/** The results CSV of a finished job, as rows keyed by header. */
async function resultsOf(h: Harness, result: ImportResult | null): Promise<Array<Record<string, string>>> {
  if (!result) throw new Error('the run returned null');
  const download = await h.vault.redeemDownload(result.downloadToken);
  if (!download.ok) throw new Error('results download is gone');
  return parse(download.content, { bom: true, columns: true }) as Array<Record<string, string>>;
}

const userIdOf = async (t: TestDirectory, upn: string) => (await t.redis.hget(t.keys.customerKey('contoso', 'upn'), upn.toLowerCase()))!;

/** Records the temporary password of every user created through the wrapped directory. */
function recordPasswords(t: TestDirectory): Map<string, string> {
  const seen = new Map<string, string>();
  const createUser = t.directory.createUser.bind(t.directory);
  jest.spyOn(t.directory, 'createUser').mockImplementation(async (...args) => {
    const created = await createUser(...args);
    if (created.temporaryPassword) seen.set(created.user.userPrincipalName, created.temporaryPassword);
    return created;
  });
  return seen;
}

const harnesses: Harness[] = [];
async function make(seed?: SeedCustomer): Promise<Harness> {
  const h = await harness(seed);
  harnesses.push(h);
  return h;
}
afterEach(async () => {
  jest.restoreAllMocks();
  while (harnesses.length) await harnesses.pop()!.t.cleanup();
});

describe('kill and resume', () => {
  test('a run that crashed after 400 rows, resumed, ends exactly as an uninterrupted run; the first 400 get new passwords', async () => {
    const straight = await make();
    const straightResult = await straight.importer.run('contoso', await startJob(straight));
    expect(straightResult).toMatchObject({ state: 'done', created: ROWS, failed: 0, passwordsRenewed: 0 });

    const h = await make();
    const firstPasswords = recordPasswords(h.t);
    const jobId = await startJob(h);
    // Crash on the 250th recorded row: rows are recorded in batches of 200, so 400 were recorded.
    await expect(h.importer.run('contoso', jobId, { afterRow: crashAfter(250) })).rejects.toThrow('simulated crash');
    expect(await h.importer.progress('contoso', jobId)).toMatchObject({ state: 'running', processed: 400, created: 400 });
    // The crashed run released its own lock, so the resume need not wait for it to expire.
    expect(await h.t.redis.exists(h.t.keys.importJob('contoso', jobId, ':lock'))).toBe(0);
    expect(await h.importer.runningJobs()).toEqual([{ customerId: 'contoso', jobId }]);
    const beforeCrash = new Map(firstPasswords);
    expect(beforeCrash.size).toBe(400);

    const result = await h.importer.run('contoso', jobId);
    expect(result).toMatchObject({ state: 'done', total: ROWS, processed: ROWS, created: ROWS, failed: 0, passwordsRenewed: 400 });
    expect(await endState(h.t)).toEqual(await endState(straight.t));
    expect(await h.importer.runningJobs()).toEqual([]);

    // The results list every user with a usable password: the new one for those created before the crash.
    const rows = await resultsOf(h, result);
    expect(rows).toHaveLength(ROWS);
    expect(rows.every((r) => r['Status update'].startsWith('Created ') && r['Temporary password'].length === PASSWORD_LENGTH)).toBe(true);
    for (const row of rows.filter((_, i) => i % 20 === 0)) {
      const upn = row['Status update'].slice('Created '.length);
      const id = await userIdOf(h.t, upn);
      expect(await h.t.directory.verifyUserPassword('contoso', id, row['Temporary password'])).toBe(true);
      const old = beforeCrash.get(upn);
      if (old) expect(await h.t.directory.verifyUserPassword('contoso', id, old)).toBe(false);
    }
    // Running it again does nothing.
    expect(await h.importer.run('contoso', jobId)).toBeNull();
  });

  test('users created whose outcome was never recorded (the reply was lost) are not created twice, and get a password', async () => {
    const h = await make();
    const jobId = await startJob(h);
    const createUser = h.t.directory.createUser.bind(h.t.directory);
    let calls = 0;
    const applied: string[] = [];
    jest.spyOn(h.t.directory, 'createUser').mockImplementation(async (...args) => {
      const n = ++calls;
      const created = await createUser(...args);
      applied.push(created.user.userPrincipalName);
      if (n === 300) throw new Error('Connection is closed.'); // applied in Redis, reply lost
      return created;
    });
    await expect(h.importer.run('contoso', jobId)).rejects.toThrow('Connection is closed.');
    // Batch 1 (200 rows) was recorded; in batch 2 the rows in flight when the reply was lost were applied, unrecorded.
    expect(await h.importer.progress('contoso', jobId)).toMatchObject({ processed: 200 });
    expect(applied.length).toBeGreaterThan(200);
    jest.restoreAllMocks();

    const result = await h.importer.run('contoso', jobId);
    expect(result).toMatchObject({ state: 'done', created: ROWS, failed: 0, passwordsRenewed: applied.length });
    const state = await endState(h.t);
    expect(state.users).toHaveLength(ROWS + 1);
    expect(new Set(state.users.map((u) => u.upn.toLowerCase())).size).toBe(ROWS + 1);
    expect(state.seats).toEqual([
      { sku: 'O365_E3', assigned: ROWS + 1, available: 1000 - ROWS - 1 },
      { sku: 'SPE_E5', assigned: ROWS / 3, available: 300 - ROWS / 3 },
    ]);
    const rows = await resultsOf(h, result);
    expect(rows.filter((r) => r['Temporary password'] === '')).toEqual([]);
  });

  test('a crash while renewing passwords: the next run renews them again, so every password in the results works', async () => {
    const h = await make();
    const jobId = await startJob(h);
    await expect(h.importer.run('contoso', jobId, { afterRow: crashAfter(200) })).rejects.toThrow('simulated crash');
    // The second run creates the rest, then stops after 50 of the 200 renewals (their new passwords never shown).
    const resetPassword = h.t.directory.resetPassword.bind(h.t.directory);
    let resets = 0;
    jest.spyOn(h.t.directory, 'resetPassword').mockImplementation(async (...args) => {
      const reset = await resetPassword(...args);
      if (++resets === 50) throw new Error('simulated crash');
      return reset;
    });
    await expect(h.importer.run('contoso', jobId)).rejects.toThrow('simulated crash');
    jest.restoreAllMocks();

    // Nobody saw a password of this job yet: every user gets a new one, including the 50 renewed just before.
    const result = await h.importer.run('contoso', jobId);
    expect(result).toMatchObject({ state: 'done', created: ROWS, passwordsRenewed: ROWS });
    const rows = await resultsOf(h, result);
    expect(rows.every((r) => r['Temporary password'].length === PASSWORD_LENGTH)).toBe(true);
    for (const row of rows.filter((_, i) => i % 4 === 0 && i < 240)) {
      const id = await userIdOf(h.t, row['Status update'].slice('Created '.length));
      expect(await h.t.directory.verifyUserPassword('contoso', id, row['Temporary password'])).toBe(true);
    }
  });

  test('a user deleted by someone before the resume does not keep the job from finishing', async () => {
    const h = await make();
    const jobId = await startJob(h);
    await expect(h.importer.run('contoso', jobId, { afterRow: crashAfter(1) })).rejects.toThrow('simulated crash');
    const id = await userIdOf(h.t, 'user00000@contoso.com');
    await h.t.directory.deleteUsers('contoso', [{ userId: id }], { actor: h.t.actor });
    const result = await h.importer.run('contoso', jobId);
    expect(result).toMatchObject({ state: 'done', created: ROWS, passwordsRenewed: 199 });
    const rows = await resultsOf(h, result);
    expect(rows[0]).toMatchObject({ 'Status update': 'Created user00000@contoso.com', 'Temporary password': '' });
  });

  test('two runners at once on the same job: exactly one runs it, the other gets null', async () => {
    const h = await make();
    const jobId = await startJob(h);
    const results = await Promise.all([h.importer.run('contoso', jobId), h.importer.run('contoso', jobId), h.importer.run('contoso', jobId)]);
    expect(results.filter((r) => r === null)).toHaveLength(2);
    expect(results.find((r) => r)).toMatchObject({ state: 'done', created: ROWS });
    expect((await endState(h.t)).users).toHaveLength(ROWS + 1);
  });

  test('a lock left by a killed instance keeps others out until it expires', async () => {
    const h = await make();
    const jobId = await startJob(h);
    await h.t.redis.set(h.t.keys.importJob('contoso', jobId, ':lock'), 'killed-instance', 'PX', 60_000);
    expect(await h.importer.run('contoso', jobId)).toBeNull();
    expect(await h.importer.lockRemainingMs('contoso', jobId)).toBeGreaterThan(50_000);
    await h.t.redis.del(h.t.keys.importJob('contoso', jobId, ':lock')); // expired
    expect(await h.importer.run('contoso', jobId)).toMatchObject({ state: 'done', created: ROWS });
  });
});

describe('streamed in windows of 1,000 rows', () => {
  /**
   * 2,500 rows: three windows (1,000, 1,000, 500). Row 1,500 repeats row 10's email (a duplicate across windows), and
   * the seats of SPE_E5 run out in the second window (rows with it in file order take them).
   */
  const BIG = 2500;
  const BIG_SEED: SeedCustomer = {
    subscriptions: [
      { skuId: 'O365_E3', name: 'Office 365 E3', seats: 5000 },
      { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 400 },
    ],
  };
  const BIG_FILE = partnerCenterCsv(BIG, { username: (i) => (i === 1500 ? 'user10' : `user${i}`), licenses: (i) => (i % 3 === 0 ? 'O365_E3;SPE_E5' : '') });
  // Rows with SPE_E5 (every third) beyond its 400 seats, less the duplicate (which is refused before the seats).
  const BIG_FAILURES = { duplicate: 1, noSeat: Math.ceil(BIG / 3) - 1 - 400 };

  /** Every key of the customer that holds an import's results part (the sealed results CSV of a run). */
  const partsKeys = async (t: TestDirectory) => (await t.scanKeys()).filter((k) => k.includes(':out:'));

  test('the preview counts across windows: the duplicate names the first line, the seats run out in file order', async () => {
    const h = await make(BIG_SEED);
    const p = await h.importer.preview('contoso', BIG_FILE, 'users.csv', h.t.actor);
    if (!p.ok) throw new Error('no preview');
    const preview = await h.importer.validate('contoso', p.preview.jobId, OPTIONS, h.t.actor);
    expect(preview).toMatchObject({ total: BIG, ready: BIG - BIG_FAILURES.duplicate - BIG_FAILURES.noSeat, issueCount: BIG_FAILURES.duplicate + BIG_FAILURES.noSeat });
    // Row 1,200 (line 1,202) is the 401st row with SPE_E5; the duplicate (line 1,502) is named in file order after it.
    expect(preview.issues[0]).toEqual({ line: 1202, code: 'NO_SEAT_LEFT', params: { license: 'SPE_E5' } });
    expect(preview.issues.find((i) => i.code === 'DUPLICATE_IN_FILE')).toBeUndefined(); // only the first 50 are listed
    expect(preview.issues).toHaveLength(50);
    expect(preview.seatsNeeded).toEqual({ O365_E3: BIG - 1, SPE_E5: Math.ceil(BIG / 3) - 1 });
  });

  test('a crash in the middle of the second window, resumed: ends as an uninterrupted run, every password in the results works', async () => {
    const straight = await make(BIG_SEED);
    const straightResult = await straight.importer.run('contoso', await startJob(straight, BIG_FILE));
    expect(straightResult).toMatchObject({ state: 'done', created: BIG - BIG_FAILURES.duplicate - BIG_FAILURES.noSeat, passwordsRenewed: 0 });
    const straightRows = await resultsOf(straight, straightResult);

    const h = await make(BIG_SEED);
    const firstPasswords = recordPasswords(h.t);
    const jobId = await startJob(h, BIG_FILE);
    // The 1,400th row created: the first window's 1,000, then two of the second window's batches of 200 (the rows it
    // would not create were recorded at the start); its remaining rows and the third window are not reached.
    await expect(h.importer.run('contoso', jobId, { afterRow: crashAfter(1400) })).rejects.toThrow('simulated crash');
    const createdBeforeCrash = 1400;
    expect(await h.importer.progress('contoso', jobId)).toMatchObject({ state: 'running', created: createdBeforeCrash });
    // The crashed run left its first window's part behind, sealed under a key that died with it.
    const leftBehind = await partsKeys(h.t);
    expect(leftBehind).toHaveLength(1);
    expect(await h.t.redis.llen(leftBehind[0])).toBe(1);
    jest.restoreAllMocks();

    const result = await h.importer.run('contoso', jobId);
    expect(result).toMatchObject({ state: 'done', total: BIG, created: straightResult!.created, failed: straightResult!.failed, passwordsRenewed: createdBeforeCrash });
    expect(await endState(h.t)).toEqual(await endState(straight.t));
    // The resumed run wrote every part again, under its own key; the crashed run's parts are gone.
    const parts = await partsKeys(h.t);
    expect(parts).toHaveLength(1);
    expect(parts).not.toEqual(leftBehind);
    expect(await h.t.redis.llen(parts[0])).toBe(3);

    const rows = await resultsOf(h, result);
    expect(rows.map((r) => r['Status update'])).toEqual(straightRows.map((r) => r['Status update']));
    expect(rows[1500]['Status update']).toBe('Not created: DUPLICATE_IN_FILE user10@contoso.com 12');
    const created = rows.filter((r) => r['Status update'].startsWith('Created '));
    expect(created.every((r) => r['Temporary password'].length === PASSWORD_LENGTH)).toBe(true);
    expect(rows.filter((r) => !r['Status update'].startsWith('Created ')).every((r) => r['Temporary password'] === '')).toBe(true);
    // A sample of each window, on both sides of the crash: the listed password works, the first one does not.
    for (const i of [0, 999, 1000, 1199, 1201, 1399, 1400, 1999, 2000, 2499]) {
      if (!rows[i]['Status update'].startsWith('Created ')) continue;
      const upn = rows[i]['Status update'].slice('Created '.length);
      const id = await userIdOf(h.t, upn);
      expect(await h.t.directory.verifyUserPassword('contoso', id, rows[i]['Temporary password'])).toBe(true);
      const old = firstPasswords.get(upn);
      if (old && old !== rows[i]['Temporary password']) expect(await h.t.directory.verifyUserPassword('contoso', id, old)).toBe(false);
    }
    // Taking the download took its parts: nothing of the results file is left.
    expect(await partsKeys(h.t)).toEqual([]);
  });

  test('a results file in parts opens once, in order: parts swapped or missing in Redis make the download gone', async () => {
    const h = await make();
    const write = async (parts: string[]) => {
      const download = h.vault.newPartedDownload();
      const key = `${h.t.root}{c:contoso}:import:test:out:${parts.length}`;
      await h.t.redis.rpush(key, ...parts.map((p, i) => download.seal(i, p)));
      return { token: await h.vault.createPartedDownload('agent', 'results.csv', download, key, parts.length), key };
    };
    const whole = await write(['a,b\r\n', '1,2\r\n', '3,4\r\n']);
    expect(await h.t.redis.pttl(whole.key)).toBeLessThanOrEqual(10 * 60 * 1000); // as long as the link
    expect(await h.vault.redeemDownload(whole.token)).toEqual({ ok: true, filename: 'results.csv', content: 'a,b\r\n1,2\r\n3,4\r\n' });
    expect(await h.vault.redeemDownload(whole.token)).toEqual({ ok: false, reason: 'gone' });
    expect(await h.t.redis.exists(whole.key)).toBe(0);

    const swapped = await write(['a,b\r\n', '1,2\r\n', '3,4\r\n', '5,6\r\n']);
    const [second, third] = [await h.t.redis.lindex(swapped.key, 1), await h.t.redis.lindex(swapped.key, 2)];
    await h.t.redis.lset(swapped.key, 1, third!);
    await h.t.redis.lset(swapped.key, 2, second!);
    expect(await h.vault.redeemDownload(swapped.token)).toEqual({ ok: false, reason: 'gone' });
    expect(await h.t.redis.exists(swapped.key)).toBe(0);

    const expired = await write(['a,b\r\n', '1,2\r\n']);
    h.t.clock.advance(10 * 60 * 1000);
    expect(await h.vault.redeemDownload(expired.token)).toEqual({ ok: false, reason: 'gone' });
    expect(await h.t.redis.exists(expired.key)).toBe(0);
  });

  test('no password is in Redis in clear, and no step asks Redis for more than a window of rows or outcomes', async () => {
    const h = await make(BIG_SEED);
    const lranges: number[] = [];
    const lrange = h.t.redis.lrange.bind(h.t.redis);
    jest.spyOn(h.t.redis, 'lrange').mockImplementation(((key: string, start: number, stop: number) => {
      if (String(key).endsWith(':rows')) lranges.push(stop < 0 ? Infinity : stop - start + 1);
      return lrange(key, start, stop);
    }) as typeof h.t.redis.lrange);
    const hgetall = jest.spyOn(h.t.redis, 'hgetall');
    const result = await h.importer.run('contoso', await startJob(h, BIG_FILE));
    expect(result).toMatchObject({ state: 'done', created: BIG - BIG_FAILURES.duplicate - BIG_FAILURES.noSeat });
    expect(lranges.length).toBeGreaterThanOrEqual(3 * 3); // preview, start and run each read the three windows
    expect(Math.max(...lranges)).toBeLessThanOrEqual(1000);
    expect(hgetall.mock.calls.filter(([key]) => /:(rows|results|out:)/.test(String(key)))).toEqual([]);
    jest.restoreAllMocks();

    // Everything Redis holds, before the download is taken: no password of the results, in any form it could be read.
    const everything = [...(await dumpValues(h.t)).values()].flat().join('\n');
    const rows = await resultsOf(h, result);
    const passwords = rows.map((r) => r['Temporary password']).filter(Boolean);
    expect(passwords.length).toBeGreaterThan(2000);
    expect(passwords.filter((p) => everything.includes(p))).toEqual([]);
  });
});

describe('all or nothing', () => {
  const ALL_OR_NOTHING: ImportOptions = { ...OPTIONS, mode: 'allOrNothing' };

  test('with any invalid row nothing is created and the job does not start', async () => {
    const h = await make();
    const before = await endState(h.t);
    // Row 300 has a space in its user name.
    const bytes = partnerCenterCsv(ROWS, { username: (i) => (i === 300 ? 'bad name' : `user${i}`) });
    const p = await h.importer.preview('contoso', bytes, 'users.csv', h.t.actor);
    if (!p.ok) throw new Error('no preview');
    const { started, preview } = await h.importer.start('contoso', p.preview.jobId, h.t.actor, ALL_OR_NOTHING);
    expect(started).toBe(false);
    expect(preview.issues).toEqual([{ line: 302, code: 'INVALID_FIELD', params: { field: 'username', reason: 'characters' } }]);
    expect(await h.importer.run('contoso', p.preview.jobId)).toBeNull();
    expect(await endState(h.t)).toEqual(before);
    expect((await h.importer.progress('contoso', p.preview.jobId)).state).toBe('preview');
  });

  /** 450 users without a license, to take seats away between the preview and the run. */
  const WITH_SPARE_USERS: SeedCustomer = {
    subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: ROWS }],
    users: Array.from({ length: 450 }, (_, i) => ({ username: `spare${i}` })),
  };
  const spareIds = async (t: TestDirectory) =>
    Promise.all(Array.from({ length: 450 }, (_, i) => userIdOf(t, `spare${i}@contoso.onmicrosoft.com`))).then((ids) => ids.map((userId) => ({ userId })));

  test('a seat taken between the preview and the run: every user the job created is removed again, seats back', async () => {
    const h = await make(WITH_SPARE_USERS);
    const jobId = await startJob(h, partnerCenterCsv(ROWS), ALL_OR_NOTHING);
    const before = await endState(h.t);
    // Someone takes the last seat after the job started.
    await h.t.directory.changeLicenses('contoso', [(await spareIds(h.t))[0]], { add: ['O365_E3'] }, { actor: h.t.actor });
    const result = await h.importer.run('contoso', jobId);
    expect(result).toMatchObject({ state: 'rolledBack', created: 0, total: ROWS });
    const after = await endState(h.t);
    expect(after.users.filter((u) => u.upn.startsWith('user'))).toEqual([]);
    expect(after.seats).toEqual([{ sku: 'O365_E3', assigned: 1, available: ROWS - 1 }]);
    expect(after.counts).toEqual({ ...before.counts, unlicensed: before.counts.unlicensed - 1 });
    expect((await h.importer.progress('contoso', jobId)).state).toBe('rolledBack');
    expect(await h.importer.runningJobs()).toEqual([]);
  });

  test('a crash right after a row failed: the resume finishes the roll-back, even if seats were freed meanwhile', async () => {
    const h = await make(WITH_SPARE_USERS);
    const jobId = await startJob(h, partnerCenterCsv(ROWS), ALL_OR_NOTHING);
    const spares = await spareIds(h.t);
    // 450 seats taken: the first batch of 200 rows finds 150 seats; the crash comes before the roll-back.
    await h.t.directory.changeLicenses('contoso', spares, { add: ['O365_E3'] }, { actor: h.t.actor });
    await expect(h.importer.run('contoso', jobId, { afterRow: crashAfter(1) })).rejects.toThrow('simulated crash');
    expect(await h.importer.progress('contoso', jobId)).toMatchObject({ state: 'running', processed: 200, created: 150, failed: 50 });
    // The seats come back before the resume: the rest of the rows would now fit, but one row already failed.
    await h.t.directory.changeLicenses('contoso', spares, { remove: ['O365_E3'] }, { actor: h.t.actor });
    const result = await h.importer.run('contoso', jobId);
    expect(result).toMatchObject({ state: 'rolledBack', created: 0 });
    const after = await endState(h.t);
    expect(after.users.filter((u) => u.upn.startsWith('user'))).toEqual([]);
    expect(after.seats).toEqual([{ sku: 'O365_E3', assigned: 0, available: ROWS }]);
  });
});

describe('valid rows only: the run creates exactly the rows the preview counted as ready', () => {
  test('of duplicate rows the first is created (not whichever was faster), and the later ones say why', async () => {
    const h = await make({ subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 150 }] });
    // 200 rows in one batch; each row i ≥ 100 repeats the email of row i - 100 with another display name.
    const bytes = partnerCenterCsv(200, { username: (i) => `user${i % 100}`, displayName: (i) => (i < 100 ? `First ${i}` : `Second ${i}`), licenses: (i) => (i % 2 ? 'O365_E3' : '') });
    const p = await h.importer.preview('contoso', bytes, 'users.csv', h.t.actor);
    if (!p.ok) throw new Error('no preview');
    const { started, preview } = await h.importer.start('contoso', p.preview.jobId, h.t.actor, OPTIONS);
    expect(started).toBe(true);
    expect(preview.ready).toBe(100);
    const result = await h.importer.run('contoso', p.preview.jobId);
    expect(result).toMatchObject({ state: 'done', created: 100, failed: 100 });
    const users = (await endState(h.t)).users;
    expect(users.map((u) => u.displayName).sort()).toEqual(Array.from({ length: 100 }, (_, i) => `First ${i}`).sort());
    const rows = await resultsOf(h, result);
    expect(rows[150]['Status update']).toBe('Not created: DUPLICATE_IN_FILE user50@contoso.com 52');
  });

  test('rows beyond the seats in file order are the ones not created', async () => {
    const h = await make({ subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 120 }] });
    const p = await h.importer.preview('contoso', partnerCenterCsv(150), 'users.csv', h.t.actor);
    if (!p.ok) throw new Error('no preview');
    const { preview } = await h.importer.start('contoso', p.preview.jobId, h.t.actor, OPTIONS);
    expect(preview.issues[0]).toEqual({ line: 122, code: 'NO_SEAT_LEFT', params: { license: 'O365_E3' } });
    const result = await h.importer.run('contoso', p.preview.jobId);
    expect(result).toMatchObject({ created: 120, failed: 30 });
    const upns = (await endState(h.t)).users.map((u) => u.upn);
    expect(upns).toEqual(Array.from({ length: 120 }, (_, i) => `user${String(i).padStart(5, '0')}@contoso.com`));
  });
});

// ------------------------------------------------------------------------------------------ the runner, in the app

describe('resumed by the app', () => {
  let connector: FakeConnector;
  let bot: BotApp;
  beforeAll(async () => {
    connector = await startFakeConnector();
  });
  afterAll(async () => connector.stop());
  beforeEach(async () => {
    bot = await startBotApp(connector, { seed: SEED });
  });
  afterEach(async () => {
    await bot.stop();
    expect(connector.unexpected()).toEqual([]);
  });

  const owner = { id: MEGAN.aadObjectId, name: MEGAN.name };
  const startedJob = async (): Promise<string> => {
    const importer = bot.app.importer;
    const p = await importer.preview('contoso', FILE, 'users.csv', owner);
    if (!p.ok) throw new Error('no preview');
    expect((await importer.start('contoso', p.preview.jobId, owner, OPTIONS)).started).toBe(true);
    return p.preview.jobId;
  };

  test('a job stopped half-way is resumed by a second instance at start-up, after the killed one’s lock expired', async () => {
    const client = bot.client();
    await bot.say(client, 'whoami'); // the agent's 1:1 chat is remembered
    const jobId = await startedJob();
    await bot.app.importRunner.launch('contoso', jobId, { afterRow: crashAfter(250) });
    expect(await bot.app.importer.progress('contoso', jobId)).toMatchObject({ state: 'running', processed: 400 });
    expect(errorLogs(bot.logLines).map((l) => JSON.parse(l).msg)).toEqual(['import job stopped; it resumes at the next start or launch']);
    // As a killed instance leaves it: its lock, for a little longer.
    await bot.t.redis.set(bot.t.keys.importJob('contoso', jobId, ':lock'), 'killed-instance', 'PX', 300);

    const second = await bot.secondApp();
    await second.importRunner.idle();
    expect(await bot.app.importer.progress('contoso', jobId)).toMatchObject({ state: 'done', processed: ROWS, created: ROWS });
    expect((await endState(bot.t)).users).toHaveLength(ROWS + 1);
    const [, results] = await connector.waitForActivities(client.conversationId(), 2);
    expect(texts(cardOf(results))).toContain('Import results: 600 new users \u2014 Contoso Ltd');
  });

  test('launched on two instances at once: one runs it, one confirmation reaches the agent', async () => {
    const client = bot.client();
    await bot.say(client, 'whoami');
    const jobId = await startedJob();
    const second = await bot.secondApp();
    await Promise.all([bot.app.importRunner.launch('contoso', jobId), second.importRunner.launch('contoso', jobId)]);
    expect((await endState(bot.t)).users).toHaveLength(ROWS + 1);
    const all = connector.activitiesIn(client.conversationId());
    expect(all.filter((a) => texts(cardOf(a)).some((s) => s.startsWith('Import results:')))).toHaveLength(1);
    expect(errorLogs(bot.logLines)).toEqual([]);
  });
});
