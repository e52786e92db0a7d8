/**
 * The OData query subset the Graph stand-in understands on /users and /directory/deletedItems/microsoft.graph.user:
 *
 *   $select=a,b          properties to return (unknown → 400); without it, Graph's default user set (below)
 *   $top=n               page size, 1–999, default 100
 *   $count=true          @odata.count on the first page — an advanced query: needs `ConsistencyLevel: eventual`
 *   $orderby=displayName [asc|desc]   (only this; ties broken by id)
 *   $filter              clauses joined by ` and `:
 *                          assignedLicenses/$count eq 0 | assignedLicenses/$count ne 0   (advanced: ConsistencyLevel)
 *                          assignedLicenses/any(x:x/skuId eq <guid>)
 *                          userPrincipalName eq '<upn>'   (case-insensitive; '' escapes ')
 *                          id in ('a','b',…)
 *   $search="displayName:<text>" OR "userPrincipalName:<text>"   (also AND; needs ConsistencyLevel). Each field value
 *                        and the search text are split into tokens at anything that is not a letter or digit; every
 *                        search token must be a (case-insensitive) prefix of some value token. Graph's real tokeniser
 *                        also splits camelCase and more; this subset is enough for "find Adele by 'ade'".
 *   $skiptoken           opaque (the stand-in's own keyset cursor), only as handed out in @odata.nextLink
 * Anything else → 400 Request_UnsupportedQuery, as Graph answers a query it does not support.
 * Reference: https://learn.microsoft.com/graph/query-parameters and
 * https://learn.microsoft.com/graph/aad-advanced-queries (the ConsistencyLevel header, $count, $search, `ne`, `/$count`).
 */
import { StoredUser } from './model';

export class QueryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The properties Graph v1.0 returns for a user when there is no $select. */
export const DEFAULT_USER_PROPERTIES = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
];

export const SELECTABLE_USER_PROPERTIES = new Set([
  ...DEFAULT_USER_PROPERTIES,
  'accountEnabled',
  'assignedLicenses',
  'createdDateTime',
  'lastPasswordChangeDateTime',
  'mailNickname',
  'usageLocation',
  'passwordProfile',
]);

export type UserPredicate = (u: StoredUser) => boolean;

export interface CollectionQuery {
  select?: string[];
  top: number;
  count: boolean;
  orderBy?: { field: 'displayName'; desc: boolean };
  filter?: UserPredicate;
  search?: UserPredicate;
  skiptoken?: [string, string];
  /** True when the query used an advanced-query feature (needs ConsistencyLevel: eventual). */
  advanced: string[];
}

const KNOWN = new Set(['$select', '$top', '$count', '$orderby', '$filter', '$search', '$skiptoken']);

export function parseCollectionQuery(q: URLSearchParams, opts: { selectable: Set<string>; allowed?: Set<string> }): CollectionQuery {
  const allowed = opts.allowed ?? KNOWN;
  for (const k of q.keys()) {
    if (k.startsWith('$') && !allowed.has(k.toLowerCase())) throw new QueryError(400, 'Request_UnsupportedQuery', `Unsupported Query: the stand-in does not support '${k}' here.`);
  }
  const get = (k: string) => {
    for (const [key, v] of q) if (key.toLowerCase() === k) return v;
    return undefined;
  };
  const out: CollectionQuery = { top: 100, count: false, advanced: [] };
  const select = get('$select');
  if (select !== undefined) {
    out.select = select.split(',').map((s) => s.trim()).filter(Boolean);
    for (const p of out.select) {
      if (!opts.selectable.has(p)) throw new QueryError(400, 'Request_BadRequest', `Could not find a property named '${p}' on type 'microsoft.graph.user'.`);
    }
  }
  const top = get('$top');
  if (top !== undefined) {
    const n = Number(top);
    if (!Number.isInteger(n) || n < 1 || n > 999) throw new QueryError(400, 'Request_BadRequest', `Invalid page size specified: '${top}'. Must be between 1 and 999 inclusive.`);
    out.top = n;
  }
  const count = get('$count');
  if (count !== undefined) {
    if (count !== 'true' && count !== 'false') throw new QueryError(400, 'Request_BadRequest', `Invalid $count value '${count}'.`);
    out.count = count === 'true';
    if (out.count) out.advanced.push('$count');
  }
  const orderby = get('$orderby');
  if (orderby !== undefined) {
    const m = /^displayName(?:\s+(asc|desc))?$/i.exec(orderby.trim());
    if (!m) throw new QueryError(400, 'Request_UnsupportedQuery', `Unsupported sort property '${orderby}' for 'User'.`);
    out.orderBy = { field: 'displayName', desc: (m[1] ?? '').toLowerCase() === 'desc' };
  }
  const filter = get('$filter');
  if (filter !== undefined) out.filter = parseFilter(filter, out.advanced);
  const search = get('$search');
  if (search !== undefined) {
    out.search = parseSearch(search);
    out.advanced.push('$search');
  }
  const skip = get('$skiptoken');
  if (skip !== undefined) {
    try {
      const k = JSON.parse(Buffer.from(skip, 'base64url').toString('utf8'));
      if (!Array.isArray(k) || k.length !== 2) throw new Error();
      out.skiptoken = [String(k[0]), String(k[1])];
    } catch {
      throw new QueryError(400, 'Request_BadRequest', 'Invalid $skiptoken.');
    }
  }
  return out;
}

