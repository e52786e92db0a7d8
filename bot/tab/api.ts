/**
 * The Users and licenses tab's JSON API (the page is web/users-tab, served by ./routes.ts). Every request carries the
 * agent's Teams SSO token (./auth.ts) and nothing else the server trusts; the agent's bot role comes from the same
 * AgentRoles as the bot's, and each route is allowed exactly what the bot's command of the same effect is (the command
 * table's access). Every read and change goes through the DirectoryService functions the bot's handlers call, inside
 * `runAsCaller`, so that a directory acting on behalf of the agent (Graph) uses this agent's token.
 *
 *   GET  /api/tab/me                                   the agent, its role and what the page may offer
 *   GET  /api/tab/customers?q=                         the customers (searchable)
 *   GET  /api/tab/customers/:c                         customer, seats per license, counts
 *   GET  /api/tab/customers/:c/users?filter=&role=&search=&offset=&order=asc|desc    100 rows
 *   POST /api/tab/customers/:c/selection               { filter, role, search } → a saved selection of all matching
 *                                                      (up to 50,000 users)
 *   POST /api/tab/customers/:c/licenses                { operationId, users | selectionId, add, remove }
 *   POST /api/tab/customers/:c/delete                  { operationId, users | selectionId }
 *        up to 500 users: one atomic change, 200 with the results; a larger selection: 202 { job } and a bulk job
 *        (services/bulkChanges.ts) that changes them in chunks, all or nothing
 *   GET  /api/tab/customers/:c/jobs/:jobId             the bulk job's progress and outcome (its owner only)
 *   POST /api/tab/customers/:c/reset-password          { operationId, users } → passwords to the agent's 1:1 chat
 *   GET  /api/tab/customers/:c/deleted                 deleted users with days left
 *   POST /api/tab/customers/:c/restore                 { operationId, users } → per user what came back
 *
 * Answers: 200 JSON; 401 { error: 'unauthenticated', reason }; 403 { error: 'forbidden', role, message } (audited
 * as the bot audits a refusal); 400 { error: 'directory', code, params, message } for a user error (the directory's
 * typed error, in the agent's language); 503 { error: 'unavailable' } when Redis does not answer.
 */
import type { Logger } from 'pino';
import type * as restify from 'restify';
import { z } from 'zod';
import { credentialsCard } from '../../cards/directoryCards';
import type { AdaptiveCard } from '../../cards/elements';
import { translator, Translator } from '../../cards/i18n';
import { runAsCaller } from '../../services/caller';
import type { CredentialVault } from '../../services/credentials';
import type { ApprovalChange, ApprovalService } from '../../services/approvals';
import { MAX_BULK_USERS, type BulkChange, type BulkChangeService, type BulkJob } from '../../services/bulkChanges';
import { MAX_USERS_PER_CHANGE, type DirectoryService } from '../../services/directory';
import { DirectoryError, isDirectoryError } from '../../services/errors';
import { USER_ROLES, type CustomerUser, type UserFilter, type UserRole } from '../../services/types';
import { AgentRoles, CallerRole, mayRun } from '../agents';
import { accessOf } from '../commands/table';
import type { CommandName } from '../commands/types';
import { permissionsOf } from '../handlers/context';
import { describeError, isUnavailable } from '../handlers/errors';
import type { DeliveryResult } from '../privateChannel';
import { setDialogHeaders } from '../dialogs/page';
import type { TabAuthenticator, TabIdentity } from './auth';

export const TAB_API = '/api/tab';
/** Rows per request: the page fetches windows of this many as it scrolls. */
export const TAB_PAGE_SIZE = 100;
/** Passwords reset in one request: they travel in one card to the agent's 1:1 chat, which must stay under 28 kB. */
export const MAX_RESETS_PER_REQUEST = 50;

