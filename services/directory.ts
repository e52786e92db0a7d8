import { randomUUID } from 'node:crypto';
import { AuditLog } from './audit';
import { DAY_MS, RESTORE_WINDOW_MS, restoreDaysLeft } from './directories/constants';
import type { CustomerDefinition, DirectoryAccess, DirectoryBackend, UserCounts } from './directories/port';
import { RedisDirectory } from './directories/redis';
import { DirectoryError } from './errors';
import { generateTemporaryPassword, PasswordGenerator, PasswordHasher } from './passwords';
import { KeyLayout } from './store/keys';
import { RedisClient, replies } from './store/redis';
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

export { DAY_MS, RESTORE_WINDOW_MS, OPERATION_TTL_MS, SYSTEM_ACTOR, restoreDaysLeft } from './directories/constants';
export type { CustomerDefinition, DirectoryAccess, UserCounts } from './directories/port';

export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

/** How long a saved selection (the users a Manage licenses card was drawn for) can still be saved: a card's day. */
export const SELECTION_TTL_MS = DAY_MS;
/** The most users one license change takes: the Manage licenses card, `assign`/`unassign` and a saved selection. */
export const MAX_USERS_PER_CHANGE = 500;
/** Users read per backend call when a whole listing is read (a selection of all matching). */
const LISTING_WINDOW = 5000;

export interface DirectoryOptions {
  /** The bot's own state (operation records, selections, audit, jobs); also the directory unless `backend` is given. */
  redis: RedisClient;
  keys?: KeyLayout;
  clock?: Clock;
  generatePassword?: PasswordGenerator;
  /** Where users and licenses live; default: the Redis directory on `redis`. */
  backend?: DirectoryBackend;
  /** How the Redis directory stores temporary passwords; default scrypt (README, Security model). */
  passwordHasher?: PasswordHasher;
}

export interface DeletedUser extends CustomerUser {
  deletedAt: number;
  daysLeft: number;
}

/**
 * The one owner of every business rule of the spec: field rules, like-user copies, passwords, limits, listing pages,
 * the restore window as days left, audit of refusals. Where the users live is behind one port (DirectoryBackend):
 * the Redis directory or Microsoft Graph; the bot and the cards never learn which.
 */
export class DirectoryService {
  readonly redis: RedisClient;
  readonly keys: KeyLayout;
  readonly clock: Clock;
  readonly backend: DirectoryBackend;
  private readonly auditLog: AuditLog;
  private readonly generatePassword: PasswordGenerator;

  constructor(options: DirectoryOptions) {
    this.redis = options.redis;
    this.keys = options.keys ?? new KeyLayout();
    this.clock = options.clock ?? systemClock;
    this.generatePassword = options.generatePassword ?? generateTemporaryPassword;
    this.backend = options.backend ?? new RedisDirectory(this.redis, this.keys, () => this.clock.now(), options.passwordHasher);
    this.auditLog = new AuditLog(this.redis, this.keys);
  }

  // ---------------------------------------------------------------- customers and subscriptions

  /** Idempotent upsert; lowering a subscription below its assigned seats is refused. */
  async upsertCustomer(def: CustomerDefinition, actor: Actor): Promise<{ changed: number }> {
    return this.backend.upsertCustomer(def, actor);
  }

  async listCustomers(text?: string): Promise<Customer[]> {
    const all = await this.backend.customerNames();
    const domains = await this.backend.customerDomains(all.map((c) => c.id));
    const needle = text?.trim().toLowerCase();
    return all
      .map((c, i) => ({ ...c, domains: domains[i] }))
      .filter((c) => !needle || [c.id, c.name, ...c.domains].some((v) => v.toLowerCase().includes(needle)))
      .sort(byName);
  }

  /**
   * Customers named by id, any verified domain or name (case-insensitive). An exact match wins;
   * otherwise every customer whose name contains the text (more than one = ambiguous, the caller asks).
   */
  async findCustomers(reference: string): Promise<Customer[]> {
    const ref = reference.trim().toLowerCase();
    if (!ref) return [];
    // Matching needs only the names and the domain lookup; domains are read for the matches alone, so naming a
    // customer costs two reads plus one per match, however many customers the partner has.
    const [byDomain, all] = await Promise.all([this.backend.customerByDomain(ref), this.backend.customerNames()]);
    const exact = all.filter((c) => c.id.toLowerCase() === ref || c.id === byDomain || c.name.toLowerCase() === ref);
    const matches = (exact.length ? exact : all.filter((c) => c.name.toLowerCase().includes(ref))).sort(byName);
    const domains = await this.backend.customerDomains(matches.map((c) => c.id));
    return matches.map((c, i) => ({ ...c, domains: domains[i] }));
  }

