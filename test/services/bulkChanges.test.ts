/**
 * Bulk changes (services/bulkChanges.ts): a license change or a delete for more users than one directory change takes,
 * as a resumable job, all or nothing, on both directories. 620 users make two chunks (500 + 120).
 */
import { BulkChangeService } from '../../services/bulkChanges';
import type { CustomerUser } from '../../services/types';
import { Backend, BACKENDS, BackendSeedUser, startBackend } from '../support/bothDirectories';

const SELECTED = 620;
const users = (): BackendSeedUser[] => [
  ...Array.from({ length: SELECTED }, (_, i) => ({ username: `u${String(i).padStart(3, '0')}`, licenses: i % 31 === 0 ? (['E3'] as Array<'E3'>) : [] })),
  // Not in the selections below: the user another agent changes while a job runs.
  { username: 'zz-outsider' },
];
const HOLDERS = Math.ceil(SELECTED / 31);

describe.each(BACKENDS)('%s directory', (kind) => {
  let d: Backend;
  let bulk: BulkChangeService;
  let selected: CustomerUser[];
  let n = 0;
  const op = () => `bulk-test-${kind}-${++n}`;
  const versions = (list: CustomerUser[]) => Object.fromEntries(list.map((u) => [u.id, u.version]));
  const all = () => d.directory.listAllUsers(d.customerId, {}, 5000);
  const licenseChangesAudited = async () => (await d.directory.audit(d.customerId, 1, 100)).entries.filter((e) => e.action === 'change-licenses' && e.result === 'ok').length;
  const jobEntries = async () => (await d.directory.audit(d.customerId, 1, 100)).entries.filter((e) => e.action.startsWith('bulk-'));
  const seatsLeft = async (sku: string) => (await d.directory.getSubscriptions(d.customerId)).find((s) => s.skuId === sku)?.availableSeats;

  /** E3 seats: exactly what assigning it to the whole selection needs, plus `spare`. */
  const start = async (spare: number) => {
    d = await startBackend(kind, users(), { E3: SELECTED + spare });
    bulk = new BulkChangeService(d.directory);
    selected = (await d.as(d.admin, all)).filter((u) => u.username !== 'zz-outsider');
    expect(selected).toHaveLength(SELECTED);
  };
  afterEach(() => d.cleanup());

  test('assigning a license to 620 users: every one holds it once, seats counted, the job says so', () =>
    start(0).then(() =>
      d.as(d.admin, async () => {
        const jobId = await bulk.start(d.customerId, versions(selected), { kind: 'licenses', add: [d.sku.E3], remove: [] }, { actor: d.admin, operationId: op() });
        expect(await bulk.runningJobs()).toContainEqual({ customerId: d.customerId, jobId });
        const job = await bulk.run(d.customerId, jobId);
        expect(job).toMatchObject({ state: 'done', total: SELECTED, processed: SELECTED, changed: SELECTED - HOLDERS, undone: 0, notUndone: 0 });
        const after = (await all()).filter((u) => u.username !== 'zz-outsider');
        expect(after.filter((u) => u.licenses.includes(d.sku.E3))).toHaveLength(SELECTED);
        // One directory change per chunk, each audited once, and the job's outcome once.
        expect(await licenseChangesAudited()).toBe(2);
        expect(await jobEntries()).toEqual([expect.objectContaining({ actorId: d.admin.id, action: 'bulk-change-licenses', target: `${SELECTED} user(s)`, result: 'ok', detail: expect.stringContaining(`changed=${SELECTED - HOLDERS}`) })]);
        expect(await seatsLeft(d.sku.E3)).toBe(0);
        expect(await bulk.runningJobs()).not.toContainEqual({ customerId: d.customerId, jobId });
        // The same start again is the same job: nothing runs twice.
        expect(await bulk.start(d.customerId, versions(selected), { kind: 'licenses', add: [d.sku.E3], remove: [] }, { actor: d.admin, operationId: `bulk-test-${kind}-${n}` })).toBe(jobId);
        expect(await bulk.run(d.customerId, jobId)).toMatchObject({ state: 'done', changed: SELECTED - HOLDERS });
      }),
    ));

  test('not enough seats for the whole set: refused before anything changed, naming the seats needed', () =>
    start(0).then(() =>
      d.as(d.admin, async () => {
        const jobId = await bulk.start(d.customerId, versions(selected), { kind: 'licenses', add: [d.sku.E5], remove: [] }, { actor: d.admin, operationId: op() });
        const job = await bulk.run(d.customerId, jobId);
        expect(job).toMatchObject({ state: 'refused', processed: 0, changed: 0, error: { code: 'NO_SEATS', params: { seatsNeeded: SELECTED, seatsLeft: 5 } } });
        expect((await all()).filter((u) => u.licenses.includes(d.sku.E5))).toEqual([]);
        expect(await seatsLeft(d.sku.E5)).toBe(5);
      }),
    ));

  test('a user changed since the selection: refused whole, nothing changed', () =>
    start(0).then(() =>
      d.as(d.admin, async () => {
        const changed = selected[400];
        await d.directory.changeLicenses(d.customerId, [{ userId: changed.id }], { add: [d.sku.E5] }, { actor: d.admin2, operationId: op() });
        const jobId = await bulk.start(d.customerId, versions(selected), { kind: 'licenses', add: [d.sku.E3], remove: [] }, { actor: d.admin, operationId: op() });
        expect(await bulk.run(d.customerId, jobId)).toMatchObject({ state: 'refused', changed: 0, error: { code: 'STALE', params: { user: changed.userPrincipalName } } });
        expect((await all()).filter((u) => u.licenses.includes(d.sku.E3))).toHaveLength(HOLDERS);
      }),
    ));

  test('a seat taken by another agent after the first chunk: the applied chunk is changed back, nothing changed in the end', () =>
    start(0).then(() =>
      d.as(d.admin, async () => {
        const outsider = await d.user('zz-outsider');
        const jobId = await bulk.start(d.customerId, versions(selected), { kind: 'licenses', add: [d.sku.E3], remove: [] }, { actor: d.admin, operationId: op() });
        const job = await bulk.run(d.customerId, jobId, {
          beforeChunk: async (chunk) => {
            if (chunk === 1) await d.directory.changeLicenses(d.customerId, [{ userId: outsider.id }], { add: [d.sku.E3] }, { actor: d.admin2, operationId: op() });
          },
        });
        expect(job).toMatchObject({ state: 'refused', processed: 500, error: { code: 'NO_SEATS' }, notUndone: 0 });
        expect(job?.undone).toBe(job?.changed);
        expect(job?.changed).toBeGreaterThan(400);
        const after = await all();
        // Only the holders from before and the outsider (the other agent's change stands).
        expect(after.filter((u) => u.licenses.includes(d.sku.E3)).map((u) => u.username).sort()).toEqual([...selected.filter((u) => u.licenses.length).map((u) => u.username), 'zz-outsider'].sort());
        expect(await seatsLeft(d.sku.E3)).toBe(SELECTED - HOLDERS - 1);
        expect(await jobEntries()).toEqual([expect.objectContaining({ action: 'bulk-change-licenses', result: 'refused: NO_SEATS', detail: expect.stringContaining(`undone=${job?.changed} notUndone=0`) })]);
      }),
    ));

  test('a user changed by somebody else between the chunk and the undo keeps that change: the job says "incomplete"', () =>
    start(0).then(() =>
      d.as(d.admin, async () => {
        const outsider = await d.user('zz-outsider');
        const jobId = await bulk.start(d.customerId, versions(selected), { kind: 'licenses', add: [d.sku.E3], remove: [] }, { actor: d.admin, operationId: op() });
        // In chunk 0: the job cuts its chunks in the order of the ids.
        const victim = selected.filter((u) => !u.licenses.length).sort((a, b) => (a.id < b.id ? -1 : 1))[0];
        const job = await bulk.run(d.customerId, jobId, {
          beforeChunk: async (chunk) => {
            if (chunk !== 1) return;
            // Another agent gives the first chunk's user a second license, then takes the last seat.
            await d.directory.changeLicenses(d.customerId, [{ userId: victim.id }], { add: [d.sku.E5] }, { actor: d.admin2, operationId: op() });
            await d.directory.changeLicenses(d.customerId, [{ userId: outsider.id }], { add: [d.sku.E3] }, { actor: d.admin2, operationId: op() });
          },
        });
        const [v] = await d.directory.readUsers(d.customerId, [victim.id]);
        expect(job).toMatchObject({ state: 'incomplete', notUndone: 1 });
        expect(v?.licenses.sort()).toEqual([d.sku.E3, d.sku.E5].sort());
        // Everyone else is back as before.
        const others = (await all()).filter((u) => u.id !== victim.id && u.username !== 'zz-outsider' && u.licenses.includes(d.sku.E3));
        expect(others).toHaveLength(HOLDERS);
      }),
    ));

  test('a crash between a chunk and its record: the resumed job replays that chunk, changing nobody twice', () =>
    start(0).then(() =>
      d.as(d.admin, async () => {
        const jobId = await bulk.start(d.customerId, versions(selected), { kind: 'licenses', add: [d.sku.E3], remove: [] }, { actor: d.admin, operationId: op() });
        await expect(
          bulk.run(d.customerId, jobId, {
            beforeRecord: (chunk) => {
              if (chunk === 0) throw new Error('killed');
            },
          }),
        ).rejects.toThrow('killed');
        expect(await bulk.job(d.customerId, jobId)).toMatchObject({ state: 'running', processed: 0 });
        expect(await bulk.runningJobs()).toContainEqual({ customerId: d.customerId, jobId });
        const job = await bulk.run(d.customerId, jobId);
        expect(job).toMatchObject({ state: 'done', processed: SELECTED, changed: SELECTED - HOLDERS });
        const after = (await all()).filter((u) => u.username !== 'zz-outsider');
        expect(after.filter((u) => u.licenses.includes(d.sku.E3))).toHaveLength(SELECTED);
        // The replayed chunk answered with its first result: two changes in all, as without the crash.
        expect(await licenseChangesAudited()).toBe(2);
        expect(await jobEntries()).toHaveLength(1);
        expect(await seatsLeft(d.sku.E3)).toBe(0);
      }),
    ));

  test('deleting 620 users in chunks: all deleted, their seats freed, each restorable with its license', () =>
    start(0).then(() =>
      d.as(d.admin, async () => {
        const jobId = await bulk.start(d.customerId, versions(selected), { kind: 'delete' }, { actor: d.admin, operationId: op() });
        expect(await bulk.run(d.customerId, jobId)).toMatchObject({ state: 'done', changed: SELECTED });
        expect(await jobEntries()).toEqual([expect.objectContaining({ action: 'bulk-delete', result: 'ok' })]);
        expect((await all()).map((u) => u.username)).toEqual(['zz-outsider']);
        expect(await seatsLeft(d.sku.E3)).toBe(SELECTED);
        const deleted = await d.directory.listDeletedUsers(d.customerId);
        expect(deleted).toHaveLength(SELECTED);
        expect(deleted.filter((u) => u.rememberedLicenses.includes(d.sku.E3))).toHaveLength(HOLDERS);
      }),
    ));

  test('a second runner while one holds the job does nothing', () =>
    start(0).then(() =>
      d.as(d.admin, async () => {
        const jobId = await bulk.start(d.customerId, versions(selected), { kind: 'licenses', add: [d.sku.E3], remove: [] }, { actor: d.admin, operationId: op() });
        let second: unknown = 'not run';
        const job = await bulk.run(d.customerId, jobId, {
          beforeChunk: async (chunk) => {
            if (chunk === 0) second = await bulk.run(d.customerId, jobId);
          },
        });
        expect(second).toBeNull();
        expect(job).toMatchObject({ state: 'done', changed: SELECTED - HOLDERS });
      }),
    ));
});

describe.each(BACKENDS)('all matching of a large listing, %s directory', (kind) => {
  test('8,200 users (more than one script reply carries): every one selected once, in the listing order', async () => {
    const d = await startBackend(kind, Array.from({ length: 8200 }, (_, i) => ({ username: `m${String(i).padStart(5, '0')}` })));
    try {
      await d.as(d.admin, async () => {
        const all = await d.directory.listAllUsers(d.customerId, { filter: { kind: 'unlicensed' } }, 50_000);
        expect(all).toHaveLength(8200);
        expect(new Set(all.map((u) => u.id)).size).toBe(8200);
        expect(all.map((u) => u.username)).toEqual(Array.from({ length: 8200 }, (_, i) => `m${String(i).padStart(5, '0')}`));
        const selectionId = await d.directory.saveSelection(d.customerId, all, 50_000);
        expect(Object.keys((await d.directory.readSelection(d.customerId, selectionId)) ?? {})).toHaveLength(8200);
      });
    } finally {
      await d.cleanup();
    }
  }, 120_000);
});
