import { createHash } from 'node:crypto';
import { auditEntry } from './audit';
import { acquireJobLock } from './store/lock';
import type { DirectoryService } from './directory';
import { DirectoryError, isDirectoryError } from './errors';
import type { Actor, CustomerUser } from './types';

/**
 * One-step offboarding of a customer user, as one resumable job in Redis (the import's pattern):
 *
 *   block    sign-in blocked at once (Redis: signInBlocked; Graph: accountEnabled false)
 *   reset    a new password that nobody sees: generated, set, discarded (never sent, never stored)
 *   delete   soft delete: the licenses are released and remembered, so Restore gives them back within 30 days
 *   transfer (with --to) the released licenses assigned to the colleague, who did not hold them yet
 *   audit    one entry naming the user, the colleague and the licenses (written atomically with the step's record)
 *
 * Decision (README, "Offboarding"): "remove every license" and "soft delete" are one directory step. Removing the
 * licenses first and deleting afterwards would leave the deleted user holding nothing, so Restore could give nothing
 * back; deleting with the licenses still held releases the seats in the same atomic change and remembers them. The
 * transfer comes after the delete, so the seats it needs are the ones the delete just freed.
 *
 * Every step is recorded in the job hash before the next one starts; each step's directory call carries an operation
 * id derived from the job and the step, so a crash between the call and its record replays the call instead of
 * repeating it. A lock keeps one runner per job; jobs left running are resumed at start-up.
 */
export const OFFBOARD_STEPS = ['block', 'reset', 'delete', 'transfer', 'audit'] as const;
export type OffboardStep = (typeof OFFBOARD_STEPS)[number];

const LOCK_TTL_MS = 30_000;
/** A finished job is kept this long, so a repeated button answers with it. */
const JOB_TTL_MS = 7 * 24 * 3600_000;

export interface OffboardPlan {
  user: CustomerUser;
  colleague?: CustomerUser;
  /** Licenses the user holds now (released by the delete, remembered for Restore). */
  licenses: string[];
  /** With a colleague: the licenses the colleague gets (those it does not hold already). */
  moved: string[];
}

/**
 * A card that shows the job's progress: the bot's own activity in a conversation (reference JSON and activity id), the
 * language it is drawn in, and what it is — the card the agent clicked (`result`) or a four-eyes approval card
 * (`approval`). `refreshUserId`: the Teams id of the agent whose client refreshes the running card (Universal Actions).
 */
export interface OffboardCard {
  kind: 'result' | 'approval';
  conversation: string;
  activityId: string;
  locale: string;
  refreshUserId?: string;
}

export interface OffboardJob {
  jobId: string;
  customerId: string;
  userId: string;
  userPrincipalName: string;
  displayName: string;
  colleagueId?: string;
  colleagueUpn?: string;
  licenses: string[];
  moved: string[];
  owner: Actor;
  /** Who approved it, when it ran under four eyes. */
  approvedBy?: Actor;
  state: 'running' | 'done' | 'failed';
  done: OffboardStep[];
  error?: string;
  /** Set by the transfer step when the colleague could not get the licenses (a seat taken meanwhile). */
  transferError?: string;
  /** Where the job's progress is shown (updated after every step and at the end, also after a resume). */
  cards: OffboardCard[];
  /** Under four eyes: the approval request the job applies (finished with the job's outcome). */
  approvalRequestId?: string;
}

/** The steps a job shows: the transfer only with a colleague. */
export const stepsOf = (job: Pick<OffboardJob, 'colleagueId'>): OffboardStep[] => OFFBOARD_STEPS.filter((s) => s !== 'transfer' || !!job.colleagueId);

/** The step running now (the first one not finished), while the job runs. */
export const runningStep = (job: Pick<OffboardJob, 'colleagueId' | 'done' | 'state'>): OffboardStep | undefined =>
  job.state === 'running' ? stepsOf(job).find((s) => !job.done.includes(s)) : undefined;

export interface OffboardHooks {
  /** Tests: called after a step is recorded (throw to simulate a crash there). */
  afterStep?: (step: OffboardStep) => Promise<void> | void;
  /** Tests: called after a step's directory call, before its record (throw to simulate a crash there). */
  beforeRecord?: (step: OffboardStep) => Promise<void> | void;
  onStep?: (job: OffboardJob) => Promise<void> | void;
}


export class OffboardingService {
  constructor(private readonly directory: DirectoryService) {}

  private get redis() {
    return this.directory.redis;
  }
  private get keys() {
    return this.directory.keys;
  }

