/**
 * Plays Teams against the bot over real HTTP: builds Bot Framework activities (messages in a personal chat, a group
 * chat or a channel with an @mention; `adaptiveCard/action` invokes) and POSTs them to the bot's /api/messages.
 * Replies to messages go to the activities' serviceUrl (see fakeConnector.ts); invoke answers come back in the
 * HTTP response and are returned parsed.
 *
 *   const client = new BotClient({ endpoint: appUrl, serviceUrl: connector.url, tenantId, agent });
 *   await client.message('users contoso');                       // personal chat
 *   await client.message('users contoso', CHANNEL);              // "<at>Partner Admin Bot</at> users contoso"
 *   const answer = await client.click(card, 'Delete', { userIds: 'u1,u2' });   // the card's action, as Teams sends it
 *   answer.card                                                   // the card the invoke answered with
 *
 * Card helpers (cardOf, texts, actionTitles, findAction, choicesOf, submission) read the Adaptive Card JSON the
 * way a user sees it: texts, button titles, choices.
 */
import { randomBytes } from 'node:crypto';
import type { ConnectorActivity } from './fakeConnector';

export interface Agent {
  /** Teams user id (`29:…`), what `from.id` carries. */
  id: string;
  /** Entra object id. */
  aadObjectId: string;
  name: string;
}

export type Where = { kind: 'personal' } | { kind: 'groupChat' } | { kind: 'channel'; messageId?: string };
export const PERSONAL: Where = { kind: 'personal' };
export const GROUP_CHAT: Where = { kind: 'groupChat' };
export const CHANNEL: Where = { kind: 'channel' };

export const BOT = { id: '28:partner-admin-bot', name: 'Partner Admin Bot' } as const;
export const TEAM_ID = '19:team';

export interface BotClientOptions {
  /** The bot's base URL, e.g. http://127.0.0.1:41234 (as App.listen() resolves). */
  endpoint: string;
  serviceUrl: string;
  tenantId: string;
  agent: Agent;
  locale?: string;
}

export type Card = { type: 'AdaptiveCard'; body?: unknown[]; actions?: unknown[]; [key: string]: unknown };

export interface InvokeAnswer {
  /** HTTP status of the response. */
  status: number;
  /** The invoke response body: { statusCode, type, value }. */
  body: { statusCode: number; type: string; value: Card };
  /** The card it answered with (body.value when type is the Adaptive Card content type). */
  card: Card;
}

export interface Activity {
  type: string;
  id: string;
  channelId: 'msteams';
  serviceUrl: string;
  timestamp: string;
  locale: string;
  from: { id: string; name: string; aadObjectId: string };
  recipient: { id: string; name: string };
  conversation: { id: string; conversationType: string; tenantId: string; isGroup?: boolean; name?: string };
  channelData: Record<string, unknown>;
  text?: string;
  textFormat?: string;
  entities?: unknown[];
  name?: string;
  value?: unknown;
  replyToId?: string;
  [key: string]: unknown;
}

let sequence = 0;
const runId = randomBytes(3).toString('hex');
const nextId = (): string => `${runId}-${++sequence}`;

export class BotClient {
  constructor(readonly options: BotClientOptions) {}

  get agent(): Agent {
    return this.options.agent;
  }

  /** The conversation id Teams would use for this agent in that place. */
  conversationId(where: Where = PERSONAL): string {
    switch (where.kind) {
      case 'personal':
        // The id Teams also returns when the bot creates the 1:1 chat with this agent (see fakeConnector).
        return `a:personal-${this.options.agent.id}`;
      case 'groupChat':
        return '19:group-chat@thread.v2';
      case 'channel':
        return `${TEAM_ID};messageid=${where.messageId ?? '1'}`;
    }
  }

