import { errorCard, messageCard, whoAmICard } from '../../cards/common';
import {
  addUserCard,
  auditCard,
  confirmDeleteCard,
  confirmResetCard,
  credentialsCard,
  CredentialsModel,
  customersCard,
  deletedUsersCard,
  licenseResultsCard,
  licensesCard,
  manageLicensesCard,
  keptUsersCard,
} from '../../cards/directoryCards';
import type { AdaptiveCard } from '../../cards/elements';
import { helpCard } from '../../cards/help';
import { DirectoryError, isDirectoryError } from '../../services/errors';
import { credentialsCsv } from '../../services/credentials';
import type { Customer, CustomerUser, RestoreOutcome, Subscription, UserPage } from '../../services/types';
import type { UserCounts } from '../../services/directory';
import { mayRun } from '../agents';
import { accessOf, COMMANDS } from '../commands/table';
import type { Command, CommandName } from '../commands/types';
import { CardReply, HandlerContext, permissionsOf } from './context';
import { describeError, describeFileProblem, describeRowIssue } from './errors';
import { importCustomerChoiceCard, importHowToCard, importPreviewCard, importProgressCard } from '../../cards/importCards';
import { openUploadPage, takeUpload } from './importDialog';
import type { ImportOptions, ImportPreview } from '../../services/import/importer';
import { MAX_FILE_BYTES } from '../../services/import/csvFile';
import { isCsvName } from '../fileDownload';
import { resolveCustomer, resolveUser, resolveUsers } from './resolve';
import { approvalCard, offboardConfirmCard, offboardResultCard, requestApprovalCard } from '../../cards/approvalCards';
import type { ApprovalChange, ApprovalRequest, ApprovalSettings, DecideResult } from '../../services/approvals';
import type { OffboardCard, OffboardJob } from '../../services/offboarding';

type CommandOf<N extends CommandName> = Extract<Command, { name: N }>;
type Handler<N extends CommandName> = (cmd: CommandOf<N>, ctx: HandlerContext) => Promise<AdaptiveCard>;

const roleLabel = (ctx: HandlerContext): string => ctx.t(`agentRole.${ctx.caller.role}`);

type UsersViewData = [UserPage, { subscriptions: Subscription[]; counts: UserCounts }, ApprovalSettings | undefined];

/** What the users card shows, read side by side (started before anything awaits: see the users handler). */
function readUsersView(ctx: HandlerContext, customerId: string, cmd: Partial<CommandOf<'users'>>): Promise<UsersViewData> {
  return Promise.all([
    ctx.directory.listUsers(customerId, { filter: cmd.filter ?? { kind: 'all' }, role: cmd.role, search: cmd.search, page: cmd.page ?? 1 }),
    ctx.directory.getSubscriptionsAndCounts(customerId),
    ctx.caller.role === 'helpdesk' ? ctx.approvals.settings(customerId) : undefined,
  ]);
}

/**
 * A read for the customer a card's button names by id, started before that customer is resolved (beside its lookup,
 * not after it); the answer counts only if that customer is the one resolved. Its error, if any, gives way to the
 * customer's own. Typed commands name customers by name: nothing is started for them.
 */
function readAhead<T>(ctx: HandlerContext, reference: string, read: () => Promise<T>): (customer: Customer) => Promise<T> | undefined {
  if (ctx.text) return () => undefined;
  const started = read();
  started.catch(() => undefined);
  return (customer) => (customer.id === reference ? started : undefined);
}

async function usersView(ctx: HandlerContext, customer: Customer, cmd: Partial<CommandOf<'users'>> = {}, notice?: string, data?: UsersViewData): Promise<AdaptiveCard> {
  const filter = cmd.filter ?? { kind: 'all' };
  const [page, { subscriptions, counts }, approvals] = data ?? (await readUsersView(ctx, customer.id, cmd));
  return keptUsersCard(ctx.t, ctx.locale, {
    customer,
    subscriptions,
    page,
    filter,
    role: cmd.role,
    search: cmd.search,
    deletedCount: counts.deleted,
    permissions: permissionsOf(ctx.caller.role),
    notice,
    tabAppId: ctx.appId,
    // As the offboard command: admins, and helpdesk agents where four eyes turns it into a request.
    offboard: ctx.caller.role === 'admin' || (ctx.caller.role === 'helpdesk' && !!approvals?.enabled),
  });
}

async function deletedView(ctx: HandlerContext, customer: Customer, restored?: RestoreOutcome[]): Promise<AdaptiveCard> {
  const [users, subscriptions] = await Promise.all([ctx.directory.listDeletedUsers(customer.id), ctx.directory.getSubscriptions(customer.id)]);
  return deletedUsersCard(ctx.t, {
    customer,
    users,
    canRestore: permissionsOf(ctx.caller.role).restore,
    operationId: ctx.newOperationId(),
    restored: restored ? { outcomes: restored, subscriptions } : undefined,
  });
}

/** A card built from a stale selection is refused with the current view and a note saying why. */
async function refusedAsStale(ctx: HandlerContext, customer: Customer, err: unknown, view: 'users' | 'deleted' = 'users'): Promise<AdaptiveCard> {
  if (isDirectoryError(err) && (err.code === 'STALE' || err.code === 'NOT_ACTIVE' || err.code === 'USER_NOT_FOUND')) {
    const notice = `${describeError(ctx.t, err)} ${err.code === 'STALE' ? '' : ctx.t('error.stale')}`.trim();
    return view === 'users' ? usersView(ctx, customer, {}, notice) : deletedView(ctx, customer);
  }
  throw err;
}

