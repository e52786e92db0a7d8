import { randomUUID } from 'node:crypto';
import { Activity, CardFactory, CloudAdapter, InvokeResponse, TaskModuleRequest, TaskModuleResponse, TeamsActivityHandler, tokenExchangeOperationName, TurnContext, verifyStateOperationName } from 'botbuilder';
import type { Logger } from 'pino';
import { errorCard } from '../cards/common';
import { ADAPTIVE_CARD_CONTENT_TYPE, AdaptiveCard } from '../cards/elements';
import { translator } from '../cards/i18n';
import type { CredentialVault } from '../services/credentials';
import type { DirectoryService } from '../services/directory';
import type { ImportService } from '../services/import/importer';
import type { ImportDialogs } from '../services/import/dialogs';
import type { ImportRunner } from './importRunner';
import type { OffboardRunner } from './offboardRunner';
import { attachedFile, download } from './fileDownload';
import { MAX_FILE_BYTES } from '../services/import/csvFile';
import { runAsCaller } from '../services/caller';
import { DirectoryError, isDirectoryError } from '../services/errors';
import { AgentRoles, mayRun } from './agents';
import { actionToCommand } from './commands/actions';
import { dialogToCommand } from './commands/dialogs';
import { parseCommand, ParseProblem } from './commands/parse';
import { accessOf, APPROVABLE } from './commands/table';
import { licenseSaveOf } from './handlers/handlers';
import type { ApprovalChange, ApprovalService } from '../services/approvals';
import type { ApprovalChannel } from './approvalChannel';
import type { Command } from './commands/types';
import { CardReply, ConversationKind, DialogAnswer, HandlerContext } from './handlers/context';
import { describeError, isUnavailable } from './handlers/errors';
import { handlerFor } from './handlers/handlers';
import { AgentConversations, PrivateChannel, ProactivePrivateChannel, rethrowing } from './privateChannel';
import { agentIdOf, MAGIC_CODE, SignIn } from './signIn';

/**
 * A field of an incoming activity as text. The activity is JSON from outside: where a string is expected an object may
 * arrive, and String() throws on one whose toString is not a function.
 */
const textOf = (value: unknown): string => (typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : '');

export interface AdminBotDeps {
  directory: DirectoryService;
  agents: AgentRoles;
  vault: CredentialVault;
  importer: ImportService;
  importRunner: ImportRunner;
  offboardRunner: OffboardRunner;
  dialogs: ImportDialogs;
  approvals: ApprovalService;
  approvalChannel: ApprovalChannel;
  publicBaseUrl: string;
  adapter: CloudAdapter;
  conversations: AgentConversations;
  appId: string;
  partnerTenantId?: string;
  logger: Logger;
  /** Teams SSO (the Graph directory); with the Redis directory it never asks for a token. */
  signIn: SignIn;
  /** After an agent signed in: import jobs that waited for it continue. */
  onSignedIn?: (agentId: string) => void;
  /** Tests replace proactive delivery; production uses the adapter. */
  privateChannelFor?: (context: TurnContext) => PrivateChannel;
  /** How long an attached file may take to download (default 20 s; tests shorten it). */
  downloadTimeoutMs?: number;
}

type Translate = HandlerContext['t'];

/**
 * The turn-state key of the work to start once the turn's answer has been written (app.ts runs it after
 * `adapter.process`); a turn without it (a proactive one) starts such work on the next tick.
 */
export const AFTER_TURN = 'pab.afterTurn';

/** Typed text longer than this (Teams' own limit is about 28 kB) is refused before it is parsed. */
const MAX_TYPED_TEXT = 32_000;

/** A turn's answer: a card, or "the directory needs the agent to sign in first" (rendered per channel of the ask). */
const SIGN_IN_NEEDED = Symbol('sign in needed');
type Answer = AdaptiveCard | typeof SIGN_IN_NEEDED;
/** Directory refusals: audited like every refusal, rendered with the usual refusal card. */
const REFUSAL_CODES: ReadonlySet<string> = new Set(['DIRECTORY_ROLE_MISSING', 'DIRECTORY_REFUSED']);

/**
 * Routes only: typed text and card actions become a Command, the caller is checked, one handler
 * answers with a card. Every failure ends in a card, never in a 500.
 */