export interface TabApiDeps {
  directory: DirectoryService;
  /** Changes of more users than one directory change takes ("all matching" a large view). */
  bulk: BulkChangeService;
  /** Four eyes: a change the customer's approvals setting holds back is refused here; requests are made in the bot. */
  approvals?: ApprovalService;
  agents: AgentRoles;
  vault: CredentialVault;
  auth: TabAuthenticator;
  logger: Logger;
  /** The bot's PrivateChannel outside a turn: a card to the agent's remembered 1:1 chat. */
  deliverPrivately(agentId: string, card: AdaptiveCard): Promise<DeliveryResult>;
}

interface Caller extends TabIdentity {
  role: CallerRole;
}

class ApiAnswer extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(`tab api ${status}`);
  }
}

// ------------------------------------------------------------------ request shapes (zod)

const id = z.string().min(1).max(200);
const userRefs = z.array(z.object({ id, version: z.number().int().nonnegative() })).min(1).max(500);
const operationId = z.string().uuid();
const viewQuery = z.object({
  filter: z.string().max(120).optional(),
  role: z.string().max(40).optional(),
  search: z.string().max(100).optional(),
});
const changeBody = z
  .object({ operationId, users: userRefs.optional(), selectionId: z.string().uuid().optional(), add: z.array(id).max(50).default([]), remove: z.array(id).max(50).default([]) })
  .refine((b) => !!b.users !== !!b.selectionId, { message: 'users or selectionId' });
const deleteBody = z.object({ operationId, users: userRefs.optional(), selectionId: z.string().uuid().optional() }).refine((b) => !!b.users !== !!b.selectionId, { message: 'users or selectionId' });
const resetBody = z.object({ operationId, users: userRefs.max(MAX_RESETS_PER_REQUEST) });
const restoreBody = z.object({ operationId, users: userRefs });

/** The bot's filter words (`users --unlicensed`, `--license <sku>`) as the card's filter values: all, licensed, unlicensed, license:<sku>. */
export function parseFilter(value: string | undefined): UserFilter {
  if (!value || value === 'all') return { kind: 'all' };
  if (value === 'licensed' || value === 'unlicensed') return { kind: value };
  if (value.startsWith('license:') && value.length > 8) return { kind: 'license', skuId: value.slice(8) };
  throw new DirectoryError('INVALID_FIELD', { field: 'filter', reason: 'format' });
}

function parseRole(value: string | undefined): UserRole | undefined {
  if (!value) return undefined;
  if ((USER_ROLES as readonly string[]).includes(value)) return value as UserRole;
  throw new DirectoryError('INVALID_FIELD', { field: 'role', reason: 'unknownRole' });
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ApiAnswer(400, { error: 'badRequest', issues: parsed.error.issues.slice(0, 5).map((i) => ({ path: i.path.join('.'), message: i.message })) });
  return parsed.data;
}

/** What the page shows of a user: never a password hash or anything it does not display. */
const row = (u: CustomerUser) => ({ id: u.id, version: u.version, displayName: u.displayName, userPrincipalName: u.userPrincipalName, licenses: u.licenses, role: u.role, state: u.state });

/** The query string (the server has no query parser plugin: only /api/messages' JSON body is parsed). */
const queryOf = (req: restify.Request): Record<string, string> => Object.fromEntries(new URL(req.url ?? '/', 'http://tab.invalid').searchParams);

function browserTranslator(req: restify.Request): Translator {
  const language = String(req.headers['accept-language'] ?? '').split(',')[0].split(';')[0].trim();
  return translator(language || undefined);
}

// ------------------------------------------------------------------ routes

