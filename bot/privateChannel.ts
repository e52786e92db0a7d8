import { CardFactory, CloudAdapter, ConversationParameters, ConversationReference, TurnContext } from 'botbuilder';
import type { AdaptiveCard } from '../cards/elements';
import type { KeyLayout } from '../services/store/keys';
import type { RedisClient } from '../services/store/redis';

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
 * Runs a proactive turn and rethrows what its logic threw. The adapter hands an error thrown inside a proactive turn
 * to its onTurnError, which logs it and returns: without this, a send that Teams refused (404, 429, …) looked
 * delivered, and the agent was told the password had been sent.
 */
export async function rethrowing(run: (logic: (ctx: TurnContext) => Promise<void>) => Promise<void>, logic: (ctx: TurnContext) => Promise<void>): Promise<void> {
  let failure: { err: unknown } | undefined;
  await run(async (ctx) => {
    try {
      await logic(ctx);
    } catch (err) {
      failure = { err };
    }
  });
  if (failure) throw failure.err;
}

/** How long an unchanged conversation reference is not rewritten (another instance's forget() is seen after this). */
const REWRITE_AFTER_MS = 60_000;

/** Remembers each agent's 1:1 conversation, so later deliveries continue it instead of creating one. */
export class AgentConversations {
  /**
   * What this instance stored last per agent, and when: the same reference again within REWRITE_AFTER_MS is not written
   * again (every personal-chat turn would otherwise rewrite the same value). A different reference is written at once.
   */
  private readonly written = new Map<string, { json: string; at: number }>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
    private readonly now: () => number = Date.now,
  ) {}

  async remember(agentId: string, reference: Partial<ConversationReference>): Promise<void> {
    const { conversation, serviceUrl, channelId, bot, user } = reference;
    if (!conversation?.id || !serviceUrl) return;
    // The agent's Teams user id too: the token service knows the agent's sign-in by it (background jobs ask there), and
    // the approval card lists the agents in its refresh.userIds.
    const user_ = user?.id ? { user: { id: user.id, aadObjectId: user.aadObjectId, name: user.name } } : {};
    const stored = { conversation: { id: conversation.id, conversationType: 'personal', tenantId: conversation.tenantId }, serviceUrl, channelId, bot, ...user_ };
    const agent = agentId.toLowerCase();
    const json = JSON.stringify(stored);
    const last = this.written.get(agent);
    const now = this.now();
    if (last && last.json === json && now - last.at < REWRITE_AFTER_MS) return;
    await this.redis.hset(this.keys.agentConversations(), agent, json);
    this.written.delete(agent);
    this.written.set(agent, { json, at: now });
    if (this.written.size > 10_000) this.written.delete(this.written.keys().next().value as string);
  }

  async find(agentId: string): Promise<Partial<ConversationReference> | null> {
    const raw = await this.redis.hget(this.keys.agentConversations(), agentId.toLowerCase());
    if (!raw) return null;
    try {
      return JSON.parse(raw) as Partial<ConversationReference>;
    } catch {
      return null;
    }
  }

  /** The Teams user ids of the agents whose 1:1 chat is known (only agents with a bot role are remembered). */
  async teamsUserIds(): Promise<string[]> {
    const ids: string[] = [];
    for (const raw of await this.redis.hvals(this.keys.agentConversations())) {
      try {
        const id = (JSON.parse(raw) as { user?: { id?: string } }).user?.id;
        if (typeof id === 'string' && id) ids.push(id);
      } catch {
        // a value that is not JSON is skipped, as find() does
      }
    }
    return ids;
  }

  async forget(agentId: string): Promise<void> {
    this.written.delete(agentId.toLowerCase());
    await this.redis.hdel(this.keys.agentConversations(), agentId.toLowerCase());
  }
}

/**
 * Proactive delivery: in the agent's personal chat the card goes straight back; elsewhere the bot
 * continues the agent's remembered 1:1 chat, or creates it (Teams returns the existing one). At most
 * one fallback and no retry loop: a failure is reported to the agent rather than hammered.
 */
export class ProactivePrivateChannel implements PrivateChannel {
  constructor(
    private readonly adapter: CloudAdapter,
    private readonly appId: string,
    private readonly conversations: AgentConversations,
    private readonly context: TurnContext,
  ) {}

  private agentId(): string {
    return String(this.context.activity.from.aadObjectId ?? this.context.activity.from.id);
  }

  async send(card: AdaptiveCard): Promise<DeliveryResult> {
    const activity = this.context.activity;
    const message = { type: 'message', attachments: [CardFactory.adaptiveCard(card)] };
    if (activity.conversation.conversationType === 'personal') {
      try {
        await this.context.sendActivity(message);
        return { ok: true };
      } catch (err) {
        return { ok: false, reason: classifyDeliveryError(err) };
      }
    }
    const known = await this.conversations.find(this.agentId());
    if (known) {
      try {
        await rethrowing(
          (logic) => this.adapter.continueConversationAsync(this.appId, known, logic),
          async (ctx) => {
            await ctx.sendActivity(message);
          },
        );
        return { ok: true };
      } catch (err) {
        const reason = classifyDeliveryError(err);
        // A stale reference (chat gone, app removed) is forgotten and the conversation created anew, once.
        if (reason !== 'notInstalled' && reason !== 'notFound') return { ok: false, reason };
        await this.conversations.forget(this.agentId());
      }
    }
    return this.createAndSend(message);
  }

  private async createAndSend(message: Record<string, unknown>): Promise<DeliveryResult> {
    const activity = this.context.activity;
    const tenantId = activity.conversation.tenantId ?? activity.channelData?.tenant?.id;
    const parameters = {
      isGroup: false,
      bot: activity.recipient,
      members: [{ id: activity.from.id, name: activity.from.name }],
      tenantId,
      channelData: { tenant: { id: tenantId } },
    } as ConversationParameters;
    try {
      await rethrowing(
        (logic) => this.adapter.createConversationAsync(this.appId, activity.channelId, activity.serviceUrl, '', parameters, logic),
        async (ctx) => {
          await this.conversations.remember(this.agentId(), { ...TurnContext.getConversationReference(ctx.activity), user: activity.from });
          await ctx.sendActivity(message);
        },
      );
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: classifyDeliveryError(err) };
    }
  }
}

/**
 * Delivery outside a turn (a background job): continues the agent's remembered 1:1 chat, or the job's own
 * conversation when that is the agent's personal chat. One attempt, no retry loop.
 */
export async function deliverToAgent(
  adapter: CloudAdapter,
  appId: string,
  conversations: AgentConversations,
  agentId: string,
  fallback: Partial<ConversationReference> | undefined,
  card: AdaptiveCard,
): Promise<DeliveryResult> {
  const reference = (await conversations.find(agentId)) ?? (fallback?.conversation?.conversationType === 'personal' ? fallback : null);
  if (!reference) return { ok: false, reason: 'notFound' };
  try {
    await rethrowing(
      (logic) => adapter.continueConversationAsync(appId, reference, logic),
      async (ctx) => {
        await ctx.sendActivity({ type: 'message', attachments: [CardFactory.adaptiveCard(card)] });
      },
    );
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: classifyDeliveryError(err) };
  }
}