export class AdminBot extends TeamsActivityHandler {
  constructor(private readonly deps: AdminBotDeps) {
    super();
    this.onMessage(async (context, next) => {
      const answer = await this.answerMessage(context);
      if (answer) await this.send(context, answer);
      await next();
    });
  }

  /** The one render of a message turn: the card, or the sign-in card (the command waits for the sign-in). */
  private async send(context: TurnContext, answer: Answer, text = ''): Promise<void> {
    if (answer !== SIGN_IN_NEEDED) {
      await context.sendActivity({ type: 'message', attachments: [CardFactory.adaptiveCard(answer)] });
      return;
    }
    const { t } = translator(context.activity.locale);
    const agentId = agentIdOf(context.activity);
    try {
      if (text) await this.deps.signIn.rememberPending(agentId, { text, reference: TurnContext.getConversationReference(context.activity) });
      const card = await this.deps.signIn.signInCard(context, { title: t('signIn.button'), text: t('error.signInRequired') });
      await context.sendActivity({ type: 'message', attachments: [card] });
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'could not offer the sign-in card');
      await context.sendActivity({ type: 'message', attachments: [CardFactory.adaptiveCard(errorCard(t, { message: t('error.tryAgain') }))] });
    }
  }

  /**
   * Sign-in completed (token exchange or magic code): the command the agent typed before runs now, answering in the
   * conversation it was typed in. False when none was waiting.
   */
  private async runPending(context: TurnContext): Promise<boolean> {
    const agentId = agentIdOf(context.activity);
    this.deps.onSignedIn?.(agentId);
    const pending = await this.deps.signIn.takePending(agentId);
    if (!pending) return false;
    await rethrowing(
      (logic) => this.deps.adapter.continueConversationAsync(this.deps.appId, pending.reference, logic),
      async (ctx) => {
        ctx.activity.text = pending.text;
        await this.send(ctx, await this.answerText(ctx, pending.text), pending.text);
      },
    );
    return true;
  }

  /** Teams SSO: `signin/tokenExchange` (silent) and `signin/verifyState` (the magic code of the sign-in page). */
  private async answerSignIn(context: TurnContext): Promise<InvokeResponse> {
    const value = (context.activity.value ?? {}) as { id?: unknown; token?: unknown; state?: unknown };
    const agentId = agentIdOf(context.activity);
    if (context.activity.name === tokenExchangeOperationName) {
      if (!(await this.deps.signIn.exchange(context, value.token))) {
        // As botbuilder's TeamsSSOTokenExchangeMiddleware: 412, and Teams shows the sign-in button instead.
        return { status: 412, body: { id: textOf(value.id), connectionName: this.deps.signIn.connectionName, failureDetail: 'The bot is unable to exchange the token. Proceed with regular sign-in.' } };
      }
      // Teams may send the same exchange twice, or to several instances: the first runs the command, the others just answer.
      if (await this.deps.signIn.firstExchange(agentId, value.id)) await this.runPending(context);
      return { status: 200, body: { id: textOf(value.id) } };
    }
    if (!(await this.deps.signIn.verifyCode(context, textOf(value.state)))) return { status: 404 };
    await this.runPending(context);
    return { status: 200 };
  }

  /** Universal Actions: answered in the same HTTP response, always status 200 with a card (or a sign-in request). */
  protected override async onInvokeActivity(context: TurnContext): Promise<InvokeResponse> {
    const name = context.activity.name;
    if ((name === tokenExchangeOperationName || name === verifyStateOperationName) && this.deps.signIn.enabled) return this.answerSignIn(context);
    if (name !== 'adaptiveCard/action') return super.onInvokeActivity(context);
    const value = (context.activity.value ?? {}) as { action?: { type?: string; verb?: unknown; data?: unknown }; authentication?: { token?: unknown }; state?: unknown };
    const t = translator(context.activity.locale).t;
    const signInLabels = { title: t('signIn.button'), text: t('error.signInRequired') };
    // Teams re-sends a button after a loginRequest with the token it got silently, or with the sign-in page's code.
    if (this.deps.signIn.enabled && value.authentication && !(await this.deps.signIn.exchange(context, value.authentication.token))) {
      return { status: 200, body: { statusCode: 412, type: 'application/vnd.microsoft.error.preconditionFailed', value: { code: '412', message: 'token exchange failed' } } };
    }
    if (this.deps.signIn.enabled && value.state !== undefined && !(await this.deps.signIn.verifyCode(context, textOf(value.state)))) {
      return { status: 200, body: await this.deps.signIn.loginRequest(context, signInLabels) };
    }
    let card: Answer;
    const action = value.action;
    if (!action || action.type !== 'Action.Execute') {
      card = errorCard(t, { message: t('error.badAction') });
    } else {
      const parsed = actionToCommand(action.verb, action.data);
      if (!parsed.ok) {
        this.logUnread(context, 'badAction', { verb: textOf(action.verb).slice(0, 50), reason: parsed.reason, field: parsed.field });
        // A colleague typed into the offboarding confirmation is the agent's text: say what is wrong with it.
        card = errorCard(t, { message: parsed.field === 'colleague' ? t('offboard.badColleague') : t('error.badAction') });
      } else if ('runText' in parsed) {
        card = await this.answerText(context, parsed.runText);
      } else {
        card = await this.execute(context, parsed.command, '');
      }
    }
    if (card === SIGN_IN_NEEDED) {
      try {
        return { status: 200, body: await this.deps.signIn.loginRequest(context, signInLabels) };
      } catch (err) {
        this.deps.logger.warn({ err: (err as Error).message }, 'could not build the sign-in request');
        card = errorCard(t, { message: t('error.tryAgain') });
      }
    }
    return { status: 200, body: { statusCode: 200, type: ADAPTIVE_CARD_CONTENT_TYPE, value: card } };
  }

  /** null: already answered (a magic code that ran the pending command in its own conversation). */
  private async answerMessage(context: TurnContext): Promise<Answer | null> {
    // Teams sends at most about 28 kB of text; anything longer is not a command, and is not worth parsing.
    if (textOf(context.activity.text).length > MAX_TYPED_TEXT) {
      this.logUnread(context, 'badCommand', { problem: 'tooLong' });
      const t = translator(context.activity.locale).t;
      return errorCard(t, { message: t('error.badCommand'), hint: t('error.tryHelp') });
    }
    const text = TurnContext.removeRecipientMention(context.activity as Activity) ?? context.activity.text ?? '';
    // Tags that Teams leaves in the text; [^<>] keeps this linear on hostile input ([^>] was quadratic on many "<").
    const typed = text.replace(/<[^<>]+>/g, ' ').trim();
    // The magic code of the sign-in page, typed in the 1:1 chat while a command waits for the sign-in.
    if (MAGIC_CODE.test(typed) && this.deps.signIn.enabled && context.activity.conversation?.conversationType === 'personal' && (await this.deps.signIn.hasPending(agentIdOf(context.activity)))) {
      const { t } = translator(context.activity.locale);
      if (!(await this.deps.signIn.verifyCode(context, typed))) return errorCard(t, { message: t('signIn.codeFailed') });
      return (await this.runPending(context)) ? null : errorCard(t, { message: t('signIn.done') });
    }
    const answer = await this.answerText(context, typed);
    if (answer === SIGN_IN_NEEDED) {
      await this.send(context, answer, typed);
      return null;
    }
    return answer;
  }

  private async answerText(context: TurnContext, text: string): Promise<Answer> {
    const parsed = parseCommand(text);
    if (!parsed.ok) {
      this.logUnread(context, 'badCommand', { problem: parsed.problem.kind });
      const t = translator(context.activity.locale).t;
      return errorCard(t, problemMessage(t, parsed.problem));
    }
    return this.execute(context, parsed.command, text);
  }

  /** The turn line of a message or button that is not a command: one line per turn, as for the others. */
  private logUnread(context: TurnContext, outcome: 'badCommand' | 'badAction', detail: Record<string, unknown>): void {
    const caller = textOf(context.activity.from?.aadObjectId ?? context.activity.from?.id);
    this.deps.logger.info({ command: null, caller, outcome, ms: 0, ...detail }, 'turn');
  }

  /** Authorises and runs one command; maps every failure to a card. `dialog` collects a dialog handler's answer. */
  async runCommand(context: TurnContext, command: Command, text: string, dialog?: DialogAnswer): Promise<AdaptiveCard> {
    const answer = await this.execute(context, command, text, dialog);
    if (answer !== SIGN_IN_NEEDED) return answer;
    // A dialog cannot show the sign-in card: it says to sign in (any command in the 1:1 chat offers the card).
    const { t } = translator(context.activity.locale);
    return errorCard(t, { message: t('error.signInRequired') });
  }

  /**
   * One turn, top to bottom: gate (tenant, role) → handler (customer resolved → the directory's gate) → one answer.
   * Everything runs as the calling agent (services/caller.ts), so that a directory acting on the agent's behalf finds
   * the agent's token; it is read only when such a directory asks.
   */
  private async execute(context: TurnContext, command: Command, text: string, dialog?: DialogAnswer): Promise<Answer> {
    const activity = context.activity;
    const callerId = textOf(activity.from?.aadObjectId ?? activity.from?.id);
    const callerName = textOf(activity.from?.name ?? callerId).slice(0, 200);
    return runAsCaller(this.deps.signIn.callerFor(context, { id: callerId, name: callerName }), () => this.gateAndRun(context, command, text, dialog));
  }

  private async gateAndRun(context: TurnContext, command: Command, text: string, dialog?: DialogAnswer): Promise<Answer> {
    const started = Date.now();
    const activity = context.activity;
    const { t, locale } = translator(activity.locale);
    const tenantId = textOf(activity.conversation?.tenantId ?? activity.channelData?.tenant?.id).toLowerCase();
    const callerId = textOf(activity.from?.aadObjectId ?? activity.from?.id);
    const customerId = 'customer' in command ? command.customer : undefined;
    // `customer` is how the agent named it; `customerId`, once a handler resolved it, the customer it acted on.
    const resolved: HandlerContext['resolved'] = {};
    const log = (outcome: string, extra: Record<string, unknown> = {}) =>
      this.deps.logger.info({ command: command.name, customer: customerId, customerId: resolved.customerId, caller: callerId, outcome, ms: Date.now() - started, ...extra }, 'turn');

    const callerName = textOf(activity.from?.name ?? callerId).slice(0, 200);
    try {
      if (this.deps.partnerTenantId && tenantId !== this.deps.partnerTenantId.toLowerCase()) {
        // Another tenant gets a refusal and nothing else: no customer is looked up for it.
        await this.deps.directory.recordRefusal({ id: callerId, name: callerName }, command.name, `tenant ${tenantId.slice(0, 64)}`);
        log('refused', { reason: 'otherTenant', tenant: tenantId });
        return errorCard(t, { message: t('error.otherTenant') });
      }
      const role = await this.deps.agents.roleOf(callerId);
      const caller = { id: callerId, name: callerName, tenantId, role };
      // Four eyes: a change it holds back cannot run directly, and under it a helpdesk agent may start it as a request.
      // Asked only where the answer decides something here (a confirmation, or a role that would be refused): an admin's
      // Save on Manage licenses is turned into a request by its handler, without this turn reading the setting twice.
      const allowed = mayRun(role, accessOf(command.name));
      const gateDecides = command.name.startsWith('confirm') || !allowed;
      const gate = role !== 'none' && gateDecides && APPROVABLE.has(command.name) && customerId ? await this.approvalGate(command, customerId) : 'off';
      if (gate === 'required' && command.name.startsWith('confirm')) {
        await this.deps.directory.recordRefusal(caller, command.name, 'needs approval', customerId);
        log('refused', { reason: 'approvalRequired' });
        return errorCard(t, { message: t('error.approvalRequired') });
      }
      if (!allowed && !(gate === 'required' && role === 'helpdesk')) {
        await this.deps.directory.recordRefusal(caller, command.name, `role ${role}`, customerId);
        log('refused', { reason: 'role', role });
        return errorCard(t, { message: t('error.notAllowed', { role: t(`agentRole.${role}`) }), hint: t('error.tryHelp') });
      }
      if (role !== 'none' && activity.conversation?.conversationType === 'personal') {
        // An agent's own 1:1 chat: remembered for later private deliveries from channels.
        await this.deps.conversations.remember(callerId, TurnContext.getConversationReference(activity)).catch(() => undefined);
      }
      const handler = handlerFor(command.name);
      let cardLocation: HandlerContext['cardLocation'] | undefined;
      if (!handler) return errorCard(t, { message: t('error.unknownCommand', { word: command.name }), hint: t('error.tryHelp') });
      const ctx: HandlerContext = {
        directory: this.deps.directory,
        agents: this.deps.agents,
        vault: this.deps.vault,
        importer: this.deps.importer,
        importRunner: this.deps.importRunner,
        offboardRunner: this.deps.offboardRunner,
        afterTurn: (task) => {
          const queue = context.turnState.get(AFTER_TURN) as Array<() => void> | undefined;
          if (queue) queue.push(task);
          else setImmediate(task);
        },
        dialogs: this.deps.dialogs,
        approvals: this.deps.approvals,
        approvalChannel: this.deps.approvalChannel,
        dialog,
        file: activity.type === 'message' ? attachedFile(activity.attachments) : undefined,
        downloadFile: (file) => download(file.url, { maxBytes: MAX_FILE_BYTES, timeoutMs: this.deps.downloadTimeoutMs ?? 20_000 }),
        // For an invoke, the card that was clicked is the message it replies to. Built when a handler asks (a few do).
        get cardLocation() {
          return (cardLocation ??= { conversation: JSON.stringify(TurnContext.getConversationReference(activity)), activityId: activity.replyToId, userId: textOf(activity.from?.id) || undefined });
        },
        publicBaseUrl: this.deps.publicBaseUrl,
        appId: this.deps.appId || undefined,
        privateChannel: this.deps.privateChannelFor?.(context) ?? new ProactivePrivateChannel(this.deps.adapter, this.deps.appId, this.deps.conversations, context),
        t,
        locale,
        caller,
        conversation: conversationKind(activity),
        text,
        activityId: textOf(activity.id) || randomUUID(),
        access: accessOf(command.name),
        newOperationId: () => randomUUID(),
        resolved,
      };
      const card = await handler(command as never, ctx);
      log('ok');
      return card;
    } catch (err) {
      if (err instanceof CardReply) {
        log('answered');
        return err.card;
      }
      if (isDirectoryError(err) && err.code === 'SIGN_IN_REQUIRED' && this.deps.signIn.enabled) {
        log('signInRequired');
        return SIGN_IN_NEEDED;
      }
      if (isDirectoryError(err) && REFUSAL_CODES.has(err.code)) {
        // The directory's own refusal (a missing GDAP role, Graph's 403): audited like the bot's, nothing changed.
        const role = await this.deps.agents.roleOf(callerId).catch(() => 'none' as const);
        await this.deps.directory
          .recordRefusal({ id: callerId, name: callerName }, command.name, refusalReason(err), resolved.customerId ?? customerId)
          .catch((e: Error) => this.deps.logger.warn({ err: e.message }, 'could not audit a refusal'));
        log('refused', { reason: err.code, role });
        return errorCard(t, { message: describeError(t, err), hint: t('error.tryHelp') });
      }
      if (isDirectoryError(err)) {
        log('userError', { code: err.code });
        return errorCard(t, { message: describeError(t, err) });
      }
      if (isUnavailable(err)) {
        log('unavailable', { err: (err as Error).message });
        return errorCard(t, { message: t('error.tryAgain') });
      }
      this.deps.logger.error({ err, command: command.name }, 'turn failed');
      log('error');
      return errorCard(t, { message: t('error.internal') });
    }
  }

  /**
   * Whether four eyes hold this change back in its customer ('required'), or not ('off'). Typed commands name the
   * customer as the agent typed it: an ambiguous or unknown name is left to the handler (and its role check).
   */
  private async approvalGate(command: Command, reference: string): Promise<'required' | 'off'> {
    const matches = await this.deps.directory.findCustomers(reference);
    if (matches.length !== 1) return 'off';
    const customerId = matches[0].id;
    const change: ApprovalChange | null =
      command.name === 'confirmDeleteUsers'
        ? { kind: 'deleteUsers', userIds: command.userIds }
        : command.name === 'confirmOffboard'
          ? { kind: 'offboard', userId: command.userId, toUserId: command.toUserId }
          : command.name === 'confirmResetPassword'
            ? { kind: 'resetPassword', userId: command.userId }
            : command.name === 'saveLicenses'
              ? { kind: 'changeLicenses', userIds: command.userIds, ...licenseSaveOf(command) }
              : null;
    if (change) return (await this.deps.approvals.requiresApproval(customerId, change).catch(() => false)) ? 'required' : 'off';
    return (await this.deps.approvals.settings(customerId)).enabled ? 'required' : 'off';
  }

  // ------------------------------------------------------------------ the Import users dialog (task module)

  /** task/fetch: the Import users button opens the upload page (or, without a customer, the customer choice). */
  protected override async handleTeamsTaskModuleFetch(context: TurnContext, request: TaskModuleRequest): Promise<TaskModuleResponse> {
    return this.answerDialog(context, request?.data);
  }

  /** task/submit: the page's upload (the preview is posted, the dialog closes) or the customer chosen in the dialog. */
  protected override async handleTeamsTaskModuleSubmit(context: TurnContext, request: TaskModuleRequest): Promise<TaskModuleResponse> {
    return this.answerDialog(context, request?.data);
  }

  private async answerDialog(context: TurnContext, data: unknown): Promise<TaskModuleResponse> {
    const { t } = translator(context.activity.locale);
    const parsed = dialogToCommand(data);
    if (!parsed.ok) {
      this.deps.logger.warn({ keys: Object.keys((data ?? {}) as object).slice(0, 10) }, 'rejected dialog data');
      return dialogCard(t('users.importUsers'), errorCard(t, { message: t('error.badAction') }));
    }
    if (parsed.command.name === 'importUpload') {
      const { posted, card } = await this.postDialogUpload(context, parsed.command.uploadId);
      // No task in the answer closes the dialog: the preview is in the conversation now.
      return posted ? (undefined as unknown as TaskModuleResponse) : dialogCard(t('users.importUsers'), card);
    }
    const answer: DialogAnswer = {};
    const card = await this.runCommand(context, parsed.command, '', answer);
    if (!answer.page) return dialogCard(t('users.importUsers'), card);
    const { url, title } = answer.page;
    return { task: { type: 'continue', value: { title, url, fallbackUrl: url, width: 600, height: 520 } } };
  }

  /**
   * Runs the dialog's upload in this turn (the task/submit invoke, or a continued conversation when the page ran outside
   * Teams) and posts the preview in its conversation. Returns the card and whether it was posted (refusals are not).
   */
  async postDialogUpload(context: TurnContext, uploadId: string): Promise<{ posted: boolean; card: AdaptiveCard }> {
    const answer: DialogAnswer = {};
    const card = await this.runCommand(context, { name: 'importUpload', uploadId }, '', answer);
    if (!answer.postInConversation) return { posted: false, card };
    try {
      await context.sendActivity({ type: 'message', attachments: [CardFactory.adaptiveCard(card)] });
      return { posted: true, card };
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, customer: answer.postInConversation.customerId }, 'could not post the import preview');
      const { t } = translator(context.activity.locale);
      return { posted: false, card: errorCard(t, { message: t('dialog.postFailed', { customer: answer.postInConversation.customerId }) }) };
    }
  }

}

