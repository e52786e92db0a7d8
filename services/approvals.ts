import { createHash } from 'node:crypto';
import { AUDIT_CAP, DAY_MS } from './directories/constants';
import type { DirectoryService } from './directory';
import { DirectoryError, isDirectoryError } from './errors';
import { OffboardCard, OffboardHooks, OffboardingService, OffboardJob } from './offboarding';
import type { ImportOptions, ImportService } from './import/importer';
import type { Actor, CustomerUser } from './types';

/**
 * Four eyes: a partner setting per customer makes risky changes need a second admin agent. With it on, a request does
 * not run; it is stored (with the users' versions it was computed from) until an admin agent other than the requester
 * approves it, rejects it, the requester withdraws it, or it expires.
 *
 * Every transition is one Lua script over the request's hash and the customer's audit list (one hash tag), so two
 * admins approving at the same moment make one transition: one of them applies the change, the other is told who
 * approved it. The change itself goes through DirectoryService with an operation id derived from the request
 * (`approval:<id>`), so a repeated apply replays instead of changing twice. Approval is against the state at approval
 * time: when a user changed since the request, the request ends as "stale" with what differs, and nothing is applied.
 */
export type ApprovalChange =
  | { kind: 'deleteUsers'; userIds: string[] }
  | { kind: 'resetPassword'; userId: string }
  | { kind: 'offboard'; userId: string; toUserId?: string }
  /** `unassign`, `replace` or a Manage licenses save that removes at least one license (add alongside, when saved so). */
  | { kind: 'changeLicenses'; userIds: string[]; add: string[]; remove: string[]; replace?: { from: string; to: string } }
  /**
   * A bulk import over the customer's size (`--import-over`): the previewed job, its options, its ready rows, and where
   * its progress card lives (set when the request is made). Approving starts it as its owner, the requester.
   */
  | { kind: 'import'; jobId: string; filename: string; options: ImportOptions; rows: number; card?: Record<string, string> };

/** A license change needs approval only when it removes a license (replace removes the old one). */
export const removesLicenses = (change: { remove?: string[]; replace?: { from: string; to: string } }): boolean => !!change.replace || (change.remove?.length ?? 0) > 0;

export type ApprovalState = 'pending' | 'approved' | 'rejected' | 'withdrawn' | 'expired' | 'applied' | 'failed' | 'stale';
export type ApprovalDecision = 'approve' | 'reject' | 'withdraw';

export interface ApprovalSettings {
  enabled: boolean;
  expiryMs: number;
  /** Imports with more ready rows than this need approval; 0 = imports are not held back (the default). */
  importOver: number;
}

export const DEFAULT_APPROVAL_EXPIRY_MS = DAY_MS;
/** A request is kept this long after it was made (its card can still be refreshed meanwhile). */
const REQUEST_TTL_MS = 30 * DAY_MS;

export interface ApprovalUser {
  id: string;
  displayName: string;
  userPrincipalName: string;
  licenses: string[];
  role: string;
  version: number;
}

export interface ApprovalOutcome {
  deleted?: number;
  passwordReset?: string;
  offboardJobId?: string;
  offboardState?: string;
  /** Users whose licenses changed (a license change). */
  licensesChanged?: number;
  /** An approved import: the job that was started (as the requester's). */
  importJobId?: string;
  error?: string;
}

export interface ApprovalRequest {
  id: string;
  customerId: string;
  change: ApprovalChange;
  reason: string;
  requester: Actor;
  state: ApprovalState;
  createdAt: number;
  expiresAt: number;
  decidedBy?: Actor;
  decidedAt?: number;
  /** The users the change acts on, as they were when it was requested (the colleague of an offboarding last). */
  users: ApprovalUser[];
  /** Users changed since the request (UPNs), when it ended as stale. */
  difference: string[];
  outcome?: ApprovalOutcome;
  /** Where its card is in the approvals channel (conversation reference JSON and activity id). */
  card?: { conversation: string; activityId: string };
}

export type DecideResult =
  | { kind: 'refused'; reason: 'ownRequest' | 'notRequester' | 'notAdmin'; request: ApprovalRequest }
  /** This click made the transition (and, for approve, applied the change): `temporaryPassword` for a reset. */
  | { kind: 'decided'; request: ApprovalRequest; temporaryPassword?: string }
  /** Someone else decided first, or it had expired: the request as it is. */
  | { kind: 'already'; request: ApprovalRequest; temporaryPassword?: string };

