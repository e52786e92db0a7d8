import { randomUUID } from 'node:crypto';
import { Activity, CardFactory, CloudAdapter, InvokeResponse, TaskModuleRequest, TaskModuleResponse, TeamsActivityHandler, TurnContext } from 'botbuilder';
import type { Logger } from 'pino';
import { errorCard } from '../cards/common';
import { ADAPTIVE_CARD_CONTENT_TYPE, AdaptiveCard } from '../cards/elements';
import { translator } from '../cards/i18n';
import type { CredentialVault } from '../services/credentials';
import type { DirectoryService } from '../services/directory';
import type { ImportService } from '../services/import/importer';
import type { ImportDialogs } from '../services/import/dialogs';
import type { ImportRunner } from './importRunner';
import { attachedFile, download } from './fileDownload';
import { MAX_FILE_BYTES } from '../services/import/csvFile';
import { isDirectoryError } from '../services/errors';
import { AgentRoles, mayRun } from './agents';
import { actionToCommand } from './commands/actions';
import { dialogToCommand } from './commands/dialogs';
import { parseCommand, ParseProblem } from './commands/parse';
import { accessOf } from './commands/table';
import type { Command } from './commands/types';
import { CardReply, ConversationKind, DialogAnswer, HandlerContext } from './handlers/context';
import { describeError, isUnavailable } from './handlers/errors';
import { handlerFor } from './handlers/handlers';
import { AgentConversations, PrivateChannel, ProactivePrivateChannel } from './privateChannel';

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
  dialogs: ImportDialogs;
  publicBaseUrl: string;
  adapter: CloudAdapter;
  conversations: AgentConversations;
  appId: string;
  partnerTenantId?: string;
  logger: Logger;
  /** Tests replace proactive delivery; production uses the adapter. */
  privateChannelFor?: (context: TurnContext) => PrivateChannel;
  /** How long an attached file may take to download (default 20 s; tests shorten it). */
  downloadTimeoutMs?: number;
}

type Translate = HandlerContext['t'];

/** Typed text longer than this (Teams' own limit is about 28 kB) is refused before it is parsed. */
const MAX_TYPED_TEXT = 32_000;

/**
 * Routes only: typed text and card actions become a Command, the caller is checked, one handler
 * answers with a card. Every failure ends in a card, never in a 500.
 */
export class AdminBot extends TeamsActivityHandler {
  constructor(private readonly deps: AdminBotDeps) {
    super();
    this.onMessage(async (context, next) => {
      const card = await this.answerMessage(context);
      await context.sendActivity({ type: 'message', attachments: [CardFactory.adaptiveCard(card)] });
      await next();
    });
  }

  /** Universal Actions: answered in the same HTTP response, always status 200 with a card. */
  protected override async onInvokeActivity(context: TurnContext): Promise<InvokeResponse> {
    if (context.activity.name !== 'adaptiveCard/action') return super.onInvokeActivity(context);
    const value = (context.activity.value ?? {}) as { action?: { type?: string; verb?: unknown; data?: unknown } };
    const t = translator(context.activity.locale).t;
    let card: AdaptiveCard;
    const action = value.action;
    if (!action || action.type !== 'Action.Execute') {
      card = errorCard(t, { message: t('error.badAction') });
    } else {
      const parsed = actionToCommand(action.verb, action.data);
      if (!parsed.ok) {
        this.logUnread(context, 'badAction', { verb: textOf(action.verb).slice(0, 50), reason: parsed.reason, field: parsed.field });
        card = errorCard(t, { message: t('error.badAction') });
      } else if ('runText' in parsed) {
        card = await this.answerText(context, parsed.runText);
      } else {
        card = await this.runCommand(context, parsed.command, '');
      }
    }
    return { status: 200, body: { statusCode: 200, type: ADAPTIVE_CARD_CONTENT_TYPE, value: card } };
  }

  private async answerMessage(context: TurnContext): Promise<AdaptiveCard> {
    // Teams sends at most about 28 kB of text; anything longer is not a command, and is not worth parsing.
    if (textOf(context.activity.text).length > MAX_TYPED_TEXT) {
      this.logUnread(context, 'badCommand', { problem: 'tooLong' });
      const t = translator(context.activity.locale).t;
      return errorCard(t, { message: t('error.badCommand'), hint: t('error.tryHelp') });
    }
    const text = TurnContext.removeRecipientMention(context.activity as Activity) ?? context.activity.text ?? '';
    // Tags that Teams leaves in the text; [^<>] keeps this linear on hostile input ([^>] was quadratic on many "<").
    return this.answerText(context, text.replace(/<[^<>]+>/g, ' ').trim());
  }

  private async answerText(context: TurnContext, text: string): Promise<AdaptiveCard> {
    const parsed = parseCommand(text);
    if (!parsed.ok) {
      this.logUnread(context, 'badCommand', { problem: parsed.problem.kind });
      const t = translator(context.activity.locale).t;
      return errorCard(t, problemMessage(t, parsed.problem));
    }
    return this.runCommand(context, parsed.command, text);
  }

  /** The turn line of a message or button that is not a command: one line per turn, as for the others. */
  private logUnread(context: TurnContext, outcome: 'badCommand' | 'badAction', detail: Record<string, unknown>): void {
    const caller = textOf(context.activity.from?.aadObjectId ?? context.activity.from?.id);
    this.deps.logger.info({ command: null, caller, outcome, ms: 0, ...detail }, 'turn');
  }

  /** Authorises and runs one command; maps every failure to a card. `dialog` collects a dialog handler's answer. */
  async runCommand(context: TurnContext, command: Command, text: string, dialog?: DialogAnswer): Promise<AdaptiveCard> {
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
      if (!mayRun(role, accessOf(command.name))) {
        await this.deps.directory.recordRefusal(caller, command.name, `role ${role}`, customerId);
        log('refused', { reason: 'role', role });
        return errorCard(t, { message: t('error.notAllowed', { role: t(`agentRole.${role}`) }), hint: t('error.tryHelp') });
      }
      if (role !== 'none' && activity.conversation?.conversationType === 'personal') {
        // An agent's own 1:1 chat: remembered for later private deliveries from channels.
        await this.deps.conversations.remember(callerId, TurnContext.getConversationReference(activity)).catch(() => undefined);
      }
      const handler = handlerFor(command.name);
      if (!handler) return errorCard(t, { message: t('error.unknownCommand', { word: command.name }), hint: t('error.tryHelp') });
      const ctx: HandlerContext = {
        directory: this.deps.directory,
        agents: this.deps.agents,
        vault: this.deps.vault,
        importer: this.deps.importer,
        importRunner: this.deps.importRunner,
        dialogs: this.deps.dialogs,
        dialog,
        file: activity.type === 'message' ? attachedFile(activity.attachments) : undefined,
        downloadFile: (file) => download(file.url, { maxBytes: MAX_FILE_BYTES, timeoutMs: this.deps.downloadTimeoutMs ?? 20_000 }),
        // For an invoke, the card that was clicked is the message it replies to.
        cardLocation: { conversation: JSON.stringify(TurnContext.getConversationReference(activity)), activityId: activity.replyToId },
        publicBaseUrl: this.deps.publicBaseUrl,
        appId: this.deps.appId || undefined,
        privateChannel: this.deps.privateChannelFor?.(context) ?? new ProactivePrivateChannel(this.deps.adapter, this.deps.appId, this.deps.conversations, context),
        t,
        locale,
        caller,
        conversation: conversationKind(activity),
        text,
        activityId: textOf(activity.id) || randomUUID(),
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