  /** An activity as Teams sends it, from this agent, in that place. */
  activity(type: string, where: Where = PERSONAL, extra: Partial<Activity> = {}): Activity {
    const { tenantId, agent, serviceUrl } = this.options;
    const conversation: Activity['conversation'] = { id: this.conversationId(where), conversationType: where.kind, tenantId };
    const channelData: Record<string, unknown> = { tenant: { id: tenantId } };
    if (where.kind !== 'personal') conversation.isGroup = true;
    if (where.kind === 'channel') {
      Object.assign(channelData, { teamsChannelId: TEAM_ID, teamsTeamId: TEAM_ID, channel: { id: TEAM_ID, name: 'General' }, team: { id: TEAM_ID, name: 'Partner staff' } });
    }
    return {
      type,
      id: nextId(),
      channelId: 'msteams',
      serviceUrl,
      timestamp: new Date().toISOString(),
      locale: this.options.locale ?? 'en-US',
      from: { id: agent.id, name: agent.name, aadObjectId: agent.aadObjectId },
      recipient: { id: BOT.id, name: BOT.name },
      conversation,
      channelData,
      ...extra,
    };
  }

  /** A typed message; outside the personal chat it starts with the bot's @mention, as Teams forwards it. */
  messageActivity(text: string, where: Where = PERSONAL, extra: Partial<Activity> = {}): Activity {
    if (where.kind === 'personal') return this.activity('message', where, { text, textFormat: 'plain', ...extra });
    const mention = `<at>${BOT.name}</at>`;
    return this.activity('message', where, {
      text: `${mention} ${text}`,
      textFormat: 'plain',
      entities: [{ type: 'mention', text: mention, mentioned: { id: BOT.id, name: BOT.name } }],
      ...extra,
    });
  }

  invokeActivity(verb: string, data: unknown, where: Where = PERSONAL, extra: Partial<Activity> = {}): Activity {
    return this.activity('invoke', where, {
      name: 'adaptiveCard/action',
      value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
      ...extra,
    });
  }