/** A dialog step that shows a card (the customer choice, or why the dialog cannot go on). */
function dialogCard(title: string, card: AdaptiveCard): TaskModuleResponse {
  return { task: { type: 'continue', value: { title, card: CardFactory.adaptiveCard(card) } } };
}

function refusalReason(err: DirectoryError): string {
  return err.code === 'DIRECTORY_ROLE_MISSING' ? `directory role missing: ${String(err.params.roles ?? '')}` : 'refused by the directory';
}

function conversationKind(activity: Activity): ConversationKind {
  const type = activity.conversation?.conversationType;
  return type === 'channel' ? 'channel' : type === 'groupChat' ? 'groupChat' : 'personal';
}

function problemMessage(t: Translate, problem: ParseProblem): { message: string; usage?: string; hint?: string } {
  switch (problem.kind) {
    case 'empty':
      return { message: t('error.tryHelp') };
    case 'unknownCommand':
      return { message: t('error.unknownCommand', { word: problem.word.slice(0, 40) }), usage: problem.suggestion?.usage, hint: t('error.tryHelp') };
    case 'badFlag':
      return { message: t('error.badFlag', { flag: problem.flag.slice(0, 40) }), usage: problem.spec.usage };
    case 'badArguments':
      return { message: t('error.badCommand'), usage: problem.spec.usage };
  }
}
