/**
 * Microsoft Graph v1.0 over plain `fetch`, with typed (zod-checked) responses.
 *
 * Decision: not the Graph client library. The directory needs a dozen documented endpoints, JSON batching and one
 * retry policy that the libraries do not offer: a write whose reply was lost (5xx, timeout, dropped connection) must
 * be resolved by reading the object back before anything is sent again, whereas the SDKs' retry handlers re-send
 * blindly (a second POST /users) or not at all. A small client keeps that rule visible and testable against a local
 * stand-in (GRAPH_BASE_URL).
 *
 * Throttling (https://learn.microsoft.com/graph/throttling): 429 and 503 are retried after the `Retry-After` seconds
 * (exponential back-off when absent), at most MAX_RETRIES times, and only when nothing was applied (Graph applies
 * nothing on a 429/503). Any other failure of a write is `UncertainWrite`; the caller decides by reading back.
 */
import { z } from 'zod';

export const MAX_RETRIES = 4;
/** A Retry-After longer than this is not waited for inside a turn: the caller gets "try again". */
export const MAX_RETRY_AFTER_MS = 30_000;
export const REQUEST_TIMEOUT_MS = 10_000;
/** Graph's JSON batching limit (https://learn.microsoft.com/graph/json-batching). */
export const BATCH_LIMIT = 20;
/**
 * How long the first request of an agent to a tenant waits for company while that agent's other requests to it are
 * still out (a bulk import, a many-user change): the rows reach their Graph calls a few ticks apart (each row's Redis
 * bookkeeping answers on its own), so "the same tick" alone let a fifth of them go one by one under load. A request
 * with nothing else out (a card's read, the next page) waits only for the end of its tick.
 */
const BATCH_WINDOW_MS = 3;

export interface GraphRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Relative to the v1.0 root, with its query: `/users?$top=5`. */
  url: string;
  body?: unknown;
  /** Advanced queries ($count, $search, some $filter) need `ConsistencyLevel: eventual`. */
  eventual?: boolean;
}

export interface GraphResponse {
  status: number;
  body: unknown;
}

/** Graph's error body: `{ "error": { "code", "message", "innerError" } }` (https://learn.microsoft.com/graph/errors). */
const errorBody = z.object({ error: z.object({ code: z.string().default(''), message: z.string().default('') }).passthrough() }).passthrough();

export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly graphMessage: string,
  ) {
    super(`Graph ${status} ${code}`);
    this.name = 'GraphError';
  }
}

/** A write that may or may not have been applied: its reply was lost or was a server error. */
export class UncertainWrite extends Error {
  constructor(readonly request: GraphRequest, override readonly cause: unknown) {
    super(`uncertain ${request.method} ${request.url.split('?')[0]}`);
    this.name = 'UncertainWrite';
  }
}

/** Graph could not be reached, or kept throttling past the retries: nothing was applied, try again later. */
export class GraphUnavailable extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(message: string) {
    super(`Graph unavailable: ${message}`);
    this.name = 'GraphUnavailable';
  }
}

export function graphErrorOf(response: GraphResponse): GraphError {
  const parsed = errorBody.safeParse(response.body);
  return new GraphError(response.status, parsed.success ? parsed.data.error.code : '', parsed.success ? parsed.data.error.message : '');
}

export interface GraphClientOptions {
  baseUrl: string;
  /** A bearer token for this tenant, on behalf of the calling agent; `fresh`: not the cached one (it got a 401). */
  token(tenantId: string, fresh?: boolean): Promise<string>;
  /** Waits before a retry; tests pass one that records the wait instead of sleeping. */
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
  /**
   * Who the requests are for (the calling agent): concurrent requests of one agent to one tenant (a bulk import's rows,
   * a many-user change) go out together as one JSON batch (see BATCH_WINDOW_MS).
   */
  callerKey?: () => string;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Queued {
  request: GraphRequest;
  resolve(response: GraphResponse): void;
  reject(err: unknown): void;
}

export class GraphClient {
  private readonly queues = new Map<string, Queued[]>();
  /** Requests sent and not yet answered, by agent and tenant (the batching window applies while there are some). */
  private readonly outstanding = new Map<string, number>();
  private readonly baseUrl: string;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly doFetch: typeof fetch;

  constructor(private readonly options: GraphClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.sleep = options.sleep ?? realSleep;
    this.doFetch = options.fetch ?? fetch;
  }

