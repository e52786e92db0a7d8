import { CardFactory, CloudAdapter, ConversationParameters, TurnContext } from 'botbuilder';
import type { AdaptiveCard } from '../cards/elements';

export type DeliveryFailure = 'notInstalled' | 'notFound' | 'throttled' | 'failed';
export type DeliveryResult = { ok: true } | { ok: false; reason: DeliveryFailure };

/**
 * The one way a temporary password leaves the bot: a card sent to the acting agent's own 1:1 chat.
 * Handlers see it bound to the current turn.
 */
export interface PrivateChannel {
  send(card: AdaptiveCard): Promise<DeliveryResult>;
}

export function classifyDeliveryError(err: unknown): DeliveryFailure {
  const status = Number((err as { statusCode?: number }).statusCode ?? (err as { status?: number }).status ?? 0);
  if (status === 403) return 'notInstalled';
  if (status === 404) return 'notFound';
  if (status === 429) return 'throttled';
  return 'failed';
}

/**
 * Proactive delivery: in the agent's personal chat the card goes straight back; elsewhere the bot
 * creates (or Teams returns the existing) 1:1 conversation with the agent in the same tenant. One
 * attempt only: a failure is reported to the agent rather than retried against the service.
 */
export class ProactivePrivateChannel implements PrivateChannel {
  constructor(
    private readonly adapter: CloudAdapter,
    private readonly appId: string,
    private readonly context: TurnContext,
  ) {}

  async send(card: AdaptiveCard): Promise<DeliveryResult> {
    const activity = this.context.activity;
    const message = { type: 'message', attachments: [CardFactory.adaptiveCard(card)] };
    try {
      if (activity.conversation.conversationType === 'personal') {
        await this.context.sendActivity(message);
        return { ok: true };
      }
      const tenantId = activity.conversation.tenantId ?? activity.channelData?.tenant?.id;
      const parameters = {
        isGroup: false,
        bot: activity.recipient,
        members: [{ id: activity.from.id, name: activity.from.name }],
        tenantId,
        channelData: { tenant: { id: tenantId } },
      } as ConversationParameters;
      await this.adapter.createConversationAsync(this.appId, activity.channelId, activity.serviceUrl, '', parameters, async (ctx) => {
        await ctx.sendActivity(message);
      });
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: classifyDeliveryError(err) };
    }
  }
}