const AUDIT_LINE = `
local function audit(at, actorId, actorName, action, target, detail)
  redis.call('LPUSH', KEYS[2], table.concat({at, actorId, actorName, action, target, 'ok', detail}, '\\031'))
  redis.call('LTRIM', KEYS[2], 0, ${AUDIT_CAP} - 1)
end
`;

/** KEYS[1] request, KEYS[2] audit. ARGV[1] now, ARGV[2] TTL, ARGV[3] audit detail, ARGV[4..] field/value pairs. */
const CREATE = `${AUDIT_LINE}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local h = redis.call('HMGET', KEYS[1], 'requesterId', 'requesterName', 'target')
audit(ARGV[1], h[1], h[2], 'approval-requested', h[3], ARGV[3])
return 1
`;

/**
 * KEYS[1] request, KEYS[2] audit. ARGV[1] now, ARGV[2] action (view|approve|reject|withdraw), ARGV[3] actor id,
 * ARGV[4] actor name, ARGV[5] '1' = the users changed since the request (approve → stale), ARGV[6] the difference.
 * Returns {'NOT_FOUND'}, {'EXPIRED'} (noticed now, audited once), {'STATE', state}, {'REFUSED', why} or {'WON', state}.
 */
const DECIDE = `${AUDIT_LINE}
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return {'NOT_FOUND'} end
local h = {}
for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
local who = 'requested by ' .. h.requesterName .. ' (' .. h.requesterId .. ')'
if h.state == 'pending' and tonumber(ARGV[1]) >= tonumber(h.expiresAt) then
  redis.call('HSET', KEYS[1], 'state', 'expired', 'decidedAt', ARGV[1])
  audit(ARGV[1], 'system', 'Partner Admin Bot', 'approval-expired', h.target, who .. '; ' .. h.reason)
  return {'EXPIRED'}
end
local action = ARGV[2]
if action == 'view' or h.state ~= 'pending' then return {'STATE', h.state} end
if action == 'withdraw' then
  if ARGV[3] ~= h.requesterId then return {'REFUSED', 'notRequester'} end
elseif ARGV[3] == h.requesterId then
  return {'REFUSED', 'ownRequest'}
end
local state = 'withdrawn'
if action == 'approve' then state = 'approved' elseif action == 'reject' then state = 'rejected' end
if action == 'approve' and ARGV[5] == '1' then state = 'stale' end
redis.call('HSET', KEYS[1], 'state', state, 'decidedById', ARGV[3], 'decidedByName', ARGV[4], 'decidedAt', ARGV[1], 'difference', ARGV[6])
local detail = who .. '; ' .. state .. ' by ' .. ARGV[4] .. ' (' .. ARGV[3] .. ')'
if state == 'stale' then detail = detail .. '; changed since: ' .. ARGV[6] end
audit(ARGV[1], ARGV[3], ARGV[4], 'approval-' .. state, h.target, detail)
return {'WON', state}
`;

/** KEYS[1] request, KEYS[2] audit. ARGV[1] now, ARGV[2] final state, ARGV[3] outcome JSON, ARGV[4] detail, ARGV[5] difference. */
const FINISH = `${AUDIT_LINE}
local h = redis.call('HMGET', KEYS[1], 'state', 'requesterId', 'requesterName', 'decidedById', 'decidedByName', 'target')
if h[1] ~= 'approved' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'outcome', ARGV[3], 'finishedAt', ARGV[1], 'difference', ARGV[5])
audit(ARGV[1], h[4], h[5], 'approval-' .. ARGV[2], h[6], 'requested by ' .. h[3] .. ' (' .. h[2] .. '); approved by ' .. h[5] .. ' (' .. h[4] .. '); ' .. ARGV[4])
return 1
`;

export class ApprovalService {
  readonly offboarding: OffboardingService;

  constructor(
    private readonly directory: DirectoryService,
    offboarding?: OffboardingService,
    /** For import requests (without it, an import is never held back). */
    private readonly importer?: ImportService,
  ) {
    this.offboarding = offboarding ?? new OffboardingService(directory);
  }

