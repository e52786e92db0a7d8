/**
 * The Microsoft Graph v1.0 stand-in: plain HTTP on 127.0.0.1, base `http://127.0.0.1:<port>/v1.0`.
 *
 * Every request needs `Authorization: Bearer <token the token stand-in issued>`; the token's `tid` is the tenant acted
 * on and its `wids` (the agent's GDAP roles there) decide what is allowed:
 *   reads of a tenant: User, License or Helpdesk Administrator; create/delete/restore users, role assignments and PATCH
 *   other than the password: User Administrator; assignLicense: License or User Administrator; password reset: User
 *   Administrator, or Helpdesk Administrator when the target holds no admin role. The partner tenant's token reads
 *   /tenantRelationships/delegatedAdminCustomers.
 * Errors have Graph's shape {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}
 * (https://learn.microsoft.com/graph/errors).
 *
 * Consistency lag model (consistencyLag(n)): Entra's collection queries read replicas that trail writes, while a read by
 * key goes to the object itself. Here a user created or restored while the lag is n > 0 is left out of the next n
 * collection reads of its tenant — each GET /users page (any query) and each GET /users/$count is one read, and each read
 * ages every hidden user by one — whereas GET /users/{id|upn} (and PATCH, assignLicense, DELETE on it) see it at once.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Faults } from './faults';
import {
  checkPassword,
  DeletedUser,
  hashPassword,
  meetsPasswordPolicy,
  ROLE,
  roleAssignmentId,
  StoredUser,
  TenantState,
} from './model';
import {
  CollectionQuery,
  DEFAULT_USER_PROPERTIES,
  encodeSkiptoken,
  page,
  parseCollectionQuery,
  parseFilter,
  QueryError,
  SELECTABLE_USER_PROPERTIES,
} from './odata';
import { readBody, TokenClaims, TokenService } from './tokens';

export interface GraphRequestRecord {
  method: string;
  /** Relative to /v1.0, without the query. */
  path: string;
  /** The decoded query string ('' when none). Never bodies: they may carry passwords. */
  query: string;
  /** The token's tid, when the token was valid. */
  tenant?: string;
  status: number;
  /** True for a request inside a $batch (the $batch itself is logged too). */
  inBatch: boolean;
  at: number;
}

interface Req {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
  inBatch: boolean;
}

interface Res {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
  /** Destroy the socket instead of answering (failAfterApply dropConnection). */
  drop?: boolean;
}

interface Ctx {
  tenant: TenantState;
  claims: TokenClaims;
  wids: Set<string>;
}

const READ_ROLES = [ROLE.userAdministrator, ROLE.licenseAdministrator, ROLE.helpdeskAdministrator];
const WRITABLE_USER_PROPS = new Set(['accountEnabled', 'displayName', 'mailNickname', 'userPrincipalName', 'passwordProfile', 'givenName', 'surname', 'usageLocation', 'jobTitle']);
const KNOWN_ROLE_TEMPLATES = new Set(Object.values(ROLE));

