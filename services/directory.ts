import { randomUUID } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import { DirectoryError, DirectoryErrorCode } from './errors';
import { generateTemporaryPassword, hashPassword, PasswordGenerator, verifyPassword } from './passwords';
import { KeyLayout, SEP } from './store/keys';
import { RedisClient, runScript, ScriptReply } from './store/redis';
import { MutatingScript } from './store/scripts';
import {
  Actor,
  AuditEntry,
  CreatedUser,
  Customer,
  CustomerUser,
  LicenseChangeResult,
  ListUsersQuery,
  NewUserInput,
  OperationOptions,
  RestoreOutcome,
  RestoreRequest,
  Subscription,
  UserPage,
  UserRef,
  UserRole,
} from './types';
import {
  validateDomain,
  validateName,
  validateRole,
  validateSkuIds,
  validateUpn,
  validateUsageLocation,
  validateUsername,
} from './validation';

export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

export const DAY_MS = 24 * 60 * 60 * 1000;
export const RESTORE_WINDOW_MS = 30 * DAY_MS;
export const OPERATION_TTL_MS = 2 * DAY_MS;
/** How long a saved selection (the users a Manage licenses card was drawn for) can still be saved: a card's day. */
export const SELECTION_TTL_MS = DAY_MS;
/** The most users one license change takes: the Manage licenses card, `assign`/`unassign` and a saved selection. */
export const MAX_USERS_PER_CHANGE = 500;
const PURGE_BATCH = 200;
const AUDIT_CAP = 1000;

export interface DirectoryOptions {
  redis: RedisClient;
  keys?: KeyLayout;
  clock?: Clock;
  generatePassword?: PasswordGenerator;
}

export interface CustomerDefinition {
  id: string;
  name: string;
  domains: string[];
  subscriptions: Array<{ skuId: string; name: string; seats: number }>;
}

/** User as stored in its Redis hash (all strings). */
type UserHash = Record<string, string>;
/** The stored fields a CustomerUser is made of (all but the sort key), in the order readUsers asks for them. */
const USER_READ_FIELDS = ['id', 'upn', 'username', 'domain', 'displayName', 'firstName', 'lastName', 'usageLocation', 'role', 'licenses', 'state', 'createdAt', 'deletedAt', 'rememberedLicenses', 'version', 'pwHash', 'mustChange'] as const;

function userHashOf(values: Array<string | null>): UserHash {
  const h: UserHash = {};
  USER_READ_FIELDS.forEach((field, i) => (h[field] = values[i] ?? ''));
  return h;
}

export interface DeletedUser extends CustomerUser {
  deletedAt: number;
  daysLeft: number;
}

/**
 * The one owner of every business rule of SPEC §1. Each state change is one Lua script over one
 * customer's keys; reads never load more users than a page.
 */
export class DirectoryService {
  readonly redis: RedisClient;
  readonly keys: KeyLayout;
  readonly clock: Clock;
  private readonly generatePassword: PasswordGenerator;

  constructor(options: DirectoryOptions) {
    this.redis = options.redis;
    this.keys = options.keys ?? new KeyLayout();
    this.clock = options.clock ?? systemClock;
    this.generatePassword = options.generatePassword ?? generateTemporaryPassword;
  }

  // ---------------------------------------------------------------- customers and subscriptions