/** Users named by a selection on a card must still be as they were drawn. */
async function selectedUsers(ctx: HandlerContext, customer: Customer, ids: string[], versions: Record<string, number> = {}): Promise<CustomerUser[]> {
  if (!ids.length) throw new CardReply(errorCard(ctx.t, { message: ctx.t('users.selectRequired') }));
  const users = await ctx.directory.readUsers(customer.id, ids);
  const stale = users.some((u, i) => !u || u.state !== 'active' || (versions[ids[i]] !== undefined && versions[ids[i]] !== u.version));
  if (stale) throw new CardReply(await usersView(ctx, customer, {}, ctx.t('error.stale')));
  return users as CustomerUser[];
}

/**
 * Temporary passwords: in the 1:1 chat the reply card shows them; elsewhere they go to the agent's
 * 1:1 chat and the public reply only says so (or why it could not).
 */
async function withCredentials(ctx: HandlerContext, model: CredentialsModel, title: string, operationId: string, deliver = true): Promise<AdaptiveCard> {
  if (ctx.conversation === 'personal') return credentialsCard(ctx.t, model, title);
  // The public reply names the users only: no password, no download link.
  const publicModel: CredentialsModel = { ...model, downloadUrl: undefined, users: model.users.map(({ password: _omit, ...u }) => u) };
  const failed = (reason: string) => {
    const notice = reason === 'notInstalled' ? ctx.t('private.failed.notInstalled') : ctx.t('private.failed.other');
    return credentialsCard(ctx.t, { ...publicModel, notice }, title);
  };
  // A repeated delivery (Teams' retry, a double click) sends nothing privately again: it answers as the first did,
  // including when the first could not reach the agent's 1:1 chat.
  if (!deliver || !(model.downloadUrl || model.users.some((u) => u.password))) {
    const reason = await ctx.vault.undelivered(ctx.caller.id, operationId);
    return reason ? failed(reason) : credentialsCard(ctx.t, { ...publicModel, sentPrivately: true }, title);
  }
  const delivery = await ctx.privateChannel.send(credentialsCard(ctx.t, model, title));
  if (delivery.ok) return credentialsCard(ctx.t, { ...publicModel, sentPrivately: true }, title);
  await ctx.vault.recordUndelivered(ctx.caller.id, operationId, delivery.reason);
  return failed(delivery.reason);
}