  private get redis() {
    return this.directory.redis;
  }
  private get keys() {
    return this.directory.keys;
  }
  private now(): number {
    return this.directory.clock.now();
  }

  // ---------------------------------------------------------------- the setting

  async settings(customerId: string): Promise<ApprovalSettings> {
    const h = await this.redis.hgetall(this.keys.approvalSettings(customerId));
    return {
      enabled: h.enabled === '1',
      expiryMs: Number(h.expiryMs) > 0 ? Number(h.expiryMs) : DEFAULT_APPROVAL_EXPIRY_MS,
      importOver: Number(h.importOver) > 0 ? Number(h.importOver) : 0,
    };
  }

  /** Turns four eyes on or off for a customer (admin agents only: the bot's role table), audited. */
  async setEnabled(customerId: string, enabled: boolean, actor: Actor, expiryMs?: number, importOver?: number): Promise<ApprovalSettings> {
    await this.directory.getCustomer(customerId);
    const key = this.keys.approvalSettings(customerId);
    const fields = ['enabled', enabled ? '1' : '0', ...(expiryMs ? ['expiryMs', String(expiryMs)] : []), ...(importOver !== undefined ? ['importOver', String(importOver)] : [])];
    const audit = this.keys.customerKey(customerId, 'audit');
    const settings = { ...(await this.settings(customerId)), enabled, ...(expiryMs ? { expiryMs } : {}), ...(importOver !== undefined ? { importOver } : {}) };
    const detail = `expires after ${Math.round(settings.expiryMs / 3600_000)} h; ${settings.importOver ? `imports over ${settings.importOver} rows` : 'imports not held back'}`;
    const entry = [this.now(), actor.id, actor.name, enabled ? 'approvals-on' : 'approvals-off', customerId, 'ok', detail].join('\x1f');
    // Same hash tag: the setting and its audit entry in one transaction.
    const results = await this.redis.multi().hset(key, ...fields).lpush(audit, entry).ltrim(audit, 0, AUDIT_CAP - 1).exec();
    for (const [err] of results ?? []) if (err) throw err;
    return settings;
  }

  /** Whether this change needs a second admin agent here: every change of the list, a reset only for an admin's password. */
  async requiresApproval(customerId: string, change: ApprovalChange): Promise<boolean> {
    const settings = await this.settings(customerId);
    if (!settings.enabled) return false;
    if (change.kind === 'changeLicenses') return removesLicenses(change);
    if (change.kind === 'import') return !!this.importer && settings.importOver > 0 && change.rows > settings.importOver;
    if (change.kind !== 'resetPassword') return true;
    return (await this.directory.getUser(customerId, change.userId)).role !== 'user';
  }

  // ---------------------------------------------------------------- requests

  /** The request an operation id stands for: the same Request button twice is one request. */
  requestIdOf(operationId: string): string {
    return createHash('sha256').update(`approval ${operationId}`).digest('base64url').slice(0, 16);
  }

  async request(customerId: string, change: ApprovalChange, reason: string, requester: Actor, operationId: string): Promise<ApprovalRequest> {
    const text = reason.trim().slice(0, 500);
    if (!text) throw new DirectoryError('INVALID_FIELD', { field: 'reason', reason: 'required' });
    if (change.kind === 'import') {
      // Only the owner of the previewed job may ask for it; the rows are counted again now.
      if (!this.importer) throw new DirectoryError('IMPORT_NOT_FOUND', { job: change.jobId });
      const preview = await this.importer.validate(customerId, change.jobId, change.options, requester);
      change = { ...change, rows: preview.ready, filename: preview.filename };
    }
    const users = await this.usersOf(customerId, change);
    if (change.kind === 'offboard') await this.offboarding.plan(customerId, change.userId, change.toUserId);
    const settings = await this.settings(customerId);
    const id = this.requestIdOf(operationId);
    const now = this.now();
    const summary = summaryOf(change, users);
    const fields: Record<string, string> = {
      id,
      customerId,
      change: JSON.stringify(change),
      reason: text,
      requesterId: requester.id,
      requesterName: requester.name,
      state: 'pending',
      createdAt: String(now),
      expiresAt: String(now + settings.expiryMs),
      users: JSON.stringify(users),
      target: summary,
    };
    await this.redis.eval(CREATE, 2, this.keys.approvalRequest(customerId, id), this.keys.customerKey(customerId, 'audit'), String(now), String(REQUEST_TTL_MS), `${summary}; reason: ${text}`, ...Object.entries(fields).flat());
    return this.read(customerId, id);
  }