  /**
   * One request; 429/503 retried; a failed write is `UncertainWrite`, a failed read `GraphUnavailable`. Requests of the
   * same agent and tenant started in the same tick (within BATCH_WINDOW_MS while others are out) share one
   * `POST /$batch` (up to 20 each).
   */
  send(tenantId: string, request: GraphRequest): Promise<GraphResponse> {
    if (!this.options.callerKey) return this.sendNow(tenantId, request);
    let key: string;
    try {
      key = `${this.options.callerKey()}|${tenantId}`;
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<GraphResponse>((resolve, reject) => {
      let queue = this.queues.get(key);
      if (!queue) {
        queue = [];
        this.queues.set(key, queue);
        const flush = () => void this.flush(key, tenantId);
        if (this.outstanding.get(key)) setTimeout(flush, BATCH_WINDOW_MS);
        else setImmediate(flush);
      }
      this.outstanding.set(key, (this.outstanding.get(key) ?? 0) + 1);
      const settled = () => {
        const left = (this.outstanding.get(key) ?? 1) - 1;
        if (left > 0) this.outstanding.set(key, left);
        else this.outstanding.delete(key);
      };
      queue.push({ request, resolve: (r) => (settled(), resolve(r)), reject: (e) => (settled(), reject(e)) });
    });
  }

  private async flush(key: string, tenantId: string): Promise<void> {
    const queue = this.queues.get(key) ?? [];
    this.queues.delete(key);
    if (queue.length === 1) {
      const [only] = queue;
      return this.sendNow(tenantId, only.request).then(only.resolve, only.reject);
    }
    try {
      const answers = await this.batch(tenantId, queue.map((q) => q.request));
      answers.forEach((answer, i) => (answer instanceof UncertainWrite ? queue[i].reject(answer) : queue[i].resolve(answer)));
    } catch (err) {
      for (const q of queue) q.reject(q.request.method === 'GET' || !(err instanceof UncertainWrite) ? err : new UncertainWrite(q.request, err));
    }
  }

  private async sendNow(tenantId: string, request: GraphRequest): Promise<GraphResponse> {
    let freshToken = false;
    for (let attempt = 0; ; attempt++) {
      let response: GraphResponse;
      let retryAfter: string | null = null;
      // Outside the retry: a token that cannot be had (not signed in, consent missing) is not a network fault.
      const headers = await this.headers(tenantId, request, freshToken);
      try {
        const res = await this.doFetch(this.baseUrl + request.url, {
          method: request.method,
          headers,
          body: request.body === undefined ? undefined : JSON.stringify(request.body),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        retryAfter = res.headers.get('retry-after');
        response = { status: res.status, body: await readBody(res) };
      } catch (err) {
        if (request.method !== 'GET') throw new UncertainWrite(request, err);
        if (attempt >= MAX_RETRIES) throw new GraphUnavailable((err as Error).message);
        await this.sleep(backoff(attempt, null));
        continue;
      }
      if (response.status === 401 && !freshToken) {
        // A token that expired early or was revoked: exchange the agent's token once more (nothing was applied).
        freshToken = true;
        continue;
      }
      if (response.status === 429 || response.status === 503) {
        const wait = backoff(attempt, retryAfter);
        if (attempt >= MAX_RETRIES || wait > MAX_RETRY_AFTER_MS) throw new GraphUnavailable(`${response.status} after ${attempt + 1} attempts`);
        await this.sleep(wait);
        continue;
      }
      if (response.status >= 500) {
        if (request.method !== 'GET') throw new UncertainWrite(request, graphErrorOf(response));
        if (attempt >= MAX_RETRIES) throw new GraphUnavailable(String(response.status));
        await this.sleep(backoff(attempt, retryAfter));
        continue;
      }
      return response;
    }
  }

  /** `send`, and a 4xx as a GraphError. */
  async ok(tenantId: string, request: GraphRequest): Promise<unknown> {
    const response = await this.send(tenantId, request);
    if (response.status >= 400) throw graphErrorOf(response);
    return response.body;
  }

  /** Every page of a collection, following `@odata.nextLink`. */
  async all<T>(tenantId: string, url: string, item: z.ZodType<T>, eventual = false): Promise<T[]> {
    const items: T[] = [];
    for (let next: string | undefined = url; next; ) {
      const page = collection(item).parse(await this.ok(tenantId, { method: 'GET', url: next, eventual }));
      items.push(...page.value);
      next = page['@odata.nextLink'] ? this.relative(page['@odata.nextLink']) : undefined;
    }
    return items;
  }

  /** A nextLink is absolute; requests are relative to the base URL. */
  relative(link: string): string {
    return link.startsWith(this.baseUrl) ? link.slice(this.baseUrl.length) : new URL(link).pathname.replace(/^\/v1\.0/, '') + new URL(link).search;
  }

  /**
   * JSON batching, 20 requests per call. Each inner answer comes back in request order; an inner 429/503 is sent again
   * after its Retry-After (nothing was applied); an inner 5xx of a write, or a batch call whose reply was lost, makes
   * those writes `UncertainWrite` entries for the caller to read back.
   */
  async batch(tenantId: string, requests: GraphRequest[]): Promise<Array<GraphResponse | UncertainWrite>> {
    // One request alone joins whatever else this agent sends to the tenant in its tick (or batching window).
    if (requests.length === 1 && this.options.callerKey) {
      return [await this.send(tenantId, requests[0]).catch((err) => (err instanceof UncertainWrite ? err : Promise.reject(err)))];
    }
    const out: Array<GraphResponse | UncertainWrite> = new Array(requests.length);
    for (let start = 0; start < requests.length; start += BATCH_LIMIT) {
      let pending = requests.slice(start, start + BATCH_LIMIT).map((request, i) => ({ index: start + i, request }));
      for (let attempt = 0; pending.length; attempt++) {
        const body = {
          requests: pending.map(({ index, request }) => ({
            id: String(index),
            method: request.method,
            url: request.url,
            headers: { ...(request.body === undefined ? {} : { 'Content-Type': 'application/json' }), ...(request.eventual ? { ConsistencyLevel: 'eventual' } : {}) },
            ...(request.body === undefined ? {} : { body: request.body }),
          })),
        };
        let answers: z.infer<typeof batchBody>['responses'];
        try {
          const sent = await this.sendNow(tenantId, { method: 'POST', url: '/$batch', body });
          if (sent.status >= 400) throw graphErrorOf(sent);
          answers = batchBody.parse(sent.body).responses;
        } catch (err) {
          // The batch's own reply was lost: its writes are uncertain, its reads are simply asked again.
          if (!(err instanceof UncertainWrite) || attempt >= MAX_RETRIES) throw err;
          for (const p of pending) if (p.request.method !== 'GET') out[p.index] = new UncertainWrite(p.request, err);
          pending = pending.filter((p) => p.request.method === 'GET');
          continue;
        }
        const byId = new Map(answers.map((a) => [a.id, a]));
        const again: typeof pending = [];
        let wait = 0;
        for (const p of pending) {
          const answer = byId.get(String(p.index));
          if (!answer) {
            out[p.index] = new UncertainWrite(p.request, new Error('no answer in the batch'));
          } else if ((answer.status === 429 || answer.status === 503) && attempt < MAX_RETRIES) {
            again.push(p);
            wait = Math.max(wait, backoff(attempt, headerOf(answer.headers, 'retry-after')));
          } else if (answer.status >= 500 && p.request.method !== 'GET') {
            out[p.index] = new UncertainWrite(p.request, new GraphError(answer.status, '', ''));
          } else {
            out[p.index] = { status: answer.status, body: answer.body ?? null };
          }
        }
        if (again.length && wait > MAX_RETRY_AFTER_MS) throw new GraphUnavailable('throttled inside a batch');
        if (again.length) await this.sleep(wait);
        pending = again;
      }
    }
    return out;
  }

  private async headers(tenantId: string, request: GraphRequest, freshToken = false): Promise<Record<string, string>> {
    return {
      Authorization: `Bearer ${await this.options.token(tenantId, freshToken)}`,
      Accept: 'application/json',
      ...(request.body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(request.eventual ? { ConsistencyLevel: 'eventual' } : {}),
    };
  }
}

export const collection = <T>(item: z.ZodType<T>) =>
  z.object({ value: z.array(item), '@odata.nextLink': z.string().optional(), '@odata.count': z.number().optional() }).passthrough();

const batchBody = z.object({
  responses: z.array(z.object({ id: z.string(), status: z.number(), headers: z.record(z.string(), z.string()).optional(), body: z.unknown().optional() }).passthrough()),
});

function headerOf(headers: Record<string, string> | undefined, name: string): string | null {
  if (!headers) return null;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key ? headers[key] : null;
}

/** Retry-After in seconds (or an HTTP date), else exponential back-off from 0.5 s. */
function backoff(attempt: number, retryAfter: string | null): number {
  if (retryAfter !== null && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.max(0, date - Date.now());
  }
  return 500 * 2 ** attempt;
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return null;
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}
