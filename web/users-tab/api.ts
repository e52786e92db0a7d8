/**
 * The tab's calls to the bot's JSON API (bot/tab/api.ts). Every request carries the Teams SSO token and the agent's
 * language; a 401 asks Teams for a fresh token once and repeats the request.
 */
export interface ApiError {
  status: number;
  error: string;
  code?: string;
  message?: string;
  reason?: string;
}

export type ApiResult<T> = { ok: true; value: T } | { ok: false; problem: ApiError };

export class TabApi {
  /** GETs started before the page asks for them (the first screen's reads, in parallel with /me). */
  private readonly early = new Map<string, Promise<ApiResult<unknown>>>();

  constructor(
    private token: string,
    private readonly refreshToken: () => Promise<string | undefined>,
    private readonly locale: string,
  ) {}

  /** Starts a GET now; the first `call` of the same path takes its answer instead of asking again. */
  prefetch(path: string): void {
    if (!this.early.has(path)) this.early.set(path, this.call('GET', path));
  }

  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, retried = false): Promise<ApiResult<T>> {
    const early = method === 'GET' ? this.early.get(path) : undefined;
    if (early) {
      this.early.delete(path);
      return early as Promise<ApiResult<T>>;
    }
    let response: Response;
    try {
      response = await fetch(`/api/tab${path}`, {
        method,
        headers: { Authorization: `Bearer ${this.token}`, 'Accept-Language': this.locale, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch {
      return { ok: false, problem: { status: 0, error: 'network' } };
    }
    const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (response.status === 401 && !retried) {
      const fresh = await this.refreshToken().catch(() => undefined);
      if (fresh && fresh !== this.token) {
        this.token = fresh;
        return this.call(method, path, body, true);
      }
    }
    if (!response.ok) return { ok: false, problem: { status: response.status, ...(json as object), error: String(json.error ?? 'failed') } as ApiError };
    return { ok: true, value: json as T };
  }
}