const handlers: { [N in CommandName]?: Handler<N> } = {
  async help(_cmd, ctx) {
    const commands = COMMANDS.filter((c) => mayRun(ctx.caller.role, c.access)).map((c) => ({ usage: c.usage, descriptionKey: c.descriptionKey }));
    return helpCard(ctx.t, { roleLabel: roleLabel(ctx), commands, importDialog: mayRun(ctx.caller.role, accessOf('importDialog')) });
  },

  async whoami(_cmd, ctx) {
    return whoAmICard(ctx.t, { name: ctx.caller.name, id: ctx.caller.id, tenantId: ctx.caller.tenantId, roleLabel: roleLabel(ctx) });
  },

  async customers(cmd, ctx) {
    return customersCard(ctx.t, { customers: await ctx.directory.listCustomers(cmd.text), text: cmd.text });
  },

  async users(cmd, ctx) {
    // The Redis directory then checks the customer it keeps against the page's version: one round trip, not two.
    const roleBefore = ctx.caller.role;
    const page = readAhead(ctx, cmd.customer, () => readUsersView(ctx, cmd.customer, cmd));
    const customer = await resolveCustomer(ctx, cmd.customer);
    // Read for the role as it was before the directory's gate (which may only lower it): used while it still is.
    return usersView(ctx, customer, cmd, undefined, ctx.caller.role === roleBefore ? await page(customer) : undefined);
  },

  async licenses(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    return licensesCard(ctx.t, { customer, subscriptions: await ctx.directory.getSubscriptions(customer.id) });
  },

  async addUser(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    // The form carries its series from the start, so a repeated first "Save and add another" cannot start a second one.
    return addUserCard(ctx.t, { customer, subscriptions: await ctx.directory.getSubscriptions(customer.id), operationId: ctx.newOperationId(), series: ctx.vault.newSeries() });
  },

  async createUser(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    const f = cmd.fields;
    let created;
    try {
      created = await ctx.directory.createUser(customer.id, { ...f, role: (f.role || 'user') as never }, { actor: ctx.caller, operationId: cmd.operationId });
    } catch (err) {
      if (!isDirectoryError(err) || err.code === 'CUSTOMER_NOT_FOUND') throw err;
      // A user mistake: the form comes back with what was typed and what to fix.
      return addUserCard(ctx.t, {
        customer,
        subscriptions: await ctx.directory.getSubscriptions(customer.id),
        operationId: ctx.newOperationId(),
        series: cmd.series,
        addedSoFar: cmd.addedSoFar,
        values: { ...f, licenses: f.licenses.join(',') },
        error: describeError(ctx.t, err),
      });
    }
    const user = created.user;
    const credential = { displayName: user.displayName, userPrincipalName: user.userPrincipalName, password: created.temporaryPassword };
    // A replayed submit created nothing new: its password went with the first answer.
    const fresh = !created.replayed && !!created.temporaryPassword;
    if (cmd.addAnother || (cmd.series && cmd.addedSoFar > 0)) {
      const series = cmd.series ?? ctx.vault.newSeries();
      if (fresh) await ctx.vault.addToSeries(ctx.caller.id, series.id, series.key, credential);
      if (!cmd.addAnother) return finishSeries(ctx, customer, series);
      return addUserCard(ctx.t, {
        customer,
        subscriptions: await ctx.directory.getSubscriptions(customer.id),
        operationId: ctx.newOperationId(),
        series,
        // This submit added the user, whether this is its first delivery or a repeat.
        addedSoFar: cmd.addedSoFar + 1,
        lastAdded: { displayName: user.displayName, userPrincipalName: user.userPrincipalName },
      });
    }
    const credentials: CredentialsModel = {
      customer,
      subscriptions: await ctx.directory.getSubscriptions(customer.id),
      users: [{ ...credential, licenses: user.licenses, password: created.temporaryPassword || undefined }],
    };
    return withCredentials(ctx, credentials, ctx.t('created.title'), cmd.operationId);
  },

  async finishSeries(cmd, ctx) {
    return finishSeries(ctx, await resolveCustomer(ctx, cmd.customer), cmd.series);
  },

  async assign(cmd, ctx) {
    return changeLicensesTyped(cmd, ctx);
  },

  async unassign(cmd, ctx) {
    return changeLicensesTyped(cmd, ctx);
  },

  async replace(cmd, ctx) {
    return changeLicensesTyped(cmd, ctx);
  },

  async manageLicenses(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    const subscriptions = () => ctx.directory.getSubscriptions(customer.id);
    if (cmd.allInView) {
      const users = await ctx.directory.listAllUsers(customer.id, cmd.allInView);
      if (!users.length) throw new CardReply(errorCard(ctx.t, { message: ctx.t('users.selectRequired') }));
      const selectionId = await ctx.directory.saveSelection(customer.id, users);
      return manageLicensesCard(ctx.t, { customer, users, subscriptions: await subscriptions(), operationId: ctx.newOperationId(), selectionId });
    }
    const users = await selectedUsers(ctx, customer, cmd.userIds, cmd.versions);
    return manageLicensesCard(ctx.t, { customer, users, subscriptions: await subscriptions(), operationId: ctx.newOperationId() });
  },

  async saveLicenses(cmd, ctx) {
    const save = licenseSaveOf(cmd);
    const approvalOf = (userIds: string[]): ApprovalChange => ({ kind: 'changeLicenses', userIds, ...save });
    // Whether four eyes hold the save back: asked beside the customer's read (a saved selection's users come later).
    const heldAhead = cmd.selectionId ? () => undefined : readAhead(ctx, cmd.customer, () => ctx.approvals.requiresApproval(cmd.customer, approvalOf(cmd.userIds)));
    const customer = await resolveCustomer(ctx, cmd.customer);
    // Replace, when chosen, is the whole change: the per-license choices are left as they were drawn.
    const change = save.replace ? { replace: save.replace } : { add: save.add, remove: save.remove };
    const versions = cmd.selectionId ? await ctx.directory.readSelection(customer.id, cmd.selectionId) : cmd.versions;
    if (!versions) throw new CardReply(errorCard(ctx.t, { message: ctx.t('error.selectionExpired') }));
    const userIds = cmd.selectionId ? Object.keys(versions) : cmd.userIds;
    // Four eyes: a save that removes a license becomes a request (the users as drawn must still be as they were).
    const approval = approvalOf(userIds);
    const held = await (heldAhead(customer) ?? ctx.approvals.requiresApproval(customer.id, approval));
    if (held) return requestCard(ctx, customer, approval, await selectedUsers(ctx, customer, userIds, versions));
    try {
      const results = await ctx.directory.changeLicenses(
        customer.id,
        userIds.map((userId) => ({ userId, expectedVersion: versions[userId] })),
        change,
        { actor: ctx.caller, operationId: cmd.operationId },
      );
      // The change answers with the users' names (results recorded by an earlier version have none: those are read).
      const unnamed = results.filter((r) => r.userPrincipalName === undefined).map((r) => r.userId);
      const [read, subscriptions] = await Promise.all([ctx.directory.readUsers(customer.id, unnamed), ctx.directory.getSubscriptions(customer.id)]);
      const users = new Map(read.filter((u) => u !== null).map((u) => [u.id, u]));
      const named = results.map((r) => ({
        ...r,
        user: r.userPrincipalName !== undefined ? { displayName: r.displayName ?? '', userPrincipalName: r.userPrincipalName } : (users.get(r.userId) ?? { displayName: r.userId, userPrincipalName: '' }),
      }));
      return licenseResultsCard(ctx.t, {
        customer,
        subscriptions,
        // A saved selection comes back in the store's order: list it by name, as the users card does.
        results: named.sort((a, b) => a.user.displayName.localeCompare(b.user.displayName)),
      });
    } catch (err) {
      if (isDirectoryError(err) && err.code === 'NO_SEATS') throw err;
      return refusedAsStale(ctx, customer, err);
    }
  },

  async resetPassword(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    const user = cmd.version === undefined ? await resolveUser(ctx, customer, cmd.user) : (await selectedUsers(ctx, customer, [cmd.user], { [cmd.user]: cmd.version }))[0];
    if (user.state !== 'active') throw new DirectoryError('NOT_ACTIVE', { user: user.userPrincipalName });
    const change: ApprovalChange = { kind: 'resetPassword', userId: user.id };
    if (await ctx.approvals.requiresApproval(customer.id, change)) return requestCard(ctx, customer, change, [user]);
    return confirmResetCard(ctx.t, { customer, user, operationId: ctx.newOperationId() });
  },

  async confirmResetPassword(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    try {
      const result = await ctx.directory.resetPassword(customer.id, { userId: cmd.userId, expectedVersion: cmd.version }, { actor: ctx.caller, operationId: cmd.operationId });
      const u = result.user;
      const model: CredentialsModel = {
        customer,
        subscriptions: [],
        users: [{ displayName: u.displayName, userPrincipalName: u.userPrincipalName, licenses: [], password: result.temporaryPassword || undefined }],
      };
      return withCredentials(ctx, model, ctx.t('reset.done', { name: u.displayName, upn: u.userPrincipalName }), cmd.operationId);
    } catch (err) {
      return refusedAsStale(ctx, customer, err);
    }
  },

  async deleteUsers(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    const users = cmd.versions ? await selectedUsers(ctx, customer, cmd.users, cmd.versions) : await resolveUsers(ctx, customer, cmd.users);
    const deleted = users.find((u) => u.state !== 'active');
    if (deleted) throw new DirectoryError('NOT_ACTIVE', { user: deleted.userPrincipalName });
    const change: ApprovalChange = { kind: 'deleteUsers', userIds: users.map((u) => u.id) };
    if (await ctx.approvals.requiresApproval(customer.id, change)) return requestCard(ctx, customer, change, users);
    return confirmDeleteCard(ctx.t, { customer, users, operationId: ctx.newOperationId() });
  },

  async confirmDeleteUsers(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    try {
      const result = await ctx.directory.deleteUsers(
        customer.id,
        cmd.userIds.map((userId) => ({ userId, expectedVersion: cmd.versions[userId] })),
        { actor: ctx.caller, operationId: cmd.operationId },
      );
      return usersView(ctx, customer, {}, ctx.t('delete.done', { count: result.length }));
    } catch (err) {
      return refusedAsStale(ctx, customer, err);
    }
  },

  async offboard(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    const user = cmd.version === undefined ? await resolveUser(ctx, customer, cmd.user) : (await selectedUsers(ctx, customer, [cmd.user], { [cmd.user]: cmd.version }))[0];
    return offboardConfirmation(ctx, customer, user, cmd.to);
  },

  async confirmOffboard(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    const offboarding = ctx.approvals.offboarding;
    const jobId = offboarding.jobIdOf(cmd.operationId);
    let job = await offboarding.job(customer.id, jobId).catch(() => null);
    const here = offboardCardHere(ctx, 'result');
    if (!job) {
      // The colleague field says someone else than the card was drawn for: draw the move first, change nothing.
      if (colleagueChanged(cmd.colleague, cmd.drawnColleague)) {
        const user = (await selectedUsers(ctx, customer, [cmd.userId], { [cmd.userId]: cmd.version }))[0];
        return offboardConfirmation(ctx, customer, user, cmd.colleague || undefined, ctx.t('offboard.checkColleague'));
      }
      let plan;
      try {
        plan = await offboarding.plan(customer.id, cmd.userId, cmd.toUserId, cmd.version);
      } catch (err) {
        return refusedAsStale(ctx, customer, err);
      }
      await offboarding.start(customer.id, plan, { actor: ctx.caller, operationId: cmd.operationId, cards: here ? [here] : [] });
      job = await offboarding.job(customer.id, jobId);
    } else if (here) {
      // Pressed again on another card (or after a crash): this card shows the progress too.
      await offboarding.addCard(customer.id, jobId, here);
    }
    // The job runs in the background once this answer (its first state) has gone; a repeated press of a job still
    // running starts it here if no runner has it (a crash left it), else it changes nothing.
    if (job.state === 'running') ctx.afterTurn(() => void ctx.offboardRunner.launch(customer.id, jobId));
    return offboardResultView(ctx, customer, job);
  },

  async viewOffboard(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    return offboardResultView(ctx, customer, await ctx.approvals.offboarding.job(customer.id, cmd.jobId));
  },

  async approvals(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    const settings = await ctx.approvals.setEnabled(customer.id, cmd.enabled, ctx.caller, cmd.expiryHours ? cmd.expiryHours * 3600_000 : undefined, cmd.importOver);
    const lines = [settings.enabled ? ctx.t('approvals.on', { customer: customer.name, hours: Math.round(settings.expiryMs / 3600_000) }) : ctx.t('approvals.off', { customer: customer.name })];
    if (settings.enabled) lines.push(settings.importOver ? ctx.t('approvals.importOver', { count: settings.importOver }) : ctx.t('approvals.importNotHeld', { flag: '--import-over <rows>' }));
    if (settings.enabled && !(await ctx.approvalChannel.reference())) lines.push(ctx.t('approvals.noChannel', { command: 'approvals channel here' }));
    return messageCard(ctx.t('approval.requestTitle'), lines);
  },

  async approvalsChannel(_cmd, ctx) {
    if (ctx.conversation !== 'channel') return errorCard(ctx.t, { message: ctx.t('approvals.channelOnlyInChannel', { command: 'approvals channel here' }) });
    await ctx.approvalChannel.setHere(JSON.parse(ctx.cardLocation.conversation));
    return messageCard(ctx.t('approval.requestTitle'), [ctx.t('approvals.channelSet')]);
  },

  async requestApproval(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    // An offboarding whose colleague field names someone else than the card was drawn for: drawn again first.
    if (cmd.change.kind === 'offboard' && colleagueChanged(cmd.colleague, cmd.drawnColleague)) {
      const user = await ctx.directory.getUser(customer.id, cmd.change.userId);
      return offboardConfirmation(ctx, customer, user, cmd.colleague || undefined, ctx.t('offboard.checkColleague'), cmd.reason);
    }
    if (!cmd.reason && cmd.change.kind === 'import') return importRequestCard(ctx, customer, cmd.change.jobId, cmd.change.options, ctx.t('approval.reasonRequired'));
    if (!cmd.reason) {
      const users = (await ctx.directory.readUsers(customer.id, changeUserIds(cmd.change))).filter((u): u is CustomerUser => !!u);
      return requestCard(ctx, customer, cmd.change, users.slice(0, cmd.change.kind === 'offboard' && cmd.change.toUserId ? -1 : undefined), cmd.change.kind === 'offboard' && cmd.change.toUserId ? users[users.length - 1] : undefined, ctx.t('approval.reasonRequired'));
    }
    // An import's progress card is this one (it replaced the preview): the job updates it once it runs.
    const change: ApprovalChange =
      cmd.change.kind === 'import' ? { ...cmd.change, card: { conversation: ctx.cardLocation.conversation, activityId: ctx.cardLocation.activityId ?? '', locale: ctx.locale } } : cmd.change;
    let request: ApprovalRequest;
    try {
      request = await ctx.approvals.request(customer.id, change, cmd.reason, ctx.caller, cmd.operationId);
    } catch (err) {
      return refusedAsStale(ctx, customer, err);
    }
    let notice = ctx.t('approval.sent');
    if (!request.card) {
      const posted = await ctx.approvalChannel.post(await approvalView(ctx, customer, request, { decide: false, withdraw: false }));
      if (posted) await ctx.approvals.setCard(customer.id, request.id, posted);
      else notice = ctx.t('approval.notPosted', { command: 'approvals channel here' });
    }
    return approvalView(ctx, customer, request, { decide: false, withdraw: true }, notice);
  },

  async decideApproval(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    // An approved offboarding shows its steps on the approvals channel's card and on the card clicked.
    const before = await ctx.approvals.get(customer.id, cmd.requestId);
    const clicked = offboardCardHere(ctx, 'approval');
    const offboardCards = [before.card ? { kind: 'approval' as const, ...before.card, locale: ctx.locale } : null, clicked && clicked.activityId !== before.card?.activityId ? clicked : null].filter(
      (c): c is OffboardCard => !!c,
    );
    const result = await ctx.approvals.decide(customer.id, cmd.requestId, cmd.decision, ctx.caller, { isAdmin: ctx.caller.role === 'admin', offboardCards });
    const request = result.request;
    const offboardJob = await ctx.approvals.offboardJobOf(customer.id, request);
    // Its job runs in the background once this answer has gone, and finishes the request (telling the outcome) when it
    // ends; a click on a request left "being applied" by a crash starts it again (one runner per job).
    const offboardPending = !!offboardJob && request.state === 'approved';
    if (offboardJob && offboardPending) ctx.afterTurn(() => void ctx.offboardRunner.launch(customer.id, offboardJob.jobId));
    let notice: string | undefined;
    if (result.kind === 'refused') notice = ctx.t(result.reason === 'ownRequest' ? 'approval.ownRequest' : result.reason === 'notRequester' ? 'approval.notRequester' : 'approval.notAdmin');
    if (result.kind !== 'refused' && result.temporaryPassword) notice = await deliverApprovedPassword(ctx, customer, request, result);
    // An approved import runs in the background as the requester's job (its passwords go to the requester only).
    if (result.kind === 'decided' && request.state === 'applied' && request.outcome?.importJobId) void ctx.importRunner.launch(customer.id, request.outcome.importJobId);
    if (result.kind === 'decided') {
      // Everyone's card in the channel shows the new state; requester and decider get the outcome in their 1:1 chats
      // (an offboarding's outcome comes when its job ends: bot/offboardRunner.ts).
      const base = await approvalView(ctx, customer, request, { decide: false, withdraw: false });
      if (request.card) await ctx.approvalChannel.update(request.card, base);
      const agents = [...new Set([request.requester.id, ctx.caller.id])];
      if (!offboardPending) await Promise.all(agents.map((id) => ctx.approvalChannel.notify(id, base)));
    }
    return approvalView(ctx, customer, request, viewerOf(ctx, request), notice);
  },

  async viewApproval(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    const request = await ctx.approvals.get(customer.id, cmd.requestId);
    return approvalView(ctx, customer, request, viewerOf(ctx, request));
  },

  async approvalAgain(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    const request = await ctx.approvals.get(customer.id, cmd.requestId);
    const users = (await ctx.directory.readUsers(customer.id, changeUserIds(request.change))).filter((u): u is CustomerUser => !!u && u.state === 'active');
    const withColleague = request.change.kind === 'offboard' && !!request.change.toUserId;
    const notice = ctx.t('approval.state.stale', { users: request.difference.join(', ') });
    const change: ApprovalChange =
      request.change.kind === 'deleteUsers' || request.change.kind === 'changeLicenses' ? { ...request.change, userIds: users.map((u) => u.id) } : request.change;
    if (request.change.kind === 'import') return importRequestCard(ctx, customer, request.change.jobId, request.change.options, notice, request.reason);
    if (!users.length) throw new DirectoryError('NOT_ACTIVE', { user: request.difference.join(', ') });
    return requestCard(ctx, customer, change, withColleague ? users.slice(0, -1) : users, withColleague ? users[users.length - 1] : undefined, notice, request.reason);
  },

  async deletedUsers(cmd, ctx) {
    return deletedView(ctx, await resolveCustomer(ctx, cmd.customer));
  },

  async restore(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    let userIds: string[];
    if (cmd.versions) {
      if (!cmd.users.length) throw new CardReply(errorCard(ctx.t, { message: ctx.t('deleted.selectRequired') }));
      userIds = cmd.users;
    } else {
      userIds = (await resolveUsers(ctx, customer, cmd.users)).map((u) => u.id);
    }
    const outcomes = await ctx.directory.restoreUsers(
      customer.id,
      userIds.map((userId) => ({ userId, expectedVersion: cmd.versions?.[userId], newUsername: userIds.length === 1 ? cmd.newUsername : undefined })),
      { actor: ctx.caller, operationId: cmd.operationId ?? `msg:${ctx.activityId}` },
    );
    return deletedView(ctx, customer, outcomes);
  },

  async audit(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    const { entries, total } = await ctx.directory.audit(customer.id, cmd.page);
    return auditCard(ctx.t, { customer, entries, total, page: cmd.page, pageSize: 20 });
  },

  async importUsers(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    if (ctx.conversation !== 'personal') return importHowToCard(ctx.t, { customer, message: ctx.t('import.inChannel', { customer: customer.id }) });
    if (!ctx.file) return importHowToCard(ctx.t, { customer, message: ctx.t('import.attach', { customer: customer.id }) });
    if (!isCsvName(ctx.file.name)) return errorCard(ctx.t, { message: ctx.t('import.fileType', { name: ctx.file.name }) });
    const file = await ctx.downloadFile(ctx.file);
    if (!file.ok) {
      const message = file.reason === 'tooLarge' ? ctx.t('import.download.tooLarge', { max: MAX_FILE_BYTES / 1024 / 1024 }) : ctx.t('import.download.failed');
      return errorCard(ctx.t, { message });
    }
    return previewFile(ctx, customer, file.bytes, ctx.file.name);
  },

  async importCheck(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    return previewCardFor(ctx, await ctx.importer.validate(customer.id, cmd.jobId, cmd.options, ctx.caller));
  },

  async importRun(cmd, ctx) {
    const customer = await resolveCustomer(ctx, cmd.customer);
    // Four eyes: an import with more ready rows than the customer's setting becomes a request instead of running.
    if ((await ctx.approvals.settings(customer.id)).importOver > 0) {
      const preview = await ctx.importer.validate(customer.id, cmd.jobId, cmd.options, ctx.caller);
      const change: ApprovalChange = { kind: 'import', jobId: cmd.jobId, filename: preview.filename, options: cmd.options, rows: preview.ready };
      const progress = await ctx.importer.progress(customer.id, cmd.jobId);
      if (progress.state === 'preview' && (await ctx.approvals.requiresApproval(customer.id, change))) return requestCard(ctx, customer, change, []);
    }
    const { started, preview } = await ctx.importer.start(customer.id, cmd.jobId, ctx.caller, cmd.options, {
      conversation: ctx.cardLocation.conversation,
      activityId: ctx.cardLocation.activityId ?? '',
      locale: ctx.locale,
    });
    if (!started) {
      const progress = await ctx.importer.progress(customer.id, cmd.jobId);
      if (progress.state !== 'preview') return importProgressCard(ctx.t, customer, progress);
      const notice = preview.ready === 0 ? ctx.t('import.nothingReady') : cmd.options.mode === 'allOrNothing' && preview.issueCount ? ctx.t('import.allOrNothingRefused') : ctx.t('import.alreadyStarted');
      return previewCardFor(ctx, preview, notice);
    }
    void ctx.importRunner.launch(customer.id, cmd.jobId);
    return importProgressCard(ctx.t, customer, { jobId: cmd.jobId, customerId: customer.id, total: preview.total, processed: 0, created: 0, failed: 0, state: 'running' });
  },

  /** The Import users dialog (task/fetch, or its customer choice): the upload page for this customer, or the choice. */
  async importDialog(cmd, ctx) {
    if (!cmd.customer) return importCustomerChoiceCard(ctx.t, await ctx.directory.listCustomers());
    return openUploadPage(ctx, await resolveCustomer(ctx, cmd.customer));
  },

  /** The dialog's upload (task/submit, or the page outside Teams): the same preview as a file sent in the 1:1 chat. */
  async importUpload(cmd, ctx) {
    const upload = await takeUpload(ctx, cmd.uploadId);
    const customer = await resolveCustomer(ctx, upload.binding.customerId);
    if (ctx.dialog) ctx.dialog.postInConversation = { customerId: customer.id };
    return previewFile(ctx, customer, upload.bytes, upload.fileName);
  },

  async grant(cmd, ctx) {
    if (ctx.agents.isFixed(cmd.agent)) return messageCard(ctx.t('whoami.role'), [ctx.t('revoke.fixed', { agent: cmd.agent })]);
    await ctx.agents.grant(cmd.agent, cmd.role);
    return messageCard(ctx.t('whoami.role'), [ctx.t('grant.done', { agent: cmd.agent, role: ctx.t(`agentRole.${cmd.role}`) })]);
  },

  async revoke(cmd, ctx) {
    if (ctx.agents.isFixed(cmd.agent)) return messageCard(ctx.t('whoami.role'), [ctx.t('revoke.fixed', { agent: cmd.agent })]);
    const removed = await ctx.agents.revoke(cmd.agent);
    return messageCard(ctx.t('whoami.role'), [ctx.t(removed ? 'revoke.done' : 'revoke.none', { agent: cmd.agent })]);
  },
};