  /** POSTs any activity; resolves with the HTTP status and the response text. */
  async post(activity: unknown): Promise<{ status: number; text: string }> {
    const response = await fetch(`${this.options.endpoint}/api/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: typeof activity === 'string' ? activity : JSON.stringify(activity),
    });
    return { status: response.status, text: await response.text() };
  }

  /** Sends a typed message; the bot answers through the connector (wait there for the reply). */
  async message(text: string, where: Where = PERSONAL): Promise<{ status: number; activity: Activity }> {
    const activity = this.messageActivity(text, where);
    const { status } = await this.post(activity);
    return { status, activity };
  }

  /** Sends an already built invoke activity (e.g. to deliver the very same one twice). */
  async sendInvoke(activity: Activity): Promise<InvokeAnswer> {
    const { status, text } = await this.post(activity);
    let body: InvokeAnswer['body'];
    try {
      body = JSON.parse(text) as InvokeAnswer['body'];
    } catch {
      throw new Error(`invoke answered ${status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
    return { status, body, card: body?.value };
  }

  async invoke(verb: string, data: unknown, where: Where = PERSONAL): Promise<InvokeAnswer> {
    return this.sendInvoke(this.invokeActivity(verb, data, where));
  }

  /** Presses a card's button as Teams does: its verb, its data, and the card's inputs unless it takes none. */
  async click(card: Card, title: string | RegExp, inputs: Record<string, string> = {}, where: Where = PERSONAL): Promise<InvokeAnswer> {
    const { verb, data } = submission(card, title, inputs);
    return this.invoke(verb, data, where);
  }
}

// ------------------------------------------------------------------------------------------ reading cards

export const ADAPTIVE_CARD = 'application/vnd.microsoft.card.adaptive';

/** The Adaptive Card an activity carries (fails the test when it carries none). */
export function cardOf(activity: ConnectorActivity | undefined): Card {
  const attachment = activity?.attachments?.find((a) => a.contentType === ADAPTIVE_CARD);
  if (!attachment) throw new Error(`expected an Adaptive Card, got ${JSON.stringify(activity)?.slice(0, 300)}`);
  return attachment.content as Card;
}

type Node = Record<string, unknown>;

function nodes(value: unknown): Node[] {
  if (Array.isArray(value)) return value.flatMap(nodes);
  if (value && typeof value === 'object') {
    const node = value as Node;
    // Action data is not shown to anyone: do not look into it.
    return [node, ...Object.entries(node).filter(([k]) => k !== 'data').flatMap(([, v]) => nodes(v))];
  }
  return [];
}

/** The texts a user reads on the card, one per paragraph (TextRuns of a block joined). */
export function texts(card: Card): string[] {
  return nodes(card.body).flatMap((n) => {
    if (n.type === 'RichTextBlock') return [(n.inlines as Array<{ text?: string }>).map((i) => i.text ?? '').join('')];
    if (n.type === 'TextBlock') return [String(n.text ?? '')];
    return [];
  });
}

/** Everything visible as one string: texts, input labels, choice titles, button titles. */
export function visibleText(card: Card): string {
  const parts: string[] = [];
  for (const n of nodes(card)) {
    if (n.type === 'TextRun' || n.type === 'TextBlock') parts.push(String(n.text ?? ''));
    if (typeof n.type === 'string' && n.type.startsWith('Input.')) parts.push(String(n.label ?? ''), String(n.value ?? ''));
    if (typeof n.type === 'string' && n.type.startsWith('Action.')) parts.push(String(n.title ?? ''));
    if (n.type === 'Input.ChoiceSet') parts.push(...(n.choices as Array<{ title: string }>).map((c) => c.title));
  }
  return parts.join('\n');
}

export interface CardActionJson {
  type: string;
  title: string;
  verb?: string;
  data?: Record<string, unknown>;
  associatedInputs?: string;
  url?: string;
}

export function actions(card: Card): CardActionJson[] {
  return nodes(card).filter((n) => typeof n.type === 'string' && n.type.startsWith('Action.')) as unknown as CardActionJson[];
}

export const actionTitles = (card: Card): string[] => actions(card).map((a) => a.title);

export function findAction(card: Card, title: string | RegExp): CardActionJson {
  const found = actions(card).filter((a) => (typeof title === 'string' ? a.title === title : title.test(a.title)));
  if (found.length !== 1) throw new Error(`expected one button "${String(title)}", found ${found.length}; buttons: ${actionTitles(card).join(' | ')}`);
  return found[0];
}

export interface InputJson {
  type: string;
  id: string;
  label?: string;
  value?: string;
  isMultiSelect?: boolean;
  choices?: Array<{ title: string; value: string }>;
}

export const inputs = (card: Card): InputJson[] =>
  nodes(card.body).filter((n) => typeof n.type === 'string' && n.type.startsWith('Input.')) as unknown as InputJson[];

export function choicesOf(card: Card, id: string): Array<{ title: string; value: string }> {
  const input = inputs(card).find((i) => i.id === id);
  if (!input) throw new Error(`no input ${id}; inputs: ${inputs(card).map((i) => i.id).join(', ')}`);
  return input.choices ?? [];
}

/** The value of the choice whose title contains `text` (e.g. a user's UPN in the users list). */
export function choiceValue(card: Card, id: string, text: string): string {
  const found = choicesOf(card, id).filter((c) => c.title.includes(text));
  if (found.length !== 1) throw new Error(`expected one choice of ${id} containing "${text}", found ${found.length}`);
  return found[0].value;
}

/**
 * What Teams sends when the button is pressed: the action's verb, and its data merged with the values of the card's
 * inputs (their defaults, overridden by `values`) unless the action says `associatedInputs: none`.
 */
export function submission(card: Card, title: string | RegExp, values: Record<string, string> = {}): { verb: string; data: Record<string, unknown> } {
  const action = findAction(card, title);
  if (action.type !== 'Action.Execute' || !action.verb) throw new Error(`button "${action.title}" is ${action.type}, not Action.Execute`);
  const unknown = Object.keys(values).filter((id) => !inputs(card).some((i) => i.id === id));
  if (unknown.length) throw new Error(`the card has no input ${unknown.join(', ')}`);
  const data: Record<string, unknown> = { ...(action.data ?? {}) };
  if (action.associatedInputs !== 'none') {
    for (const input of inputs(card)) data[input.id] = values[input.id] ?? input.value ?? '';
  }
  return { verb: action.verb, data };
}