function unquote(s: string): string {
  return s.replace(/''/g, "'");
}

export function parseFilter(text: string, advanced: string[]): UserPredicate {
  const clauses = text.split(/\s+and\s+/i).map((c) => c.trim());
  const preds: UserPredicate[] = clauses.map((c) => {
    let m = /^assignedLicenses\/\$count\s+(eq|ne)\s+0$/i.exec(c);
    if (m) {
      advanced.push('assignedLicenses/$count');
      if (m[1].toLowerCase() === 'ne') advanced.push('ne');
      return m[1].toLowerCase() === 'eq' ? (u) => u.assignedLicenses.length === 0 : (u) => u.assignedLicenses.length > 0;
    }
    m = /^assignedLicenses\/any\((\w+):\s*\1\/skuId\s+eq\s+([0-9a-fA-F-]{36})\)$/i.exec(c);
    if (m) {
      const sku = m[2].toLowerCase();
      return (u) => u.assignedLicenses.some((l) => l.skuId.toLowerCase() === sku);
    }
    m = /^userPrincipalName\s+eq\s+'((?:[^']|'')*)'$/i.exec(c);
    if (m) {
      const upn = unquote(m[1]).toLowerCase();
      return (u) => u.userPrincipalName.toLowerCase() === upn;
    }
    m = /^id\s+in\s+\((.*)\)$/i.exec(c);
    if (m) {
      const ids = [...m[1].matchAll(/'((?:[^']|'')*)'/g)].map((x) => unquote(x[1]).toLowerCase());
      if (!ids.length) throw unsupportedFilter(c);
      return (u) => ids.includes(u.id.toLowerCase());
    }
    throw unsupportedFilter(c);
  });
  return (u) => preds.every((p) => p(u));
}

function unsupportedFilter(clause: string): QueryError {
  const prop = /^[\w/$]+/.exec(clause)?.[0] ?? clause;
  return new QueryError(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified for property '${prop}' of resource 'User'.`);
}

const SEARCHABLE = new Set(['displayname', 'userprincipalname', 'mail', 'givenname', 'surname', 'mailnickname']);

function tokens(s: string): string[] {
  return s.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

export function parseSearch(text: string): UserPredicate {
  const t = text.trim();
  const termRe = /"(\w+):([^"]*)"/g;
  const terms: { field: string; toks: string[] }[] = [];
  const ops: string[] = [];
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = termRe.exec(t))) {
    const between = t.slice(last, m.index).trim();
    if (terms.length === 0 ? between !== '' : !/^(OR|AND)$/.test(between)) throw badSearch(text);
    if (terms.length) ops.push(between);
    const field = m[1].toLowerCase();
    if (!SEARCHABLE.has(field)) throw badSearch(text);
    terms.push({ field, toks: tokens(m[2]) });
    last = termRe.lastIndex;
  }
  if (!terms.length || t.slice(last).trim() !== '') throw badSearch(text);
  const value = (u: StoredUser, f: string): string => {
    const key = [...Object.keys(u)].find((k) => k.toLowerCase() === f);
    return key ? String((u as unknown as Record<string, unknown>)[key] ?? '') : '';
  };
  const termMatch = (u: StoredUser, term: { field: string; toks: string[] }) => {
    const vt = tokens(value(u, term.field));
    return term.toks.every((st) => vt.some((v) => v.startsWith(st)));
  };
  return (u) => {
    // AND binds tighter than OR.
    let any = false;
    let all = termMatch(u, terms[0]);
    for (let i = 1; i < terms.length; i++) {
      if (ops[i - 1] === 'AND') all = all && termMatch(u, terms[i]);
      else {
        any = any || all;
        all = termMatch(u, terms[i]);
      }
    }
    return any || all;
  };
}

function badSearch(text: string): QueryError {
  return new QueryError(400, 'Request_UnsupportedQuery', `Syntax error: the stand-in's $search supports "property:text" terms joined by OR/AND, not ${text}.`);
}

export function encodeSkiptoken(key: [string, string]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** Keyset paging: sorts, drops what is at or before the cursor, takes a page. */
export function page<T>(items: T[], keyOf: (x: T) => [string, string], top: number, after?: [string, string], desc = false) {
  const cmp = (a: [string, string], b: [string, string]) => {
    const c = a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
    return desc ? -c : c;
  };
  const sorted = [...items].sort((a, b) => cmp(keyOf(a), keyOf(b)));
  const rest = after ? sorted.filter((x) => cmp(keyOf(x), after) > 0) : sorted;
  const pageItems = rest.slice(0, top);
  const next = rest.length > top ? keyOf(pageItems[pageItems.length - 1]) : undefined;
  return { pageItems, next };
}
