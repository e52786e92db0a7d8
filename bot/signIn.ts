/**
 * Teams SSO for a directory that acts with the agent's own rights (Microsoft Graph, on behalf of the agent).
 *
 * The agent's token for the bot's app lives in the Bot Framework token service, behind the Azure Bot resource's OAuth
 * connection; botbuilder's UserTokenClient (set on every turn by CloudAdapter, proactive turns included) reads it.
 * Nothing here stores a token: Redis holds only the command an agent typed before signing in (text, conversation
 * reference, locale) and the ids of token exchanges already handled.
 *
 * The flows (as botbuilder's OAuthPrompt and TeamsSSOTokenExchangeMiddleware do them, and Microsoft's "SSO for
 * Adaptive Cards Universal Actions"):
 * - typed command, no token → the pending command is remembered, the answer is an OAuthCard whose
 *   tokenExchangeResource lets Teams sign in silently; Teams then sends `signin/tokenExchange` (exchanged here: 200
 *   and the pending command runs; failure: 412 and Teams shows the sign-in button) or, after the sign-in page,
 *   `signin/verifyState` with a magic code (also typed as 6 digits in the 1:1 chat);
 * - card button, no token → the invoke answers a loginRequest (status 401 in the body); Teams sends the same invoke
 *   again with `value.authentication.token` (exchanged here) or `value.state` (a magic code).
 */
import { createHash } from 'node:crypto';
import { Activity, Attachment, CardFactory, ConversationReference, TurnContext } from 'botbuilder';
import type { Logger } from 'pino';
import type { Caller } from '../services/caller';
import type { KeyLayout } from '../services/store/keys';
import type { RedisClient } from '../services/store/redis';
import type { Actor } from '../services/types';

/** How long a command typed before signing in waits for the sign-in. */
export const PENDING_SIGN_IN_MS = 10 * 60 * 1000;
/** How long a handled token exchange id is remembered (Teams' duplicates arrive within seconds). */
const EXCHANGE_DEDUP_MS = 10 * 60 * 1000;
/** A magic code from the Bot Framework sign-in page, typed in the 1:1 chat. */
export const MAGIC_CODE = /^\d{6}$/;

/** The part of botbuilder's UserTokenClient (botframework-connector) used here. */
export interface TokenClient {
  getUserToken(userId: string, connectionName: string, channelId: string, magicCode?: string): Promise<{ token?: string } | undefined>;
  exchangeToken(userId: string, connectionName: string, channelId: string, request: { token?: string; uri?: string }): Promise<{ token?: string } | undefined>;
  getSignInResource(
    connectionName: string,
    activity: Activity,
    finalRedirect?: string,
  ): Promise<{ signInLink?: string; tokenExchangeResource?: { id?: string; uri?: string; providerId?: string } } | undefined>;
}

/** A command typed before sign-in: what to run again, and where to answer. Never a token. */
export interface PendingCommand {
  text: string;
  reference: Partial<ConversationReference>;
}

export interface SignInDeps {
  redis: RedisClient;
  keys: KeyLayout;
  /** OAUTH_CONNECTION_NAME; unset (the Redis directory): there is nothing to sign in to, no token is ever asked for. */
  connectionName: string | undefined;
  /**
   * The app the token exchange state names (MicrosoftAppId, or in local mode AZURE_CLIENT_ID): botbuilder's client
   * takes it from the request's claims, which local mode does not have.
   */
  botAppId?: string;
  logger: Logger;
}

export const agentIdOf = (activity: Partial<Activity>): string => String(activity.from?.aadObjectId ?? activity.from?.id ?? '');

export class SignIn {
  constructor(private readonly deps: SignInDeps) {}

  get enabled(): boolean {
    return !!this.deps.connectionName;
  }

  get connectionName(): string {
    return this.deps.connectionName ?? '';
  }

  private client(context: TurnContext): TokenClient | undefined {
    const adapter = context.adapter as { UserTokenClientKey?: symbol };
    return adapter.UserTokenClientKey ? (context.turnState.get(adapter.UserTokenClientKey) as TokenClient | undefined) : undefined;
  }

  /**
   * The caller of a turn (or of a proactive turn a background job runs in): the agent's token is read from the token
   * service only when a directory asks, once per turn. The token service answers with a fresh token (it refreshes
   * it itself); the bot keeps none.
   */
  callerFor(context: TurnContext, actor: Actor, options: { askEveryTime?: boolean } = {}): Caller {
    // Read from the turn now: botbuilder revokes a turn's context once the turn ends, and a job outlives its turn.
    const source = this.sourceOf(context);
    let asked: Promise<string | undefined> | undefined;
    return {
      actor,
      // A background job lives longer than a token: it asks each time (the token service refreshes it).
      userAssertion: () => (options.askEveryTime ? this.tokenFrom(source) : (asked ??= this.tokenFrom(source))),
    };
  }

