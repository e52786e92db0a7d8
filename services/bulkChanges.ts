import { createHash } from 'node:crypto';
import { acquireJobLock } from './store/lock';
import { auditEntry } from './audit';
import { MAX_USERS_PER_CHANGE, type DirectoryService } from './directory';
import { DirectoryError, isDirectoryError, type ErrorParams } from './errors';
import type { Actor, LicenseChangeResult } from './types';

/**
 * A license change or a delete for more users than one directory change takes ("all matching" in the users tab: the
 * 16,667 unlicensed users of a 50,000-user customer), as one resumable job in Redis, all or nothing like the change
 * of up to 500 users it extends:
 *
 *   check   every selected user is read: still active, at the version the selection saw; for an assignment, the
 *           seats the whole set needs are free. Any miss ends the job "refused" before anything changed.
 *   apply   chunks of 500 (the directory's own limit), each one atomic directory change under an operation id derived
 *           from the job and the chunk: a crash between a chunk and its record replays the chunk's first result
 *           instead of changing anyone twice. Each chunk's record keeps the users it changed and their new versions.
 *   undo    a chunk refused part-way (a seat another agent took meanwhile, a user changed meanwhile) turns the job
 *           around: the chunks already applied are changed back, newest first, each under its own operation id,
 *           and the job ends "refused" (nothing changed) or, when a user could not be changed back because somebody
 *           changed it in between, "incomplete" with the count.
 *
 * One hash holds the job (its users in chunk fields `u:<n>`, results in `r:<n>`, undo marks in `x:<n>`); a lock with
 * a lease keeps one runner per job; jobs left running are resumed at start-up, when their progress is asked for, and
 * when their owner opens the customer in the tab (a directory acting with the agent's sign-in, Graph, resumes then).
 */
export const MAX_BULK_USERS = 50_000;
const CHUNK = MAX_USERS_PER_CHANGE;
/** Renewed before every chunk: a chunk of 500 on Graph (25 batches, throttled) can take most of a minute. */
const LOCK_TTL_MS = 120_000;
/** A finished job is kept this long, so its outcome can still be read and a repeated request answers with it. */
const JOB_TTL_MS = 24 * 3600_000;

export type BulkChange = { kind: 'licenses'; add: string[]; remove: string[] } | { kind: 'delete' };
export type BulkJobState = 'running' | 'undoing' | 'done' | 'refused' | 'incomplete';

export interface BulkJob {
  jobId: string;
  customerId: string;
  change: BulkChange;
  owner: Actor;
  state: BulkJobState;
  total: number;
  /** Users in the chunks applied so far (the progress while running). */
  processed: number;
  /** Users whose licenses or state actually changed (a user who already held the license is processed, not changed). */
  changed: number;
  /** Why the job turned around: the directory's typed error. */
  error?: { code: DirectoryError['code']; params: ErrorParams };
  undone: number;
  notUndone: number;
}

export interface BulkHooks {
  /** Tests: after a chunk's directory call, before its record (throw to simulate a crash there). */
  beforeRecord?: (chunk: number) => Promise<void> | void;
  /** Tests: before a chunk's directory call (another agent's change can be made here). */
  beforeChunk?: (chunk: number) => Promise<void> | void;
}

/** Creates the job whole once per id: a repeated start finds it as it is. */
const CREATE_JOB = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

/** A chunk's users as stored: "<id> <version>" joined by commas (ids and versions have neither character). */
const encodeRefs = (refs: Array<{ userId: string; expectedVersion: number }>) => refs.map((r) => `${r.userId} ${r.expectedVersion}`).join(',');
const decodeRefs = (v: string | null | undefined) =>
  String(v ?? '')
    .split(',')
    .filter(Boolean)
    .map((pair) => {
      const [userId, version] = pair.split(' ');
      return { userId, expectedVersion: Number(version) };
    });

/** What a chunk changed, per user: the new version and the licenses added and removed (for the undo). */
interface Applied {
  userId: string;
  version: number;
  added: string[];
  removed: string[];
}

export class BulkChangeService {
  constructor(private readonly directory: DirectoryService) {}

  private get redis() {
    return this.directory.redis;
  }
  private key(customerId: string, jobId: string, part: '' | ':lock' = '') {
    return this.directory.keys.bulkJob(customerId, jobId, part);
  }