  /** What offboarding this user would do; refuses what cannot be done (a colleague that is the user, or deleted). */
  async plan(customerId: string, userId: string, colleagueId?: string, expectedVersion?: number): Promise<OffboardPlan> {
    const user = await this.directory.getUser(customerId, userId);
    if (user.state !== 'active') throw new DirectoryError('NOT_ACTIVE', { user: user.userPrincipalName });
    if (expectedVersion !== undefined && expectedVersion !== user.version) throw new DirectoryError('STALE', { user: user.userPrincipalName });
    if (!colleagueId) return { user, licenses: user.licenses, moved: [] };
    if (colleagueId === userId) throw new DirectoryError('INVALID_FIELD', { field: 'userIds', reason: 'sameUser' });
    const colleague = await this.directory.getUser(customerId, colleagueId);
    if (colleague.state !== 'active') throw new DirectoryError('NOT_ACTIVE', { user: colleague.userPrincipalName });
    const moved = user.licenses.filter((s) => !colleague.licenses.includes(s));
    // The delete frees one seat of each license the user holds: the colleague's share must fit in what is left then.
    const subscriptions = await this.directory.getSubscriptions(customerId);
    for (const sku of moved) {
      const sub = subscriptions.find((s) => s.skuId === sku);
      const after = (sub?.availableSeats ?? 0) + 1;
      if (after < 1) throw new DirectoryError('NO_SEATS', { license: sub?.name ?? sku, seatsLeft: after, seatsNeeded: 1 });
    }
    return { user, colleague, licenses: user.licenses, moved };
  }

  /** The job id an operation id stands for: the same button twice is the same job. */
  jobIdOf(operationId: string): string {
    return createHash('sha256').update(operationId).digest('base64url').slice(0, 16);
  }

  /** Creates the job (once per operation id) and lists it for resumption; returns its id. */
  async start(customerId: string, plan: OffboardPlan, options: { actor: Actor; operationId: string; approvedBy?: Actor; approvalRequestId?: string; cards?: OffboardCard[] }): Promise<string> {
    const jobId = this.jobIdOf(options.operationId);
    const key = this.keys.offboardJob(customerId, jobId);
    const fields: Record<string, string> = {
      customerId,
      userId: plan.user.id,
      userVersion: String(plan.user.version),
      upn: plan.user.userPrincipalName,
      displayName: plan.user.displayName,
      colleagueId: plan.colleague?.id ?? '',
      colleagueUpn: plan.colleague?.userPrincipalName ?? '',
      licenses: plan.licenses.join(','),
      moved: plan.moved.join(','),
      ownerId: options.actor.id,
      ownerName: options.actor.name,
      approvedById: options.approvedBy?.id ?? '',
      approvedByName: options.approvedBy?.name ?? '',
      approvalRequestId: options.approvalRequestId ?? '',
      ...Object.fromEntries((options.cards ?? []).filter((c) => c.activityId).map((c) => [`card:${c.activityId}`, JSON.stringify(c)])),
      state: 'running',
      createdAt: String(this.directory.clock.now()),
    };
    // Created whole or not at all: the first field set wins, a repeated start finds the job as it is.
    const created = await this.redis.eval(
      "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end redis.call('HSET', KEYS[1], unpack(ARGV, 2)) redis.call('PEXPIRE', KEYS[1], ARGV[1]) return 1",
      1,
      key,
      String(JOB_TTL_MS),
      ...Object.entries(fields).flat(),
    );
    if (Number(created) === 1) await this.redis.sadd(this.keys.runningOffboardings(), `${customerId} ${jobId}`);
    return jobId;
  }

  async job(customerId: string, jobId: string): Promise<OffboardJob> {
    const h = await this.redis.hgetall(this.keys.offboardJob(customerId, jobId));
    if (!h.userId) throw new DirectoryError('IMPORT_NOT_FOUND');
    return {
      jobId,
      customerId,
      userId: h.userId,
      userPrincipalName: h.upn,
      displayName: h.displayName,
      colleagueId: h.colleagueId || undefined,
      colleagueUpn: h.colleagueUpn || undefined,
      licenses: csv(h.licenses),
      moved: csv(h.moved),
      owner: { id: h.ownerId, name: h.ownerName },
      approvedBy: h.approvedById ? { id: h.approvedById, name: h.approvedByName } : undefined,
      state: h.state === 'done' ? 'done' : h.state === 'failed' ? 'failed' : 'running',
      done: OFFBOARD_STEPS.filter((s) => h[`step:${s}`]),
      error: h.error || undefined,
      transferError: h.transferError || undefined,
      cards: cardsOf(h),
      approvalRequestId: h.approvalRequestId || undefined,
    };
  }

  /**
   * Another card to show the job's progress on (the same button pressed on another card, an approval clicked from
   * elsewhere): added once per activity, in one atomic step.
   */
  async addCard(customerId: string, jobId: string, card: OffboardCard): Promise<void> {
    if (!card.activityId) return;
    // One field per card: a second add of the same activity keeps the first; only an existing job gets it.
    await this.redis.eval(
      "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])",
      1,
      this.keys.offboardJob(customerId, jobId),
      `card:${card.activityId}`,
      JSON.stringify(card),
    );
  }

  /** How long the job's runner lock still holds (0: free), so a runner waiting for a dead one knows when to try. */
  async lockRemainingMs(customerId: string, jobId: string): Promise<number> {
    return Math.max(0, Number(await this.redis.pttl(this.keys.offboardJob(customerId, jobId, ':lock'))));
  }