/** A file from the 1:1 chat (or the upload dialog): its problems, or the preview of every row. */
export async function previewFile(ctx: HandlerContext, customer: Customer, bytes: Buffer, name: string): Promise<AdaptiveCard> {
  const result = await ctx.importer.preview(customer.id, bytes, name, ctx.caller);
  if (!result.ok) return errorCard(ctx.t, { message: describeFileProblem(ctx.t, result.problem) });
  return previewCardFor(ctx, result.preview);
}

function previewCardFor(ctx: HandlerContext, preview: ImportPreview, notice?: string): AdaptiveCard {
  const issueLines = preview.issues.map((i) => ctx.t('import.issueLine', { line: i.line, reason: describeRowIssue(ctx.t, i.code, i.params) }));
  return importPreviewCard(ctx.t, { preview, issueLines, operationId: ctx.newOperationId(), notice });
}

/** The one confirmation of a series: every new user with its password, and a one-time CSV download. */
async function finishSeries(ctx: HandlerContext, customer: Customer, series: { id: string; key: string }): Promise<AdaptiveCard> {
  // Finished once; a repeated Finish gets the same confirmation and link, and delivers nothing again.
  const { first, credentials, token } = await ctx.vault.finishSeries(ctx.caller.id, series.id, series.key);
  if (!credentials.length) return messageCard(ctx.t('created.title'), [ctx.t('created.seriesEmpty')]);
  if (first) {
    const csv = credentialsCsv(credentials, [ctx.t('csv.displayName'), ctx.t('csv.userPrincipalName'), ctx.t('csv.password')]);
    await ctx.vault.createDownload(ctx.caller.id, `${customer.id}-new-users.csv`, csv, token, { seriesId: series.id });
  }
  const subscriptions = await ctx.directory.getSubscriptions(customer.id);
  return withCredentials(
    ctx,
    { customer, subscriptions, users: credentials.map((c) => ({ ...c, licenses: [] })), downloadUrl: `${ctx.publicBaseUrl}/downloads/${token}` },
    ctx.t('created.seriesTitle', { count: credentials.length, customer: customer.name }),
    `series:${series.id}`,
    first,
  );
}

