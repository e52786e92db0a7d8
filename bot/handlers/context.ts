import type { AdaptiveCard } from '../../cards/elements';
import type { Translator } from '../../cards/i18n';
import type { Permissions } from '../../cards/verbs';
import type { CredentialVault } from '../../services/credentials';
import type { DirectoryService } from '../../services/directory';
import type { ImportService } from '../../services/import/importer';
import type { ImportDialogs } from '../../services/import/dialogs';
import type { ImportRunner } from '../importRunner';
import type { OffboardRunner } from '../offboardRunner';
import type { IncomingFile } from '../fileDownload';
import type { Actor } from '../../services/types';
import type { Access, AgentRoles, CallerRole } from '../agents';
import type { PrivateChannel } from '../privateChannel';
import type { ApprovalService } from '../../services/approvals';
import type { ApprovalChannel } from '../approvalChannel';

export type ConversationKind = 'personal' | 'groupChat' | 'channel';

/** Everything a handler may use for one turn. Handlers authorise, call the service, build a card. */
export interface HandlerContext {
  directory: DirectoryService;
  agents: AgentRoles;
  privateChannel: PrivateChannel;
  /** Four eyes and offboarding (services/approvals.ts, services/offboarding.ts). */
  approvals: ApprovalService;
  /** The partner's approvals channel and the agents' 1:1 chats, outside this turn. */
  approvalChannel: ApprovalChannel;
  vault: CredentialVault;
  /** Offboarding jobs in the background, their cards drawn step by step. */
  offboardRunner: OffboardRunner;
  /**
   * Work that starts once this turn's answer has gone (a background job whose first card update must not arrive before
   * the card this turn answers with).
   */
  afterTurn(task: () => void): void;
  importer: ImportService;
  importRunner: ImportRunner;
  /** Tokens and uploads of the Import users dialog. */
  dialogs: ImportDialogs;
  /** Set for the turns of a Teams dialog (task/fetch, task/submit): what the dialog does besides showing the card. */
  dialog?: DialogAnswer;
  /** The file attached to the typed message, if any. */
  file?: IncomingFile;
  /** Fetches an attached file (size limit and timeout applied). */
  downloadFile(file: IncomingFile): Promise<{ ok: true; bytes: Buffer } | { ok: false; reason: 'tooLarge' | 'failed' }>;
  /** Where this turn's card lives, so a background job can update it: the conversation (JSON) and the card's activity. */
  cardLocation: { conversation: string; activityId?: string; /** The caller's Teams user id (29:…), for a card's refresh.userIds. */ userId?: string };
  /** The bot's Teams app id (MicrosoftAppId), for deep links to its tab; unset in local mode. */
  appId?: string;
  /** Where download links point (PUBLIC_BASE_URL). */
  publicBaseUrl: string;
  t: Translator['t'];
  locale: string;
  /**
   * The role the caller acts with this turn: the bot's role table, capped by what the customer's directory grants the
   * agent there (GDAP) once the customer is resolved (see resolve.ts).
   */
  caller: Actor & { tenantId: string; role: CallerRole };
  /** Who may run this turn's command (the command table's access level), for the directory gate. */
  access: Access;
  conversation: ConversationKind;
  /** The typed text (for re-running a command with a chosen customer); empty for card actions. */
  text: string;
  /** Stable per delivery: Teams retries carry the same activity id, so it doubles as an operation id. */
  activityId: string;
  newOperationId(): string;
  /** What the handler resolved, for the turn's log line: the customer it acted on. */
  resolved: { customerId?: string };
}

/**
 * A dialog handler's answer besides its card: open this page in the dialog, or post the card in the conversation and
 * close the dialog. Neither: the card is shown in the dialog.
 */
export interface DialogAnswer {
  page?: { url: string; title: string };
  /** The card (an import preview for this customer) goes to the conversation; the dialog closes. */
  postInConversation?: { customerId: string };
}

/** Thrown by a resolver to answer with this card instead (not found, ambiguous, stale). */
export class CardReply extends Error {
  constructor(readonly card: AdaptiveCard) {
    super('card reply');
  }
}

export function permissionsOf(role: CallerRole): Permissions {
  return { manageUsers: role === 'admin', resetPassword: role !== 'none', restore: role !== 'none' };
}
