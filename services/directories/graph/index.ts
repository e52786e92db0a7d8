/**
 * The Microsoft Graph directory: a customer's Microsoft Entra ID, read and changed with the calling agent's own rights
 * (GDAP), through Graph v1.0. Customer id = the customer's tenant id. What each operation maps to:
 *
 *   customers            GET /tenantRelationships/delegatedAdminCustomers (partner tenant), GET /domains (customer's)
 *   seats                GET /subscribedSkus: prepaidUnits.enabled − consumedUnits; license id = skuPartNumber
 *   users                GET /users ($select, $filter, $search, $count with ConsistencyLevel: eventual, @odata.nextLink)
 *   roles                GET/POST /roleManagement/directory/roleAssignments (built-in role template ids)
 *   create               POST /users (passwordProfile, usageLocation), role, POST /users/{id}/assignLicense; a failed
 *                        license step deletes the user again (and for good), so create stays all or nothing
 *   assign / remove      POST /users/{id}/assignLicense, many users through POST /$batch (20 per call)
 *   reset password       PATCH /users/{id} passwordProfile
 *   delete               DELETE /users/{id}; licenses held are noted in the bot's Redis for Restore
 *   deleted / restore    GET /directory/deletedItems/microsoft.graph.user, POST /directory/deletedItems/{id}/restore
 *                        (newUserPrincipalName when the name was taken), then each noted license where a seat is free
 *
 * Rules stay in the service above the port; what only Graph knows comes up as typed errors: its seats (Graph's "no more
 * licenses" → NO_SEATS), a taken name (UPN_TAKEN), its 403 (DIRECTORY_REFUSED, the final word). Operation ids are kept
 * in the bot's Redis (./operations.ts). A write whose reply was lost is resolved by reading the object back before any
 * retry (./http.ts); a new user not yet visible to collection queries (eventual consistency) is read by key.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AuditLog } from '../../audit';
import { callersNeeded } from '../../caller';
import { DirectoryError } from '../../errors';
import type { KeyLayout } from '../../store/keys';
import type { RedisClient } from '../../store/redis';
import type { Actor, Customer, CustomerUser, LicenseChangeResult, OperationOptions, RestoreOutcome, Subscription, UserRef, UserRole } from '../../types';
import { RESTORE_WINDOW_MS } from '../constants';
import type { CustomerDefinition, DirectoryAccess, DirectoryBackend, LicenseChange, UserCounts, UserListing, ValidNewUser } from '../port';
import { GDAP_ROLES, productName, ROLE_TEMPLATES, roleOfTemplate } from './catalog';
import { collection, GraphClient, GraphError, graphErrorOf, GraphRequest, GraphResponse, UncertainWrite } from './http';
import { isReplayedError, OperationLedger } from './operations';
import { AgentTokens } from './tokens';

export interface GraphDirectoryOptions {
  /** e.g. https://graph.microsoft.com/v1.0 (GRAPH_BASE_URL) */
  graphBaseUrl: string;
  /** e.g. https://login.microsoftonline.com (AZURE_AUTHORITY_HOST) */
  authorityHost: string;
  /** The bot's app registration, which exchanges the agent's token on behalf of the agent. */
  clientId: string;
  clientSecret: string;
  /** The partner's own tenant: where the GDAP customer list is read. */
  partnerTenantId: string;
  /** The bot's own state: operation records, remembered licenses, audit. */
  redis: RedisClient;
  keys: KeyLayout;
  now: () => number;
  logger?: Logger;
  /** Waits before a retry after 429/503 (tests record the wait instead of sleeping). */
  sleep?: (ms: number) => Promise<void>;
  /** The HTTP client (default: the global fetch). */
  fetch?: typeof fetch;
}

export function createGraphDirectory(options: GraphDirectoryOptions): GraphDirectory {
  return new GraphDirectory(options);
}

const USER_FIELDS = 'id,userPrincipalName,displayName,givenName,surname,usageLocation,accountEnabled,assignedLicenses,createdDateTime,lastPasswordChangeDateTime';
const DELETED_FIELDS = `${USER_FIELDS},deletedDateTime`;
/** Tenant facts that change rarely (SKUs, who holds an admin role, the customer list) are re-read after this. */
const FACTS_TTL_MS = 30_000;
/** Users read per GET when a listing must be filtered here (by role). */
const MAX_PAGE = 999;

const graphUser = z
  .object({
    id: z.string(),
    userPrincipalName: z.string(),
    displayName: z.string().nullable().optional(),
    givenName: z.string().nullable().optional(),
    surname: z.string().nullable().optional(),
    usageLocation: z.string().nullable().optional(),
    accountEnabled: z.boolean().nullable().optional(),
    assignedLicenses: z.array(z.object({ skuId: z.string() }).passthrough()).nullable().optional(),
    createdDateTime: z.string().nullable().optional(),
    lastPasswordChangeDateTime: z.string().nullable().optional(),
    deletedDateTime: z.string().nullable().optional(),
  })
  .passthrough();
type GraphUser = z.infer<typeof graphUser>;

const subscribedSku = z
  .object({ skuId: z.string(), skuPartNumber: z.string(), consumedUnits: z.number(), prepaidUnits: z.object({ enabled: z.number() }).passthrough() })
  .passthrough();
const roleAssignment = z.object({ principalId: z.string(), roleDefinitionId: z.string() }).passthrough();
const gdapCustomer = z.object({ tenantId: z.string(), displayName: z.string() }).passthrough();
const domain = z.object({ id: z.string(), isDefault: z.boolean().optional(), isVerified: z.boolean().optional() }).passthrough();

interface Sku {
  guid: string;
  skuId: string;
  name: string;
  total: number;
  used: number;
}

