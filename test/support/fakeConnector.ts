/**
 * A local stand-in for the Bot Framework connector service (what Teams runs at `serviceUrl`), on 127.0.0.1 and a
 * free port. Point the activities' `serviceUrl` at `connector.url` and every message the bot sends lands here.
 *
 *   const connector = await startFakeConnector();
 *   ... post an activity with serviceUrl: connector.url ...
 *   const [reply] = await connector.waitForActivities('a:personal-1', 1);
 *   connector.failCreateConversation(403);   // the next POST /v3/conversations answers 403 (app not installed)
 *   await connector.stop();
 *
 * Recorded: POST /v3/conversations/:id/activities (send), POST …/activities/:replyTo (reply), PUT
 * …/activities/:activityId (update), POST /v3/conversations (create; answers the 1:1 chat `a:personal-<memberId>`). Any other
 * request is answered 404 and kept in `unexpected`, so a test can assert the bot called nothing else.
 */
import { EventEmitter } from 'node:events';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ConnectorActivity {
  type: string;
  id?: string;
  text?: string;
  replyToId?: string;
  conversation?: { id: string };
  attachments?: Array<{ contentType: string; content: unknown }>;
  [key: string]: unknown;
}

export interface RecordedActivity {
  kind: 'send' | 'reply' | 'update';
  conversationId: string;
  /** reply: the activity replied to; update: the activity replaced. */
  targetActivityId?: string;
  /** The id the fake answered with (or the updated activity's id). */
  activityId: string;
  activity: ConnectorActivity;
}

export interface CreatedConversation {
  id: string;
  parameters: {
    isGroup?: boolean;
    bot?: { id: string; name?: string };
    members?: Array<{ id: string; name?: string }>;
    tenantId?: string;
    channelData?: unknown;
    activity?: unknown;
  };
}

export interface UnexpectedRequest {
  method: string;
  path: string;
  body: string;
}

export interface FakeConnector {
  /** The serviceUrl to put in activities, e.g. http://127.0.0.1:41234/ */
  readonly url: string;
  /** Activities sent to one conversation (sends, replies and updates, in arrival order). */
  activitiesIn(conversationId: string): ConnectorActivity[];
  /** Every recorded request with its kind and target. */
  records(): RecordedActivity[];
  /** Every conversation the bot created through POST /v3/conversations. */
  createdConversations(): CreatedConversation[];
  unexpected(): UnexpectedRequest[];
  /**
   * Resolves with the first `n` activities of the conversation once they have arrived (immediately when they
   * already have); rejects after `timeoutMs` with what did arrive.
   */
  waitForActivities(conversationId: string, n: number, timeoutMs?: number): Promise<ConnectorActivity[]>;
  /** The next create-conversation calls (all of them until reset or `null`) answer with this status. */
  failCreateConversation(status: 403 | 404 | 429 | 500 | null): void;
  /** Sends and replies to this conversation answer with this status (e.g. 403 after the app was removed). */
  failSendsTo(conversationId: string, status: 403 | 404 | 429 | 500 | null): void;
  /** Forgets everything recorded and every configured failure. */
  reset(): void;
  stop(): Promise<void>;
}

const ERROR_CODES: Record<number, string> = {
  403: 'BotNotInConversationRoster',
  404: 'ConversationNotFound',
  429: 'Throttled',
  500: 'ServiceError',
};

function readBody(req: IncomingMessage, limit = 4 * 1024 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startFakeConnector(): Promise<FakeConnector> {
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let recorded: RecordedActivity[] = [];
  let created: CreatedConversation[] = [];
  let unexpected: UnexpectedRequest[] = [];
  let createFailure: number | null = null;
  let sendFailures = new Map<string, number>();
  let counter = 0;

  const fail = (res: ServerResponse, status: number) => json(res, status, { error: { code: ERROR_CODES[status] ?? 'Error', message: `fake connector answers ${status}` } });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    const parse = (): Record<string, unknown> => (body ? (JSON.parse(body) as Record<string, unknown>) : {});

    if (method === 'POST' && /^\/v3\/conversations\/?$/.test(path)) {
      if (createFailure !== null) return fail(res, createFailure);
      const parameters = parse() as CreatedConversation['parameters'];
      const member = parameters.members?.[0]?.id ?? 'unknown';
      const conversation = { id: `a:personal-${member}`, parameters }; // the agent's existing 1:1 chat, as Teams answers
      created.push(conversation);
      events.emit('created', conversation);
      return json(res, 200, { id: conversation.id, activityId: `created-${++counter}` });
    }

    const m = /^\/v3\/conversations\/([^/]+)\/activities(?:\/([^/]+))?\/?$/.exec(path);
    if (m && (method === 'POST' || method === 'PUT')) {
      const conversationId = decodeURIComponent(m[1]);
      const target = m[2] ? decodeURIComponent(m[2]) : undefined;
      if (method === 'PUT' && !target) return fail(res, 404);
      const failure = sendFailures.get(conversationId);
      if (failure !== undefined) return fail(res, failure);
      const activity = parse() as ConnectorActivity;
      const kind: RecordedActivity['kind'] = method === 'PUT' ? 'update' : target ? 'reply' : 'send';
      const activityId = kind === 'update' ? (target as string) : `activity-${++counter}`;
      const record: RecordedActivity = { kind, conversationId, targetActivityId: target, activityId, activity };
      recorded.push(record);
      events.emit('activity', record);
      return json(res, 200, { id: activityId });
    }

    unexpected.push({ method, path, body: body.slice(0, 2000) });
    return fail(res, 404);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) json(res, 400, { error: { code: 'BadArgument', message: err.message } });
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const activitiesIn = (conversationId: string) => recorded.filter((r) => r.conversationId === conversationId).map((r) => r.activity);

  return {
    url: `http://127.0.0.1:${port}/`,
    activitiesIn,
    records: () => [...recorded],
    createdConversations: () => [...created],
    unexpected: () => [...unexpected],
    waitForActivities(conversationId, n, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const got = activitiesIn(conversationId);
          if (got.length < n) return false;
          finish();
          resolve(got.slice(0, n));
          return true;
        };
        const onActivity = (r: RecordedActivity) => {
          if (r.conversationId === conversationId) check();
        };
        const timer = setTimeout(() => {
          finish();
          const got = activitiesIn(conversationId);
          const others = [...new Set(recorded.map((r) => r.conversationId))].filter((c) => c !== conversationId);
          reject(
            new Error(
              `fake connector: ${got.length} of ${n} activities arrived in ${conversationId} within ${timeoutMs} ms` +
                (others.length ? ` (activities arrived in: ${others.join(', ')})` : ''),
            ),
          );
        }, timeoutMs);
        function finish() {
          clearTimeout(timer);
          events.off('activity', onActivity);
        }
        events.on('activity', onActivity);
        check();
      });
    },
    failCreateConversation(status) {
      createFailure = status;
    },
    failSendsTo(conversationId, status) {
      if (status === null) sendFailures.delete(conversationId);
      else sendFailures.set(conversationId, status);
    },
    reset() {
      recorded = [];
      created = [];
      unexpected = [];
      createFailure = null;
      sendFailures = new Map();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