  async setCard(customerId: string, requestId: string, card: { conversation: string; activityId: string }): Promise<void> {
    await this.redis.hset(this.keys.approvalRequest(customerId, requestId), 'cardConversation', card.conversation, 'cardActivityId', card.activityId);
  }

  /** The request as it is now; one that has just run out is marked expired (and audited) by this read. */
  async get(customerId: string, requestId: string): Promise<ApprovalRequest> {
    await this.transition(customerId, requestId, 'view', { id: '', name: '' });
    return this.read(customerId, requestId);
  }

  /**
   * A click on Approve, Reject or Withdraw. Approve: an admin agent other than the requester; the users are compared
   * with the request first, and a change since makes it stale instead of applied. The click that wins the transition
   * applies the change; a click that lost sees who decided and, once applied, the outcome.
   */
  async decide(customerId: string, requestId: string, decision: ApprovalDecision, actor: Actor, options: { isAdmin: boolean; offboardCards?: OffboardCard[] }): Promise<DecideResult> {
    let request = await this.get(customerId, requestId);
    if (decision !== 'withdraw' && !options.isAdmin) return { kind: 'refused', reason: 'notAdmin', request };
    let difference: string[] = [];
    if (decision === 'approve' && request.state === 'pending') difference = await this.differenceOf(customerId, request);
    const reply = await this.transition(customerId, requestId, decision, actor, difference);
    request = await this.read(customerId, requestId);
    if (reply[0] === 'REFUSED') return { kind: 'refused', reason: String(reply[1]) as 'ownRequest' | 'notRequester', request };
    if (reply[0] !== 'WON') {
      // Approved by someone else and still being applied (or its applier died): applying again replays the same
      // operation ids, so this click sees the outcome without changing anything twice.
      if (request.state !== 'approved') return { kind: 'already', request };
      try {
        const applied = await this.apply(customerId, request, options.offboardCards);
        return { kind: 'already', request: applied.request, temporaryPassword: applied.temporaryPassword };
      } catch (err) {
        // The winner is applying it right now (the directory says the operation is in progress): it finishes it.
        if (isDirectoryError(err)) throw err;
        return { kind: 'already', request: await this.read(customerId, requestId) };
      }
    }
    if (request.state !== 'approved') return { kind: 'decided', request };
    const applied = await this.apply(customerId, request, options.offboardCards);
    return { kind: 'decided', request: applied.request, temporaryPassword: applied.temporaryPassword };
  }

  /** The offboarding job an approved offboarding request runs (null: not one, or not started). */
  async offboardJobOf(customerId: string, request: ApprovalRequest): Promise<OffboardJob | null> {
    if (request.change.kind !== 'offboard' || !['approved', 'applied', 'failed'].includes(request.state)) return null;
    return this.offboarding.job(customerId, this.offboarding.jobIdOf(`approval:${request.id}`)).catch(() => null);
  }

  /**
   * Runs an offboarding job's remaining steps (OffboardingService.run) and, when the job applies an approval request,
   * finishes the request with the job's outcome once the job has ended: applied, or failed with the step's error.
   * `finished` is true for the one call that finished the request (its outcome is told once). null: another runner
   * holds the job.
   */
  async runOffboarding(customerId: string, jobId: string, hooks: OffboardHooks = {}): Promise<{ job: OffboardJob; request?: ApprovalRequest; finished: boolean } | null> {
    const job = await this.offboarding.run(customerId, jobId, hooks);
    if (!job) return null;
    if (!job.approvalRequestId || job.state === 'running') return { job, finished: false };
    const detail = `offboarding ${job.state}${job.error ? ` (${job.error})` : ''}`;
    const outcome: ApprovalOutcome = { offboardJobId: jobId, offboardState: job.state, error: job.error };
    const finished = await this.finish(customerId, job.approvalRequestId, job.state === 'failed' ? 'failed' : 'applied', outcome, detail, []);
    return { job, request: await this.read(customerId, job.approvalRequestId), finished };
  }