/** A Manage licenses save as a change: what it adds and removes (from the card's drawn and chosen states), or its replace. */
export function licenseSaveOf(cmd: CommandOf<'saveLicenses'>): { add: string[]; remove: string[]; replace?: { from: string; to: string } } {
  if (cmd.replace) return { add: [], remove: [], replace: cmd.replace };
  const add = Object.keys(cmd.desired).filter((s) => cmd.desired[s] === 'all' && cmd.initial[s] !== 'all');
  const remove = Object.keys(cmd.desired).filter((s) => cmd.desired[s] === 'none' && cmd.initial[s] !== 'none');
  return { add, remove };
}

async function changeLicensesTyped(cmd: CommandOf<'assign' | 'unassign' | 'replace'>, ctx: HandlerContext): Promise<AdaptiveCard> {
  const customer = await resolveCustomer(ctx, cmd.customer);
  const users = await resolveUsers(ctx, customer, cmd.users);
  const change = cmd.name === 'replace' ? { replace: { from: cmd.from, to: cmd.to } } : cmd.name === 'assign' ? { add: [cmd.skuId] } : { remove: [cmd.skuId] };
  if (cmd.name !== 'assign') {
    // Four eyes: removing a license (replace removes the old one) becomes a request.
    const approval: ApprovalChange = { kind: 'changeLicenses', userIds: users.map((u) => u.id), add: [], remove: cmd.name === 'unassign' ? [cmd.skuId] : [], ...(cmd.name === 'replace' ? { replace: { from: cmd.from, to: cmd.to } } : {}) };
    if (await ctx.approvals.requiresApproval(customer.id, approval)) {
      const deleted = users.find((u) => u.state !== 'active');
      if (deleted) throw new DirectoryError('NOT_ACTIVE', { user: deleted.userPrincipalName });
      return requestCard(ctx, customer, approval, users);
    }
  }
  const results = await ctx.directory.changeLicenses(customer.id, users.map((u) => ({ userId: u.id })), change, { actor: ctx.caller, operationId: `msg:${ctx.activityId}` });
  return licenseResultsCard(ctx.t, {
    customer,
    subscriptions: await ctx.directory.getSubscriptions(customer.id),
    results: results.map((r) => ({ ...r, user: users.find((u) => u.id === r.userId) ?? users[0] })),
  });
}