  private sourceOf(context: TurnContext): { client?: TokenClient; userId?: string; channelId: string } {
    return { client: this.client(context), userId: context.activity.from?.id, channelId: context.activity.channelId ?? 'msteams' };
  }

  private async tokenFrom(source: { client?: TokenClient; userId?: string; channelId: string }, magicCode?: string): Promise<string | undefined> {
    const { connectionName } = this.deps;
    if (!source.client || !connectionName || !source.userId) return undefined;
    const response = await source.client.getUserToken(source.userId, connectionName, source.channelId, magicCode);
    return response?.token || undefined;
  }

  private tokenOf(context: TurnContext, magicCode?: string): Promise<string | undefined> {
    return this.tokenFrom(this.sourceOf(context), magicCode);
  }

  /** A magic code (signin/verifyState, or typed): true when it completed the sign-in. */
  async verifyCode(context: TurnContext, code: string): Promise<boolean> {
    if (!code) return false;
    try {
      return !!(await this.tokenOf(context, code));
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'the token service refused a magic code');
      return false;
    }
  }

  /** Exchanges the token Teams obtained silently (SSO) for the connection's token: true when it worked. */
  async exchange(context: TurnContext, token: unknown): Promise<boolean> {
    const client = this.client(context);
    const { connectionName } = this.deps;
    if (!client || !connectionName || typeof token !== 'string' || !token || !context.activity.from?.id) return false;
    try {
      const response = await client.exchangeToken(context.activity.from.id, connectionName, context.activity.channelId ?? 'msteams', { token });
      return !!response?.token;
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'token exchange failed');
      return false;
    }
  }

  /** True the first time this exchange id is seen for this agent, on any instance (SET NX). */
  async firstExchange(agentId: string, exchangeId: unknown): Promise<boolean> {
    const id = typeof exchangeId === 'string' && exchangeId ? exchangeId : '';
    if (!id) return true;
    const hash = createHash('sha256').update(id).digest('hex');
    const set = await this.deps.redis.set(this.deps.keys.signInExchange(agentId, hash), '1', 'PX', EXCHANGE_DEDUP_MS, 'NX');
    return set === 'OK';
  }

  /** Remembers the command typed before sign-in (the latest one wins). */
  async rememberPending(agentId: string, pending: PendingCommand): Promise<void> {
    await this.deps.redis.set(this.deps.keys.pendingSignIn(agentId), JSON.stringify(pending), 'PX', PENDING_SIGN_IN_MS);
  }

  async hasPending(agentId: string): Promise<boolean> {
    return (await this.deps.redis.exists(this.deps.keys.pendingSignIn(agentId))) > 0;
  }

  /** The pending command, taken once (an exchange and a magic code arriving together run it once). */
  async takePending(agentId: string): Promise<PendingCommand | null> {
    const key = this.deps.keys.pendingSignIn(agentId);
    const replies = await this.deps.redis.multi().get(key).del(key).exec();
    const raw = replies?.[0]?.[1];
    if (typeof raw !== 'string') return null;
    try {
      return JSON.parse(raw) as PendingCommand;
    } catch {
      return null;
    }
  }

  private async resource(context: TurnContext) {
    let client = this.client(context);
    if (!client || !this.deps.connectionName) return undefined;
    // Local mode: the client has no app id (no claims); the same client, seen with the configured one.
    if (!(client as { appId?: string }).appId && this.deps.botAppId) client = Object.assign(Object.create(client) as TokenClient, { appId: this.deps.botAppId });
    return client.getSignInResource(this.deps.connectionName, context.activity as Activity);
  }

  /** The sign-in card of a typed command: an OAuthCard Teams can complete silently (SSO) or with its button. */
  async signInCard(context: TurnContext, labels: { title: string; text: string }): Promise<Attachment> {
    const resource = await this.resource(context);
    return CardFactory.oauthCard(this.deps.connectionName ?? '', labels.title, labels.text, resource?.signInLink, resource?.tokenExchangeResource as never);
  }

  /** The Universal Actions answer to a button that needs sign-in: a loginRequest (Teams re-sends the invoke after it). */
  async loginRequest(context: TurnContext, labels: { title: string; text: string }) {
    const resource = await this.resource(context);
    return {
      statusCode: 401,
      type: 'application/vnd.microsoft.activity.loginRequest',
      value: {
        text: labels.text,
        connectionName: this.deps.connectionName ?? '',
        tokenExchangeResource: resource?.tokenExchangeResource,
        buttons: [{ title: labels.title, text: labels.title, type: 'signin', value: resource?.signInLink }],
      },
    };
  }
}
