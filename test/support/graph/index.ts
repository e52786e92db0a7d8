/**
 * A local stand-in for Microsoft Graph v1.0 and the Microsoft Entra v2.0 token endpoint, for tests (never product
 * code). In-process, 127.0.0.1, free ports. The token endpoint is HTTPS with test/fixtures/tls/standin-cert.pem, which
 * the test process must trust: `npm test` sets NODE_EXTRA_CA_CERTS to it (Node reads it only at start-up).
 *
 *   const g = await startGraphStandIn({ clientId, clientSecret, partnerTenantId, clock });   // clock: { now() }
 *   const c = g.addCustomerTenant({ tenantId, displayName: 'Contoso', domains: ['contoso.onmicrosoft.com'],
 *     skus: [{ skuPartNumber: 'O365_E3', seats: 25 }], users: [{ userPrincipalName: 'adele@contoso.onmicrosoft.com',
 *     displayName: 'Adele', licenses: ['O365_E3'], role: ROLE.globalAdministrator }] });
 *   g.grantGdap('agent-1', tenantId, [ROLE.userAdministrator]);
 *   const sso = await g.issueUserToken({ agentId: 'agent-1', name: 'Agent One' });       // the Teams SSO token
 *   new OnBehalfOfCredential({ tenantId, clientId, clientSecret, userAssertionToken: sso,
 *     authorityHost: g.authorityHost, disableInstanceDiscovery: true });                   // then fetch(g.graphBaseUrl…)
 *   (disableInstanceDiscovery is required — else MSAL asks login.microsoftonline.com — but is missing from
 *   OnBehalfOfCredential's option types in @azure/identity 4.14; pass the options as a variable, not a literal.)
 *   g.throttle({ path: '/users', times: 1, retryAfterSeconds: 2, status: 429 }); g.consistencyLag(2);
 *   g.tenant(tenantId).users(); g.verifyPassword(tenantId, userId, pw); g.countRequests({ method: 'POST' });
 *   await g.close();
 *
 * Faults: throttle / failBeforeApply / failAfterApply (faults.ts), consistencyLag(n) (model in graph.ts). Query subset
 * of /users: odata.ts. Handlers and their reference pages: graph.ts (Graph) and tokens.ts (Entra).
 */
import { randomUUID } from 'node:crypto';
import { FailAfterApplyRule, FailBeforeApplyRule, Faults, PathMatcher, pathMatches, ThrottleRule } from './faults';
import { GraphRequestRecord, GraphService } from './graph';
import { checkPassword, DeletedUser, ROLE, roleAssignmentId, StandInClock, StoredSku, StoredUser, TenantState } from './model';
import { IssueUserTokenInput, TLS_CERT_PATH, TokenRequestRecord, TokenService } from './tokens';

export { ROLE, TLS_CERT_PATH };
export type { StandInClock, StoredUser, DeletedUser, StoredSku, GraphRequestRecord, TokenRequestRecord, IssueUserTokenInput };
export type { ThrottleRule, FailAfterApplyRule, FailBeforeApplyRule, PathMatcher };

export interface GraphStandInOptions {
  clientId: string;
  clientSecret: string;
  partnerTenantId: string;
  /** Token expiry and the 30 days of deleted items follow it (default: Date.now). */
  clock?: StandInClock;
  partnerDisplayName?: string;
  /** restore's `newUserPrincipalName` is beta-only in the docs; v1.0 refuses it unless this is true. Default false. */
  restoreAcceptsNewUserPrincipalName?: boolean;
}

export interface SeedSku {
  /** A guid; generated when omitted. */
  skuId?: string;
  skuPartNumber: string;
  seats: number;
}

export interface SeedGraphUser {
  userPrincipalName: string;
  displayName?: string;
  givenName?: string;
  surname?: string;
  /** Default 'US'; null for none. */
  usageLocation?: string | null;
  accountEnabled?: boolean;
  /** skuPartNumbers of the tenant's SKUs. */
  licenses?: string[];
  /** A directory role template id (ROLE.…). */
  role?: string;
  password?: string;
}

export interface CustomerTenantDefinition {
  tenantId?: string;
  displayName: string;
  /** The first is the default; all are verified. */
  domains: string[];
  skus?: SeedSku[];
  users?: SeedGraphUser[];
}