class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: { code: string; target?: string; message?: string }[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const forbidden = () => new GraphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
const notFound = (id: string) => new GraphError(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
const badRequest = (message: string, details?: GraphError['details']) => new GraphError(400, 'Request_BadRequest', message, details);
const upnConflict = () =>
  badRequest('Another object with the same value for property userPrincipalName already exists.', [{ code: 'ObjectConflict', target: 'userPrincipalName' }]);

export interface GraphServiceDeps {
  tokens: TokenService;
  faults: Faults;
  tenants: Map<string, TenantState>;
  partnerTenantId: string;
  now(): number;
  /** Whether restore accepts `newUserPrincipalName` (documented on beta only; see restore below). */
  restoreAcceptsNewUserPrincipalName: boolean;
}

export class GraphService {
  readonly requests: GraphRequestRecord[] = [];
  private server!: Server;
  baseUrl = '';
  private sockets = new Set<Socket>();

  constructor(private readonly deps: GraphServiceDeps) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.onHttp(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1.0`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k.toLowerCase()] = v;
      const raw = await readBody(req);
      if (!url.pathname.startsWith('/v1.0/')) {
        return this.write(res, errorRes(new GraphError(400, 'BadRequest', `Invalid version: ${url.pathname.split('/')[1] ?? ''}`), headers));
      }
      let body: unknown = undefined;
      if (raw.trim()) {
        try {
          body = JSON.parse(raw);
        } catch {
          return this.write(res, errorRes(new GraphError(400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.'), headers));
        }
      }
      const r: Req = { method: req.method ?? 'GET', path: decodeURIComponent(url.pathname.slice('/v1.0'.length)), query: url.searchParams, headers, body, inBatch: false };
      const out = await this.dispatch(r);
      if (out.drop) {
        req.socket.destroy();
        return;
      }
      this.write(res, out);
    } catch (e) {
      this.write(res, errorRes(new GraphError(500, 'generalException', `Stand-in failure: ${String(e)}`), {}));
    }
  }

  private write(res: ServerResponse, out: Res): void {
    const isText = typeof out.body === 'string';
    const text = out.body === undefined ? '' : isText ? (out.body as string) : JSON.stringify(out.body);
    const h: Record<string, string | number> = { ...out.headers };
    if (out.body !== undefined) h['content-type'] = isText ? 'text/plain' : 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
    h['content-length'] = Buffer.byteLength(text);
    res.writeHead(out.status, h);
    res.end(text);
  }

  /** One request (top level or inside a $batch): auth, faults, handler, log. */
  private async dispatch(r: Req): Promise<Res> {
    const rec: GraphRequestRecord = { method: r.method, path: r.path, query: decodeURIComponent(r.query.toString().replace(/\+/g, ' ')), status: 0, inBatch: r.inBatch, at: this.deps.now() };
    this.requests.push(rec);
    const finish = (res: Res) => {
      rec.status = res.drop ? 0 : res.status;
      return res;
    };
    let ctx: Ctx;
    try {
      ctx = await this.authenticate(r);
      rec.tenant = ctx.tenant.tenantId;
    } catch (e) {
      return finish(errorRes(e, r.headers));
    }

    const throttle = this.deps.faults.takeThrottle(r.method, r.path);
    if (throttle) {
      // https://learn.microsoft.com/graph/throttling#what-happens-when-throttling-occurs (429 + Retry-After, sample body)
      const e =
        throttle.status === 429
          ? new GraphError(429, 'TooManyRequests', 'Please retry again later.', undefined, { 'retry-after': String(throttle.retryAfterSeconds) })
          : new GraphError(503, 'serviceNotAvailable', 'The service is temporarily unavailable. Please retry after the Retry-After delay.', undefined, { 'retry-after': String(throttle.retryAfterSeconds) });
      const res = errorRes(e, r.headers);
      if (throttle.status === 429) {
        const inner = (res.body as { error: { innerError: Record<string, string> } }).error.innerError;
        Object.assign(inner, { code: '429', message: 'Please retry after', status: '429' });
      }
      return finish(res);
    }
    const before = this.deps.faults.takeBefore(r.method, r.path);
    if (before) {
      const code = before.status === 503 ? 'serviceNotAvailable' : before.status >= 500 ? 'generalException' : 'BadRequest';
      return finish(errorRes(new GraphError(before.status, code, `Injected failure before apply (${before.status}).`), r.headers));
    }

    let res: Res;
    try {
      res = await this.route(r, ctx);
    } catch (e) {
      res = errorRes(e, r.headers);
    }
    if (res.status < 400) {
      const after = this.deps.faults.takeAfter(r.method, r.path);
      if (after) {
        if (after.mode === 'dropConnection') return finish({ status: 0, headers: {}, drop: true });
        return finish(errorRes(new GraphError(500, 'generalException', 'An unspecified error has occurred.'), r.headers));
      }
    }
    return finish(res);
  }

  private async authenticate(r: Req): Promise<Ctx> {
    const auth = r.headers['authorization'] ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!m) throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    const v = await this.deps.tokens.verify(m[1]);
    if (!('claims' in v)) {
      throw new GraphError(401, 'InvalidAuthenticationToken', v.reason === 'expired' ? 'Lifetime validation failed, the token is expired.' : v.reason === 'malformed' ? 'IDX14100: JWT is not well formed.' : 'Access token validation failure.');
    }
    const aud = Array.isArray(v.claims.aud) ? v.claims.aud : [v.claims.aud];
    if (!aud.includes('https://graph.microsoft.com') && !aud.includes('00000003-0000-0000-c000-000000000000')) {
      throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
    }
    const tenant = this.deps.tenants.get(v.claims.tid);
    if (!tenant) throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Unknown tenant.');
    return { tenant, claims: v.claims, wids: new Set(v.claims.wids ?? []) };
  }

  private requireAny(ctx: Ctx, roles: string[]): void {
    if (!roles.some((x) => ctx.wids.has(x))) throw forbidden();
  }

  private ctxUrl(fragment: string): string {
    return `${this.baseUrl}/$metadata#${fragment}`;
  }

  private async route(r: Req, ctx: Ctx): Promise<Res> {
    const p = r.path.replace(/\/+$/, '');
    const seg = p.split('/').filter(Boolean);
    const lower = seg.map((s) => s.toLowerCase());
    const M = r.method.toUpperCase();

    if (M === 'POST' && p === '/$batch') {
      if (r.inBatch) throw badRequest('Nested $batch requests are not supported.');
      return this.batch(r);
    }
    if (lower[0] === 'tenantrelationships' && lower[1] === 'delegatedadmincustomers' && seg.length === 2 && M === 'GET') return this.listCustomers(r, ctx);
    if (lower[0] === 'domains' && seg.length === 1 && M === 'GET') return this.listDomains(ctx);
    if (lower[0] === 'subscribedskus' && seg.length === 1 && M === 'GET') return this.listSkus(ctx);
    if (lower[0] === 'users') {
      if (seg.length === 1 && M === 'GET') return this.listUsers(r, ctx);
      if (seg.length === 1 && M === 'POST') return this.createUser(r, ctx);
      if (seg.length === 2 && seg[1] === '$count' && M === 'GET') return this.countUsers(r, ctx);
      if (seg.length === 2 && M === 'GET') return this.getUser(r, ctx, seg[1]);
      if (seg.length === 2 && M === 'PATCH') return this.patchUser(r, ctx, seg[1]);
      if (seg.length === 2 && M === 'DELETE') return this.deleteUser(ctx, seg[1]);
      if (seg.length === 3 && lower[2] === 'assignlicense' && M === 'POST') return this.assignLicense(r, ctx, seg[1]);
    }
    if (lower[0] === 'directory' && lower[1] === 'deleteditems') {
      if (seg.length === 3 && lower[2] === 'microsoft.graph.user' && M === 'GET') return this.listDeleted(r, ctx);
      if (seg.length === 3 && M === 'GET') return this.getDeleted(r, ctx, seg[2]);
      if (seg.length === 3 && M === 'DELETE') return this.purgeDeleted(ctx, seg[2]);
      if (seg.length === 4 && (lower[3] === 'restore' || lower[3] === 'microsoft.graph.restore') && M === 'POST') return this.restore(r, ctx, seg[2]);
    }
    if (lower[0] === 'rolemanagement' && lower[1] === 'directory' && lower[2] === 'roleassignments' && seg.length === 3) {
      if (M === 'GET') return this.listRoleAssignments(r, ctx);
      if (M === 'POST') return this.createRoleAssignment(r, ctx);
    }
    throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${seg[seg.length - 1] ?? ''}'.`);
  }

  // --- representations ---------------------------------------------------------------------------------------------

  private userFull(u: StoredUser): Record<string, unknown> {
    return {
      id: u.id,
      businessPhones: [],
      displayName: u.displayName,
      givenName: u.givenName,
      jobTitle: u.jobTitle,
      mail: u.mail,
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: null,
      surname: u.surname,
      userPrincipalName: u.userPrincipalName,
      accountEnabled: u.accountEnabled,
      assignedLicenses: u.assignedLicenses.map((l) => ({ disabledPlans: [...l.disabledPlans], skuId: l.skuId })),
      createdDateTime: u.createdDateTime,
      lastPasswordChangeDateTime: u.lastPasswordChangeDateTime,
      mailNickname: u.mailNickname,
      usageLocation: u.usageLocation,
      passwordProfile: null,
      ...('deletedDateTime' in u ? { deletedDateTime: (u as DeletedUser).deletedDateTime } : {}),
    };
  }

  private userView(u: StoredUser, select?: string[], extraDefaults: string[] = []): Record<string, unknown> {
    const full = this.userFull(u);
    const props = select ?? [...DEFAULT_USER_PROPERTIES, ...extraDefaults];
    const out: Record<string, unknown> = {};
    for (const p of props) out[p] = full[p] ?? null;
    return out;
  }

  // --- tenants, domains, SKUs ----------------------------------------------------------------------------------------

  /**
   * GET /tenantRelationships/delegatedAdminCustomers — the partner's GDAP customers.
   * https://learn.microsoft.com/graph/api/tenantrelationship-list-delegatedadmincustomers?view=graph-rest-1.0
   */
  private listCustomers(r: Req, ctx: Ctx): Res {
    if (ctx.tenant.tenantId !== this.deps.partnerTenantId) throw forbidden();
    const q = parseCollectionQuery(r.query, { selectable: new Set(['id', 'tenantId', 'displayName']), allowed: new Set(['$top', '$skiptoken', '$select']) });
    const customers = [...this.deps.tenants.values()].filter((t) => t.tenantId !== this.deps.partnerTenantId);
    const { pageItems, next } = page(customers, (t) => [t.tenantId, t.tenantId], q.top, q.skiptoken);
    const body: Record<string, unknown> = {
      '@odata.context': this.ctxUrl('tenantRelationships/delegatedAdminCustomers'),
      value: pageItems.map((t) => pick({ '@odata.type': '#microsoft.graph.delegatedAdminCustomer', id: t.tenantId, tenantId: t.tenantId, displayName: t.displayName }, q.select, ['@odata.type'])),
    };
    if (next) body['@odata.nextLink'] = this.nextLink(r, next);
    return ok(body);
  }

  /** GET /domains — https://learn.microsoft.com/graph/api/domain-list?view=graph-rest-1.0 */
  private listDomains(ctx: Ctx): Res {
    this.requireAny(ctx, READ_ROLES);
    return ok({
      '@odata.context': this.ctxUrl('domains'),
      value: ctx.tenant.domains.map((d) => ({ authenticationType: 'Managed', availabilityStatus: null, id: d.id, isAdminManaged: true, isDefault: d.isDefault, isInitial: d.id.endsWith('.onmicrosoft.com'), isRoot: true, isVerified: d.isVerified, supportedServices: ['Email', 'OfficeCommunicationsOnline'], passwordValidityPeriodInDays: 2147483647, passwordNotificationWindowInDays: 14, state: null })),
    });
  }

  /** GET /subscribedSkus — https://learn.microsoft.com/graph/api/subscribedsku-list?view=graph-rest-1.0 */
  private listSkus(ctx: Ctx): Res {
    this.requireAny(ctx, READ_ROLES);
    const t = ctx.tenant;
    return ok({
      '@odata.context': this.ctxUrl('subscribedSkus'),
      value: t.skus.map((s) => ({
        accountName: t.displayName,
        accountId: t.tenantId,
        appliesTo: 'User',
        capabilityStatus: s.capabilityStatus,
        consumedUnits: t.consumedUnits(s.skuId),
        id: `${t.tenantId}_${s.skuId}`,
        prepaidUnits: { enabled: s.seats, lockedOut: 0, suspended: 0, warning: 0 },
        servicePlans: [],
        skuId: s.skuId,
        skuPartNumber: s.skuPartNumber,
        subscriptionIds: [],
      })),
    });
  }

  // --- users ---------------------------------------------------------------------------------------------------------

  private checkAdvanced(r: Req, q: CollectionQuery): void {
    if (!q.advanced.length || (r.headers['consistencylevel'] ?? '').toLowerCase() === 'eventual') return;
    if (q.advanced.includes('$search')) {
      throw badRequest("Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'");
    }
    if (q.advanced.includes('$count') && q.advanced.length === 1) throw badRequest('$count is not currently supported.');
    throw new GraphError(400, 'Request_UnsupportedQuery', 'Unsupported Query.');
  }

  /**
   * GET /users — https://learn.microsoft.com/graph/api/user-list?view=graph-rest-1.0 ; paging:
   * https://learn.microsoft.com/graph/paging ; advanced queries (ConsistencyLevel: eventual, $count, $search):
   * https://learn.microsoft.com/graph/aad-advanced-queries
   */
  private listUsers(r: Req, ctx: Ctx): Res {
    this.requireAny(ctx, READ_ROLES);
    const q = parseCollectionQuery(r.query, { selectable: SELECTABLE_USER_PROPERTIES });
    this.checkAdvanced(r, q);
    const hidden = ctx.tenant.collectionRead();
    const matching = [...ctx.tenant.users.values()].filter((u) => !hidden.has(u.id) && (!q.filter || q.filter(u)) && (!q.search || q.search(u)));
    const keyOf = (u: StoredUser): [string, string] => (q.orderBy ? [u.displayName.toLowerCase(), u.id] : [u.id, u.id]);
    const { pageItems, next } = page(matching, keyOf, q.top, q.skiptoken, q.orderBy?.desc);
    const body: Record<string, unknown> = { '@odata.context': this.ctxUrl(q.select ? `users(${q.select.join(',')})` : 'users') };
    if (q.count && !q.skiptoken) body['@odata.count'] = matching.length;
    if (next) body['@odata.nextLink'] = this.nextLink(r, next);
    body.value = pageItems.map((u) => this.userView(u, q.select));
    return ok(body);
  }

  /** GET /users/$count (text/plain) — https://learn.microsoft.com/graph/query-parameters#count-parameter */
  private countUsers(r: Req, ctx: Ctx): Res {
    this.requireAny(ctx, READ_ROLES);
    if ((r.headers['consistencylevel'] ?? '').toLowerCase() !== 'eventual') throw badRequest('$count is not currently supported.');
    const q = parseCollectionQuery(r.query, { selectable: SELECTABLE_USER_PROPERTIES, allowed: new Set(['$filter', '$search']) });
    const hidden = ctx.tenant.collectionRead();
    const n = [...ctx.tenant.users.values()].filter((u) => !hidden.has(u.id) && (!q.filter || q.filter(u)) && (!q.search || q.search(u))).length;
    return { status: 200, headers: {}, body: String(n) };
  }

  private nextLink(r: Req, key: [string, string]): string {
    const params = new URLSearchParams();
    for (const [k, v] of r.query) if (k.toLowerCase() !== '$skiptoken') params.append(k, v);
    params.append('$skiptoken', encodeSkiptoken(key));
    return `${this.baseUrl}${r.path}?${params.toString()}`;
  }

  /** GET /users/{id | userPrincipalName} — https://learn.microsoft.com/graph/api/user-get?view=graph-rest-1.0 */
  private getUser(r: Req, ctx: Ctx, key: string): Res {
    this.requireAny(ctx, READ_ROLES);
    const q = parseCollectionQuery(r.query, { selectable: SELECTABLE_USER_PROPERTIES, allowed: new Set(['$select']) });
    const u = ctx.tenant.findUser(key);
    if (!u) throw notFound(key);
    return ok({ '@odata.context': this.ctxUrl(q.select ? `users(${q.select.join(',')})/$entity` : 'users/$entity'), ...this.userView(u, q.select) });
  }

  private validateWritable(body: Record<string, unknown>): void {
    for (const k of Object.keys(body)) {
      if (!WRITABLE_USER_PROPS.has(k)) {
        throw badRequest(`Property '${k}' does not exist on type 'microsoft.graph.user' (or the stand-in does not model it). Make sure to only use property names that are defined by the type.`);
      }
    }
    if ('usageLocation' in body && body.usageLocation !== null && !(typeof body.usageLocation === 'string' && /^[A-Z]{2}$/.test(body.usageLocation))) {
      throw badRequest("Invalid value specified for property 'usageLocation' of resource 'User'.", [{ code: 'InvalidValue', target: 'usageLocation' }]);
    }
    for (const k of ['displayName', 'mailNickname', 'userPrincipalName', 'givenName', 'surname', 'jobTitle']) {
      if (k in body && body[k] !== null && typeof body[k] !== 'string') throw badRequest(`Invalid value specified for property '${k}' of resource 'User'.`, [{ code: 'InvalidValue', target: k }]);
    }
    if ('accountEnabled' in body && typeof body.accountEnabled !== 'boolean') throw badRequest("Invalid value specified for property 'accountEnabled' of resource 'User'.", [{ code: 'InvalidValue', target: 'accountEnabled' }]);
  }

  private checkUpn(t: TenantState, upn: string, exceptId?: string): void {
    if (!/^[^@\s]+@[^@\s]+$/.test(upn)) throw badRequest("Invalid value specified for property 'userPrincipalName' of resource 'User'.", [{ code: 'InvalidValue', target: 'userPrincipalName' }]);
    if (!t.verifiedDomain(upn)) {
      throw badRequest('The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.', [{ code: 'InvalidValue', target: 'userPrincipalName' }]);
    }
    if (t.upnTaken(upn, exceptId)) throw upnConflict();
  }

  private checkPasswordPolicy(pw: unknown): void {
    if (!meetsPasswordPolicy(pw)) {
      throw badRequest('The specified password does not comply with password complexity requirements. Please provide a different password.', [{ code: 'InvalidValue', target: 'passwordProfile.password' }]);
    }
  }

  /** POST /users — https://learn.microsoft.com/graph/api/user-post-users?view=graph-rest-1.0 (201 + the user) */
  private createUser(r: Req, ctx: Ctx): Res {
    this.requireAny(ctx, [ROLE.userAdministrator]);
    const b = asObject(r.body);
    this.validateWritable(b);
    for (const k of ['accountEnabled', 'displayName', 'mailNickname', 'userPrincipalName']) {
      if (b[k] === undefined || b[k] === null || b[k] === '') throw badRequest(`Invalid value specified for property '${k}' of resource 'User'.`, [{ code: 'InvalidValue', target: k }]);
    }
    const pp = b.passwordProfile as { password?: unknown; forceChangePasswordNextSignIn?: unknown } | undefined;
    if (!pp || typeof pp !== 'object' || pp.password === undefined) throw badRequest("Invalid value specified for property 'passwordProfile' of resource 'User'.", [{ code: 'InvalidValue', target: 'passwordProfile' }]);
    const t = ctx.tenant;
    this.checkUpn(t, String(b.userPrincipalName));
    this.checkPasswordPolicy(pp.password);
    const u = t.newUser({
      userPrincipalName: String(b.userPrincipalName),
      displayName: String(b.displayName),
      mailNickname: String(b.mailNickname),
      givenName: (b.givenName as string) ?? null,
      surname: (b.surname as string) ?? null,
      usageLocation: (b.usageLocation as string) ?? null,
      accountEnabled: b.accountEnabled as boolean,
      jobTitle: (b.jobTitle as string) ?? null,
      password: pp.password as string,
      forceChangePasswordNextSignIn: pp.forceChangePasswordNextSignIn !== false,
    });
    t.hideFromCollections(u.id);
    return { status: 201, headers: { location: `${this.baseUrl}/users/${u.id}` }, body: { '@odata.context': this.ctxUrl('users/$entity'), ...this.userView(u) } };
  }

  /**
   * PATCH /users/{id} — https://learn.microsoft.com/graph/api/user-update?view=graph-rest-1.0 (204). Who may reset whose
   * password: https://learn.microsoft.com/graph/api/resources/users#who-can-reset-passwords
   */
  private patchUser(r: Req, ctx: Ctx, key: string): Res {
    const b = asObject(r.body);
    const onlyPassword = Object.keys(b).length > 0 && Object.keys(b).every((k) => k === 'passwordProfile');
    const u = ctx.tenant.findUser(key);
    if (onlyPassword) {
      const helpdeskMay = ctx.wids.has(ROLE.helpdeskAdministrator) && (!u || ctx.tenant.rolesOf(u.id).length === 0);
      if (!ctx.wids.has(ROLE.userAdministrator) && !helpdeskMay) throw forbidden();
    } else this.requireAny(ctx, [ROLE.userAdministrator]);
    if (!u) throw notFound(key);
    this.validateWritable(b);
    if (typeof b.userPrincipalName === 'string') this.checkUpn(ctx.tenant, b.userPrincipalName, u.id);
    const pp = b.passwordProfile as { password?: unknown; forceChangePasswordNextSignIn?: unknown } | undefined;
    if (pp !== undefined) {
      if (!pp || typeof pp !== 'object') throw badRequest("Invalid value specified for property 'passwordProfile' of resource 'User'.");
      if (pp.password !== undefined) this.checkPasswordPolicy(pp.password);
    }
    // All checks passed: apply.
    for (const k of ['displayName', 'mailNickname', 'userPrincipalName', 'givenName', 'surname', 'usageLocation', 'jobTitle', 'accountEnabled'] as const) {
      if (k in b) (u as unknown as Record<string, unknown>)[k] = b[k];
    }
    if (pp) {
      if (typeof pp.password === 'string') {
        u.passwordHash = hashPassword(pp.password);
        u.lastPasswordChangeDateTime = ctx.tenant.nowIso();
      }
      if (typeof pp.forceChangePasswordNextSignIn === 'boolean') u.forceChangePasswordNextSignIn = pp.forceChangePasswordNextSignIn;
    }
    return { status: 204, headers: {} };
  }

  /** DELETE /users/{id} — https://learn.microsoft.com/graph/api/user-delete?view=graph-rest-1.0 (204; soft delete) */
  private deleteUser(ctx: Ctx, key: string): Res {
    this.requireAny(ctx, [ROLE.userAdministrator]);
    const t = ctx.tenant;
    const u = t.findUser(key);
    if (!u) throw notFound(key);
    t.users.delete(u.id);
    t.hiddenFor.delete(u.id);
    // Entra renames a soft-deleted user's UPN to its object id without hyphens followed by the original UPN, so the
    // name is free for a new user (https://learn.microsoft.com/entra/fundamentals/users-restore). Its licences keep
    // showing on the deleted object but no longer consume seats (consumedUnits counts active users only). Its role
    // assignments are removed (stand-in simplification).
    const d: DeletedUser = {
      ...u,
      assignedLicenses: u.assignedLicenses.map((l) => ({ ...l, disabledPlans: [...l.disabledPlans] })),
      originalUserPrincipalName: u.userPrincipalName,
      userPrincipalName: u.id.replace(/-/g, '') + u.userPrincipalName,
      deletedDateTime: t.nowIso(),
    };
    t.deleted.set(u.id, d);
    for (let i = t.roleAssignments.length - 1; i >= 0; i--) if (t.roleAssignments[i].principalId === u.id) t.roleAssignments.splice(i, 1);
    return { status: 204, headers: {} };
  }

  /**
   * POST /users/{id}/assignLicense — https://learn.microsoft.com/graph/api/user-assignlicense?view=graph-rest-1.0
   * (200 + the user). Both addLicenses and removeLicenses are required (empty arrays allowed). Errors as Graph answers
   * them: unknown SKU "License <skuId> does not correspond to a valid company License."; no usageLocation "License
   * assignment cannot be done for user with invalid usage location."; no seat left "Subscription with SKU <skuId>
   * does not have any available licenses." (licenseAssignmentState error CountViolation:
   * https://learn.microsoft.com/graph/api/resources/licenseassignmentstate). All 400 Request_BadRequest; nothing applied.
   */
  private assignLicense(r: Req, ctx: Ctx, key: string): Res {
    this.requireAny(ctx, [ROLE.licenseAdministrator, ROLE.userAdministrator]);
    const t = ctx.tenant;
    const u = t.findUser(key);
    if (!u) throw notFound(key);
    const b = asObject(r.body);
    const missing = ['addLicenses', 'removeLicenses'].filter((k) => !Array.isArray(b[k]));
    if (missing.length) throw badRequest(`One or more parameters of the function import 'assignLicense' are missing from the request payload. The missing parameters are: ${missing.join(', ')}.`);
    const add = b.addLicenses as { skuId?: unknown; disabledPlans?: unknown }[];
    const remove = (b.removeLicenses as unknown[]).map(String);
    for (const a of add) {
      if (!a || typeof a.skuId !== 'string' || !t.skuById(a.skuId)) throw badRequest(`License ${a?.skuId} does not correspond to a valid company License.`);
    }
    for (const s of remove) if (!t.skuById(s)) throw badRequest(`License ${s} does not correspond to a valid company License.`);
    for (const s of remove) {
      if (!u.assignedLicenses.some((l) => l.skuId.toLowerCase() === s.toLowerCase()) && !add.some((a) => String(a.skuId).toLowerCase() === s.toLowerCase())) {
        throw badRequest('User does not have a corresponding license.');
      }
    }
    if (add.length && !u.usageLocation) throw badRequest('License assignment cannot be done for user with invalid usage location.');
    for (const a of add) {
      const sku = t.skuById(a.skuId as string)!;
      const has = u.assignedLicenses.some((l) => l.skuId === sku.skuId);
      if (!has && t.consumedUnits(sku.skuId) + 1 > sku.seats) throw badRequest(`Subscription with SKU ${sku.skuId} does not have any available licenses.`);
    }
    u.assignedLicenses = u.assignedLicenses.filter((l) => !remove.some((s) => s.toLowerCase() === l.skuId.toLowerCase()));
    for (const a of add) {
      const sku = t.skuById(a.skuId as string)!;
      const plans = Array.isArray(a.disabledPlans) ? a.disabledPlans.map(String) : [];
      const existing = u.assignedLicenses.find((l) => l.skuId === sku.skuId);
      if (existing) existing.disabledPlans = plans;
      else u.assignedLicenses.push({ skuId: sku.skuId, disabledPlans: plans });
    }
    return ok({ '@odata.context': this.ctxUrl('users/$entity'), ...this.userView(u) });
  }

  // --- deleted items -------------------------------------------------------------------------------------------------

  /**
   * GET /directory/deletedItems/microsoft.graph.user — https://learn.microsoft.com/graph/api/directory-deleteditems-list?view=graph-rest-1.0
   * (the OData cast is required; $count needs ConsistencyLevel: eventual). Default properties: the user defaults plus
   * deletedDateTime.
   */
  private listDeleted(r: Req, ctx: Ctx): Res {
    this.requireAny(ctx, READ_ROLES);
    const t = ctx.tenant;
    t.purgeExpired();
    const selectable = new Set([...SELECTABLE_USER_PROPERTIES, 'deletedDateTime']);
    const q = parseCollectionQuery(r.query, { selectable });
    this.checkAdvanced(r, q);
    const matching = [...t.deleted.values()].filter((u) => (!q.filter || q.filter(u)) && (!q.search || q.search(u)));
    const keyOf = (u: StoredUser): [string, string] => (q.orderBy ? [u.displayName.toLowerCase(), u.id] : [u.id, u.id]);
    const { pageItems, next } = page(matching, keyOf, q.top, q.skiptoken, q.orderBy?.desc);
    const body: Record<string, unknown> = {
      '@odata.context': this.ctxUrl(`directory/deletedItems/microsoft.graph.user${q.select ? `(${q.select.join(',')})` : ''}`),
    };
    if (q.count && !q.skiptoken) body['@odata.count'] = matching.length;
    if (next) body['@odata.nextLink'] = this.nextLink(r, next);
    body.value = pageItems.map((u) => this.userView(u, q.select, ['deletedDateTime']));
    return ok(body);
  }

  /** GET /directory/deletedItems/{id} — https://learn.microsoft.com/graph/api/directory-deleteditems-get?view=graph-rest-1.0 */
  private getDeleted(r: Req, ctx: Ctx, id: string): Res {
    this.requireAny(ctx, READ_ROLES);
    ctx.tenant.purgeExpired();
    const q = parseCollectionQuery(r.query, { selectable: new Set([...SELECTABLE_USER_PROPERTIES, 'deletedDateTime']), allowed: new Set(['$select']) });
    const d = ctx.tenant.deleted.get(id.toLowerCase());
    if (!d) throw notFound(id);
    return ok({ '@odata.context': this.ctxUrl('directoryObjects/$entity'), '@odata.type': '#microsoft.graph.user', ...this.userView(d, q.select, ['deletedDateTime']) });
  }

  /**
   * DELETE /directory/deletedItems/{id} — https://learn.microsoft.com/graph/api/directory-deleteditems-delete?view=graph-rest-1.0
   * (permanently delete: 204 No Content; the object cannot be restored afterwards). User Administrator suffices for users.
   */
  private purgeDeleted(ctx: Ctx, id: string): Res {
    this.requireAny(ctx, [ROLE.userAdministrator]);
    if (!ctx.tenant.deleted.delete(id.toLowerCase())) throw notFound(id);
    return { status: 204, headers: {} };
  }

  /**
   * POST /directory/deletedItems/{id}/restore — https://learn.microsoft.com/graph/api/directory-deleteditems-restore?view=graph-rest-1.0
   * (200 + the restored directoryObject). The v1.0 body may carry `autoReconcileProxyConflict` (users only; the stand-in
   * models no proxy addresses, so it is accepted and has no effect). `newUserPrincipalName` is documented on the beta
   * endpoint only, so it is refused with 400 unless the stand-in was started with
   * `restoreAcceptsNewUserPrincipalName: true`. When the original UPN now belongs to an active user (and no accepted new
   * name is given) the restore fails with Entra's uniqueness error: 400 Request_BadRequest "Another object with the
   * same value for property userPrincipalName already exists." (ObjectConflict on userPrincipalName).
   *
   * SIMPLIFICATION: the restored user comes back WITHOUT its licences (Entra restores them when seats allow). The product
   * re-assigns them itself and reports each, so the tests exercise that path.
   */
  private restore(r: Req, ctx: Ctx, id: string): Res {
    this.requireAny(ctx, [ROLE.userAdministrator]);
    const t = ctx.tenant;
    t.purgeExpired();
    const d = t.deleted.get(id.toLowerCase());
    if (!d) throw notFound(id);
    const b = r.body === undefined ? {} : asObject(r.body);
    for (const k of Object.keys(b)) {
      if (k === 'autoReconcileProxyConflict' && typeof b[k] === 'boolean') continue;
      if (k === 'newUserPrincipalName' && this.deps.restoreAcceptsNewUserPrincipalName && typeof b[k] === 'string') continue;
      throw badRequest(`The parameter '${k}' in the request payload is not a valid parameter for the operation 'restore'.`);
    }
    const upn = typeof b.newUserPrincipalName === 'string' ? b.newUserPrincipalName : d.originalUserPrincipalName;
    if (typeof b.newUserPrincipalName === 'string') this.checkUpn(t, upn);
    else if (t.upnTaken(upn)) throw upnConflict();
    const { deletedDateTime: _d, originalUserPrincipalName: _o, ...rest } = d;
    const u: StoredUser = { ...rest, userPrincipalName: upn, assignedLicenses: [] };
    t.deleted.delete(d.id);
    t.users.set(u.id, u);
    t.hideFromCollections(u.id);
    return ok({ '@odata.context': this.ctxUrl('directoryObjects/$entity'), '@odata.type': '#microsoft.graph.user', ...this.userView(u) });
  }

  // --- role assignments ----------------------------------------------------------------------------------------------

  /**
   * GET /roleManagement/directory/roleAssignments?$filter=principalId eq '…' | roleDefinitionId eq '…'
   * https://learn.microsoft.com/graph/api/rbacapplication-list-roleassignments?view=graph-rest-1.0
   */
  private listRoleAssignments(r: Req, ctx: Ctx): Res {
    this.requireAny(ctx, READ_ROLES);
    const rest = new URLSearchParams([...r.query].filter(([k]) => k.toLowerCase() !== '$filter'));
    const q = parseCollectionQuery(rest, { selectable: new Set(['id', 'principalId', 'roleDefinitionId', 'directoryScopeId']), allowed: new Set(['$top', '$skiptoken', '$select']) });
    let list = ctx.tenant.roleAssignments;
    const f = [...r.query].find(([k]) => k.toLowerCase() === '$filter')?.[1];
    if (f !== undefined) {
      const m = /^(principalId|roleDefinitionId)\s+eq\s+'([^']*)'$/i.exec(f.trim());
      if (!m) throw new GraphError(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified for resource 'unifiedRoleAssignment'.`);
      const field = m[1].toLowerCase() === 'principalid' ? 'principalId' : 'roleDefinitionId';
      list = list.filter((a) => a[field].toLowerCase() === m[2].toLowerCase());
    }
    const { pageItems, next } = page(list, (a) => [a.id, a.id], q.top, q.skiptoken);
    const body: Record<string, unknown> = { '@odata.context': this.ctxUrl('roleManagement/directory/roleAssignments') };
    if (next) body['@odata.nextLink'] = this.nextLink(r, next);
    body.value = pageItems.map((a) => pick({ ...a }, q.select));
    return ok(body);
  }

  /** POST /roleManagement/directory/roleAssignments — https://learn.microsoft.com/graph/api/rbacapplication-post-roleassignments?view=graph-rest-1.0 (201) */
  private createRoleAssignment(r: Req, ctx: Ctx): Res {
    this.requireAny(ctx, [ROLE.userAdministrator]);
    const b = asObject(r.body);
    const t = ctx.tenant;
    for (const k of ['principalId', 'roleDefinitionId', 'directoryScopeId']) {
      if (typeof b[k] !== 'string') throw badRequest(`Invalid value specified for property '${k}' of resource 'UnifiedRoleAssignment'.`);
    }
    const principalId = String(b.principalId).toLowerCase();
    if (!t.users.has(principalId)) throw notFound(String(b.principalId));
    if (!KNOWN_ROLE_TEMPLATES.has(String(b.roleDefinitionId) as never)) throw notFound(String(b.roleDefinitionId));
    if (b.directoryScopeId !== '/') throw badRequest("The stand-in supports directoryScopeId '/' only.");
    if (t.roleAssignments.some((a) => a.principalId === principalId && a.roleDefinitionId === b.roleDefinitionId)) {
      throw badRequest('A conflicting object with one or more of the specified property values is present in the directory.', [{ code: 'ObjectConflict' }]);
    }
    const a = { id: roleAssignmentId(), principalId, roleDefinitionId: String(b.roleDefinitionId), directoryScopeId: '/' };
    t.roleAssignments.push(a);
    return { status: 201, headers: {}, body: { '@odata.context': this.ctxUrl('roleManagement/directory/roleAssignments/$entity'), ...a } };
  }

  // --- JSON batching -------------------------------------------------------------------------------------------------

  /**
   * POST /$batch — https://learn.microsoft.com/graph/json-batching : up to 20 requests {id, method, url (relative),
   * headers, body}, answered {responses:[{id, status, headers, body}]}. Every inner request goes through the same auth
   * (the batch's Authorization header), faults, throttling and handlers, in the order given. `dependsOn` is ignored
   * (requests run sequentially anyway). If an inner request's fault drops the connection, the whole batch reply is lost
   * (the socket is destroyed after all inner requests ran).
   */
  private async batch(r: Req): Promise<Res> {
    const b = asObject(r.body);
    const reqs = b.requests;
    if (!Array.isArray(reqs)) throw new GraphError(400, 'BadRequest', 'Invalid batch payload format.');
    if (reqs.length > 20) throw new GraphError(400, 'BadRequest', `Limit on the number of requests in a batch exceeded: ${reqs.length} > 20.`);
    const ids = new Set<string>();
    for (const x of reqs) {
      const id = (x as { id?: unknown })?.id;
      if (typeof id !== 'string' || !id || ids.has(id)) throw new GraphError(400, 'BadRequest', 'Invalid batch payload format: every request needs a unique id.');
      ids.add(id);
    }
    const responses: { id: string; status: number; headers: Record<string, string>; body?: unknown }[] = [];
    let drop = false;
    for (const x of reqs as { id: string; method?: string; url?: string; headers?: Record<string, string>; body?: unknown }[]) {
      const url = String(x.url ?? '');
      if (/^https?:/i.test(url)) {
        responses.push({ id: x.id, ...errorRes(new GraphError(400, 'BadRequest', 'Invalid request URL: batch request URLs must be relative.'), {}) });
        continue;
      }
      const u = new URL(url.startsWith('/') ? url : `/${url}`, 'http://batch');
      const headers: Record<string, string> = { authorization: r.headers['authorization'] ?? '' };
      for (const [k, v] of Object.entries(x.headers ?? {})) headers[k.toLowerCase()] = String(v);
      const inner: Req = { method: String(x.method ?? 'GET').toUpperCase(), path: decodeURIComponent(u.pathname), query: u.searchParams, headers, body: x.body, inBatch: true };
      const res = await this.dispatch(inner);
      if (res.drop) {
        drop = true;
        responses.push({ id: x.id, status: 500, headers: {} });
        continue;
      }
      const h: Record<string, string> = { ...res.headers };
      if (res.body !== undefined) h['content-type'] = typeof res.body === 'string' ? 'text/plain' : 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8';
      responses.push({ id: x.id, status: res.status, headers: h, ...(res.body !== undefined ? { body: res.body } : {}) });
    }
    if (drop) return { status: 0, headers: {}, drop: true };
    return ok({ responses });
  }
}

// --- helpers ---------------------------------------------------------------------------------------------------------

function ok(body: unknown): Res {
  return { status: 200, headers: {}, body };
}

function asObject(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new GraphError(400, 'BadRequest', 'Empty Payload. JSON content expected.');
  return body as Record<string, unknown>;
}

function pick(o: Record<string, unknown>, select: string[] | undefined, keep: string[] = []): Record<string, unknown> {
  if (!select) return o;
  const out: Record<string, unknown> = {};
  for (const k of [...keep, ...select]) if (k in o) out[k] = o[k];
  return out;
}

function errorRes(e: unknown, reqHeaders: Record<string, string>): Res {
  const g =
    e instanceof GraphError
      ? e
      : e instanceof QueryError
        ? new GraphError(e.status, e.code, e.message)
        : new GraphError(500, 'generalException', `Stand-in failure: ${String(e)}`);
  const requestId = randomUUID();
  const innerError: Record<string, string> = {
    date: new Date().toISOString().replace(/\.\d{3}Z$/, ''),
    'request-id': requestId,
    'client-request-id': reqHeaders['client-request-id'] ?? requestId,
  };
  const error: Record<string, unknown> = { code: g.code, message: g.message };
  if (g.details) error.details = g.details;
  error.innerError = innerError;
  return { status: g.status, headers: { 'request-id': requestId, ...g.headers }, body: { error } };
}

export { checkPassword, parseFilter };