// ------------------------------------------------------------------ four eyes

const changeUserIds = (change: ApprovalChange): string[] =>
  change.kind === 'import' ? [] : change.kind === 'deleteUsers' || change.kind === 'changeLicenses' ? change.userIds : change.kind === 'offboard' && change.toUserId ? [change.userId, change.toUserId] : [change.userId];

async function requestCard(ctx: HandlerContext, customer: Customer, change: ApprovalChange, users: CustomerUser[], colleague?: CustomerUser, notice?: string, reason?: string): Promise<AdaptiveCard> {
  return requestApprovalCard(ctx.t, { customer, change, users, colleague, subscriptions: await ctx.directory.getSubscriptions(customer.id), operationId: ctx.newOperationId(), notice, reason });
}

/** The request card of an import (its rows counted again from the job). */
async function importRequestCard(ctx: HandlerContext, customer: Customer, jobId: string, options: ImportOptions, notice?: string, reason?: string): Promise<AdaptiveCard> {
  const preview = await ctx.importer.validate(customer.id, jobId, options, ctx.caller);
  return requestCard(ctx, customer, { kind: 'import', jobId, filename: preview.filename, options, rows: preview.ready }, [], undefined, notice, reason);
}

/** Admin agents other than the requester decide; the requester withdraws; everyone else reads. */
function viewerOf(ctx: HandlerContext, request: ApprovalRequest): { decide: boolean; withdraw: boolean } {
  const own = ctx.caller.id.toLowerCase() === request.requester.id.toLowerCase();
  return { decide: ctx.caller.role === 'admin' && !own, withdraw: own };
}