export interface SeededTenant {
  tenantId: string;
  displayName: string;
  /** Object id by UPN (case-insensitive) of a seeded user. */
  userId(upn: string): string;
  /** skuId by skuPartNumber. */
  skuId(skuPartNumber: string): string;
}

export interface TenantView {
  users(): StoredUser[];
  deletedUsers(): DeletedUser[];
  skus(): (StoredSku & { consumedUnits: number })[];
  /** The (first) directory role template id assigned to the user, or undefined. */
  roleOf(userId: string): string | undefined;
  rolesOf(userId: string): string[];
  /** By id or UPN. */
  user(key: string): StoredUser | undefined;
}

export interface RequestFilter {
  method?: string;
  path?: PathMatcher;
  tenant?: string;
  status?: number;
  inBatch?: boolean;
}

export interface GraphStandIn {
  /** e.g. http://127.0.0.1:40123/v1.0 — the product's GRAPH_BASE_URL. */
  readonly graphBaseUrl: string;
  /** e.g. https://127.0.0.1:40124 — OnBehalfOfCredential's authorityHost. */
  readonly authorityHost: string;
  /** The JWKS URL for tokens of a tenant (default the partner's): {authorityHost}/{tenant}/discovery/v2.0/keys. */
  jwksUri(tenantId?: string): string;
  /** The `iss` of user tokens of a tenant: {authorityHost}/{tenant}/v2.0. */
  issuer(tenantId?: string): string;
  readonly clientId: string;
  readonly partnerTenantId: string;
  addCustomerTenant(def: CustomerTenantDefinition): SeededTenant;
  grantGdap(agentId: string, tenantId: string, roleTemplateIds: string[]): void;
  issueUserToken(input: IssueUserTokenInput): Promise<string>;
  tenant(tenantId: string): TenantView;
  verifyPassword(tenantId: string, userId: string, password: string): boolean;
  readonly requests: GraphRequestRecord[];
  countRequests(filter?: RequestFilter): number;
  readonly tokenRequests: TokenRequestRecord[];
  /** Successful token requests (on-behalf-of) for an agent and tenant. */
  tokenRequestCount(agentId: string, tenantId: string): number;
  throttle(rule: ThrottleRule): void;
  failAfterApply(rule: FailAfterApplyRule): void;
  failBeforeApply(rule: FailBeforeApplyRule): void;
  /** Users created or restored from now on are missing from the next n collection reads of their tenant (0: off). */
  consistencyLag(n: number, tenantId?: string): void;
  clearFaults(): void;
  close(): Promise<void>;
}