  async getCustomer(customerId: string): Promise<Customer> {
    return this.backend.getCustomer(customerId);
  }

  async getSubscriptions(customerId: string): Promise<Subscription[]> {
    return (await this.backend.subscriptionsAndCounts(customerId)).subscriptions;
  }

  /** Counts shown on the Users and licenses card. */
  async getCounts(customerId: string): Promise<UserCounts> {
    return (await this.backend.subscriptionsAndCounts(customerId)).counts;
  }

  /** Both, from one read of the counters (the Users and licenses card needs both). */
  async getSubscriptionsAndCounts(customerId: string): Promise<{ subscriptions: Subscription[]; counts: UserCounts }> {
    return this.backend.subscriptionsAndCounts(customerId);
  }

  /** What the directory itself lets the calling agent do in this customer; null: only the bot's role table counts. */
  async accessFor(customerId: string): Promise<DirectoryAccess | null> {
    return this.backend.accessFor(customerId);
  }

  // ---------------------------------------------------------------- reading users

  async listUsers(customerId: string, query: ListUsersQuery = {}): Promise<UserPage> {
    const pageSize = Math.min(Math.max(query.pageSize ?? 20, 1), 100);
    const offset = query.offset !== undefined ? Math.max(Math.floor(query.offset), 0) : undefined;
    const page = offset !== undefined ? Math.floor(offset / pageSize) + 1 : Math.max(query.page ?? 1, 1);
    const { users, total } = await this.backend.listUsers(customerId, {
      filter: query.filter ?? { kind: 'all' },
      role: query.role,
      search: (query.search ?? '').trim().toLowerCase(),
      offset: offset ?? (page - 1) * pageSize,
      pageSize,
    });
    return { users, total, page, pageSize, pageCount: Math.max(1, Math.ceil(total / pageSize)) };
  }

  async getUser(customerId: string, userId: string): Promise<CustomerUser> {
    const [user] = await this.backend.readUsers(customerId, [userId]);
    if (user) return user;
    await this.getCustomer(customerId); // unknown customer → its own typed error
    throw new DirectoryError('USER_NOT_FOUND', { user: userId });
  }

  async readUsers(customerId: string, userIds: string[]): Promise<Array<CustomerUser | null>> {
    return userIds.length ? this.backend.readUsers(customerId, userIds) : [];
  }

  /** Active users' ids by UPN (lower-cased), null where none: the import's check for users that already exist. */
  async userIdsByUpn(customerId: string, upns: string[]): Promise<Array<string | null>> {
    return upns.length ? this.backend.userIdsByUpn(customerId, upns) : [];
  }

  /** A user named by id, UPN, or username within one of the customer's domains (active users first). */
  async findUser(customerId: string, reference: string): Promise<CustomerUser> {
    const ref = reference.trim();
    const customer = await this.getCustomer(customerId);
    const lower = ref.toLowerCase();
    const candidates = lower.includes('@') ? [lower] : customer.domains.map((d) => `${lower}@${d}`);
    const ids = (await this.backend.userIdsByUpn(customerId, candidates)).filter((v): v is string => !!v);
    const [user] = await this.backend.readUsers(customerId, [ids[0] ?? ref]);
    if (user) return user;
    // Deleted users have left the UPN lookup: look among them by UPN or username.
    const deleted = await this.listDeletedUsers(customerId);
    const match = deleted.find((u) => u.userPrincipalName.toLowerCase() === lower || (!lower.includes('@') && u.username.toLowerCase() === lower));
    if (match) return match;
    throw new DirectoryError('USER_NOT_FOUND', { user: ref });
  }

  async listDeletedUsers(customerId: string): Promise<DeletedUser[]> {
    const users = await this.backend.deletedUsers(customerId);
    const now = this.clock.now();
    return users
      .filter((u) => u.state === 'deleted' && u.deletedAt !== null)
      .map((u) => ({ ...u, deletedAt: u.deletedAt as number, daysLeft: restoreDaysLeft(u.deletedAt as number, now) }))
      .filter((u) => now - u.deletedAt <= RESTORE_WINDOW_MS)
      // Newest deletion first; users deleted together (one selection) by display name, so the list is stable.
      .sort((a, b) => b.deletedAt - a.deletedAt || a.displayName.localeCompare(b.displayName) || a.id.localeCompare(b.id));
  }