interface TenantFacts {
  at: number;
  skus: Sku[];
  roles: Map<string, UserRole>;
}

export class GraphDirectory implements DirectoryBackend {
  readonly kind = 'graph' as const;
  readonly tokens: AgentTokens;
  readonly client: GraphClient;
  private readonly ledger: OperationLedger;
  private readonly audit: AuditLog;
  private readonly facts = new Map<string, TenantFacts>();
  private readonly customers = new Map<string, { at: number; list: Array<{ id: string; name: string }> }>();
  private readonly domains = new Map<string, { at: number; domains: string[] }>();

  constructor(private readonly options: GraphDirectoryOptions) {
    callersNeeded();
    this.tokens = new AgentTokens({ authorityHost: options.authorityHost, clientId: options.clientId, clientSecret: options.clientSecret, now: options.now });
    this.client = new GraphClient({
      baseUrl: options.graphBaseUrl,
      token: (tenantId, fresh) => {
        if (fresh) this.tokens.forget(tenantId);
        return this.tokens.token(tenantId);
      },
      sleep: options.sleep,
      callerKey: () => this.tokens.agentId(),
      fetch: options.fetch,
    });
    this.ledger = new OperationLedger(options.redis, options.keys, options.now);
    this.audit = new AuditLog(options.redis, options.keys);
  }

  // ---------------------------------------------------------------- customers and subscriptions

  async upsertCustomer(_def: CustomerDefinition, _actor: Actor): Promise<{ changed: number }> {
    throw new Error('provisioning files apply to the Redis directory; on Graph, customers are the partner’s GDAP customers');
  }

  async customerNames(): Promise<Array<{ id: string; name: string }>> {
    const agent = this.tokens.agentId();
    const cached = this.customers.get(agent);
    if (cached && this.options.now() - cached.at < FACTS_TTL_MS) return cached.list;
    const rows = await this.call(() => this.client.all(this.options.partnerTenantId, '/tenantRelationships/delegatedAdminCustomers', gdapCustomer));
    const list = rows.map((c) => ({ id: c.tenantId.toLowerCase(), name: c.displayName }));
    this.customers.set(agent, { at: this.options.now(), list });
    return list;
  }

  async customerByDomain(name: string): Promise<string | null> {
    for (const [tenantId, entry] of this.domains) if (entry.domains.includes(name)) return tenantId;
    return null;
  }

  async customerDomains(customerIds: string[]): Promise<string[][]> {
    return Promise.all(customerIds.map((id) => this.domainsOf(id).catch(() => [] as string[])));
  }

  async getCustomer(customerId: string): Promise<Customer> {
    const id = customerId.toLowerCase();
    const customer = (await this.customerNames()).find((c) => c.id === id);
    if (!customer) throw new DirectoryError('CUSTOMER_NOT_FOUND', { customer: customerId });
    return { ...customer, domains: await this.domainsOf(id) };
  }

  async subscriptionsAndCounts(customerId: string): Promise<{ subscriptions: Subscription[]; counts: UserCounts }> {
    const tenant = await this.tenantOf(customerId);
    const countOf = (url: string): GraphRequest => ({ method: 'GET', url, eventual: true });
    const [skus, active, unlicensed, deleted] = await this.call(() =>
      this.client.batch(tenant, [
        { method: 'GET', url: '/subscribedSkus' },
        countOf('/users?$count=true&$top=1&$select=id'),
        countOf(`/users?$count=true&$top=1&$select=id&$filter=${encodeURIComponent('assignedLicenses/$count eq 0')}`),
        countOf('/directory/deletedItems/microsoft.graph.user?$count=true&$top=1&$select=id'),
      ]),
    );
    const skuList = collection(subscribedSku).parse(okBody(skus)).value.map(toSku);
    this.rememberSkus(tenant, skuList);
    const count = (r: GraphResponse | UncertainWrite) => Number(collection(z.unknown()).parse(okBody(r))['@odata.count'] ?? 0);
    return {
      subscriptions: skuList
        .map((s) => ({ skuId: s.skuId, name: s.name, totalSeats: s.total, assignedSeats: s.used, availableSeats: s.total - s.used }))
        .sort((a, b) => (a.skuId < b.skuId ? -1 : a.skuId > b.skuId ? 1 : 0)),
      counts: { active: count(active), unlicensed: count(unlicensed), deleted: count(deleted) },
    };
  }

  /** The agent's GDAP roles in this customer, from its Graph token: User + License Administrator ⇒ admin. */
  async accessFor(customerId: string): Promise<DirectoryAccess> {
    const tenant = await this.tenantOf(customerId);
    const roles = new Set(await this.tokens.roles(tenant));
    const has = (r: { id: string }) => roles.has(r.id);
    const missing = [GDAP_ROLES.userAdministrator, GDAP_ROLES.licenseAdministrator].filter((r) => !has(r)).map((r) => r.name);
    const level = !missing.length ? 'admin' : has(GDAP_ROLES.helpdeskAdministrator) || has(GDAP_ROLES.userAdministrator) ? 'helpdesk' : 'none';
    return { level, missing };
  }

  // ---------------------------------------------------------------- reading users