  private async apply(customerId: string, request: ApprovalRequest, offboardCards: OffboardCard[] = []): Promise<{ request: ApprovalRequest; temporaryPassword?: string }> {
    const approver = request.decidedBy as Actor;
    const operationId = `approval:${request.id}`;
    const versions = Object.fromEntries(request.users.map((u) => [u.id, u.version]));
    const change = request.change;
    let outcome: ApprovalOutcome;
    let temporaryPassword: string | undefined;
    let detail: string;
    try {
      if (change.kind === 'deleteUsers') {
        const deleted = await this.directory.deleteUsers(customerId, change.userIds.map((userId) => ({ userId, expectedVersion: versions[userId] })), { actor: approver, operationId });
        outcome = { deleted: deleted.length };
        detail = `deleted ${deleted.length} user(s)`;
      } else if (change.kind === 'changeLicenses') {
        const licenses = change.replace ? { replace: change.replace } : { add: change.add, remove: change.remove };
        const results = await this.directory.changeLicenses(customerId, change.userIds.map((userId) => ({ userId, expectedVersion: versions[userId] })), licenses, { actor: approver, operationId });
        const changed = results.filter((r) => r.changed).length;
        outcome = { licensesChanged: changed };
        detail = `licenses changed for ${changed} user(s)`;
      } else if (change.kind === 'import') {
        if (!this.importer) throw new DirectoryError('IMPORT_NOT_FOUND', { job: change.jobId });
        // The job runs as its owner (the requester): its passwords go to the requester's 1:1 chat only.
        const { started } = await this.importer.start(customerId, change.jobId, request.requester, change.options, change.card ?? {});
        // Not started by this call: another click started it (it is past its preview), or it cannot start any more.
        // (`startedAt` is the start's first write, so a start under way in the other click counts as started.)
        if (!started && !(await this.importer.progress(customerId, change.jobId)).job.startedAt) throw new DirectoryError('IMPORT_NOT_FOUND', { job: change.jobId });
        outcome = { importJobId: change.jobId };
        detail = `import ${change.filename} started as ${request.requester.name}'s job (${change.rows} rows)`;
      } else if (change.kind === 'resetPassword') {
        const reset = await this.directory.resetPassword(customerId, { userId: change.userId, expectedVersion: versions[change.userId] }, { actor: approver, operationId });
        temporaryPassword = reset.temporaryPassword || undefined;
        outcome = { passwordReset: reset.user.userPrincipalName };
        detail = `password reset for ${reset.user.userPrincipalName}`;
      } else {
        // Started once (a second click, or one after a crash, finds the job): the plan is checked against the
        // request's versions only before the first start. The job runs in the background (bot/offboardRunner.ts),
        // its cards updated step by step, and finishes the request with its outcome (runOffboarding).
        const jobId = this.offboarding.jobIdOf(operationId);
        if (!(await this.offboarding.job(customerId, jobId).catch(() => null))) {
          const plan = await this.offboarding.plan(customerId, change.userId, change.toUserId, versions[change.userId]);
          await this.offboarding.start(customerId, plan, { actor: request.requester, approvedBy: approver, operationId, approvalRequestId: request.id, cards: offboardCards });
        } else {
          for (const card of offboardCards) await this.offboarding.addCard(customerId, jobId, card);
        }
        return { request: await this.read(customerId, request.id) };
      }
    } catch (err) {
      if (!isDirectoryError(err)) throw err;
      const stale = err.code === 'STALE' || err.code === 'NOT_ACTIVE' || err.code === 'USER_NOT_FOUND';
      const difference = stale ? await this.differenceOf(customerId, request) : [];
      await this.finish(customerId, request.id, stale ? 'stale' : 'failed', { error: err.code }, stale ? `changed since: ${difference.join(' ')}` : `failed: ${err.code}`, difference);
      return { request: await this.read(customerId, request.id) };
    }
    await this.finish(customerId, request.id, 'applied', outcome, detail, []);
    return { request: await this.read(customerId, request.id), temporaryPassword };
  }

  /** approved → state, once; true for the call that made the transition. */
  private async finish(customerId: string, requestId: string, state: ApprovalState, outcome: ApprovalOutcome, detail: string, difference: string[]): Promise<boolean> {
    const done = await this.redis.eval(FINISH, 2, this.keys.approvalRequest(customerId, requestId), this.keys.customerKey(customerId, 'audit'), String(this.now()), state, JSON.stringify(outcome), detail, difference.join(' '));
    return Number(done) === 1;
  }