  async runningJobs(): Promise<Array<{ customerId: string; jobId: string }>> {
    const members = await this.redis.smembers(this.keys.runningOffboardings());
    return members.map((m) => {
      const [customerId, jobId] = m.split(' ');
      return { customerId, jobId };
    });
  }

  /**
   * Runs the job's remaining steps. Returns the finished job, or null when another runner holds it. A user error (the
   * user changed before the first step, Graph's refusal) ends the job as failed, with nothing after that step done.
   */
  async run(customerId: string, jobId: string, hooks: OffboardHooks = {}): Promise<OffboardJob | null> {
    const key = this.keys.offboardJob(customerId, jobId);
    const lock = await acquireJobLock(this.redis, this.keys.offboardJob(customerId, jobId, ':lock'), LOCK_TTL_MS);
    if (!lock) return null;
    try {
      let job = await this.job(customerId, jobId);
      if (job.state !== 'running') return job;
      const h = await this.redis.hgetall(key);
      const actor: Actor = job.approvedBy ? { id: job.owner.id, name: `${job.owner.name} (approved by ${job.approvedBy.name})` } : job.owner;
      const op = (step: OffboardStep) => `offboard:${jobId}:${step}`;
      const record = async (step: OffboardStep, extra: Record<string, string> = {}) => {
        await hooks.beforeRecord?.(step);
        await this.redis.hset(key, `step:${step}`, String(this.directory.clock.now()), ...Object.entries(extra).flat());
        job = await this.job(customerId, jobId);
        await hooks.onStep?.(job);
        await hooks.afterStep?.(step);
      };
      try {
        for (const step of OFFBOARD_STEPS) {
          if (job.done.includes(step)) continue;
          switch (step) {
            case 'block':
              // The plan's version: a user changed since the confirmation card was drawn is not offboarded.
              await this.directory.blockSignIn(customerId, { userId: job.userId, expectedVersion: Number(h.userVersion) }, { actor, operationId: op(step) });
              await record(step);
              break;
            case 'reset':
              // The password is generated, set and dropped here: nobody is meant to sign in with it.
              await this.directory.resetPassword(customerId, { userId: job.userId }, { actor, operationId: op(step) });
              await record(step);
              break;
            case 'delete': {
              const [deleted] = await this.directory.deleteUsers(customerId, [{ userId: job.userId }], { actor, operationId: op(step) });
              await record(step, { remembered: (deleted?.rememberedLicenses ?? []).join(',') });
              break;
            }
            case 'transfer': {
              let transferError = '';
              if (job.colleagueId && job.moved.length) {
                try {
                  await this.directory.changeLicenses(customerId, [{ userId: job.colleagueId }], { add: job.moved }, { actor, operationId: op(step) });
                } catch (err) {
                  if (!isDirectoryError(err) || err.code === 'SIGN_IN_REQUIRED') throw err;
                  // The user is offboarded either way; the card and the audit say the colleague did not get them.
                  transferError = err.code;
                }
              }
              await record(step, transferError ? { transferError } : {});
              break;
            }
            case 'audit': {
              const detail = [
                `licenses ${job.licenses.join(',') || '-'}`,
                job.colleagueUpn ? `colleague ${job.colleagueUpn}` : '',
                job.colleagueUpn && job.moved.length ? `moved ${job.transferError ? `failed (${job.transferError})` : job.moved.join(',')}` : '',
                job.approvedBy ? `requested by ${job.owner.name}; approved by ${job.approvedBy.name}` : '',
              ]
                .filter(Boolean)
                .join('; ');
              const now = this.directory.clock.now();
              await hooks.beforeRecord?.(step);
              // The entry and the step's record in one atomic step: a resumed job that had written it writes nothing.
              await this.directory.auditJobOnce(customerId, key, 'step:audit', auditEntry(now, job.owner, 'offboard', job.userPrincipalName, 'ok', detail));
              job = await this.job(customerId, jobId);
              await hooks.onStep?.(job);
              await hooks.afterStep?.(step);
              break;
            }
          }
        }
        await this.redis.hset(key, 'state', 'done');
      } catch (err) {
        // Not a refusal: Redis away, or the agent's sign-in not to be had now (Graph); the job resumes later.
        if (!isDirectoryError(err) || err.code === 'SIGN_IN_REQUIRED') throw err;
        await this.redis.hset(key, 'state', 'failed', 'error', err.code);
      }
      await this.redis.srem(this.keys.runningOffboardings(), `${customerId} ${jobId}`);
      return this.job(customerId, jobId);
    } finally {
      await lock.release();
    }
  }
}

const csv = (v: string | undefined): string[] => String(v ?? '').split(',').filter(Boolean);

/** The job's cards (fields `card:<activity id>`). */
function cardsOf(h: Record<string, string>): OffboardCard[] {
  const cards: OffboardCard[] = [];
  for (const [field, raw] of Object.entries(h)) {
    if (!field.startsWith('card:')) continue;
    try {
      const c = JSON.parse(raw) as OffboardCard;
      if (c && typeof c.activityId === 'string' && typeof c.conversation === 'string') cards.push(c);
    } catch {
      // a field that is not JSON is skipped
    }
  }
  return cards;
}