  /** Idempotent upsert; lowering a subscription below its assigned seats is refused. */
  async upsertCustomer(def: CustomerDefinition, actor: Actor): Promise<{ changed: number }> {
    const domains = def.domains.map((d) => d.toLowerCase());
    const args = [def.id, def.name, domains.join(',')];
    for (const s of def.subscriptions) args.push(s.skuId, s.name, String(s.seats));
    // The customer hash is created by the script; make it exist first so the script accepts the customer.
    const [before] = await replies(this.redis.pipeline().hget(this.keys.customerKey(def.id, 'customer'), 'domains')
      .hsetnx(this.keys.customerKey(def.id, 'customer'), 'id', def.id));
    const dropped = String(before ?? '').split(',').filter((d) => d && !domains.includes(d));
    const reply = await this.mutate('pabUpsertCustomer', def.id, { actor, operationId: '-' }, 'provision', def.id, args, []);
    // Global indexes live outside the customer's slot, each in a slot of its own on a cluster: one command per key,
    // sent together (a pipeline may not span slots there). Each write is idempotent.
    const [, , , owners] = await Promise.all([
      this.redis.sadd(this.keys.customers(), def.id),
      this.redis.hset(this.keys.customerNames(), def.id, def.name),
      domains.length ? this.redis.hset(this.keys.domains(), ...domains.flatMap((d) => [d, def.id])) : 0,
      dropped.length ? this.redis.hmget(this.keys.domains(), ...dropped) : ([] as Array<string | null>),
    ]);
    // A domain dropped from the file leaves the lookup, unless another customer has claimed it since.
    const stale = dropped.filter((_, i) => owners[i] === def.id);
    if (stale.length) await this.redis.hdel(this.keys.domains(), ...stale);
    return { changed: Number(reply[1]) };
  }