  /** The job id an operation id stands for: the same click twice is the same job. */
  jobIdOf(operationId: string): string {
    return createHash('sha256').update(`bulk ${operationId}`).digest('base64url').slice(0, 16);
  }

  /**
   * Creates the job for the users of a saved selection (ids with the versions the agent saw); it runs with `run`.
   * The license change is checked as the directory checks one (license ids, not added and removed at once).
   */
  async start(customerId: string, users: Record<string, number>, change: BulkChange, options: { actor: Actor; operationId: string }): Promise<string> {
    const normalised = change.kind === 'licenses' ? { kind: 'licenses' as const, ...this.directory.licenseChangeOf(change) } : change;
    const refs = Object.entries(users)
      .map(([userId, expectedVersion]) => ({ userId, expectedVersion }))
      // Chunks cut in id order (and stored with the job: a resumed run applies exactly the chunks the first one cut).
      .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
    if (!refs.length) throw new DirectoryError('INVALID_FIELD', { field: 'userIds', reason: 'required' });
    if (refs.length > MAX_BULK_USERS) throw new DirectoryError('TOO_MANY_USERS', { max: MAX_BULK_USERS, given: refs.length });
    const jobId = this.jobIdOf(options.operationId);
    const fields: Record<string, string> = {
      kind: normalised.kind,
      add: normalised.kind === 'licenses' ? normalised.add.join(',') : '',
      remove: normalised.kind === 'licenses' ? normalised.remove.join(',') : '',
      ownerId: options.actor.id,
      ownerName: options.actor.name,
      state: 'running',
      total: String(refs.length),
      chunks: String(Math.ceil(refs.length / CHUNK)),
      next: '0',
      processed: '0',
      changed: '0',
      createdAt: String(this.directory.clock.now()),
    };
    for (let i = 0; i * CHUNK < refs.length; i++) fields[`u:${i}`] = encodeRefs(refs.slice(i * CHUNK, (i + 1) * CHUNK));
    await this.redis.eval(CREATE_JOB, 1, this.key(customerId, jobId), String(JOB_TTL_MS), ...Object.entries(fields).flat());
    // Listed for resumption even when the job already existed (a first start may have stopped between the two).
    if ((await this.redis.hget(this.key(customerId, jobId), 'state')) === 'running') await this.redis.sadd(this.directory.keys.runningBulkJobs(), `${customerId} ${jobId}`);
    return jobId;
  }

  async job(customerId: string, jobId: string): Promise<BulkJob> {
    const h = await this.redis.hmget(this.key(customerId, jobId), 'kind', 'add', 'remove', 'ownerId', 'ownerName', 'state', 'total', 'processed', 'changed', 'error', 'undone', 'notUndone');
    const [kind, add, remove, ownerId, ownerName, state, total, processed, changed, error, undone, notUndone] = h;
    if (!kind) throw new DirectoryError('IMPORT_NOT_FOUND');
    return {
      jobId,
      customerId,
      change: kind === 'delete' ? { kind: 'delete' } : { kind: 'licenses', add: csv(add), remove: csv(remove) },
      owner: { id: String(ownerId), name: String(ownerName) },
      state: (state ?? 'running') as BulkJobState,
      total: Number(total),
      processed: Number(processed ?? 0),
      changed: Number(changed ?? 0),
      error: error ? (JSON.parse(error) as BulkJob['error']) : undefined,
      undone: Number(undone ?? 0),
      notUndone: Number(notUndone ?? 0),
    };
  }

  /** The running jobs of one owner in one customer (resumed with the owner's sign-in when the owner opens it). */
  async runningJobsOf(customerId: string, ownerId: string): Promise<string[]> {
    const ids = (await this.runningJobs()).filter((j) => j.customerId === customerId).map((j) => j.jobId);
    const owners = await Promise.all(ids.map((id) => this.redis.hget(this.key(customerId, id), 'ownerId')));
    return ids.filter((_, i) => owners[i] === ownerId);
  }

  async runningJobs(): Promise<Array<{ customerId: string; jobId: string }>> {
    return (await this.redis.smembers(this.directory.keys.runningBulkJobs())).map((m) => {
      const [customerId, jobId] = m.split(' ');
      return { customerId, jobId };
    });
  }

