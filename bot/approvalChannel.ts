import { CardFactory, CloudAdapter, ConversationReference } from 'botbuilder';
import type { Logger } from 'pino';
import type { AdaptiveCard } from '../cards/elements';
import type { KeyLayout } from '../services/store/keys';
import type { RedisClient } from '../services/store/redis';
import { AgentConversations, deliverToAgent, DeliveryResult, rethrowing } from './privateChannel';

/**
 * Where approval requests go: the partner's approvals channel (a conversation reference stored by `approvals channel
 * here`), posted and updated proactively as the import runner updates its card; outcomes to the agents' 1:1 chats.
 * The Teams user ids of the agents come with their remembered 1:1 chats, for the channel card's `refresh.userIds`.
 */
export class ApprovalChannel {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
    private readonly adapter: CloudAdapter,
    private readonly appId: string,
    private readonly conversations: AgentConversations,
    private readonly logger: Logger,
  ) {}

  async setHere(reference: Partial<ConversationReference>): Promise<void> {
    const { conversation, serviceUrl, channelId, bot } = reference;
    const stored = { conversation: { id: conversation?.id, conversationType: conversation?.conversationType, tenantId: conversation?.tenantId, isGroup: true }, serviceUrl, channelId, bot };
    await this.redis.set(this.keys.approvalsChannel(), JSON.stringify(stored));
  }

  async reference(): Promise<Partial<ConversationReference> | null> {
    const raw = await this.redis.get(this.keys.approvalsChannel());
    return raw ? (JSON.parse(raw) as Partial<ConversationReference>) : null;
  }

  /** The Teams user ids (29:…) of the agents the bot knows a 1:1 chat of, capped at Teams' 60, for refresh.userIds. */
  async knownAgents(): Promise<string[]> {
    return (await this.conversations.teamsUserIds()).slice(0, 60);
  }

  /** Posts the card in the approvals channel; where it is, or null (no channel, or Teams refused). */
  async post(card: AdaptiveCard): Promise<{ conversation: string; activityId: string } | null> {
    const reference = await this.reference();
    if (!reference) return null;
    let activityId = '';
    try {
      await rethrowing(
        (logic) => this.adapter.continueConversationAsync(this.appId, reference, logic),
        async (ctx) => {
          activityId = (await ctx.sendActivity({ type: 'message', attachments: [CardFactory.adaptiveCard(card)] }))?.id ?? '';
        },
      );
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not post in the approvals channel');
      return null;
    }
    return activityId ? { conversation: JSON.stringify(reference), activityId } : null;
  }

  async update(location: { conversation: string; activityId: string }, card: AdaptiveCard): Promise<void> {
    try {
      const reference = JSON.parse(location.conversation) as Partial<ConversationReference>;
      await rethrowing(
        (logic) => this.adapter.continueConversationAsync(this.appId, reference, logic),
        async (ctx) => {
          await ctx.updateActivity({ type: 'message', id: location.activityId, attachments: [CardFactory.adaptiveCard(card)] });
        },
      );
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not update the approval card');
    }
  }

  /** An outcome (or a password) to an agent's own 1:1 chat. */
  notify(agentId: string, card: AdaptiveCard): Promise<DeliveryResult> {
    return deliverToAgent(this.adapter, this.appId, this.conversations, agentId, undefined, card);
  }
}