  async listCustomers(text?: string): Promise<Customer[]> {
    const names = await this.redis.hgetall(this.keys.customerNames());
    const ids = Object.keys(names);
    // Each customer's hash is in its own slot: one HGET each, sent together (no cross-slot pipeline).
    const domains = (await Promise.all(ids.map((id) => this.redis.hget(this.keys.customerKey(id, 'customer'), 'domains')))).map((v) => String(v ?? ''));
    const needle = text?.trim().toLowerCase();
    return ids
      .map((id, i) => ({ id, name: names[id], domains: domains[i].split(',').filter(Boolean) }))
      .filter((c) => !needle || [c.id, c.name, ...c.domains].some((v) => v.toLowerCase().includes(needle)))
      .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  /**
   * Customers named by id, any verified domain or name (case-insensitive). An exact match wins;
   * otherwise every customer whose name contains the text (more than one = ambiguous, the caller asks).
   */
  async findCustomers(reference: string): Promise<Customer[]> {
    const ref = reference.trim().toLowerCase();
    if (!ref) return [];
    // Matching needs only the names and the domain index; domains are read for the matches alone, so naming a
    // customer costs two commands plus one per match, however many customers the partner has.
    const [byDomain, names] = await Promise.all([this.redis.hget(this.keys.domains(), ref), this.redis.hgetall(this.keys.customerNames())]);
    const all = Object.keys(names).map((id) => ({ id, name: names[id] }));
    const exact = all.filter((c) => c.id.toLowerCase() === ref || c.id === byDomain || c.name.toLowerCase() === ref);
    const matches = (exact.length ? exact : all.filter((c) => c.name.toLowerCase().includes(ref))).sort(
      (a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id),
    );
    const domains = await Promise.all(matches.map((c) => this.redis.hget(this.keys.customerKey(c.id, 'customer'), 'domains')));
    return matches.map((c, i) => ({ ...c, domains: String(domains[i] ?? '').split(',').filter(Boolean) }));
  }

  async getCustomer(customerId: string): Promise<Customer> {
    const hash = await this.redis.hgetall(this.keys.customerKey(customerId, 'customer'));
    if (!hash.name) throw new DirectoryError('CUSTOMER_NOT_FOUND', { customer: customerId });
    return { id: customerId, name: hash.name, domains: hash.domains.split(',').filter(Boolean) };
  }

  async getSubscriptions(customerId: string): Promise<Subscription[]> {
    return (await this.getSubscriptionsAndCounts(customerId)).subscriptions;
  }

  /** Counts shown on the Users and licenses card. */
  async getCounts(customerId: string): Promise<UserCounts> {
    const [counts] = await this.readHashes(customerId, ['counts']);
    return countsOf(counts);
  }

  /** Both, from one read of the counters (the Users and licenses card needs both). */
  async getSubscriptionsAndCounts(customerId: string): Promise<{ subscriptions: Subscription[]; counts: UserCounts }> {
    const [names, seats, counts] = await this.readHashes(customerId, ['skus', 'seats', 'counts']);
    const subscriptions = Object.keys(names)
      .sort()
      .map((skuId) => {
        const totalSeats = Number(seats[skuId] ?? 0);
        const assignedSeats = Number(counts[`lic:${skuId}`] ?? 0);
        return { skuId, name: names[skuId], totalSeats, assignedSeats, availableSeats: totalSeats - assignedSeats };
      });
    return { subscriptions, counts: countsOf(counts) };
  }

  private async readHashes(customerId: string, names: Array<'skus' | 'seats' | 'counts' | 'customer'>) {
    const pipeline = this.redis.pipeline();
    pipeline.exists(this.keys.customerKey(customerId, 'customer'));
    for (const n of names) pipeline.hgetall(this.keys.customerKey(customerId, n));
    const results = await replies(pipeline);
    if (Number(results[0]) !== 1) throw new DirectoryError('CUSTOMER_NOT_FOUND', { customer: customerId });
    return results.slice(1) as Array<Record<string, string>>;
  }

  // ---------------------------------------------------------------- reading users

  async listUsers(customerId: string, query: ListUsersQuery = {}): Promise<UserPage> {
    const pageSize = Math.min(Math.max(query.pageSize ?? 20, 1), 100);
    const page = Math.max(query.page ?? 1, 1);
    const filter = query.filter ?? { kind: 'all' };
    const k = (n: Parameters<KeyLayout['customerKey']>[1]) => this.keys.customerKey(customerId, n);
    const reply = await runScript(
      this.redis,
      'pabListUsers',
      [k('counts'), k('idx:active'), k('idx:unlicensed'), k('idx:license'), k('idx:role')],
      [
        filter.kind,
        filter.kind === 'license' ? filter.skuId : '',
        query.role ?? '',
        (query.search ?? '').trim().toLowerCase(),
        (page - 1) * pageSize,
        pageSize,
      ],
    );
    const total = Number(reply[0]);
    const ids = reply.slice(1).map((m) => String(m).slice(String(m).lastIndexOf(SEP) + 1));
    const users = await this.readUsers(customerId, ids);
    if (!users.length && total === 0) await this.getCustomer(customerId); // unknown customer → typed error
    return { users: users.filter((u): u is CustomerUser => u !== null), total, page, pageSize, pageCount: Math.max(1, Math.ceil(total / pageSize)) };
  }

  async getUser(customerId: string, userId: string): Promise<CustomerUser> {
    const [user] = await this.readUsers(customerId, [userId]);
    if (user) return user;
    await this.getCustomer(customerId); // unknown customer → its own typed error
    throw new DirectoryError('USER_NOT_FOUND', { user: userId });
  }

  async readUsers(customerId: string, userIds: string[]): Promise<Array<CustomerUser | null>> {
    if (!userIds.length) return [];
    const pipeline = this.redis.pipeline();
    // HMGET of named fields: the client keeps the reply an array (no object built per field) and skips the sort key.
    for (const id of userIds) pipeline.hmget(this.keys.user(customerId, id), ...USER_READ_FIELDS);
    return ((await replies(pipeline)) as Array<Array<string | null>>).map((values) => (values[0] ? toUser(customerId, userHashOf(values)) : null));
  }

  /** A user named by id, UPN, or username within one of the customer's domains (active users first). */
  async findUser(customerId: string, reference: string): Promise<CustomerUser> {
    const ref = reference.trim();
    const customer = await this.getCustomer(customerId);
    const lower = ref.toLowerCase();
    const candidates = lower.includes('@') ? [lower] : customer.domains.map((d) => `${lower}@${d}`);
    const pipeline = this.redis.pipeline();
    for (const upn of candidates) pipeline.hget(this.keys.customerKey(customerId, 'upn'), upn);
    const ids = ((await replies(pipeline)) as Array<string | null>).filter((v): v is string => !!v);
    const id = ids[0] ?? ref;
    const [user] = await this.readUsers(customerId, [id]);
    if (user) return user;
    // Deleted users have left the UPN index: look among them by UPN or username.
    const deleted = await this.listDeletedUsers(customerId);
    const match = deleted.find((u) => u.userPrincipalName.toLowerCase() === lower || (!lower.includes('@') && u.username.toLowerCase() === lower));
    if (match) return match;
    throw new DirectoryError('USER_NOT_FOUND', { user: ref });
  }

  async listDeletedUsers(customerId: string): Promise<DeletedUser[]> {
    await this.getCustomer(customerId);
    const ids = await this.redis.zrevrange(this.keys.customerKey(customerId, 'deleted'), 0, -1);
    const users = await this.readUsers(customerId, ids);
    const now = this.clock.now();
    return users
      .filter((u): u is CustomerUser => u !== null && u.state === 'deleted' && u.deletedAt !== null)
      .map((u) => ({ ...u, deletedAt: u.deletedAt as number, daysLeft: restoreDaysLeft(u.deletedAt as number, now) }))
      .filter((u) => now - u.deletedAt <= RESTORE_WINDOW_MS)
      // Newest deletion first; users deleted together (one selection) by display name, so the list is stable.
      .sort((a, b) => b.deletedAt - a.deletedAt || a.displayName.localeCompare(b.displayName) || a.id.localeCompare(b.id));
  }

  /**
   * Every active user of a listing (all pages), when there are at most `limit`; otherwise a typed error with the
   * count, so that the caller can ask for a narrower listing.
   */
  async listAllUsers(customerId: string, query: Omit<ListUsersQuery, 'page' | 'pageSize'>, limit = MAX_USERS_PER_CHANGE): Promise<CustomerUser[]> {
    const pageSize = 100;
    const first = await this.listUsers(customerId, { ...query, page: 1, pageSize });
    if (first.total > limit) throw new DirectoryError('TOO_MANY_USERS', { max: limit, given: first.total, listing: 1 });
    const users = [...first.users];
    for (let page = 2; page <= first.pageCount; page++) users.push(...(await this.listUsers(customerId, { ...query, page, pageSize })).users);
    return users;
  }

  /**
   * Keeps a selection of users with the versions they were seen at, for a card whose data cannot carry them all
   * (500 ids and versions are more than a card's 28 kB). One key, written with its expiry in one transaction.
   */
  async saveSelection(customerId: string, users: Array<Pick<CustomerUser, 'id' | 'version'>>): Promise<string> {
    if (!users.length || users.length > MAX_USERS_PER_CHANGE) throw new DirectoryError('INVALID_FIELD', { field: 'users', reason: 'count' });
    const selectionId = randomUUID();
    const key = this.keys.selection(customerId, selectionId);
    await replies(this.redis.multi().hset(key, ...users.flatMap((u) => [u.id, String(u.version)])).pexpire(key, SELECTION_TTL_MS));
    return selectionId;
  }

  /** The users and versions of a saved selection, or null once it has expired. */
  async readSelection(customerId: string, selectionId: string): Promise<Record<string, number> | null> {
    const stored = await this.redis.hgetall(this.keys.selection(customerId, selectionId));
    const entries = Object.entries(stored);
    return entries.length ? Object.fromEntries(entries.map(([id, version]) => [id, Number(version)])) : null;
  }

  async audit(customerId: string, page = 1, pageSize = 20): Promise<{ entries: AuditEntry[]; total: number }> {
    await this.getCustomer(customerId);
    const key = this.keys.customerKey(customerId, 'audit');
    const start = (Math.max(page, 1) - 1) * pageSize;
    const [raw, total] = (await replies(this.redis.pipeline().lrange(key, start, start + pageSize - 1).llen(key))) as [string[], number];
    return { entries: raw.map(parseAudit), total };
  }

  /**
   * Audits a refused request (it changed nothing): always in the partner-wide refusal log, and in the
   * customer's audit log when the request named an existing customer.
   */
  async recordRefusal(actor: Actor, action: string, reason: string, customerReference?: string): Promise<void> {
    const entry = (target: string) => [this.clock.now(), actor.id, actor.name, action, target, `refused: ${reason}`, ''].join('\x1f');
    const matches = customerReference ? await this.findCustomers(customerReference) : [];
    const customer = matches.length === 1 ? matches[0] : undefined;
    // Two lists in two slots: one pipeline per list (a pipeline may not span slots on a cluster).
    const writes = [replies(this.redis.pipeline().lpush(this.keys.refusals(), entry(customer?.id ?? customerReference ?? '')).ltrim(this.keys.refusals(), 0, AUDIT_CAP - 1))];
    if (customer) {
      const key = this.keys.customerKey(customer.id, 'audit');
      writes.push(replies(this.redis.pipeline().lpush(key, entry(customer.id)).ltrim(key, 0, AUDIT_CAP - 1)));
    }
    await Promise.all(writes);
  }

  async refusals(count = 50): Promise<AuditEntry[]> {
    return (await this.redis.lrange(this.keys.refusals(), 0, count - 1)).map(parseAudit);
  }

  async verifyUserPassword(customerId: string, userId: string, password: string): Promise<boolean> {
    const hash = await this.redis.hget(this.keys.user(customerId, userId), 'pwHash');
    return !!hash && verifyPassword(password, hash);
  }

  // ---------------------------------------------------------------- changes

  /** `withoutPassword`: for users that already exist in the tenant (provisioning); the bot never learns theirs. */
  async createUser(
    customerId: string,
    input: NewUserInput,
    options: OperationOptions & { withoutPassword?: boolean },
  ): Promise<CreatedUser & { replayed: boolean }> {
    const customer = await this.getCustomer(customerId);
    const username = validateUsername(input.username);
    const domain = validateDomain(input.domain ?? customer.domains[0], customer.domains);
    const upn = validateUpn(username, domain);
    const firstName = validateName(input.firstName, 'firstName', 64, false);
    const lastName = validateName(input.lastName, 'lastName', 64, false);
    const displayName = validateName(input.displayName || [firstName, lastName].filter(Boolean).join(' '), 'displayName', 256, true);
    const usageLocation = validateUsageLocation(input.usageLocation);
    let role = validateRole(input.role);
    let licenses = validateSkuIds(input.licenses ?? []);
    if (input.likeUserId) {
      const model = await this.getUser(customerId, input.likeUserId);
      role = model.role;
      licenses = [...new Set([...licenses, ...model.licenses])];
    }
    const password = options.withoutPassword ? '' : this.generatePassword();
    const id = randomUUID();
    const now = this.clock.now();
    const reply = await this.mutate('pabCreateUser', customerId, options, 'create-user', upn, [
      id, upn, username, domain, displayName, firstName, lastName, usageLocation, role, licenses.sort().join(','),
      password ? await hashPassword(password) : '', password ? '1' : '0', sortKey(displayName, upn),
    ], [this.keys.user(customerId, id)], now);
    // A replay that created the very id drawn above is this call's own script, re-sent by the client after its reply
    // was lost: the user and the password are this call's, so the password is shown now (it never was).
    const replayed = reply.replayed && String(reply[1]) !== id;
    // The script wrote exactly these fields; only a replay (first result, maybe another user) reads back.
    const user: CustomerUser = replayed
      ? await this.getUser(customerId, String(reply[1]))
      : {
          id, customerId, userPrincipalName: upn, username, domain, displayName, firstName, lastName, usageLocation, role,
          licenses: [...licenses].sort(), state: 'active', createdAt: now, deletedAt: null, rememberedLicenses: [],
          version: Number(reply[2]), mustChangePassword: !!password, hasPassword: !!password,
        };
    // A replay returns the first result; its password was shown then and is not kept anywhere.
    return { user, temporaryPassword: replayed ? '' : password, replayed };
  }

  /**
   * Assign and/or remove licenses for up to 500 users: all or nothing, seats checked for the whole set.
   * `replace` moves the users that hold one license to another, leaving their other licenses and the
   * users without it untouched.
   */
  async changeLicenses(
    customerId: string,
    users: UserRef[],
    change: { add?: string[]; remove?: string[]; replace?: { from: string; to: string } },
    options: OperationOptions,
  ): Promise<LicenseChangeResult[]> {
    if (change.replace && (change.add?.length || change.remove?.length)) {
      throw new DirectoryError('INVALID_FIELD', { field: 'licenses', reason: 'addAndRemove' });
    }
    const add = validateSkuIds(change.replace ? [change.replace.to] : (change.add ?? []));
    const remove = validateSkuIds(change.replace ? [change.replace.from] : (change.remove ?? []));
    const onlyHolders = change.replace ? remove[0] : '';
    const both = add.find((s) => remove.includes(s));
    if (both) throw new DirectoryError('INVALID_FIELD', { field: 'licenses', reason: 'addAndRemove' });
    const refs = uniqueRefs(users);
    const target = `${refs.length} user(s)`;
    const reply = await this.mutate(
      'pabChangeLicenses',
      customerId,
      options,
      'change-licenses',
      target,
      [add.join(','), remove.join(','), onlyHolders, ...refs.map((r) => versionArg(r.expectedVersion))],
      refs.map((r) => this.keys.user(customerId, r.userId)),
    );
    const results: LicenseChangeResult[] = [];
    for (let i = 2; i < reply.length; i += 5) {
      results.push({
        userId: String(reply[i]),
        changed: String(reply[i + 1]) === '1',
        added: csv(reply[i + 2]),
        removed: csv(reply[i + 3]),
        version: Number(reply[i + 4]),
      });
    }
    return results;
  }

  async resetPassword(customerId: string, user: UserRef, options: OperationOptions): Promise<{ user: CustomerUser; temporaryPassword: string; replayed: boolean }> {
    const password = this.generatePassword();
    const hash = await hashPassword(password);
    const current = await this.getUser(customerId, user.userId);
    const reply = await this.mutate(
      'pabResetPassword',
      customerId,
      options,
      'reset-password',
      current.userPrincipalName,
      [versionArg(user.expectedVersion), hash],
      [this.keys.user(customerId, user.userId)],
    );
    if (reply.replayed) {
      const stored = await this.getUser(customerId, user.userId);
      // The stored hash is this call's own (salted, so unique): its script was re-sent after its reply was lost, and
      // this password, never shown, is the one that works.
      const own = (await this.redis.hget(this.keys.user(customerId, user.userId), 'pwHash')) === hash;
      return own ? { user: stored, temporaryPassword: password, replayed: false } : { user: stored, temporaryPassword: '', replayed: true };
    }
    const updated: CustomerUser = { ...current, version: Number(reply[2]), mustChangePassword: true, hasPassword: true };
    return { user: updated, temporaryPassword: password, replayed: false };
  }

  /** Soft delete, all or nothing: seats freed, licenses remembered for a restore within 30 days. */
  async deleteUsers(customerId: string, users: UserRef[], options: OperationOptions): Promise<Array<{ userId: string; version: number; rememberedLicenses: string[] }>> {
    const refs = uniqueRefs(users);
    const reply = await this.mutate(
      'pabDeleteUsers',
      customerId,
      options,
      'delete-users',
      `${refs.length} user(s)`,
      refs.map((r) => versionArg(r.expectedVersion)),
      refs.map((r) => this.keys.user(customerId, r.userId)),
    );
    const out = [];
    for (let i = 2; i < reply.length; i += 3) {
      out.push({ userId: String(reply[i]), version: Number(reply[i + 1]), rememberedLicenses: csv(reply[i + 2]) });
    }
    return out;
  }

  /**
   * Restore within 30 days. Each remembered license comes back where a seat is free; the others are
   * named. A user whose UPN was taken meanwhile fails unless a new username is given; the others still restore.
   */
  async restoreUsers(customerId: string, requests: RestoreRequest[], options: OperationOptions): Promise<RestoreOutcome[]> {
    const refs = uniqueRefs(requests) as RestoreRequest[];
    const args: string[] = [String(RESTORE_WINDOW_MS)];
    for (const r of refs) {
      args.push(r.newUsername ? validateUsername(r.newUsername, 'newUsername') : '', versionArg(r.expectedVersion));
    }
    const reply = await this.mutate(
      'pabRestoreUsers',
      customerId,
      options,
      'restore-users',
      `${refs.length} user(s)`,
      args,
      refs.map((r) => this.keys.user(customerId, r.userId)),
    );
    const out: RestoreOutcome[] = [];
    for (let i = 2; i < reply.length; i += 5) {
      const userId = String(reply[i]);
      const status = String(reply[i + 1]);
      const userPrincipalName = String(reply[i + 2]);
      out.push(
        status === 'OK'
          ? { userId, ok: true, userPrincipalName, restoredLicenses: csv(reply[i + 3]), notRestoredLicenses: csv(reply[i + 4]) }
          : { userId, ok: false, userPrincipalName, error: status as Extract<RestoreOutcome, { ok: false }>['error'] },
      );
    }
    return out;
  }

  /** Roll-back of a half-done all-or-nothing import: removes users still exactly as created. */
  async discardNewUsers(customerId: string, userIds: string[], actor: Actor): Promise<number> {
    if (!userIds.length) return 0;
    const reply = await this.mutate('pabDiscardNewUsers', customerId, { actor, operationId: '-' }, 'discard-new-users', `${userIds.length} user(s)`, [], userIds.map((id) => this.keys.user(customerId, id)));
    return Number(reply[1]);
  }

  /**
   * Removes users deleted more than 30 days ago, for good. Candidates are read first so the script can
   * declare their keys; the script re-checks each one, so concurrent purgers never double-count.
   */
  async purgeExpired(customerId?: string): Promise<number> {
    const customers = customerId ? [customerId] : await this.redis.smembers(this.keys.customers());
    const cutoff = this.clock.now() - RESTORE_WINDOW_MS;
    let purged = 0;
    for (const id of customers) {
      for (;;) {
        const ids = await this.redis.zrangebyscore(this.keys.customerKey(id, 'deleted'), '-inf', `(${cutoff}`, 'LIMIT', 0, PURGE_BATCH);
        if (!ids.length) break;
        const reply = await this.mutate('pabPurgeUsers', id, { actor: SYSTEM_ACTOR, operationId: '-' }, 'purge', 'expired users', [String(cutoff - 1)], ids.map((u) => this.keys.user(id, u)));
        purged += Number(reply[1]);
        if (ids.length < PURGE_BATCH) break;
      }
    }
    return purged;
  }

  // ---------------------------------------------------------------- plumbing

  /** Runs a mutating script; a typed error for 'ERR' replies. Operation id '-' = not idempotent. */
  private async mutate(
    script: MutatingScript,
    customerId: string,
    options: OperationOptions,
    action: string,
    target: string,
    args: string[],
    userKeys: string[],
    now = this.clock.now(),
  ): Promise<ScriptReply & { replayed: boolean }> {
    if (userKeys.length > MAX_USERS_PER_CHANGE) {
      throw new DirectoryError('TOO_MANY_USERS', { max: MAX_USERS_PER_CHANGE, given: userKeys.length });
    }
    const opId = options.operationId ?? randomUUID();
    const idempotent = opId !== '-';
    const keys = [...this.keys.customerKeys(customerId), this.keys.operation(customerId, opId), ...userKeys];
    let reply = await runScript(this.redis, script, keys, [
      now,
      idempotent ? OPERATION_TTL_MS : 0,
      options.actor.id,
      options.actor.name,
      action,
      target,
      ...args,
    ]);
    let replayed = false;
    if (reply[0] === 'REPLAY') {
      reply = String(reply[1]).split('\x1f');
      replayed = true;
    }
    if (reply[0] === 'ERR') throw scriptError(customerId, reply);
    return Object.assign(reply, { replayed });
  }
}

export const SYSTEM_ACTOR: Actor = { id: 'system', name: 'Partner Admin Bot' };

/**
 * The replies of a pipeline. ioredis resolves a pipeline even when its commands failed (e.g. the connection dropped),
 * with an error per command: that error is thrown here, so an outage never reads as an empty or missing value.
 */
async function replies(pipeline: ChainableCommander): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  for (const [err] of results) if (err) throw err;
  return results.map(([, value]) => value);
}

