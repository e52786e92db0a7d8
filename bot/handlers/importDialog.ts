import { errorCard, messageCard } from '../../cards/common';
import type { AdaptiveCard } from '../../cards/elements';
import type { DialogUpload } from '../../services/import/dialogs';
import type { Customer } from '../../services/types';
import { CardReply, HandlerContext } from './context';

/** Path of the upload page (and of its upload endpoint), under PUBLIC_BASE_URL. */
export const IMPORT_DIALOG_PATH = '/dialogs/import';

export const importDialogUrl = (publicBaseUrl: string, token: string): string => `${publicBaseUrl}${IMPORT_DIALOG_PATH}?t=${encodeURIComponent(token)}`;

/** The conversation this turn belongs to (a dialog's invokes come from the conversation of the clicked card). */
function conversationIdOf(ctx: HandlerContext): string {
  return String((JSON.parse(ctx.cardLocation.conversation) as { conversation?: { id?: string } }).conversation?.id ?? '');
}

/**
 * Issues the one-time token for this agent, customer and conversation and asks the dialog to open the upload page.
 * The card is what a host that cannot open the page would show.
 */
export async function openUploadPage(ctx: HandlerContext, customer: Customer): Promise<AdaptiveCard> {
  const token = await ctx.dialogs.issue({
    agentId: ctx.caller.id,
    agentName: ctx.caller.name,
    customerId: customer.id,
    conversationId: conversationIdOf(ctx),
    reference: ctx.cardLocation.conversation,
    locale: ctx.locale,
  });
  const title = ctx.t('dialog.title', { customer: customer.name });
  if (ctx.dialog) ctx.dialog.page = { url: importDialogUrl(ctx.publicBaseUrl, token), title };
  return messageCard(title, [ctx.t('dialog.intro')]);
}

/** The upload, if it is this agent's, made from this conversation; otherwise a card that says why (nothing is posted). */
export async function takeUpload(ctx: HandlerContext, uploadId: string): Promise<DialogUpload> {
  const taken = await ctx.dialogs.take(uploadId, { agentId: ctx.caller.id, conversationId: conversationIdOf(ctx) });
  if (!taken.ok) throw new CardReply(errorCard(ctx.t, { message: ctx.t(taken.reason === 'gone' ? 'dialog.uploadGone' : 'dialog.notYours') }));
  return taken.upload;
}
