/**
 * Four eyes, the same test body on the Redis directory and on the Graph one: the setting, requests, one transition
 * when two admins approve at once, the state at approval time, expiry by the injected clock, every step audited with
 * both names.
 */
import { ApprovalService } from '../../services/approvals';
import { DAY_MS } from '../../services/directory';
import { Backend, BACKENDS, startBackend } from '../support/bothDirectories';
import { CredentialVault } from '../../services/credentials';
import { ImportService } from '../../services/import/importer';
import { partnerCenterCsv } from '../support/importCsv';

describe.each(BACKENDS)('approvals on the %s directory', (kind) => {
  let d: Backend;
  let approvals: ApprovalService;
  beforeEach(async () => {
    d = await startBackend(kind, [
      { username: 'alice', displayName: 'Alice Smith', licenses: ['E3'] },
      { username: 'bob', displayName: 'Bob Jones', licenses: ['E3', 'E5'] },
      { username: 'carol', displayName: 'Carol White' },
      { username: 'dave', displayName: 'Dave Admin', role: 'global-admin' },
    ]);
    approvals = new ApprovalService(d.directory);
  });
  afterEach(() => d.cleanup());

  const as = <T>(work: () => Promise<T>) => d.as(d.admin, work);
  const threeUsers = async () => Promise.all(['alice', 'bob', 'carol'].map((u) => d.user(u)));

  test('the setting: off by default, on for risky changes only, an admin password reset only for admins; audited', () =>
    as(async () => {
      const [alice] = await threeUsers();
      const dave = await d.user('dave');
      expect(await approvals.requiresApproval(d.customerId, { kind: 'deleteUsers', userIds: [alice.id] })).toBe(false);
      await approvals.setEnabled(d.customerId, true, d.admin);
      expect(await approvals.requiresApproval(d.customerId, { kind: 'deleteUsers', userIds: [alice.id] })).toBe(true);
      expect(await approvals.requiresApproval(d.customerId, { kind: 'offboard', userId: alice.id })).toBe(true);
      expect(await approvals.requiresApproval(d.customerId, { kind: 'resetPassword', userId: alice.id })).toBe(false);
      expect(await approvals.requiresApproval(d.customerId, { kind: 'resetPassword', userId: dave.id })).toBe(true);
      const { entries } = await d.directory.audit(d.customerId);
      expect(entries[0]).toMatchObject({ action: 'approvals-on', actorName: d.admin.name });
    }));

  test('two admins approve at the same moment: the three users are deleted once; both see who approved and the outcome; the audit names both', () =>
    as(async () => {
      await approvals.setEnabled(d.customerId, true, d.admin);
      const users = await threeUsers();
      const request = await approvals.request(d.customerId, { kind: 'deleteUsers', userIds: users.map((u) => u.id) }, 'left the company', d.helpdesk, 'op-request-1');
      expect(request).toMatchObject({ state: 'pending', requester: d.helpdesk, reason: 'left the company' });
      // Nothing ran yet.
      expect((await d.directory.getUser(d.customerId, users[0].id)).state).toBe('active');
      const [a, b] = await Promise.all([
        approvals.decide(d.customerId, request.id, 'approve', d.admin, { isAdmin: true }),
        approvals.decide(d.customerId, request.id, 'approve', d.admin2, { isAdmin: true }),
      ]);
      const kinds = [a.kind, b.kind].sort();
      expect(kinds).toEqual(['already', 'decided']);
      const [won, lost] = a.kind === 'decided' ? [a, b] : [b, a];
      const winner = a.kind === 'decided' ? d.admin : d.admin2;
      expect(won.request).toMatchObject({ state: 'applied', outcome: { deleted: 3 }, decidedBy: winner });
      // The other click sees who approved it: applied already (Redis replays the same operation), or still being
      // applied by the winner (Graph's ledger says the operation is in progress); the next look shows the outcome.
      expect(lost.request.decidedBy).toEqual(winner);
      expect(['applied', 'approved']).toContain(lost.request.state);
      if (kind === 'redis') expect(lost.request.state).toBe('applied');
      expect(await approvals.get(d.customerId, won.request.id)).toMatchObject({ state: 'applied', outcome: { deleted: 3 } });
      for (const u of users) expect((await d.directory.getUser(d.customerId, u.id)).state).toBe('deleted');
      const { entries } = await d.directory.audit(d.customerId);
      const deletes = entries.filter((e) => e.action === 'delete-users' && e.result === 'ok');
      if (kind === 'redis') expect(deletes).toHaveLength(1);
      expect(entries.filter((e) => e.action === 'approval-requested')).toEqual([expect.objectContaining({ actorName: d.helpdesk.name })]);
      const approved = entries.filter((e) => e.action === 'approval-approved');
      expect(approved).toHaveLength(1);
      expect(approved[0].actorName).toBe(winner.name);
      expect(approved[0].detail).toContain(`requested by ${d.helpdesk.name}`);
      const applied = entries.filter((e) => e.action === 'approval-applied');
      expect(applied).toHaveLength(1);
      expect(applied[0].detail).toContain(`requested by ${d.helpdesk.name}`);
      expect(applied[0].detail).toContain(`approved by ${winner.name}`);
    }));

  test('the requester cannot approve its own request, a helpdesk agent cannot approve; the requester withdraws', () =>
    as(async () => {
      await approvals.setEnabled(d.customerId, true, d.admin);
      const [alice] = await threeUsers();
      const request = await approvals.request(d.customerId, { kind: 'deleteUsers', userIds: [alice.id] }, 'asked by HR', d.admin, 'op-request-2');
      expect((await approvals.decide(d.customerId, request.id, 'approve', d.admin, { isAdmin: true })).kind).toBe('refused');
      expect(await approvals.decide(d.customerId, request.id, 'approve', d.helpdesk, { isAdmin: false })).toMatchObject({ kind: 'refused', reason: 'notAdmin' });
      expect(await approvals.decide(d.customerId, request.id, 'withdraw', d.admin2, { isAdmin: true })).toMatchObject({ kind: 'refused', reason: 'notRequester' });
      expect(await approvals.decide(d.customerId, request.id, 'withdraw', d.admin, { isAdmin: true })).toMatchObject({ kind: 'decided', request: { state: 'withdrawn' } });
      expect(await approvals.decide(d.customerId, request.id, 'approve', d.admin2, { isAdmin: true })).toMatchObject({ kind: 'already', request: { state: 'withdrawn' } });
      expect((await d.directory.getUser(d.customerId, alice.id)).state).toBe('active');
      const actions = (await d.directory.audit(d.customerId)).entries.map((e) => e.action);
      expect(actions).toContain('approval-withdrawn');
    }));

  test('a user changed since the request: approving applies nothing and says what differs', () =>
    as(async () => {
      await approvals.setEnabled(d.customerId, true, d.admin);
      const [alice, bob] = await threeUsers();
      const request = await approvals.request(d.customerId, { kind: 'deleteUsers', userIds: [alice.id, bob.id] }, 'contract ended', d.helpdesk, 'op-request-3');
      await d.directory.changeLicenses(d.customerId, [{ userId: bob.id }], { remove: [d.sku.E5] }, { actor: d.admin, operationId: 'op-change-bob' });
      const result = await approvals.decide(d.customerId, request.id, 'approve', d.admin2, { isAdmin: true });
      expect(result.request).toMatchObject({ state: 'stale', difference: [bob.userPrincipalName] });
      expect((await d.directory.getUser(d.customerId, alice.id)).state).toBe('active');
      expect((await d.directory.audit(d.customerId)).entries.map((e) => e.action)).toContain('approval-stale');
    }));

  test('expiry by the clock: a click after the setting answers expired, audited once', () =>
    as(async () => {
      await approvals.setEnabled(d.customerId, true, d.admin);
      const [alice] = await threeUsers();
      const request = await approvals.request(d.customerId, { kind: 'deleteUsers', userIds: [alice.id] }, 'old request', d.helpdesk, 'op-request-4');
      d.clock.advance(DAY_MS - 1);
      expect((await approvals.get(d.customerId, request.id)).state).toBe('pending');
      d.clock.advance(1);
      expect(await approvals.decide(d.customerId, request.id, 'approve', d.admin2, { isAdmin: true })).toMatchObject({ kind: 'already', request: { state: 'expired' } });
      expect((await approvals.get(d.customerId, request.id)).state).toBe('expired');
      expect((await d.directory.audit(d.customerId)).entries.filter((e) => e.action === 'approval-expired')).toHaveLength(1);
      expect((await d.directory.getUser(d.customerId, alice.id)).state).toBe('active');
    }));

  test('an admin’s password reset and a whole offboarding are one request each; the reset password goes to the approver’s call only once', () =>
    as(async () => {
      await approvals.setEnabled(d.customerId, true, d.admin);
      const dave = await d.user('dave');
      const reset = await approvals.request(d.customerId, { kind: 'resetPassword', userId: dave.id }, 'locked out', d.helpdesk, 'op-request-5');
      const approved = await approvals.decide(d.customerId, reset.id, 'approve', d.admin2, { isAdmin: true });
      expect(approved.request.state).toBe('applied');
      expect(approved.kind === 'decided' && approved.temporaryPassword).toBeTruthy();
      const again = await approvals.decide(d.customerId, reset.id, 'approve', d.admin, { isAdmin: true });
      expect(again).toMatchObject({ kind: 'already' });
      expect(again.kind === 'already' && again.temporaryPassword).toBeFalsy();

      const [alice, bob] = await threeUsers();
      const offboard = await approvals.request(d.customerId, { kind: 'offboard', userId: alice.id, toUserId: bob.id }, 'leaver', d.helpdesk, 'op-request-6');
      const approvedOffboard = await approvals.decide(d.customerId, offboard.id, 'approve', d.admin2, { isAdmin: true });
      // Approving starts the job (the bot runs it in the background); the request is applied when the job ends.
      expect(approvedOffboard.request.state).toBe('approved');
      const job = await approvals.offboardJobOf(d.customerId, approvedOffboard.request);
      expect(job).toMatchObject({ state: 'running', done: [], approvalRequestId: offboard.id, approvedBy: d.admin2 });
      // A second approval finds the same job; nothing starts twice.
      expect((await approvals.decide(d.customerId, offboard.id, 'approve', d.admin, { isAdmin: true })).kind).toBe('already');
      const ran = await approvals.runOffboarding(d.customerId, job!.jobId);
      expect(ran).toMatchObject({ finished: true, job: { state: 'done' }, request: { state: 'applied', outcome: { offboardState: 'done', offboardJobId: job!.jobId } } });
      expect((await approvals.runOffboarding(d.customerId, job!.jobId))?.finished).toBe(false);
      expect((await approvals.get(d.customerId, offboard.id)).state).toBe('applied');
      const after = await d.directory.getUser(d.customerId, alice.id);
      expect(after).toMatchObject({ state: 'deleted', signInBlocked: true });
      const [entry] = (await d.directory.audit(d.customerId)).entries.filter((e) => e.action === 'offboard');
      expect(entry.detail).toContain(`requested by ${d.helpdesk.name}; approved by`);
    }));
  test('removing licenses is a request when approvals are on (unassign, replace, a save that removes); adding alone is not', () =>
    as(async () => {
      const [alice, bob] = await threeUsers();
      const unassign = { kind: 'changeLicenses' as const, userIds: [alice.id, bob.id], add: [], remove: [d.sku.E3] };
      expect(await approvals.requiresApproval(d.customerId, unassign)).toBe(false);
      await approvals.setEnabled(d.customerId, true, d.admin);
      expect(await approvals.requiresApproval(d.customerId, unassign)).toBe(true);
      expect(await approvals.requiresApproval(d.customerId, { kind: 'changeLicenses', userIds: [alice.id], add: [], remove: [], replace: { from: d.sku.E3, to: d.sku.E5 } })).toBe(true);
      expect(await approvals.requiresApproval(d.customerId, { kind: 'changeLicenses', userIds: [alice.id], add: [d.sku.E5], remove: [] })).toBe(false);
      expect(await approvals.requiresApproval(d.customerId, { kind: 'changeLicenses', userIds: [alice.id], add: [d.sku.E5], remove: [d.sku.E3] })).toBe(true);
      await expect(approvals.request(d.customerId, unassign, '  ', d.helpdesk, 'op-lic-0')).rejects.toMatchObject({ code: 'INVALID_FIELD' });

      const request = await approvals.request(d.customerId, unassign, 'E3 budget cut', d.helpdesk, 'op-lic-1');
      expect(request).toMatchObject({ state: 'pending', change: unassign, users: [{ id: alice.id, licenses: [d.sku.E3] }, { id: bob.id }] });
      // Nothing ran yet; the requester cannot approve its own request.
      expect((await d.directory.getUser(d.customerId, alice.id)).licenses).toEqual([d.sku.E3]);
      expect((await approvals.decide(d.customerId, request.id, 'approve', d.helpdesk, { isAdmin: true })).kind).toBe('refused');
      const [a, b] = await Promise.all([
        approvals.decide(d.customerId, request.id, 'approve', d.admin, { isAdmin: true }),
        approvals.decide(d.customerId, request.id, 'approve', d.admin2, { isAdmin: true }),
      ]);
      expect([a.kind, b.kind].sort()).toEqual(['already', 'decided']);
      const won = a.kind === 'decided' ? a : b;
      expect(won.request).toMatchObject({ state: 'applied', outcome: { licensesChanged: 2 } });
      expect((await d.directory.getUser(d.customerId, alice.id)).licenses).toEqual([]);
      expect((await d.directory.getUser(d.customerId, bob.id)).licenses).toEqual([d.sku.E5]);
      const { entries } = await d.directory.audit(d.customerId);
      expect(entries.filter((e) => e.action === 'approval-approved')).toHaveLength(1);
      const applied = entries.filter((e) => e.action === 'approval-applied');
      expect(applied).toHaveLength(1);
      expect(applied[0].detail).toContain(`requested by ${d.helpdesk.name}`);
    }));

  test('a license removal whose user changed since the request ends stale; replace applies to the holders only', () =>
    as(async () => {
      await approvals.setEnabled(d.customerId, true, d.admin);
      const [alice, bob, carol] = await threeUsers();
      const stale = await approvals.request(d.customerId, { kind: 'changeLicenses', userIds: [bob.id], add: [], remove: [d.sku.E5] }, 'not needed', d.admin, 'op-lic-2');
      await d.directory.changeLicenses(d.customerId, [{ userId: bob.id }], { remove: [d.sku.E3] }, { actor: d.admin, operationId: 'op-change-bob-2' });
      expect((await approvals.decide(d.customerId, stale.id, 'approve', d.admin2, { isAdmin: true })).request).toMatchObject({ state: 'stale', difference: [bob.userPrincipalName] });
      expect((await d.directory.getUser(d.customerId, bob.id)).licenses).toEqual([d.sku.E5]);

      const replace = await approvals.request(d.customerId, { kind: 'changeLicenses', userIds: [alice.id, carol.id], add: [], remove: [], replace: { from: d.sku.E3, to: d.sku.E5 } }, 'upgrade', d.admin, 'op-lic-3');
      const done = await approvals.decide(d.customerId, replace.id, 'approve', d.admin2, { isAdmin: true });
      expect(done.request).toMatchObject({ state: 'applied', outcome: { licensesChanged: 1 } });
      expect((await d.directory.getUser(d.customerId, alice.id)).licenses).toEqual([d.sku.E5]);
      expect((await d.directory.getUser(d.customerId, carol.id)).licenses).toEqual([]);
    }));
  test('an import over the setting’s size is a request; approving starts it as the requester’s job, once', () =>
    as(async () => {
      const importer = new ImportService(d.directory, new CredentialVault(d.redis, d.keys, d.clock));
      const withImports = new ApprovalService(d.directory, undefined, importer);
      const change = (jobId: string, rows: number) => ({ kind: 'import' as const, jobId, filename: '', rows, options: { mode: 'validRows' as const, usageLocation: 'US' } });
      // Default: on, but imports are not held back.
      expect(await withImports.setEnabled(d.customerId, true, d.admin)).toMatchObject({ enabled: true, importOver: 0 });
      expect(await withImports.requiresApproval(d.customerId, change('x', 10_000))).toBe(false);
      expect(await withImports.setEnabled(d.customerId, true, d.admin, undefined, 3)).toMatchObject({ importOver: 3 });
      expect((await d.directory.audit(d.customerId)).entries[0].detail).toContain('imports over 3 rows');
      expect(await withImports.requiresApproval(d.customerId, change('x', 3))).toBe(false);
      expect(await withImports.requiresApproval(d.customerId, change('x', 4))).toBe(true);
      // Without an importer (or with approvals off) nothing is held back.
      expect(await approvals.requiresApproval(d.customerId, change('x', 4))).toBe(false);

      const domain = (await d.user('alice')).userPrincipalName.split('@')[1];
      const preview = await importer.preview(d.customerId, partnerCenterCsv(5, { domain }), 'leavers.csv', d.admin);
      if (!preview.ok) throw new Error(JSON.stringify(preview.problem));
      const jobId = preview.preview.jobId;
      // Only the job's owner may ask for it.
      await expect(withImports.request(d.customerId, change(jobId, 0), 'new hires', d.admin2, 'op-imp-0')).rejects.toMatchObject({ code: 'IMPORT_NOT_FOUND' });
      const request = await withImports.request(d.customerId, change(jobId, 0), 'new hires', d.admin, 'op-imp-1');
      expect(request).toMatchObject({ state: 'pending', users: [], change: { kind: 'import', jobId, rows: 5, filename: 'leavers.csv' } });
      expect((await importer.progress(d.customerId, jobId)).state).toBe('preview');
      expect((await withImports.decide(d.customerId, request.id, 'approve', d.admin, { isAdmin: true })).kind).toBe('refused');
      const [a, b] = await Promise.all([
        withImports.decide(d.customerId, request.id, 'approve', d.admin2, { isAdmin: true }),
        withImports.decide(d.customerId, request.id, 'approve', d.helpdesk, { isAdmin: true }),
      ]);
      expect([a.kind, b.kind].sort()).toEqual(['already', 'decided']);
      const won = a.kind === 'decided' ? a : b;
      expect(won.request).toMatchObject({ state: 'applied', outcome: { importJobId: jobId } });
      // The job is the requester's: its results and passwords are delivered to it, not to the approver.
      const progress = await importer.progress(d.customerId, jobId);
      expect(progress.state).toBe('running');
      expect(progress.job.owner).toBe(d.admin.id);
      expect(await importer.run(d.customerId, jobId)).toMatchObject({ state: 'done', created: 5 });
      const { entries } = await d.directory.audit(d.customerId);
      expect(entries.filter((e) => e.action === 'approval-applied')).toEqual([expect.objectContaining({ detail: expect.stringContaining(`import leavers.csv started as ${d.admin.name}`) })]);
    }));
});