  async listUsers(customerId: string, listing: UserListing): Promise<{ users: CustomerUser[]; total: number }> {
    const tenant = await this.tenantOf(customerId);
    const facts = await this.factsOf(tenant);
    const filters: string[] = [];
    if (listing.filter.kind === 'unlicensed') filters.push('assignedLicenses/$count eq 0');
    if (listing.filter.kind === 'licensed') filters.push('assignedLicenses/$count ne 0');
    if (listing.filter.kind === 'license') {
      const skuId = listing.filter.skuId;
      const sku = facts.skus.find((s) => s.skuId.toLowerCase() === skuId.toLowerCase());
      if (!sku) return { users: [], total: 0 };
      filters.push(`assignedLicenses/any(x:x/skuId eq ${sku.guid})`);
    }
    const search = listing.search.replace(/["\\]/g, '').trim();
    const query = (top: number) =>
      [
        `$select=${USER_FIELDS}`,
        '$count=true',
        `$top=${top}`,
        ...(filters.length ? [`$filter=${encodeURIComponent(filters.join(' and '))}`] : []),
        // $orderby does not combine with $search: a searched page is sorted here.
        ...(search ? [`$search=${encodeURIComponent(`"displayName:${search}" OR "userPrincipalName:${search}"`)}`] : ['$orderby=displayName']),
      ].join('&');

    if (listing.role) {
      // Graph cannot filter users by directory role: read the candidates and filter here (admins are few; `user`
      // means everyone else, which reads the whole listing).
      const all = await this.call(() => this.client.all(tenant, `/users?${query(MAX_PAGE)}`, graphUser, true));
      const matching = all.map((u) => this.toUser(tenant, facts, u)).filter((u) => u.role === listing.role).sort(byDisplayName);
      return { users: matching.slice(listing.offset, listing.offset + listing.pageSize), total: matching.length };
    }
    // Graph pages with @odata.nextLink only (no $skip on users): walk pages of the window's size to the rows asked
    // for, which may straddle two pages when the offset is not a multiple of the page size (the tab's windows).
    // Graph's $top is at most 999: a longer window ("all matching") follows more pages.
    let url: string | undefined = `/users?${query(Math.min(listing.pageSize, MAX_PAGE))}`;
    let total = 0;
    const rows: GraphUser[] = [];
    for (let position = 0; url && rows.length < listing.pageSize; ) {
      const page = collection(graphUser).parse(await this.call(() => this.client.ok(tenant, { method: 'GET', url: url as string, eventual: true })));
      if (position === 0) total = page['@odata.count'] ?? page.value.length;
      for (const u of page.value) {
        if (position >= listing.offset && rows.length < listing.pageSize) rows.push(u);
        position++;
      }
      url = page['@odata.nextLink'] ? this.client.relative(page['@odata.nextLink']) : undefined;
    }
    const users = rows.map((u) => this.toUser(tenant, facts, u));
    return { users: search ? users.sort(byDisplayName) : users, total };
  }

  async readUsers(customerId: string, userIds: string[]): Promise<Array<CustomerUser | null>> {
    const tenant = await this.tenantOf(customerId);
    const facts = await this.factsOf(tenant);
    const ids = userIds.map((id) => (GUID.test(id) ? id : ''));
    const active = await this.call(() => this.client.batch(tenant, ids.map((id) => ({ method: 'GET', url: `/users/${id || 'none'}?$select=${USER_FIELDS}` }))));
    const missing = active.map((r, i) => (statusOf(r) === 404 && ids[i] ? i : -1)).filter((i) => i >= 0);
    const deleted = missing.length
      ? await this.call(() => this.client.batch(tenant, missing.map((i) => ({ method: 'GET', url: `/directory/deletedItems/${ids[i]}?$select=${DELETED_FIELDS}` }))))
      : [];
    const remembered = missing.length ? await this.options.redis.hmget(this.options.keys.rememberedLicenses(tenant), ...missing.map((i) => ids[i])) : [];
    const out: Array<CustomerUser | null> = active.map((r) => (statusOf(r) === 200 ? this.toUser(tenant, facts, graphUser.parse(okBody(r))) : null));
    missing.forEach((i, j) => {
      if (statusOf(deleted[j]) === 200) out[i] = this.toUser(tenant, facts, graphUser.parse(okBody(deleted[j])), remembered[j]);
    });
    active.forEach((r, i) => {
      if (statusOf(r) !== 200 && statusOf(r) !== 404 && ids[i]) throw this.typed(r);
    });
    return out;
  }

  /** By key, not by a collection query: a user created a moment ago is found at once (eventual consistency). */
  async userIdsByUpn(customerId: string, upns: string[]): Promise<Array<string | null>> {
    const tenant = await this.tenantOf(customerId);
    const answers = await this.call(() => this.client.batch(tenant, upns.map((upn) => ({ method: 'GET', url: `/users/${encodeURIComponent(upn)}?$select=id` }))));
    return answers.map((r) => {
      if (statusOf(r) === 404) return null;
      return z.object({ id: z.string() }).passthrough().parse(okBody(r)).id;
    });
  }

  async deletedUsers(customerId: string): Promise<CustomerUser[]> {
    const tenant = await this.tenantOf(customerId);
    const facts = await this.factsOf(tenant);
    const rows = await this.call(() => this.client.all(tenant, `/directory/deletedItems/microsoft.graph.user?$select=${DELETED_FIELDS}&$top=${MAX_PAGE}`, graphUser));
    const remembered = await this.options.redis.hgetall(this.options.keys.rememberedLicenses(tenant));
    return rows.map((u) => this.toUser(tenant, facts, u, remembered[u.id]));
  }

  /** Graph never reveals a password; whether one works is for Entra's sign-in to say. */
  async verifyUserPassword(): Promise<boolean> {
    return false;
  }

  // ---------------------------------------------------------------- changes

  async createUser(customerId: string, input: ValidNewUser, password: string, options: OperationOptions): Promise<{ user: CustomerUser; replayed: boolean }> {
    const tenant = await this.tenantOf(customerId);
    const upn = input.userPrincipalName;
    try {
      const { result, replayed } = await this.ledger.once(tenant, options, async (takeOver) => {
        const [existing] = await this.userIdsByUpn(tenant, [upn]);
        // An attempt that died after POST /users left its user behind: that user is this operation's own.
        if (existing && takeOver) return { userId: existing, resumed: true };
        if (existing) throw new DirectoryError('UPN_TAKEN', { upn });
        const facts = await this.factsOf(tenant);
        const skus = input.licenses.map((id) => this.skuOf(facts, id));
        for (const sku of skus) if (sku.total - sku.used < 1) throw new DirectoryError('NO_SEATS', { license: sku.skuId, seatsLeft: sku.total - sku.used, seatsNeeded: 1 });
        const userId = await this.postUser(tenant, input, password);
        try {
          if (input.role !== 'user') await this.assignRole(tenant, userId, input.role);
          if (skus.length) await this.assignLicenses(tenant, userId, skus.map((s) => s.guid), []);
        } catch (err) {
          await this.removeForGood(tenant, userId);
          throw err;
        }
        this.forgetFacts(tenant);
        return { userId, resumed: false };
      });
      const [user] = await this.readUsers(tenant, [result.userId]);
      if (!user) throw new DirectoryError('USER_NOT_FOUND', { user: upn });
      if (!replayed) await this.record(tenant, options.actor, 'create-user', upn, 'ok', `${upn} ${input.licenses.join(',')}`);
      // A create resumed after its first attempt died cannot show a password it never knew was set.
      return { user, replayed: replayed || result.resumed };
    } catch (err) {
      await this.recordFailure(tenant, options.actor, 'create-user', upn, err);
      throw err;
    }
  }

  async changeLicenses(customerId: string, refs: UserRef[], change: LicenseChange, options: OperationOptions): Promise<LicenseChangeResult[]> {
    const tenant = await this.tenantOf(customerId);
    const target = `${refs.length} user(s)`;
    try {
      const { result, replayed } = await this.ledger.once(tenant, options, async (takeOver) => {
        const facts = await this.factsOf(tenant, true);
        const add = change.add.map((s) => this.skuOf(facts, s));
        const remove = change.remove.map((s) => this.skuOf(facts, s));
        // Taking over a dead attempt: the versions may have moved by that attempt's own writes; the plan below is
        // computed from the licenses held now, so what it applied is not applied twice.
        const users = await this.current(tenant, takeOver ? refs.map((r) => ({ userId: r.userId })) : refs);
        const plans = users.map((u) => {
          const applies = !change.onlyHolders || u.licenses.includes(change.onlyHolders);
          return {
            user: u,
            added: applies ? add.filter((s) => !u.licenses.includes(s.skuId)) : [],
            removed: applies ? remove.filter((s) => u.licenses.includes(s.skuId)) : [],
          };
        });
        // All or nothing: enough seats for every user who gains a license, before anything changes.
        for (const sku of add) {
          const needed = plans.filter((p) => p.added.includes(sku)).length;
          const freed = plans.filter((p) => p.removed.includes(sku)).length;
          if (needed > sku.total - sku.used + freed) throw new DirectoryError('NO_SEATS', { license: sku.skuId, seatsLeft: sku.total - sku.used, seatsNeeded: needed });
        }
        const changing = plans.filter((p) => p.added.length || p.removed.length);
        const answers = await this.client.batch(
          tenant,
          changing.map((p) => assignLicenseRequest(p.user.id, p.added.map((s) => s.guid), p.removed.map((s) => s.guid))),
        );
        const failed = await this.settleLicenseWrites(tenant, changing, answers);
        if (failed) {
          // Someone took a seat meanwhile (or Graph refused one user): undo the users already changed.
          const done = changing.filter((_, i) => !failed.indexes.has(i));
          await this.client.batch(tenant, done.map((p) => assignLicenseRequest(p.user.id, p.removed.map((s) => s.guid), p.added.map((s) => s.guid))));
          this.forgetFacts(tenant);
          throw failed.error;
        }
        this.forgetFacts(tenant);
        const after = changing.length ? await this.readUsers(tenant, changing.map((p) => p.user.id)) : [];
        const versionOf = new Map(after.filter((u): u is CustomerUser => !!u).map((u) => [u.id, u.version]));
        return plans.map((p) => ({
          userId: p.user.id,
          changed: p.added.length + p.removed.length > 0,
          added: p.added.map((s) => s.skuId),
          removed: p.removed.map((s) => s.skuId),
          version: versionOf.get(p.user.id) ?? p.user.version,
          displayName: p.user.displayName,
          userPrincipalName: p.user.userPrincipalName,
        }));
      });
      if (!replayed) await this.record(tenant, options.actor, 'change-licenses', target, 'ok', `+${change.add.join(',')} -${change.remove.join(',')} users=${refs.length} changed=${result.filter((r) => r.changed).length}`);
      return result;
    } catch (err) {
      await this.recordFailure(tenant, options.actor, 'change-licenses', target, err);
      throw err;
    }
  }

  async resetPassword(customerId: string, ref: UserRef, password: string, options: OperationOptions): Promise<{ user: CustomerUser; replayed: boolean }> {
    const reset = await this.patchUser(customerId, ref, { passwordProfile: { forceChangePasswordNextSignIn: true, password } }, 'reset-password', options);
    return { user: { ...reset.user, mustChangePassword: true }, replayed: reset.replayed };
  }

  async blockSignIn(customerId: string, ref: UserRef, options: OperationOptions): Promise<{ user: CustomerUser; replayed: boolean }> {
    return this.patchUser(customerId, ref, { accountEnabled: false }, 'block-sign-in', options);
  }

  /** One active user's PATCH (at the card's version), under its operation id, audited as `action`. */
  private async patchUser(customerId: string, ref: UserRef, body: Record<string, unknown>, action: string, options: OperationOptions): Promise<{ user: CustomerUser; replayed: boolean }> {
    const tenant = await this.tenantOf(customerId);
    let upn = ref.userId;
    try {
      const { result, replayed } = await this.ledger.once(tenant, options, async () => {
        const [user] = await this.current(tenant, [ref]);
        upn = user.userPrincipalName;
        const response = await this.call(() => this.sendAgainIfLost(tenant, { method: 'PATCH', url: `/users/${user.id}`, body }));
        if (response.status >= 400) throw this.typed(response);
        return { userId: user.id };
      });
      const [user] = await this.readUsers(tenant, [result.userId]);
      if (!user) throw new DirectoryError('USER_NOT_FOUND', { user: ref.userId });
      if (!replayed) await this.record(tenant, options.actor, action, upn, 'ok', upn);
      return { user, replayed };
    } catch (err) {
      await this.recordFailure(tenant, options.actor, action, upn, err);
      throw err;
    }
  }

  /**
   * A request that means the same sent twice (a PATCH of fixed values, a DELETE): a reply lost the first time is
   * resolved by sending it once more.
   */
  private async sendAgainIfLost(tenant: string, request: GraphRequest): Promise<GraphResponse> {
    return this.client.send(tenant, request).catch((err) => (err instanceof UncertainWrite ? this.client.send(tenant, request) : Promise.reject(err)));
  }

  async deleteUsers(customerId: string, refs: UserRef[], options: OperationOptions): Promise<Array<{ userId: string; version: number; rememberedLicenses: string[] }>> {
    const tenant = await this.tenantOf(customerId);
    const target = `${refs.length} user(s)`;
    try {
      const { result, replayed } = await this.ledger.once(tenant, options, async (takeOver) => {
        const done: Array<{ userId: string; version: number; rememberedLicenses: string[] }> = [];
        if (takeOver) {
          // A dead attempt may have deleted some already: those are done, with the licenses it noted.
          const found = await this.readUsers(tenant, refs.map((r) => r.userId));
          for (const u of found) if (u?.state === 'deleted') done.push({ userId: u.id, version: u.version, rememberedLicenses: u.rememberedLicenses });
          refs = refs.filter((_, i) => found[i]?.state !== 'deleted').map((r) => ({ userId: r.userId }));
          if (!refs.length) return done;
        }
        const users = await this.current(tenant, refs);
        // Noted before the delete: Entra forgets a deleted user's licenses, Restore gives them back from here.
        await this.options.redis.hset(this.options.keys.rememberedLicenses(tenant), ...users.flatMap((u) => [u.id, u.licenses.join(',')]));
        const answers = await this.client.batch(tenant, users.map((u) => ({ method: 'DELETE', url: `/users/${u.id}` })));
        const deleted: CustomerUser[] = [];
        let failure: unknown;
        for (const [i, answer] of answers.entries()) {
          const status = answer instanceof UncertainWrite ? await this.readBackStatus(tenant, users[i].id) : answer.status;
          // 404 after an uncertain or repeated delete: it is gone, which is what was asked.
          if (status === 204 || status === 404) deleted.push(users[i]);
          else failure ??= answer instanceof UncertainWrite ? answer : this.typed(answer);
        }
        if (failure) {
          await this.undoDeletes(tenant, deleted);
          throw failure;
        }
        this.forgetFacts(tenant);
        return [...done, ...users.map((u) => ({ userId: u.id, version: u.version + 1, rememberedLicenses: u.licenses }))];
      });
      if (!replayed) await this.record(tenant, options.actor, 'delete-users', target, 'ok', result.map((r) => r.userId).join(' '));
      return result;
    } catch (err) {
      await this.recordFailure(tenant, options.actor, 'delete-users', target, err);
      throw err;
    }
  }

  async restoreUsers(customerId: string, refs: Array<UserRef & { newUsername: string }>, options: OperationOptions): Promise<RestoreOutcome[]> {
    const tenant = await this.tenantOf(customerId);
    const target = `${refs.length} user(s)`;
    try {
      const { result, replayed } = await this.ledger.once(tenant, options, async () => {
        const found = await this.readUsers(tenant, refs.map((r) => r.userId));
        const outcomes: RestoreOutcome[] = [];
        for (const [i, ref] of refs.entries()) outcomes.push(await this.restoreOne(tenant, ref, found[i]));
        this.forgetFacts(tenant);
        return outcomes;
      });
      const summary = result.map((o) => (o.ok ? `${o.userPrincipalName} +${o.restoredLicenses.join(',')} -${o.notRestoredLicenses.join(',')}` : `${o.userPrincipalName} ${o.error}`));
      if (!replayed) await this.record(tenant, options.actor, 'restore-users', target, 'ok', summary.join(' '));
      return result;
    } catch (err) {
      await this.recordFailure(tenant, options.actor, 'restore-users', target, err);
      throw err;
    }
  }

  async discardNewUsers(customerId: string, userIds: string[], actor: Actor): Promise<number> {
    const tenant = await this.tenantOf(customerId);
    let removed = 0;
    for (const id of userIds) if (await this.removeForGood(tenant, id)) removed++;
    if (removed) await this.record(tenant, actor, 'discard-new-users', `${userIds.length} user(s)`, 'ok', userIds.join(' '));
    this.forgetFacts(tenant);
    return removed;
  }

  /** Entra purges its deleted items itself after 30 days. */
  async purgeExpired(): Promise<number> {
    return 0;
  }

  // ---------------------------------------------------------------- steps

  private async restoreOne(tenant: string, ref: UserRef & { newUsername: string }, user: CustomerUser | null): Promise<RestoreOutcome> {
    if (!user) return { userId: ref.userId, ok: false, error: 'USER_NOT_FOUND', userPrincipalName: '' };
    const fail = (error: Extract<RestoreOutcome, { ok: false }>['error']): RestoreOutcome => ({ userId: user.id, ok: false, error, userPrincipalName: user.userPrincipalName });
    if (user.state !== 'deleted') return fail('NOT_DELETED');
    if (ref.expectedVersion !== undefined && ref.expectedVersion !== user.version) return fail('STALE');
    if (user.deletedAt !== null && this.options.now() - user.deletedAt > RESTORE_WINDOW_MS) return fail('RESTORE_WINDOW_OVER');
    const upn = ref.newUsername ? `${ref.newUsername}@${user.domain}` : user.userPrincipalName;
    const [holder] = await this.userIdsByUpn(tenant, [upn]);
    if (holder && holder !== user.id) return { ...fail('UPN_TAKEN'), userPrincipalName: upn };
    if (!holder) {
      const request: GraphRequest = { method: 'POST', url: `/directory/deletedItems/${user.id}/restore`, body: ref.newUsername ? { newUserPrincipalName: upn } : {} };
      let response: GraphResponse;
      try {
        response = await this.call(() => this.client.send(tenant, request));
      } catch (err) {
        if (!(err instanceof UncertainWrite)) throw err;
        // Restored or not? The user is back among active users if it was.
        response = { status: (await this.readBackStatus(tenant, user.id)) === 200 ? 200 : 503, body: null };
        if (response.status !== 200) throw err;
      }
      if (response.status >= 400) {
        const error = graphErrorOf(response);
        if (response.status === 400 && /userPrincipalName|proxyAddress|conflict/i.test(`${error.code} ${error.graphMessage}`)) return { ...fail('UPN_TAKEN'), userPrincipalName: upn };
        throw this.typed(response);
      }
    }
    // Back, without licenses (Entra's restore would over-assign; the bot gives back only what has a seat).
    const facts = await this.factsOf(tenant, true);
    const restored: string[] = [];
    const notRestored: string[] = [];
    for (const skuId of user.rememberedLicenses) {
      const sku = facts.skus.find((s) => s.skuId === skuId);
      if (!sku || sku.total - sku.used < 1) {
        notRestored.push(skuId);
        continue;
      }
      try {
        await this.assignLicenses(tenant, user.id, [sku.guid], []);
        sku.used++;
        restored.push(skuId);
      } catch (err) {
        if (err instanceof DirectoryError && err.code === 'NO_SEATS') notRestored.push(skuId);
        else throw err;
      }
    }
    await this.options.redis.hdel(this.options.keys.rememberedLicenses(tenant), user.id);
    return { userId: user.id, ok: true, userPrincipalName: upn, restoredLicenses: restored, notRestoredLicenses: notRestored };
  }

  /** POST /users; a lost reply is resolved by looking the UPN up (it was free a moment before) — never a second POST. */
  private async postUser(tenant: string, input: ValidNewUser, password: string): Promise<string> {
    const request: GraphRequest = {
      method: 'POST',
      url: '/users',
      body: {
        accountEnabled: true,
        displayName: input.displayName,
        mailNickname: input.username.replace(/[^A-Za-z0-9'._!#^~-]/g, '').slice(0, 64) || 'user',
        userPrincipalName: input.userPrincipalName,
        ...(input.firstName ? { givenName: input.firstName } : {}),
        ...(input.lastName ? { surname: input.lastName } : {}),
        usageLocation: input.usageLocation,
        passwordProfile: { forceChangePasswordNextSignIn: true, password },
      },
    };
    try {
      const response = await this.call(() => this.client.send(tenant, request));
      if (response.status >= 400) throw this.typed(response, input.userPrincipalName);
      return z.object({ id: z.string() }).passthrough().parse(response.body).id;
    } catch (err) {
      if (!(err instanceof UncertainWrite)) throw err;
      const [id] = await this.userIdsByUpn(tenant, [input.userPrincipalName]);
      if (id) return id;
      throw err;
    }
  }

  private async assignRole(tenant: string, userId: string, role: UserRole): Promise<void> {
    const roleDefinitionId = ROLE_TEMPLATES[role as Exclude<UserRole, 'user'>];
    const request: GraphRequest = { method: 'POST', url: '/roleManagement/directory/roleAssignments', body: { principalId: userId, roleDefinitionId, directoryScopeId: '/' } };
    try {
      const response = await this.call(() => this.client.send(tenant, request));
      if (response.status >= 400) throw this.typed(response);
    } catch (err) {
      if (!(err instanceof UncertainWrite)) throw err;
      const held = await this.client.all(tenant, `/roleManagement/directory/roleAssignments?$filter=${encodeURIComponent(`principalId eq '${userId}'`)}`, roleAssignment);
      if (!held.some((a) => a.roleDefinitionId.toLowerCase() === roleDefinitionId)) throw err;
    }
  }

  /** One user's license change; a lost reply is resolved by reading the user's licenses back. */
  private async assignLicenses(tenant: string, userId: string, add: string[], remove: string[]): Promise<void> {
    const request = assignLicenseRequest(userId, add, remove);
    try {
      const response = await this.call(() => this.client.send(tenant, request));
      if (response.status >= 400) throw this.typed(response);
    } catch (err) {
      if (!(err instanceof UncertainWrite) || !(await this.licensesAre(tenant, userId, add, remove))) throw err;
    }
  }

  private async licensesAre(tenant: string, userId: string, add: string[], remove: string[]): Promise<boolean> {
    const body = await this.client.ok(tenant, { method: 'GET', url: `/users/${userId}?$select=id,assignedLicenses` });
    const held = new Set((graphUser.partial().parse(body).assignedLicenses ?? []).map((l) => l.skuId.toLowerCase()));
    return add.every((g) => held.has(g.toLowerCase())) && remove.every((g) => !held.has(g.toLowerCase()));
  }

  /** The outcome of each batched license write; uncertain ones read back. Null when all applied. */
  private async settleLicenseWrites(
    tenant: string,
    changing: Array<{ user: CustomerUser; added: Sku[]; removed: Sku[] }>,
    answers: Array<GraphResponse | UncertainWrite>,
  ): Promise<{ indexes: Set<number>; error: unknown } | null> {
    const indexes = new Set<number>();
    let error: unknown;
    for (const [i, answer] of answers.entries()) {
      const p = changing[i];
      const applied =
        answer instanceof UncertainWrite
          ? await this.licensesAre(tenant, p.user.id, p.added.map((s) => s.guid), p.removed.map((s) => s.guid))
          : answer.status < 400;
      if (applied) continue;
      indexes.add(i);
      error ??= answer instanceof UncertainWrite ? answer : this.typed(answer);
    }
    return indexes.size ? { indexes, error } : null;
  }

  /** Deleted, then purged from deleted items (the roll-back of a create, or of an all-or-nothing import). */
  private async removeForGood(tenant: string, userId: string): Promise<boolean> {
    const gone = await this.sendAgainIfLost(tenant, { method: 'DELETE', url: `/users/${userId}` });
    if (gone.status >= 400 && gone.status !== 404) throw this.typed(gone);
    const purged = await this.sendAgainIfLost(tenant, { method: 'DELETE', url: `/directory/deletedItems/${userId}` });
    if (purged.status >= 400 && purged.status !== 404) this.options.logger?.warn({ tenant, status: purged.status }, 'a rolled-back user stays in deleted items');
    return gone.status < 400;
  }

  private async undoDeletes(tenant: string, users: CustomerUser[]): Promise<void> {
    for (const u of users) {
      await this.client.send(tenant, { method: 'POST', url: `/directory/deletedItems/${u.id}/restore`, body: {} });
      const guids = u.licenses.map((s) => this.skuGuid(tenant, s)).filter((g): g is string => !!g);
      if (guids.length) await this.assignLicenses(tenant, u.id, guids, []).catch(() => undefined);
    }
    await this.options.redis.hdel(this.options.keys.rememberedLicenses(tenant), ...users.map((u) => u.id)).catch(() => undefined);
  }

  /** The users as they are now: active, and at the version the caller's card was drawn from. */
  private async current(tenant: string, refs: UserRef[]): Promise<CustomerUser[]> {
    const users = await this.readUsers(tenant, refs.map((r) => r.userId));
    return refs.map((ref, i) => {
      const user = users[i];
      if (!user) throw new DirectoryError('USER_NOT_FOUND', { user: ref.userId });
      if (user.state !== 'active') throw new DirectoryError('NOT_ACTIVE', { user: user.userPrincipalName });
      if (ref.expectedVersion !== undefined && ref.expectedVersion !== user.version) throw new DirectoryError('STALE', { user: user.userPrincipalName });
      return user;
    });
  }

  private async readBackStatus(tenant: string, userId: string): Promise<number> {
    return (await this.client.send(tenant, { method: 'GET', url: `/users/${userId}?$select=id` })).status === 200 ? 200 : 404;
  }

  // ---------------------------------------------------------------- tenant facts

  private async tenantOf(customerId: string): Promise<string> {
    return (await this.getCustomer(customerId)).id;
  }

  private async domainsOf(tenant: string): Promise<string[]> {
    const cached = this.domains.get(tenant);
    if (cached && this.options.now() - cached.at < FACTS_TTL_MS) return cached.domains;
    const rows = (await this.call(() => this.client.all(tenant, '/domains', domain))).filter((d) => d.isVerified !== false);
    const domains = [...rows.filter((d) => d.isDefault), ...rows.filter((d) => !d.isDefault)].map((d) => d.id.toLowerCase());
    this.domains.set(tenant, { at: this.options.now(), domains });
    return domains;
  }

  private async factsOf(tenant: string, fresh = false): Promise<TenantFacts> {
    const cached = this.facts.get(tenant);
    if (!fresh && cached && this.options.now() - cached.at < FACTS_TTL_MS) return cached;
    const [skus, assignments] = await Promise.all([
      this.call(() => this.client.all(tenant, '/subscribedSkus', subscribedSku)),
      this.call(() => this.client.all(tenant, '/roleManagement/directory/roleAssignments', roleAssignment)),
    ]);
    const roles = new Map<string, UserRole>();
    for (const a of assignments) {
      const role = roleOfTemplate(a.roleDefinitionId);
      if (role && !roles.has(a.principalId)) roles.set(a.principalId, role);
    }
    const facts = { at: this.options.now(), skus: skus.map(toSku), roles };
    this.facts.set(tenant, facts);
    return facts;
  }

  private rememberSkus(tenant: string, skus: Sku[]): void {
    const cached = this.facts.get(tenant);
    if (cached) cached.skus = skus;
  }

  private forgetFacts(tenant: string): void {
    this.facts.delete(tenant);
  }

  private skuOf(facts: TenantFacts, skuId: string): Sku {
    const sku = facts.skus.find((s) => s.skuId.toLowerCase() === skuId.toLowerCase());
    if (!sku) throw new DirectoryError('UNKNOWN_LICENSE', { license: skuId });
    return sku;
  }

  private skuGuid(tenant: string, skuId: string): string | undefined {
    return this.facts.get(tenant)?.skus.find((s) => s.skuId === skuId)?.guid;
  }

  private toUser(tenant: string, facts: TenantFacts, u: GraphUser, remembered?: string | null): CustomerUser {
    const deleted = !!u.deletedDateTime;
    const userPrincipalName = deleted ? originalUpn(u.id, u.userPrincipalName) : u.userPrincipalName;
    const at = userPrincipalName.lastIndexOf('@');
    const licenses = (u.assignedLicenses ?? []).map((l) => facts.skus.find((s) => s.guid === l.skuId.toLowerCase())?.skuId ?? l.skuId).sort();
    const role = facts.roles.get(u.id) ?? 'user';
    const user: CustomerUser = {
      id: u.id,
      customerId: tenant,
      userPrincipalName,
      username: userPrincipalName.slice(0, at),
      domain: userPrincipalName.slice(at + 1).toLowerCase(),
      displayName: u.displayName ?? userPrincipalName,
      firstName: u.givenName ?? '',
      lastName: u.surname ?? '',
      usageLocation: u.usageLocation ?? '',
      role,
      licenses,
      state: deleted ? 'deleted' : 'active',
      createdAt: u.createdDateTime ? Date.parse(u.createdDateTime) : 0,
      deletedAt: deleted ? Date.parse(u.deletedDateTime as string) : null,
      // The bot's note from its own delete; a user deleted elsewhere: the licenses its deleted object still lists.
      rememberedLicenses: !deleted ? [] : typeof remembered === 'string' ? remembered.split(',').filter(Boolean) : licenses,
      version: 0,
      mustChangePassword: false,
      hasPassword: true,
      ...(u.accountEnabled === false ? { signInBlocked: true } : {}),
    };
    user.version = versionOf(user, u.lastPasswordChangeDateTime ?? '', u.accountEnabled !== false);
    return user;
  }

  // ---------------------------------------------------------------- errors and audit

  /** Graph's refusals as the bot's typed errors; 401 means the agent's token no longer works: sign in again. */
  private typed(answer: GraphResponse | UncertainWrite, upn = ''): Error {
    if (answer instanceof UncertainWrite) return answer;
    const error = graphErrorOf(answer);
    const text = `${error.code} ${error.graphMessage}`;
    if (answer.status === 401) return new DirectoryError('SIGN_IN_REQUIRED');
    if (answer.status === 403) return new DirectoryError('DIRECTORY_REFUSED');
    if (answer.status === 404) return new DirectoryError('USER_NOT_FOUND', { user: upn });
    if (/no more licenses|not enough licenses|does not have any available licenses|CountViolation|LicenseLimitExceeded/i.test(text)) return new DirectoryError('NO_SEATS', { license: '', seatsLeft: 0, seatsNeeded: 1 });
    if (/userPrincipalName already exists|same value for property userPrincipalName/i.test(text)) return new DirectoryError('UPN_TAKEN', { upn });
    if (/usage location/i.test(text)) return new DirectoryError('INVALID_FIELD', { field: 'usageLocation', reason: 'country' });
    return error;
  }

  /** Network faults and throttling stay "try again"; everything else goes through `typed`. */
  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof GraphError) throw this.typed({ status: err.status, body: { error: { code: err.code, message: err.graphMessage } } });
      throw err;
    }
  }

  private async record(tenant: string, actor: Actor, action: string, target: string, result: string, detail: string): Promise<void> {
    await this.audit.append(tenant, { at: this.options.now(), actorId: actor.id, actorName: actor.name, action, target, result, detail });
  }

  private async recordFailure(tenant: string, actor: Actor, action: string, target: string, err: unknown): Promise<void> {
    if (!(err instanceof DirectoryError) || err.code === 'SIGN_IN_REQUIRED' || isReplayedError(err)) return;
    await this.record(tenant, actor, action, target, err.code, Object.values(err.params).join(' ')).catch(() => undefined);
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function assignLicenseRequest(userId: string, add: string[], remove: string[]): GraphRequest {
  return { method: 'POST', url: `/users/${userId}/assignLicense`, body: { addLicenses: add.map((skuId) => ({ skuId, disabledPlans: [] })), removeLicenses: remove } };
}

function toSku(s: z.infer<typeof subscribedSku>): Sku {
  return { guid: s.skuId.toLowerCase(), skuId: s.skuPartNumber, name: productName(s.skuPartNumber), total: s.prepaidUnits.enabled, used: s.consumedUnits };
}

const statusOf = (r: GraphResponse | UncertainWrite | undefined): number => (r === undefined || r instanceof UncertainWrite ? 0 : r.status);

function okBody(r: GraphResponse | UncertainWrite): unknown {
  if (r instanceof UncertainWrite) throw r;
  if (r.status >= 400) throw graphErrorOf(r);
  return r.body;
}

/** Entra renames a deleted user to its object id (no hyphens) followed by the original UPN. */
export function originalUpn(id: string, upn: string): string {
  const prefix = id.replace(/-/g, '').toLowerCase();
  return upn.toLowerCase().startsWith(prefix) && upn.length > prefix.length ? upn.slice(prefix.length) : upn;
}

/** Graph users carry no version: a digest of everything a card shows or a change depends on stands in for one. */
function versionOf(u: CustomerUser, passwordChanged: string, enabled: boolean): number {
  const digest = createHash('sha256')
    .update([u.userPrincipalName, u.displayName, u.firstName, u.lastName, u.usageLocation, u.role, u.licenses.join(','), u.state, String(u.deletedAt), passwordChanged, String(enabled)].join('\x1f'))
    .digest();
  return (digest.readUInt32BE(0) % 2_000_000_000) + 1;
}

const byDisplayName = (a: CustomerUser, b: CustomerUser) => a.displayName.toLowerCase().localeCompare(b.displayName.toLowerCase()) || a.userPrincipalName.localeCompare(b.userPrincipalName);