export function registerTabApi(server: restify.Server, deps: TabApiDeps): void {
  const { directory, agents, logger } = deps;

  /**
   * One route: authenticate, check the role against the bot's command of the same effect, run inside runAsCaller,
   * map every failure to a typed JSON answer. `command` null: any agent of the partner may (the `me` route).
   */
  /**
   * Approvals on for this customer and this change (a delete, a license removal, an admin's password): refused with
   * 409, audited as a refusal, nothing changed. The page has no request flow; the bot's cards make the request.
   */
  const heldForApproval = async (customerId: string, change: ApprovalChange, caller: Caller, command: CommandName, t: Translator['t']): Promise<void> => {
    if (!deps.approvals || !(await deps.approvals.requiresApproval(customerId, change))) return;
    await directory.recordRefusal({ id: caller.id, name: caller.name }, command, 'approval required (tab)', customerId);
    throw new ApiAnswer(409, { error: 'approvalRequired', message: t('tab.approvalRequired') });
  };

  const route =
    (name: string, command: CommandName | null, work: (req: restify.Request, caller: Caller, t: Translator['t']) => Promise<unknown>) =>
    async (req: restify.Request, res: restify.Response) => {
      const started = Date.now();
      setDialogHeaders(res);
      const { t } = browserTranslator(req);
      const customerId = typeof req.params?.customerId === 'string' ? req.params.customerId : undefined;
      const log = (status: number, outcome: string, extra: Record<string, unknown> = {}) =>
        logger.info({ tab: name, customer: customerId, status, outcome, ms: Date.now() - started, ...extra }, 'tab request');
      const authenticated = await deps.auth.verify(req.headers.authorization);
      if (!authenticated.ok) {
        log(401, 'unauthenticated', { reason: authenticated.reason });
        res.setHeader('WWW-Authenticate', 'Bearer');
        res.json(401, { error: 'unauthenticated', reason: authenticated.reason, message: t('tab.openInTeams') });
        return;
      }
      const identity = authenticated.identity;
      try {
        const role = await agents.roleOf(identity.id);
        const caller: Caller = { ...identity, role };
        if (command && !mayRun(role, accessOf(command))) {
          await directory.recordRefusal({ id: caller.id, name: caller.name }, command, `role ${role}`, customerId);
          log(403, 'refused', { caller: caller.id, role });
          res.json(403, { error: 'forbidden', role, message: t('error.notAllowed', { role: t(`agentRole.${role}`) }) });
          return;
        }
        const body = await runAsCaller({ actor: { id: caller.id, name: caller.name }, userAssertion: async () => identity.token }, () => work(req, caller, t));
        // A route answers 200 with what it returns, or another status with an ApiAnswer it returns (202 for a job).
        const answer = body instanceof ApiAnswer ? body : new ApiAnswer(200, body as Record<string, unknown>);
        log(answer.status, 'ok', { caller: caller.id });
        res.json(answer.status, answer.body);
      } catch (err) {
        if (err instanceof ApiAnswer) {
          log(err.status, 'answered', { caller: identity.id });
          res.json(err.status, err.body);
        } else if (isDirectoryError(err)) {
          log(400, 'userError', { caller: identity.id, code: err.code });
          res.json(400, { error: 'directory', code: err.code, params: err.params, message: describeError(t, err) });
        } else if (isUnavailable(err)) {
          log(503, 'unavailable', { err: (err as Error).message });
          res.setHeader('Retry-After', '1');
          res.json(503, { error: 'unavailable', message: t('error.tryAgain') });
        } else {
          logger.error({ err, tab: name }, 'tab request failed');
          log(500, 'error');
          res.json(500, { error: 'internal', message: t('error.internal') });
        }
      }
    };

  const customerOf = (req: restify.Request): string => parse(id, req.params?.customerId);
  const actor = (caller: Caller) => ({ id: caller.id, name: caller.name });

  /** Users named by the page (ids with the versions it saw), or a saved selection ("all matching"). */
  async function refsOf(customerId: string, body: { users?: Array<{ id: string; version: number }>; selectionId?: string }) {
    if (body.users) return body.users.map((u) => ({ userId: u.id, expectedVersion: u.version }));
    const versions = await directory.readSelection(customerId, body.selectionId as string);
    if (!versions) throw new ApiAnswer(410, { error: 'selectionExpired' });
    return Object.entries(versions).map(([userId, expectedVersion]) => ({ userId, expectedVersion }));
  }

  /** Jobs this instance runs now: a progress poll (twice a second) does not try the job's lock again meanwhile. */
  const runningHere = new Set<string>();
  /** Runs a bulk job after the request that started it (or resumes it); a failure leaves it to be resumed. */
  const runJob = (customerId: string, jobId: string) => {
    const key = `${customerId} ${jobId}`;
    if (runningHere.has(key)) return;
    runningHere.add(key);
    void deps.bulk
      .run(customerId, jobId)
      .catch((err: Error) => logger.warn({ err: err.message, customer: customerId, job: jobId }, 'bulk change paused; it resumes when asked for or at start-up'))
      .finally(() => runningHere.delete(key));
  };

  /** More users than one change takes: a bulk job, answered 202 with its progress. */
  async function startJob(customerId: string, refs: Array<{ userId: string; expectedVersion: number }>, change: BulkChange, caller: Caller, operationId: string, t: Translator['t']) {
    const jobId = await deps.bulk.start(customerId, Object.fromEntries(refs.map((r) => [r.userId, r.expectedVersion])), change, { actor: actor(caller), operationId });
    runJob(customerId, jobId);
    return new ApiAnswer(202, progressOf(await deps.bulk.job(customerId, jobId), t));
  }

  const progressOf = (job: BulkJob, t: Translator['t']) => ({
    job: { id: job.jobId, kind: job.change.kind, state: job.state, total: job.total, processed: job.processed, changed: job.changed, undone: job.undone, notUndone: job.notUndone },
    message: jobMessage(job, t),
  });

  server.get(
    `${TAB_API}/me`,
    route('me', null, async (_req, caller, t) => ({
      id: caller.id,
      name: caller.name,
      role: caller.role,
      roleLabel: t(`agentRole.${caller.role}`),
      permissions: { ...permissionsOf(caller.role), read: mayRun(caller.role, accessOf('users')) },
    })),
  );

  server.get(
    `${TAB_API}/customers`,
    route('customers', 'customers', async (req) => {
      const q = parse(z.string().max(100).optional(), queryOf(req).q);
      return { customers: (await directory.listCustomers(q)).map((c) => ({ id: c.id, name: c.name, domain: c.domains[0] ?? '' })) };
    }),
  );

  server.get(
    `${TAB_API}/customers/:customerId`,
    route('customer', 'users', async (req, caller) => {
      const customerId = customerOf(req);
      // A bulk change of this agent's that an instance left paused goes on now, with this agent's sign-in.
      for (const jobId of await deps.bulk.runningJobsOf(customerId, caller.id)) runJob(customerId, jobId);
      const [customer, { subscriptions, counts }] = await Promise.all([directory.getCustomer(customerId), directory.getSubscriptionsAndCounts(customerId)]);
      return { customer: { id: customer.id, name: customer.name, domains: customer.domains }, subscriptions, counts };
    }),
  );

  server.get(
    `${TAB_API}/customers/:customerId/users`,
    route('users', 'users', async (req) => {
      const customerId = customerOf(req);
      const q = parse(viewQuery.extend({ offset: z.coerce.number().int().min(0).max(10_000_000).default(0), order: z.enum(['asc', 'desc']).default('asc') }), queryOf(req));
      const query = { filter: parseFilter(q.filter), role: parseRole(q.role), search: q.search };
      // The directory lists by display name (its index); Z to A reads the window that mirrors this one, reversed.
      if (q.order === 'asc') {
        const page = await directory.listUsers(customerId, { ...query, offset: q.offset, pageSize: TAB_PAGE_SIZE });
        return { total: page.total, offset: q.offset, users: page.users.map(row) };
      }
      const { total } = await directory.listUsers(customerId, { ...query, offset: 0, pageSize: 1 });
      const end = Math.max(total - q.offset, 0);
      const start = Math.max(end - TAB_PAGE_SIZE, 0);
      const page = end > 0 ? await directory.listUsers(customerId, { ...query, offset: start, pageSize: end - start }) : { users: [], total };
      return { total: page.total, offset: q.offset, users: page.users.reverse().map(row) };
    }),
  );

  // "Select all matching": the bot's "Manage licenses for all N users in this view" (same service calls, same cap).
  server.post(
    `${TAB_API}/customers/:customerId/selection`,
    route('selection', 'manageLicenses', async (req) => {
      const customerId = customerOf(req);
      const q = parse(viewQuery, req.body ?? {});
      const users = await directory.listAllUsers(customerId, { filter: parseFilter(q.filter), role: parseRole(q.role), search: q.search }, MAX_BULK_USERS);
      if (!users.length) throw new DirectoryError('INVALID_FIELD', { field: 'userIds', reason: 'required' });
      return { selectionId: await directory.saveSelection(customerId, users, MAX_BULK_USERS), count: users.length };
    }),
  );

  server.post(
    `${TAB_API}/customers/:customerId/licenses`,
    route('licenses', 'saveLicenses', async (req, caller, t) => {
      const customerId = customerOf(req);
      const body = parse(changeBody, req.body);
      const refs = await refsOf(customerId, body);
      await heldForApproval(customerId, { kind: 'changeLicenses', userIds: refs.map((r) => r.userId), add: body.add, remove: body.remove }, caller, 'saveLicenses', t);
      if (refs.length > MAX_USERS_PER_CHANGE) return startJob(customerId, refs, { kind: 'licenses', add: body.add, remove: body.remove }, caller, body.operationId, t);
      const results = await directory.changeLicenses(customerId, refs, { add: body.add, remove: body.remove }, { actor: actor(caller), operationId: body.operationId });
      return { results, subscriptions: await directory.getSubscriptions(customerId), counts: await directory.getCounts(customerId) };
    }),
  );

  server.post(
    `${TAB_API}/customers/:customerId/delete`,
    route('delete', 'confirmDeleteUsers', async (req, caller, t) => {
      const customerId = customerOf(req);
      const body = parse(deleteBody, req.body);
      const refs = await refsOf(customerId, body);
      await heldForApproval(customerId, { kind: 'deleteUsers', userIds: refs.map((r) => r.userId) }, caller, 'confirmDeleteUsers', t);
      if (refs.length > MAX_USERS_PER_CHANGE) return startJob(customerId, refs, { kind: 'delete' }, caller, body.operationId, t);
      const deleted = await directory.deleteUsers(customerId, refs, { actor: actor(caller), operationId: body.operationId });
      return { deleted, subscriptions: await directory.getSubscriptions(customerId), counts: await directory.getCounts(customerId) };
    }),
  );

  server.post(
    `${TAB_API}/customers/:customerId/reset-password`,
    route('resetPassword', 'confirmResetPassword', async (req, caller, t) => {
      const customerId = customerOf(req);
      const body = parse(resetBody, req.body);
      for (const u of body.users) await heldForApproval(customerId, { kind: 'resetPassword', userId: u.id }, caller, 'confirmResetPassword', t);
      const customer = await directory.getCustomer(customerId);
      const reset = [];
      // One operation per user under the click's id: a repeated click resets nobody twice.
      for (const u of body.users) {
        reset.push(await directory.resetPassword(customerId, { userId: u.id, expectedVersion: u.version }, { actor: actor(caller), operationId: `${body.operationId}:${u.id}` }));
      }
      const fresh = reset.filter((r) => r.temporaryPassword);
      const answer = (delivery: DeliveryResult | { ok: false; reason: string }) =>
        delivery.ok
          ? { sent: true, count: reset.length, message: t('tab.sentPrivately', { count: reset.length }) }
          : { sent: false, count: reset.length, reason: delivery.reason, message: t('tab.notSent', { reason: t(delivery.reason === 'notInstalled' ? 'private.failed.notInstalled' : 'private.failed.other') }) };
      if (!fresh.length) {
        // A repeat: nothing new to send; it answers as the first did.
        const reason = await deps.vault.undelivered(caller.id, body.operationId);
        return answer(reason ? { ok: false, reason } : { ok: true });
      }
      const { t: agentT } = translator(String(req.headers['accept-language'] ?? '').split(',')[0] || undefined);
      const card = credentialsCard(
        agentT,
        { customer, subscriptions: [], users: fresh.map((r) => ({ displayName: r.user.displayName, userPrincipalName: r.user.userPrincipalName, licenses: [], password: r.temporaryPassword })) },
        agentT('tab.resetPassword'),
      );
      const delivery = await deps.deliverPrivately(caller.id, card).catch((): DeliveryResult => ({ ok: false, reason: 'failed' }));
      if (!delivery.ok) await deps.vault.recordUndelivered(caller.id, body.operationId, delivery.reason);
      return answer(delivery);
    }),
  );

  // A bulk job's progress; a job left paused (an instance stopped, Redis away) is resumed by asking.
  server.get(
    `${TAB_API}/customers/:customerId/jobs/:jobId`,
    route('job', 'users', async (req, caller, t) => {
      const customerId = customerOf(req);
      const jobId = parse(z.string().regex(/^[A-Za-z0-9_-]{16}$/), req.params?.jobId);
      const job = await deps.bulk.job(customerId, jobId).catch((err: unknown) => {
        if (isDirectoryError(err)) throw new ApiAnswer(404, { error: 'notFound' });
        throw err;
      });
      // Another agent's job is not this caller's business (and its id is not guessable).
      if (job.owner.id !== caller.id) throw new ApiAnswer(404, { error: 'notFound' });
      if (job.state === 'running' || job.state === 'undoing') {
        runJob(customerId, jobId);
        return progressOf(job, t);
      }
      return { ...progressOf(job, t), subscriptions: await directory.getSubscriptions(customerId), counts: await directory.getCounts(customerId) };
    }),
  );

  server.get(
    `${TAB_API}/customers/:customerId/deleted`,
    route('deleted', 'deletedUsers', async (req) => {
      const customerId = customerOf(req);
      const users = await directory.listDeletedUsers(customerId);
      return { users: users.map((u) => ({ ...row(u), daysLeft: u.daysLeft, deletedAt: u.deletedAt, rememberedLicenses: u.rememberedLicenses })) };
    }),
  );

  server.post(
    `${TAB_API}/customers/:customerId/restore`,
    route('restore', 'restore', async (req, caller, t) => {
      const customerId = customerOf(req);
      const body = parse(restoreBody, req.body);
      const outcomes = await directory.restoreUsers(customerId, body.users.map((u) => ({ userId: u.id, expectedVersion: u.version })), { actor: actor(caller), operationId: body.operationId });
      const subscriptions = await directory.getSubscriptions(customerId);
      const name = (sku: string) => subscriptions.find((s) => s.skuId === sku)?.name ?? sku;
      // Per user, in the agent's language, as the bot's restore card says it.
      const lines = outcomes.map((o) =>
        o.ok
          ? [t('restore.ok', { upn: o.userPrincipalName }), o.restoredLicenses.length ? t('restore.licensesBack', { licenses: o.restoredLicenses.map(name).join(', ') }) : '', o.notRestoredLicenses.length ? t('restore.licensesNotBack', { licenses: o.notRestoredLicenses.map(name).join(', ') }) : '']
              .filter(Boolean)
              .join(' ')
          : t(`restore.error.${o.error}`, { upn: o.userPrincipalName }),
      );
      return { outcomes, lines, subscriptions, counts: await directory.getCounts(customerId) };
    }),
  );
}

/** What the page says about a bulk job, in the agent's language. */
function jobMessage(job: BulkJob, t: Translator['t']): string {
  const reason = job.error ? describeError(t, new DirectoryError(job.error.code, job.error.params)) : '';
  switch (job.state) {
    case 'running':
      return t(job.change.kind === 'delete' ? 'tab.job.deleting' : 'tab.job.changing', { done: job.processed, count: job.total });
    case 'undoing':
      return t('tab.job.undoing', { reason });
    case 'refused':
      return t('tab.job.refused', { reason });
    case 'incomplete':
      return t('tab.job.incomplete', { reason, count: job.notUndone });
    case 'done':
      return job.change.kind === 'delete' ? t('delete.done', { count: job.changed }) : t('tab.licensesChanged', { count: job.total });
  }
}