  private async transition(customerId: string, requestId: string, action: ApprovalDecision | 'view', actor: Actor, difference: string[] = []): Promise<string[]> {
    const reply = (await this.redis.eval(
      DECIDE,
      2,
      this.keys.approvalRequest(customerId, requestId),
      this.keys.customerKey(customerId, 'audit'),
      String(this.now()),
      action,
      actor.id,
      actor.name,
      difference.length ? '1' : '0',
      difference.join(' '),
    )) as unknown[];
    const out = (reply ?? []).map(String);
    if (out[0] === 'NOT_FOUND') throw new DirectoryError('IMPORT_NOT_FOUND', { approval: 1 });
    return out;
  }

  /** Users that are not as the request saw them: deleted, gone, or at another version. */
  private async differenceOf(customerId: string, request: ApprovalRequest): Promise<string[]> {
    const now = await this.directory.readUsers(customerId, request.users.map((u) => u.id));
    return request.users.filter((u, i) => !now[i] || now[i]!.state !== 'active' || now[i]!.version !== u.version).map((u) => u.userPrincipalName);
  }

  private async usersOf(customerId: string, change: ApprovalChange): Promise<ApprovalUser[]> {
    if (change.kind === 'import') return [];
    const ids = change.kind === 'deleteUsers' || change.kind === 'changeLicenses' ? change.userIds : change.kind === 'offboard' && change.toUserId ? [change.userId, change.toUserId] : [change.userId];
    const users = await this.directory.readUsers(customerId, ids);
    return users.map((u, i) => {
      if (!u) throw new DirectoryError('USER_NOT_FOUND', { user: ids[i] });
      if (u.state !== 'active') throw new DirectoryError('NOT_ACTIVE', { user: u.userPrincipalName });
      return approvalUser(u);
    });
  }

  private async read(customerId: string, requestId: string): Promise<ApprovalRequest> {
    const h = await this.redis.hgetall(this.keys.approvalRequest(customerId, requestId));
    if (!h.id) throw new DirectoryError('IMPORT_NOT_FOUND', { approval: 1 });
    return {
      id: h.id,
      customerId,
      change: JSON.parse(h.change) as ApprovalChange,
      reason: h.reason,
      requester: { id: h.requesterId, name: h.requesterName },
      state: h.state as ApprovalState,
      createdAt: Number(h.createdAt),
      expiresAt: Number(h.expiresAt),
      decidedBy: h.decidedById ? { id: h.decidedById, name: h.decidedByName } : undefined,
      decidedAt: h.decidedAt ? Number(h.decidedAt) : undefined,
      users: JSON.parse(h.users) as ApprovalUser[],
      difference: (h.difference ?? '').split(' ').filter(Boolean),
      outcome: h.outcome ? (JSON.parse(h.outcome) as ApprovalOutcome) : undefined,
      card: h.cardActivityId ? { conversation: h.cardConversation, activityId: h.cardActivityId } : undefined,
    };
  }
}

const approvalUser = (u: CustomerUser): ApprovalUser => ({ id: u.id, displayName: u.displayName, userPrincipalName: u.userPrincipalName, licenses: u.licenses, role: u.role, version: u.version });

function summaryOf(change: ApprovalChange, users: ApprovalUser[]): string {
  if (change.kind === 'deleteUsers') return `delete ${users.map((u) => u.userPrincipalName).join(' ')}`;
  if (change.kind === 'import') return `import ${change.filename} (${change.rows} rows)`;
  if (change.kind === 'changeLicenses') {
    const what = change.replace ? `replace ${change.replace.from} with ${change.replace.to}` : [...change.remove.map((s) => `-${s}`), ...change.add.map((s) => `+${s}`)].join(' ');
    return `licenses ${what} for ${users.map((u) => u.userPrincipalName).join(' ')}`;
  }
  if (change.kind === 'resetPassword') return `reset password ${users[0].userPrincipalName}`;
  return `offboard ${users[0].userPrincipalName}${users[1] ? ` to ${users[1].userPrincipalName}` : ''}`;
}