  /**
   * Every active user of a listing (all pages), when there are at most `limit`; otherwise a typed error with the
   * count, so that the caller can ask for a narrower listing.
   */
  async listAllUsers(customerId: string, query: Omit<ListUsersQuery, 'page' | 'pageSize' | 'offset'>, limit = MAX_USERS_PER_CHANGE): Promise<CustomerUser[]> {
    const first = await this.listUsers(customerId, { ...query, page: 1, pageSize: 100 });
    if (first.total > limit) throw new DirectoryError('TOO_MANY_USERS', { max: limit, given: first.total, listing: 1 });
    const users = [...first.users];
    // The rest in windows of thousands: the backend reads each in its own pages (Redis: one script; Graph: pages of up
    // to 999 following @odata.nextLink), where windows of 100 would walk Graph's pages again for every window. A
    // window stays under what one script reply may carry (Lua unpacks at most 8,000 values).
    while (users.length < Math.min(first.total, limit)) {
      const window = await this.backend.listUsers(customerId, {
        filter: query.filter ?? { kind: 'all' },
        role: query.role,
        search: (query.search ?? '').trim().toLowerCase(),
        offset: users.length,
        pageSize: Math.min(LISTING_WINDOW, limit - users.length),
      });
      if (!window.users.length) break;
      users.push(...window.users);
    }
    return users;
  }

  /**
   * Keeps a selection of users with the versions they were seen at, for a card whose data cannot carry them all
   * (500 ids and versions are more than a card's 28 kB), or for the users tab's "all matching" (a bulk job's users).
   * One key, written with its expiry in one transaction.
   */
  async saveSelection(customerId: string, users: Array<Pick<CustomerUser, 'id' | 'version'>>, limit = MAX_USERS_PER_CHANGE): Promise<string> {
    if (!users.length || users.length > limit) throw new DirectoryError('INVALID_FIELD', { field: 'users', reason: 'count' });
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
    return this.auditLog.page(customerId, page, pageSize);
  }

  /**
   * Audits a refused request (it changed nothing): always in the partner-wide refusal log, and in the
   * customer's audit log when the request named an existing customer.
   */
  async recordRefusal(actor: Actor, action: string, reason: string, customerReference?: string): Promise<void> {
    // The refusal is recorded even when the customer cannot be looked up for this caller (a directory that needs the
    // agent's sign-in, or is unreachable): then in the partner-wide log only.
    const matches = customerReference ? await this.findCustomers(customerReference).catch(() => [] as Customer[]) : [];
    const customer = matches.length === 1 ? matches[0] : undefined;
    const entry = (target: string) => ({ at: this.clock.now(), actorId: actor.id, actorName: actor.name, action, target, result: `refused: ${reason}` });
    await Promise.all([
      this.auditLog.append(null, entry(customer?.id ?? customerReference ?? '')),
      customer ? this.auditLog.append(customer.id, entry(customer.id)) : undefined,
    ]);
  }

  /** A background job's audit entry, written once with the job's record of it (offboarding, bulk changes). */
  async auditJobOnce(customerId: string, jobKey: string, guard: string, entry: AuditEntry, also: Record<string, string> = {}): Promise<void> {
    await this.auditLog.appendOnce(customerId, jobKey, guard, entry, also);
  }

  async refusals(count = 50): Promise<AuditEntry[]> {
    return this.auditLog.refusals(count);
  }

  async verifyUserPassword(customerId: string, userId: string, password: string): Promise<boolean> {
    return this.backend.verifyUserPassword(customerId, userId, password);
  }

  // ---------------------------------------------------------------- changes

