/**
 * Faults the tests arm on the Graph stand-in. Each rule matches on method (optional) and path (relative to /v1.0, no
 * query: a string matches that exact path, case-insensitively; a RegExp is tested against it) and fires `times` times.
 * Requests inside a $batch are matched one by one, as Graph throttles them one by one; the $batch request itself
 * matches path '/$batch'.
 */
export type PathMatcher = string | RegExp;

export interface ThrottleRule {
  method?: string;
  path?: PathMatcher;
  times: number;
  retryAfterSeconds: number;
  status: 429 | 503;
}

export interface FailAfterApplyRule {
  method: string;
  path: PathMatcher;
  times: number;
  /** status500: the write is applied, the reply is a 500. dropConnection: applied, then the socket is destroyed. */
  mode: 'status500' | 'dropConnection';
}

export interface FailBeforeApplyRule {
  method: string;
  path: PathMatcher;
  times: number;
  status: number;
}

interface Armed<R> {
  rule: R;
  left: number;
}

export class Faults {
  private throttles: Armed<ThrottleRule>[] = [];
  private after: Armed<FailAfterApplyRule>[] = [];
  private before: Armed<FailBeforeApplyRule>[] = [];

  throttle(rule: ThrottleRule): void {
    this.throttles.push({ rule, left: rule.times });
  }
  failAfterApply(rule: FailAfterApplyRule): void {
    this.after.push({ rule, left: rule.times });
  }
  failBeforeApply(rule: FailBeforeApplyRule): void {
    this.before.push({ rule, left: rule.times });
  }
  clear(): void {
    this.throttles = [];
    this.after = [];
    this.before = [];
  }

  takeThrottle(method: string, path: string): ThrottleRule | undefined {
    return take(this.throttles, method, path);
  }
  takeBefore(method: string, path: string): FailBeforeApplyRule | undefined {
    return take(this.before, method, path);
  }
  takeAfter(method: string, path: string): FailAfterApplyRule | undefined {
    return take(this.after, method, path);
  }
}

export function pathMatches(m: PathMatcher | undefined, path: string): boolean {
  if (m === undefined) return true;
  if (typeof m === 'string') return m.toLowerCase() === path.toLowerCase();
  m.lastIndex = 0;
  return m.test(path);
}

function take<R extends { method?: string; path?: PathMatcher }>(list: Armed<R>[], method: string, path: string): R | undefined {
  const hit = list.find(
    (a) => a.left > 0 && (!a.rule.method || a.rule.method.toUpperCase() === method.toUpperCase()) && pathMatches(a.rule.path, path),
  );
  if (!hit) return undefined;
  hit.left--;
  return hit.rule;
}