async function approvalView(ctx: HandlerContext, customer: Customer, request: ApprovalRequest, viewer: { decide: boolean; withdraw: boolean }, notice?: string): Promise<AdaptiveCard> {
  const [subscriptions, refreshUserIds, offboard] = await Promise.all([
    ctx.directory.getSubscriptions(customer.id),
    ctx.approvalChannel.knownAgents(),
    ctx.approvals.offboardJobOf(customer.id, request),
  ]);
  return approvalCard(ctx.t, { customer, request, subscriptions, viewer, refreshUserIds, notice, locale: ctx.locale, offboard: offboard ?? undefined });
}

// ------------------------------------------------------------------ offboarding

/**
 * The confirmation of offboarding this user (or, under four eyes, the request): with `to`, the colleague named as
 * `--to` names it (username, UPN, id or display name). A colleague that cannot be used (unknown, the user itself,
 * deleted) is refused before anything changes, with the usual error.
 */
async function offboardConfirmation(ctx: HandlerContext, customer: Customer, user: CustomerUser, to?: string, notice?: string, reason?: string): Promise<AdaptiveCard> {
  const colleague = to ? await resolveUser(ctx, customer, to) : undefined;
  // Refused here, at confirmation time, when it cannot be done (the colleague is the user, or is deleted).
  const plan = await ctx.approvals.offboarding.plan(customer.id, user.id, colleague?.id, user.version);
  const change: ApprovalChange = { kind: 'offboard', userId: user.id, toUserId: colleague?.id };
  if (await ctx.approvals.requiresApproval(customer.id, change)) return requestCard(ctx, customer, change, [user], colleague, notice, reason || undefined);
  return offboardConfirmCard(ctx.t, { customer, plan, subscriptions: await ctx.directory.getSubscriptions(customer.id), operationId: ctx.newOperationId(), notice });
}