  /** `withoutPassword`: for users that already exist in the tenant (provisioning); the bot never learns theirs. */
  async createUser(
    customerId: string,
    input: NewUserInput,
    options: OperationOptions & {
      withoutPassword?: boolean;
      /**
       * The customer as the caller just read it (a bulk import reads it once per run, not once per row). Only its
       * domains are used here, and the script checks the domain again atomically.
       */
      customer?: Customer;
    },
  ): Promise<CreatedUser & { replayed: boolean }> {
    const customer = options.customer?.id === customerId ? options.customer : await this.getCustomer(customerId);
    const username = validateUsername(input.username);
    const domain = validateDomain(input.domain ?? customer.domains[0], customer.domains);
    const userPrincipalName = validateUpn(username, domain);
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
    const { user, replayed } = await this.backend.createUser(
      customerId,
      { userPrincipalName, username, domain, displayName, firstName, lastName, usageLocation, role, licenses: [...licenses].sort() },
      password,
      options,
      this.clock.now(),
    );
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
    const { add, remove } = this.licenseChangeOf(change.replace ? { add: [change.replace.to], remove: [change.replace.from] } : change);
    const onlyHolders = change.replace ? remove[0] : '';
    return this.backend.changeLicenses(customerId, limited(uniqueRefs(users)), { add, remove, onlyHolders }, options);
  }

  /** A license change's rules: known-format license ids, none both added and removed. */
  licenseChangeOf(change: { add?: string[]; remove?: string[] }): { add: string[]; remove: string[] } {
    const add = validateSkuIds(change.add ?? []);
    const remove = validateSkuIds(change.remove ?? []);
    if (add.some((s) => remove.includes(s))) throw new DirectoryError('INVALID_FIELD', { field: 'licenses', reason: 'addAndRemove' });
    return { add, remove };
  }

  async resetPassword(customerId: string, user: UserRef, options: OperationOptions): Promise<{ user: CustomerUser; temporaryPassword: string; replayed: boolean }> {
    const password = this.generatePassword();
    const reset = await this.backend.resetPassword(customerId, user, password, options);
    return { user: reset.user, temporaryPassword: reset.replayed ? '' : password, replayed: reset.replayed };
  }

  /** Blocks sign-in at once (offboarding's first step); idempotent, audited by the directory. */
  async blockSignIn(customerId: string, user: UserRef, options: OperationOptions): Promise<{ user: CustomerUser; replayed: boolean }> {
    return this.backend.blockSignIn(customerId, user, options);
  }

  /** Soft delete, all or nothing: seats freed, licenses remembered for a restore within 30 days. */
  async deleteUsers(customerId: string, users: UserRef[], options: OperationOptions): Promise<Array<{ userId: string; version: number; rememberedLicenses: string[] }>> {
    return this.backend.deleteUsers(customerId, limited(uniqueRefs(users)), options);
  }

  /**
   * Restore within 30 days. Each remembered license comes back where a seat is free; the others are
   * named. A user whose UPN was taken meanwhile fails unless a new username is given; the others still restore.
   */
  async restoreUsers(customerId: string, requests: RestoreRequest[], options: OperationOptions): Promise<RestoreOutcome[]> {
    const refs = limited(uniqueRefs(requests)).map((r) => ({
      userId: r.userId,
      expectedVersion: r.expectedVersion,
      newUsername: r.newUsername ? validateUsername(r.newUsername, 'newUsername') : '',
    }));
    return this.backend.restoreUsers(customerId, refs, options);
  }

  /** Roll-back of a half-done all-or-nothing import: removes users still exactly as created. */
  async discardNewUsers(customerId: string, userIds: string[], actor: Actor): Promise<number> {
    if (!userIds.length) return 0;
    return this.backend.discardNewUsers(customerId, limited(userIds.map((userId) => ({ userId }))).map((r) => r.userId), actor);
  }

  /** Removes users deleted more than 30 days ago, for good; safe with several instances purging at once. */
  async purgeExpired(customerId?: string): Promise<number> {
    return this.backend.purgeExpired(customerId, this.clock.now());
  }
}

const byName = (a: { id: string; name: string }, b: { id: string; name: string }) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id);

function uniqueRefs<T extends UserRef>(refs: T[]): T[] {
  const seen = new Map<string, T>();
  for (const r of refs) if (!seen.has(r.userId)) seen.set(r.userId, r);
  if (!seen.size) throw new DirectoryError('INVALID_FIELD', { field: 'userIds', reason: 'required' });
  return [...seen.values()];
}

function limited<T>(refs: T[]): T[] {
  if (refs.length > MAX_USERS_PER_CHANGE) throw new DirectoryError('TOO_MANY_USERS', { max: MAX_USERS_PER_CHANGE, given: refs.length });
  return refs;
}
