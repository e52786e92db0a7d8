/**
 * Offboarding as one resumable job, the same test body on the Redis directory and on the Graph one: block, reset,
 * delete with the licenses remembered, the colleague's licenses, one audit entry; a crash after any step resumes
 * without repeating a finished one, and Restore gives the licenses back.
 */
import { OffboardingService, OffboardStep } from '../../services/offboarding';
import { Backend, BACKENDS, startBackend } from '../support/bothDirectories';
import { directoryErrorOf } from '../support/testDirectory';

describe.each(BACKENDS)('offboarding on the %s directory', (kind) => {
  let d: Backend;
  let offboarding: OffboardingService;
  beforeEach(async () => {
    d = await startBackend(kind, [
      { username: 'alice', displayName: 'Alice Smith', licenses: ['E3', 'E5'] },
      { username: 'bob', displayName: 'Bob Jones', licenses: ['E3'] },
      { username: 'carol', displayName: 'Carol White' },
    ]);
    offboarding = new OffboardingService(d.directory);
  });
  afterEach(() => d.cleanup());

  const as = <T>(work: () => Promise<T>) => d.as(d.admin, work);

  test('every step once: blocked, deleted with its licenses remembered, one audit entry; Restore gives the licenses back', () =>
    as(async () => {
      const alice = await d.user('alice');
      const plan = await offboarding.plan(d.customerId, alice.id);
      expect(plan.licenses).toEqual([d.sku.E3, d.sku.E5].sort());
      const before = await d.directory.getSubscriptions(d.customerId);
      const jobId = await offboarding.start(d.customerId, plan, { actor: d.admin, operationId: 'op-offboard-1' });
      const job = await offboarding.run(d.customerId, jobId);
      expect(job?.state).toBe('done');
      expect(job?.done).toEqual(['block', 'reset', 'delete', 'transfer', 'audit']);
      const after = await d.directory.getUser(d.customerId, alice.id);
      expect(after.state).toBe('deleted');
      expect(after.signInBlocked).toBe(true);
      expect([...after.rememberedLicenses].sort()).toEqual([d.sku.E3, d.sku.E5].sort());
      const seats = await d.directory.getSubscriptions(d.customerId);
      for (const s of seats) expect(s.assignedSeats).toBe(before.find((b) => b.skuId === s.skuId)!.assignedSeats - 1);
      const { entries } = await d.directory.audit(d.customerId);
      const offboard = entries.filter((e) => e.action === 'offboard');
      expect(offboard).toHaveLength(1);
      expect(offboard[0]).toMatchObject({ actorName: d.admin.name, target: alice.userPrincipalName });
      expect(entries.filter((e) => e.action === 'block-sign-in')).toHaveLength(1);
      const [restored] = await d.directory.restoreUsers(d.customerId, [{ userId: alice.id }], { actor: d.admin, operationId: 'op-restore-1' });
      expect(restored).toMatchObject({ ok: true });
      expect((await d.directory.getUser(d.customerId, alice.id)).licenses.sort()).toEqual([d.sku.E3, d.sku.E5].sort());
      // The same button again is the same job, finished: nothing runs twice.
      expect(await offboarding.start(d.customerId, plan, { actor: d.admin, operationId: 'op-offboard-1' })).toBe(jobId);
      expect((await offboarding.run(d.customerId, jobId))?.state).toBe('done');
      expect((await d.directory.audit(d.customerId)).entries.filter((e) => e.action === 'offboard')).toHaveLength(1);
    }));

  test('run without the agent\u2019s sign-in (Graph, a resume at start-up with no token): the job waits, it does not fail', async () => {
    const alice = await as(() => d.user('alice'));
    const plan = await as(() => offboarding.plan(d.customerId, alice.id));
    const jobId = await as(() => offboarding.start(d.customerId, plan, { actor: d.admin, operationId: 'op-no-sign-in' }));
    if (kind === 'graph') {
      await expect(offboarding.run(d.customerId, jobId)).rejects.toMatchObject({ code: 'SIGN_IN_REQUIRED' });
      expect(await offboarding.job(d.customerId, jobId)).toMatchObject({ state: 'running', done: [] });
      expect((await offboarding.runningJobs()).map((j) => j.jobId)).toContain(jobId);
    }
    // With the sign-in (on Redis the directory needs none): every step, once.
    expect((await as(() => offboarding.run(d.customerId, jobId)))?.state).toBe('done');
  });

  test.each<OffboardStep>(['block', 'reset', 'delete', 'transfer'])('killed after the %s step (and once between a call and its record): resumes and repeats nothing', (crashAfter) =>
    as(async () => {
      const alice = await d.user('alice');
      const plan = await offboarding.plan(d.customerId, alice.id);
      const jobId = await offboarding.start(d.customerId, plan, { actor: d.admin, operationId: `op-crash-${crashAfter}` });
      const crash = new Error('killed');
      await expect(offboarding.run(d.customerId, jobId, { afterStep: (s) => { if (s === crashAfter) throw crash; } })).rejects.toBe(crash);
      expect((await offboarding.runningJobs()).map((j) => j.jobId)).toContain(jobId);
      // The next instance dies too, after its call and before recording it: the call replays on the third.
      const next = ['block', 'reset', 'delete', 'transfer', 'audit'][['block', 'reset', 'delete', 'transfer'].indexOf(crashAfter) + 1] as OffboardStep;
      await expect(offboarding.run(d.customerId, jobId, { beforeRecord: (s) => { if (s === next) throw crash; } })).rejects.toBe(crash);
      const resumed = new OffboardingService(d.directory);
      const job = await resumed.run(d.customerId, jobId);
      expect(job?.state).toBe('done');
      expect(await resumed.runningJobs()).toEqual([]);
      const { entries } = await d.directory.audit(d.customerId);
      // Each directory change once, however often the job was interrupted.
      expect(entries.filter((e) => e.action === 'block-sign-in' && e.result === 'ok')).toHaveLength(1);
      expect(entries.filter((e) => e.action === 'reset-password' && e.result === 'ok')).toHaveLength(1);
      expect(entries.filter((e) => e.action === 'delete-users' && e.result === 'ok')).toHaveLength(1);
      expect(entries.filter((e) => e.action === 'offboard')).toHaveLength(1);
      const [restored] = await d.directory.restoreUsers(d.customerId, [{ userId: alice.id }], { actor: d.admin, operationId: `op-restore-${crashAfter}` });
      expect(restored).toMatchObject({ ok: true, notRestoredLicenses: [] });
      expect((await d.directory.getUser(d.customerId, alice.id)).licenses.sort()).toEqual([d.sku.E3, d.sku.E5].sort());
    }));

  test('--to: the colleague gets the licenses it did not hold; the audit entry names the colleague', () =>
    as(async () => {
      const [alice, bob] = [await d.user('alice'), await d.user('bob')];
      const plan = await offboarding.plan(d.customerId, alice.id, bob.id);
      expect(plan.moved).toEqual([d.sku.E5]);
      const job = await offboarding.run(d.customerId, await offboarding.start(d.customerId, plan, { actor: d.admin, operationId: 'op-to-1' }));
      expect(job?.state).toBe('done');
      expect((await d.directory.getUser(d.customerId, bob.id)).licenses.sort()).toEqual([d.sku.E3, d.sku.E5].sort());
      const [entry] = (await d.directory.audit(d.customerId)).entries.filter((e) => e.action === 'offboard');
      expect(entry.detail).toContain(`colleague ${bob.userPrincipalName}`);
    }));

  test('refused before anything changes: the colleague is the user, or the card is stale', () =>
    as(async () => {
      const alice = await d.user('alice');
      expect((await directoryErrorOf(offboarding.plan(d.customerId, alice.id, alice.id))).code).toBe('INVALID_FIELD');
      expect((await directoryErrorOf(offboarding.plan(d.customerId, alice.id, undefined, alice.version + 7))).code).toBe('STALE');
      // A plan drawn before the user changed: the job's first step refuses, and nothing else runs.
      const plan = await offboarding.plan(d.customerId, alice.id);
      await d.directory.changeLicenses(d.customerId, [{ userId: alice.id }], { remove: [d.sku.E5] }, { actor: d.admin, operationId: 'op-change-1' });
      const job = await offboarding.run(d.customerId, await offboarding.start(d.customerId, plan, { actor: d.admin, operationId: 'op-stale-1' }));
      expect(job).toMatchObject({ state: 'failed', error: 'STALE', done: [] });
      expect((await d.directory.getUser(d.customerId, alice.id)).state).toBe('active');
    }));
});