function scriptError(customerId: string, reply: ScriptReply): DirectoryError {
  const code = String(reply[1]) as DirectoryErrorCode;
  const p = reply.slice(2).map(String);
  switch (code) {
    case 'CUSTOMER_NOT_FOUND':
      return new DirectoryError(code, { customer: customerId });
    case 'NO_SEATS':
      return new DirectoryError(code, { license: p[0], seatsLeft: Number(p[1]), seatsNeeded: Number(p[2]) });
    case 'SEATS_BELOW_ASSIGNED':
      return new DirectoryError(code, { license: p[0], assigned: Number(p[1]), seats: Number(p[2]) });
    case 'UPN_TAKEN':
      return new DirectoryError(code, { upn: p[0] });
    case 'UNKNOWN_LICENSE':
      return new DirectoryError(code, { license: p[0] });
    case 'DOMAIN_NOT_IN_CUSTOMER':
      return new DirectoryError(code, { field: 'domain', domain: p[0] });
    default:
      return new DirectoryError(code, { user: p[0] ?? '' });
  }
}

export interface UserCounts {
  active: number;
  unlicensed: number;
  deleted: number;
}

const countsOf = (counts: Record<string, string>): UserCounts => ({
  active: Number(counts.active ?? 0),
  unlicensed: Number(counts.unlicensed ?? 0),
  deleted: Number(counts.deleted ?? 0),
});