export async function startGraphStandIn(opts: GraphStandInOptions): Promise<GraphStandIn> {
  const clock = opts.clock ?? { now: () => Date.now() };
  const tenants = new Map<string, TenantState>();
  const gdap = new Map<string, string[]>(); // `${agent}|${tenant}` → roles
  tenants.set(opts.partnerTenantId, new TenantState(opts.partnerTenantId, opts.partnerDisplayName ?? 'Partner', clock));
  const faults = new Faults();
  const tokens = new TokenService({
    clientId: opts.clientId,
    clientSecret: opts.clientSecret,
    partnerTenantId: opts.partnerTenantId,
    clock,
    tenantExists: (t) => tenants.has(t),
    gdapRoles: (agent, t) => [...(gdap.get(`${agent}|${t}`) ?? [])],
  });
  await tokens.start();
  const graph = new GraphService({
    tokens,
    faults,
    tenants,
    partnerTenantId: opts.partnerTenantId,
    now: () => clock.now(),
    restoreAcceptsNewUserPrincipalName: opts.restoreAcceptsNewUserPrincipalName ?? false,
  });
  try {
    await graph.start();
  } catch (e) {
    await tokens.close();
    throw e;
  }
  let lag = 0;

  const stateOf = (tenantId: string): TenantState => {
    const t = tenants.get(tenantId);
    if (!t) throw new Error(`Graph stand-in: no tenant ${tenantId}`);
    return t;
  };

  return {
    graphBaseUrl: graph.baseUrl,
    authorityHost: tokens.authorityHost,
    jwksUri: (t) => tokens.jwksUri(t),
    issuer: (t) => tokens.issuer(t ?? opts.partnerTenantId),
    clientId: opts.clientId,
    partnerTenantId: opts.partnerTenantId,

    addCustomerTenant(def) {
      const tenantId = def.tenantId ?? randomUUID();
      if (tenants.has(tenantId)) throw new Error(`Graph stand-in: tenant ${tenantId} exists`);
      const t = new TenantState(tenantId, def.displayName, clock);
      t.lag = lag;
      def.domains.forEach((d, i) => t.domains.push({ id: d, isDefault: i === 0, isVerified: true }));
      for (const s of def.skus ?? []) t.skus.push({ skuId: s.skuId ?? randomUUID(), skuPartNumber: s.skuPartNumber, seats: s.seats, capabilityStatus: 'Enabled' });
      for (const su of def.users ?? []) {
        const u = t.newUser({
          userPrincipalName: su.userPrincipalName,
          displayName: su.displayName ?? su.userPrincipalName.split('@')[0],
          givenName: su.givenName ?? null,
          surname: su.surname ?? null,
          usageLocation: su.usageLocation === undefined ? 'US' : su.usageLocation,
          accountEnabled: su.accountEnabled ?? true,
          password: su.password ?? null,
        });
        for (const part of su.licenses ?? []) {
          const sku = t.skuByPartNumber(part);
          if (!sku) throw new Error(`Graph stand-in: tenant ${def.displayName} has no SKU ${part}`);
          u.assignedLicenses.push({ skuId: sku.skuId, disabledPlans: [] });
        }
        if (su.role) t.roleAssignments.push({ id: roleAssignmentId(), principalId: u.id, roleDefinitionId: su.role, directoryScopeId: '/' });
      }
      tenants.set(tenantId, t);
      return {
        tenantId,
        displayName: def.displayName,
        userId(upn) {
          const u = t.findUser(upn);
          if (!u) throw new Error(`Graph stand-in: no user ${upn} in ${def.displayName}`);
          return u.id;
        },
        skuId(part) {
          const s = t.skuByPartNumber(part);
          if (!s) throw new Error(`Graph stand-in: no SKU ${part} in ${def.displayName}`);
          return s.skuId;
        },
      };
    },

    grantGdap(agentId, tenantId, roleTemplateIds) {
      stateOf(tenantId);
      gdap.set(`${agentId}|${tenantId}`, [...roleTemplateIds]);
    },

    issueUserToken: (input) => tokens.issueUserToken(input),

    tenant(tenantId) {
      const t = stateOf(tenantId);
      return {
        users: () => [...t.users.values()],
        deletedUsers: () => {
          t.purgeExpired();
          return [...t.deleted.values()];
        },
        skus: () => t.skus.map((s) => ({ ...s, consumedUnits: t.consumedUnits(s.skuId) })),
        roleOf: (id) => t.rolesOf(id)[0],
        rolesOf: (id) => t.rolesOf(id),
        user: (key) => t.findUser(key),
      };
    },

    verifyPassword(tenantId, userId, password) {
      const u = stateOf(tenantId).users.get(userId.toLowerCase());
      return !!u && checkPassword(u.passwordHash, password);
    },

    requests: graph.requests,
    countRequests(f = {}) {
      return graph.requests.filter(
        (r) =>
          (!f.method || r.method.toUpperCase() === f.method.toUpperCase()) &&
          (f.path === undefined || pathMatches(f.path, r.path)) &&
          (f.tenant === undefined || r.tenant === f.tenant) &&
          (f.status === undefined || r.status === f.status) &&
          (f.inBatch === undefined || r.inBatch === f.inBatch),
      ).length;
    },
    tokenRequests: tokens.tokenRequests,
    tokenRequestCount: (agentId, tenantId) => tokens.tokenRequestCount(agentId, tenantId),

    throttle: (rule) => faults.throttle(rule),
    failAfterApply: (rule) => faults.failAfterApply(rule),
    failBeforeApply: (rule) => faults.failBeforeApply(rule),
    consistencyLag(n, tenantId) {
      if (tenantId) stateOf(tenantId).lag = n;
      else {
        lag = n;
        for (const t of tenants.values()) t.lag = n;
      }
    },
    clearFaults() {
      faults.clear();
      lag = 0;
      for (const t of tenants.values()) {
        t.lag = 0;
        t.hiddenFor.clear();
      }
    },

    async close() {
      await Promise.all([graph.close(), tokens.close()]);
    },
  };
}