  /**
   * Runs what is left of the job. Returns the job as it ended, or null when another runner holds it. A Redis or
   * network failure leaves the job where its last record put it, to be resumed.
   */
  async run(customerId: string, jobId: string, hooks: BulkHooks = {}): Promise<BulkJob | null> {
    const key = this.key(customerId, jobId);
    const lock = await acquireJobLock(this.redis, this.key(customerId, jobId, ':lock'), LOCK_TTL_MS);
    if (!lock) return null;
    const renew = () => lock.renew();
    try {
      // A job waiting to be resumed does not expire half-done: its day starts again with every run.
      await this.redis.pexpire(key, JOB_TTL_MS);
      let job = await this.job(customerId, jobId);
      if (job.state === 'running') job = await this.apply(job, hooks, renew);
      if (job.state === 'undoing') job = await this.undo(job, renew);
      await this.redis.srem(this.directory.keys.runningBulkJobs(), `${customerId} ${jobId}`);
      return job;
    } finally {
      await lock.release();
    }
  }

  private async apply(job: BulkJob, hooks: BulkHooks, renew: () => Promise<unknown>): Promise<BulkJob> {
    const { customerId, jobId } = job;
    const key = this.key(customerId, jobId);
    const [checked, next, chunks] = await this.redis.hmget(key, 'checked', 'next', 'chunks');
    const chunkCount = Number(chunks);
    const actor = job.owner;
    try {
      if (!checked) {
        await this.check(job, chunkCount);
        await this.redis.hset(key, 'checked', '1');
      }
      let processed = job.processed;
      let changed = job.changed;
      for (let i = Number(next); i < chunkCount; i++) {
        await renew();
        await hooks.beforeChunk?.(i);
        const refs = decodeRefs(await this.redis.hget(key, `u:${i}`));
        const options = { actor, operationId: `bulk:${jobId}:${i}` };
        let applied: Applied[];
        if (job.change.kind === 'licenses') {
          const results: LicenseChangeResult[] = await this.directory.changeLicenses(customerId, refs, { add: job.change.add, remove: job.change.remove }, options);
          applied = results.filter((r) => r.changed).map((r) => ({ userId: r.userId, version: r.version, added: r.added, removed: r.removed }));
        } else {
          const deleted = await this.directory.deleteUsers(customerId, refs, options);
          applied = deleted.map((d) => ({ userId: d.userId, version: d.version, added: [], removed: [] }));
        }
        await hooks.beforeRecord?.(i);
        processed += refs.length;
        changed += applied.length;
        await this.redis.hset(key, `r:${i}`, JSON.stringify(applied.map((a) => [a.userId, a.version, a.added.join(','), a.removed.join(',')])), 'next', String(i + 1), 'processed', String(processed), 'changed', String(changed));
      }
      await this.finish(job, 'done', { processed, changed });
    } catch (err) {
      // Not a refusal: Redis away, or a directory that needs the agent's sign-in (a resume at start-up has no agent).
      if (!isDirectoryError(err) || err.code === 'SIGN_IN_REQUIRED') throw err;
      // Refused part-way (or by the check): what was applied is changed back, so the job ends with nothing changed.
      await this.redis.hset(key, 'state', 'undoing', 'error', JSON.stringify({ code: err.code, params: err.params }));
    }
    return this.job(customerId, jobId);
  }

  /** Every selected user still as the selection saw it, and for an assignment the seats the whole set needs. */
  private async check(job: BulkJob, chunkCount: number): Promise<void> {
    const key = this.key(job.customerId, job.jobId);
    const lacking = new Map<string, number>();
    for (let i = 0; i < chunkCount; i++) {
      const refs = decodeRefs(await this.redis.hget(key, `u:${i}`));
      const users = await this.directory.readUsers(job.customerId, refs.map((r) => r.userId));
      users.forEach((user, n) => {
        if (!user) throw new DirectoryError('USER_NOT_FOUND', { user: refs[n].userId });
        if (user.state !== 'active') throw new DirectoryError('NOT_ACTIVE', { user: user.userPrincipalName });
        if (user.version !== refs[n].expectedVersion) throw new DirectoryError('STALE', { user: user.userPrincipalName });
        if (job.change.kind === 'licenses') for (const sku of job.change.add) if (!user.licenses.includes(sku)) lacking.set(sku, (lacking.get(sku) ?? 0) + 1);
      });
    }
    if (!lacking.size) return;
    const subscriptions = await this.directory.getSubscriptions(job.customerId);
    for (const [sku, needed] of lacking) {
      const sub = subscriptions.find((s) => s.skuId === sku);
      if (!sub) throw new DirectoryError('UNKNOWN_LICENSE', { license: sku });
      if (sub.availableSeats < needed) throw new DirectoryError('NO_SEATS', { license: sub.name, seatsLeft: sub.availableSeats, seatsNeeded: needed });
    }
  }