function toUser(customerId: string, h: UserHash): CustomerUser {
  return {
    id: h.id,
    customerId,
    userPrincipalName: h.upn,
    username: h.username,
    domain: h.domain,
    displayName: h.displayName,
    firstName: h.firstName,
    lastName: h.lastName,
    usageLocation: h.usageLocation,
    role: h.role as UserRole,
    licenses: csv(h.licenses),
    state: h.state === 'deleted' ? 'deleted' : 'active',
    createdAt: Number(h.createdAt),
    deletedAt: h.deletedAt ? Number(h.deletedAt) : null,
    rememberedLicenses: csv(h.rememberedLicenses),
    version: Number(h.version),
    mustChangePassword: h.mustChange === '1',
    hasPassword: !!h.pwHash,
  };
}

function parseAudit(raw: string): AuditEntry {
  const [at, actorId, actorName, action, target, result, detail] = raw.split('\x1f');
  return { at: Number(at), actorId, actorName, action, target, result, detail: detail ?? '' };
}

const csv = (v: unknown): string[] => String(v ?? '').split(',').filter(Boolean);
const versionArg = (v: number | undefined): string => (v === undefined ? '' : String(v));

export function sortKey(displayName: string, upn: string): string {
  return `${displayName.toLowerCase()}${SEP}${upn.toLowerCase()}`;
}

export function restoreDaysLeft(deletedAt: number, now: number): number {
  return Math.max(0, Math.ceil((deletedAt + RESTORE_WINDOW_MS - now) / DAY_MS));
}

function uniqueRefs<T extends UserRef>(refs: T[]): T[] {
  const seen = new Map<string, T>();
  for (const r of refs) if (!seen.has(r.userId)) seen.set(r.userId, r);
  if (!seen.size) throw new DirectoryError('INVALID_FIELD', { field: 'userIds', reason: 'required' });
  return [...seen.values()];
}