/** The colleague field was sent and names someone else than the card was drawn for (a card without the field: no). */
const colleagueChanged = (typed: string | undefined, drawn: string | undefined): boolean =>
  typed !== undefined && typed.toLowerCase() !== (drawn ?? '').trim().toLowerCase();

/** The card this turn answers (the one clicked) as a place for an offboarding's progress; none without its activity. */
function offboardCardHere(ctx: HandlerContext, kind: OffboardCard['kind']): OffboardCard | null {
  const { conversation, activityId, userId } = ctx.cardLocation;
  return activityId ? { kind, conversation, activityId, locale: ctx.locale, refreshUserId: kind === 'result' ? userId : undefined } : null;
}

async function offboardResultView(ctx: HandlerContext, customer: Customer, job: OffboardJob): Promise<AdaptiveCard> {
  const error = job.error ? describeError(ctx.t, new DirectoryError(job.error as never)) : undefined;
  return offboardResultCard(ctx.t, { customer, job, error, refreshUserIds: ctx.cardLocation.userId ? [ctx.cardLocation.userId] : [] });
}

/** A password from an approved reset goes to the requester's 1:1 chat only, never to the channel or the approver. */
async function deliverApprovedPassword(ctx: HandlerContext, customer: Customer, request: ApprovalRequest, result: Extract<DecideResult, { kind: 'decided' | 'already' }>): Promise<string> {
  const upn = request.outcome?.passwordReset ?? '';
  const model: CredentialsModel = { customer, subscriptions: [], users: [{ displayName: request.users[0]?.displayName ?? upn, userPrincipalName: upn, licenses: [], password: result.temporaryPassword }] };
  const delivery = await ctx.approvalChannel.notify(request.requester.id, credentialsCard(ctx.t, model, ctx.t('reset.done', { name: model.users[0].displayName, upn })));
  return ctx.t(delivery.ok ? 'approval.passwordSent' : 'approval.passwordNotSent');
}

export function handlerFor<N extends CommandName>(name: N): Handler<N> | undefined {
  return handlers[name] as Handler<N> | undefined;
}
