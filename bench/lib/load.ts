/**
 * A small closed-loop HTTP load generator: `concurrency` callers, each with its own keep-alive connection, send one
 * request, wait for the answer, send the next — for a fixed time. Every answer is checked (a wrong answer counts as
 * an error, never as a fast success). Node's own http client, no dependency.
 */
import http from 'node:http';
import { nowMs, summarize, LatencySummary } from './stats';

export interface Answer {
  status: number;
  text: string;
}

export interface HttpTarget {
  host: string;
  port: number;
}

export function targetOf(url: string): HttpTarget {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

export function post(agent: http.Agent, target: HttpTarget, path: string, body: string): Promise<Answer> {
  return send(agent, target, { method: 'POST', path, body });
}

/** One request on a keep-alive agent: a POST with a JSON body, or a GET (the tab's API) with headers. */
export function send(agent: http.Agent, target: HttpTarget, request: { method: 'GET' | 'POST'; path: string; body?: string; headers?: Record<string, string> }): Promise<Answer> {
  const { method, path, body = '' } = request;
  const headers = method === 'POST' ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), ...request.headers } : { ...request.headers };
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: target.host, port: target.port, path, method, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(method === 'POST' ? body : undefined);
  });
}

export function get(url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      })
      .on('error', reject);
  });
}

/** One caller's next request: the body to send, and what to do with (and whether to accept) the answer. */
export interface Request {
  body: string;
  /** A GET of this path with these headers instead of POSTing the body (the tab's JSON API). */
  get?: { path: string; headers: Record<string, string> };
  /** Returns true when the answer is the expected one. May update the caller's state (e.g. a version). */
  accept(answer: Answer): boolean;
  /** Resolves when the request is complete (e.g. when a reply reached the fake connector); default: the answer. */
  done?(answer: Answer): Promise<number | void>;
}

export interface LoadOptions {
  target: HttpTarget;
  path?: string;
  concurrency: number;
  durationMs: number;
  /** Builds caller `caller`'s next request. */
  next(caller: number): Request;
}

export interface LoadResult {
  concurrency: number;
  latency: LatencySummary;
  requestsPerSecond: number;
  completed: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
}

export async function closedLoop(options: LoadOptions): Promise<LoadResult> {
  const path = options.path ?? '/api/messages';
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency, maxFreeSockets: options.concurrency });
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = nowMs();
  const deadline = started + options.durationMs;
  const caller = async (i: number) => {
    while (nowMs() < deadline) {
      const request = options.next(i);
      const t0 = nowMs();
      try {
        const answer = request.get
          ? await send(agent, options.target, { method: 'GET', path: request.get.path, headers: request.get.headers })
          : await post(agent, options.target, path, request.body);
        const ok = answer.status >= 200 && answer.status < 300 && request.accept(answer);
        const end = request.done ? await request.done(answer) : undefined;
        if (ok) latencies.push((typeof end === 'number' ? end : nowMs()) - t0);
        else {
          errors++;
          firstError ??= `HTTP ${answer.status}: ${answer.text.slice(0, 300)}`;
        }
      } catch (err) {
        errors++;
        firstError ??= String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, i) => caller(i)));
  const elapsedMs = nowMs() - started;
  agent.destroy();
  return {
    concurrency: options.concurrency,
    latency: summarize(latencies),
    requestsPerSecond: (latencies.length / elapsedMs) * 1000,
    completed: latencies.length,
    errors,
    firstError,
    elapsedMs,
  };
}

/** All requests at once (one connection each), as in a burst: resolves with every answer and the time to settle. */
export async function burst(target: HttpTarget, bodies: string[], path = '/api/messages'): Promise<{ answers: Array<Answer | Error>; settleMs: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: bodies.length });
  const t0 = nowMs();
  const answers = await Promise.all(bodies.map((b) => post(agent, target, path, b).catch((e: Error) => e)));
  const settleMs = nowMs() - t0;
  agent.destroy();
  return { answers, settleMs };
}