  private async undo(job: BulkJob, renew: () => Promise<unknown>): Promise<BulkJob> {
    const { customerId, jobId } = job;
    const key = this.key(customerId, jobId);
    let { undone, notUndone } = job;
    const next = Number(await this.redis.hget(key, 'next'));
    for (let i = next - 1; i >= 0; i--) {
      await renew();
      const [record, mark] = await this.redis.hmget(key, `r:${i}`, `x:${i}`);
      if (mark) continue;
      const applied: Applied[] = (JSON.parse(record ?? '[]') as Array<[string, number, string, string]>).map(([userId, version, added, removed]) => ({ userId, version, added: csv(added), removed: csv(removed) }));
      // Users changed the same way are changed back in one call (a license change: most users differ in nothing).
      const groups = new Map<string, Applied[]>();
      for (const a of applied) {
        const g = `${a.added.join(',')}|${a.removed.join(',')}`;
        groups.set(g, [...(groups.get(g) ?? []), a]);
      }
      let n = 0;
      for (const users of groups.values()) {
        const refs = users.map((u) => ({ userId: u.userId, expectedVersion: u.version }));
        const options = { operationId: `bulk:${jobId}:undo:${i}:${n++}` };
        const back = await this.changeBack(job, refs, users[0], options.operationId).catch(async (err: unknown) => {
          if (!isDirectoryError(err) || refs.length === 1) throw err;
          // One of them changed meanwhile (the group is all or nothing): the others are changed back one by one.
          const each = await Promise.all(refs.map((r) => this.changeBack(job, [r], users[0], `${options.operationId}:${r.userId}`).catch(refusedOne)));
          return each.reduce((sum, ok) => sum + ok, 0);
        }).catch(refusedOne);
        undone += back;
        notUndone += refs.length - back;
      }
      await this.redis.hset(key, `x:${i}`, '1', 'undone', String(undone), 'notUndone', String(notUndone));
    }
    await this.finish(job, notUndone ? 'incomplete' : 'refused', { undone, notUndone });
    return this.job(customerId, jobId);
  }

  /** Ends the job with one audit entry naming the owner, how many users, and the outcome. */
  private async finish(job: BulkJob, state: 'done' | 'refused' | 'incomplete', counts: { processed?: number; changed?: number; undone?: number; notUndone?: number }): Promise<void> {
    const change = job.change.kind === 'licenses' ? `+${job.change.add.join(',')} -${job.change.remove.join(',')} ` : '';
    const result = state === 'done' ? 'ok' : `${state}: ${job.error?.code ?? ''}`;
    const detail = `${change}${Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(' ')}`;
    const action = job.change.kind === 'licenses' ? 'bulk-change-licenses' : 'bulk-delete';
    const now = this.directory.clock.now();
    // The final state and the entry in one atomic step: a resumed job that had already ended writes nothing again.
    await this.directory.auditJobOnce(job.customerId, this.key(job.customerId, job.jobId), 'audited', auditEntry(now, job.owner, action, `${job.total} user(s)`, result, detail), { state });
  }

  /** Changes users back as one directory change; how many came back. */
  private async changeBack(job: BulkJob, refs: Array<{ userId: string; expectedVersion: number }>, how: Applied, operationId: string): Promise<number> {
    const options = { actor: job.owner, operationId };
    if (job.change.kind === 'licenses') {
      await this.directory.changeLicenses(job.customerId, refs, { add: how.removed, remove: how.added }, options);
      return refs.length;
    }
    return (await this.directory.restoreUsers(job.customerId, refs, options)).filter((o) => o.ok).length;
  }
}

/** A user somebody changed after this job did keeps that change (the job counts it as not changed back). */
const refusedOne = (err: unknown): number => {
  if (isDirectoryError(err) && err.code !== 'SIGN_IN_REQUIRED') return 0;
  throw err;
};

const csv = (v: string | null | undefined): string[] => String(v ?? '').split(',').filter(Boolean);
