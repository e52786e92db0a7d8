import { randomFillSync } from 'node:crypto';
import { DirectoryError, DirectoryErrorCode } from '../errors';
import { PasswordHasher, scryptPasswordHasher } from '../passwords';
import { KeyLayout, SEP } from '../store/keys';
import { RedisClient, replies, runScript, ScriptReply } from '../store/redis';
import { MutatingScript } from '../store/scripts';
import type { Actor, Customer, CustomerUser, LicenseChangeResult, OperationOptions, RestoreOutcome, Subscription, UserRef, UserRole } from '../types';
import { RESTORE_WINDOW_MS, SYSTEM_ACTOR } from './constants';
import type { CustomerDefinition, DirectoryBackend, LicenseChange, UserCounts, UserListing, ValidNewUser } from './port';

const PURGE_BATCH = 200;
/** Pages (and customers' subscriptions) kept by RedisDirectory's cache, most recently stored first out last. */
const CACHED_PAGES = 500;
/** The largest listing window kept in that cache (a card's page, the tab's window). */
const MAX_CACHED_WINDOW = 100;

/** Values read at a customer version, bounded (the oldest stored leaves first). */
class VersionedCache<T> {
  private readonly entries = new Map<string, { version: string; value: T }>();
  constructor(private readonly max: number) {}
  get(key: string): { version: string; value: T } | undefined {
    return this.entries.get(key);
  }
  set(key: string, version: string, value: T): void {
    this.entries.delete(key);
    this.entries.set(key, { version, value });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
  }
  clear(): void {
    this.entries.clear();
  }
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/**
 * A new user's id: 16 characters of [A-Za-z0-9] from the CSPRNG (95 bits). Ids are in every index entry of a user, so
 * the 36 characters of a UUID cost about 120 bytes per user in Redis; users created before keep their UUIDs.
 */
export function newUserId(): string {
  let id = '';
  while (id.length < 16) {
    const b = randomByte();
    if (b < 248) id += ID_ALPHABET[b % 62];
  }
  return id;
}

/**
 * CSPRNG bytes drawn 4 kB at a time (as Node's randomUUID caches its own): a draw per id cost 2.2 µs (0.2 from the
 * pool), a tenth of a change's client-side CPU in row 3's profile; every change draws one (its operation id), a
 * create two.
 */
const randomPool = Buffer.alloc(4096);
let randomPoolAt = randomPool.length;
function randomByte(): number {
  if (randomPoolAt === randomPool.length) {
    randomFillSync(randomPool);
    randomPoolAt = 0;
  }
  return randomPool[randomPoolAt++];
}

const copyCustomer = (c: Customer): Customer => ({ ...c, domains: [...c.domains] });
const customerOf = (id: string, hash: Record<string, string>): Customer => ({ id, name: hash.name, domains: hash.domains.split(',').filter(Boolean) });
/** Callers get their own copies: a cached page is shared. */
const copyUser = (u: CustomerUser): CustomerUser => ({ ...u, licenses: [...u.licenses], rememberedLicenses: [...u.rememberedLicenses] });
/** The most users one change script takes (the service refuses more before calling). */
const MAX_USER_KEYS = 500;

/** User as stored in its Redis hash (all strings). */
type UserHash = Record<string, string>;
/**
 * The stored fields a CustomerUser is made of, in the order readUsers asks for them. Username and domain are the halves
 * of the UPN (records written before this layout also store them, always in step); the sort key is not needed here.
 */
const USER_READ_FIELDS = ['upn', 'displayName', 'firstName', 'lastName', 'usageLocation', 'role', 'licenses', 'state', 'createdAt', 'deletedAt', 'rememberedLicenses', 'version', 'pwHash', 'mustChange', 'signInBlocked'] as const;

function userHashOf(values: Array<string | null>): UserHash {
  const h: UserHash = {};
  USER_READ_FIELDS.forEach((field, i) => (h[field] = values[i] ?? ''));
  return h;
}

/**
 * The bot's own directory in Redis. Each state change is one Lua script over one customer's keys (atomic, one round
 * trip), which also writes the audit entry and the operation record; reads never load more users than a page.
 */
export class RedisDirectory implements DirectoryBackend {
  readonly kind = 'redis' as const;
  /**
   * Users and licenses pages and subscriptions already read, each with the customer version (`counts.ver`, moved by
   * every change script) it was read at. A page is served again only when Redis still has that version (the listing
   * script checks it: one small reply instead of the page's reads), so it is never older than what Redis holds; any
   * instance's change invalidates it. Emptied when the connection is re-established (a Redis that lost its data).
   */
  private readonly pages = new VersionedCache<{ users: CustomerUser[]; total: number }>(CACHED_PAGES);
  private readonly subscriptions = new VersionedCache<{ subscriptions: Subscription[]; counts: UserCounts }>(CACHED_PAGES);
  /**
   * Customers (name, domains) with the version they were read at. Served only against a listing's version in the same
   * tick (the users card reads the customer beside its page): otherwise the customer is read as before, in one round trip.
   */
  private readonly customers = new VersionedCache<Customer>(CACHED_PAGES);
  /** Changes sent and not yet taken in by countersMoved, by the order they were sent (currentVersion waits for them). */
  private readonly changesInFlight = new Map<number, { customerId: string; answered: Promise<unknown> }>();
  private changesSent = 0;
  /** Versions that listings started in the current tick will answer with, by customer (currentVersion). */
  private readonly listingVersions = new Map<string, Promise<string | undefined>>();

  constructor(
    readonly redis: RedisClient,
    readonly keys: KeyLayout,
    private readonly now: () => number,
    /** Default scrypt (`s1$…`); the bot passes the keyed hash when PASSWORD_HASH_KEY is set. Both verify every form. */
    private readonly passwords: PasswordHasher = scryptPasswordHasher,
  ) {
    const forget = () => {
      this.pages.clear();
      this.subscriptions.clear();
      this.customers.clear();
    };
    if (typeof (redis as { on?: unknown }).on === 'function') redis.on('ready', forget).on('close', forget);
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

  async customerNames(): Promise<Array<{ id: string; name: string }>> {
    const names = await this.redis.hgetall(this.keys.customerNames());
    return Object.keys(names).map((id) => ({ id, name: names[id] }));
  }

  async customerByDomain(domain: string): Promise<string | null> {
    return this.redis.hget(this.keys.domains(), domain);
  }

  async customerDomains(customerIds: string[]): Promise<string[][]> {
    // Each customer's hash is in its own slot: one HGET each, sent together (no cross-slot pipeline).
    const domains = await Promise.all(customerIds.map((id) => this.redis.hget(this.keys.customerKey(id, 'customer'), 'domains')));
    return domains.map((d) => String(d ?? '').split(',').filter(Boolean));
  }

  async getCustomer(customerId: string): Promise<Customer> {
    const key = this.keys.customerKey(customerId, 'customer');
    // Only provisioning writes a customer's name and domains, and it moves the version when it does.
    const beside = this.listingVersions.get(customerId);
    if (!beside) {
      const hash = await this.redis.hgetall(key);
      if (!hash.name) throw new DirectoryError('CUSTOMER_NOT_FOUND', { customer: customerId });
      return customerOf(customerId, hash);
    }
    const kept = this.customers.get(customerId);
    if (kept) {
      const version = await beside;
      const current = this.customers.get(customerId);
      if (current && version === current.version) return copyCustomer(current.value);
    }
    // The version first: the customer read after it is as new as that version or newer, never older.
    const [version, hash] = (await replies(this.redis.pipeline().hget(this.keys.customerKey(customerId, 'counts'), 'ver').hgetall(key))) as [string | null, Record<string, string>];
    if (!hash.name) throw new DirectoryError('CUSTOMER_NOT_FOUND', { customer: customerId });
    const customer = customerOf(customerId, hash);
    // A customer without a version yet (none has been provisioned since versions exist) is not kept.
    if (version && version !== '0' && this.customers.get(customerId) === kept) this.customers.set(customerId, version, customer);
    return copyCustomer(customer);
  }

  /** Subscriptions and counts from one read of the counters (the Users and licenses card needs both). */
  async subscriptionsAndCounts(customerId: string): Promise<{ subscriptions: Subscription[]; counts: UserCounts }> {
    // The kept value is looked at after the version is known: replies processed meanwhile (this instance's changes,
    // countersMoved) may have brought it up to that version.
    const version = this.subscriptions.get(customerId) ? await this.currentVersion(customerId) : undefined;
    const cached = this.subscriptions.get(customerId);
    if (cached && version === cached.version) {
      return { subscriptions: cached.value.subscriptions.map((s) => ({ ...s })), counts: { ...cached.value.counts } };
    }
    const result = await this.readSubscriptionsAndCounts(customerId);
    // Unless a change's counters replaced the kept value meanwhile (newer than this read, or as new).
    if (this.subscriptions.get(customerId) === cached) this.subscriptions.set(customerId, result.version, result);
    return { subscriptions: result.subscriptions.map((s) => ({ ...s })), counts: { ...result.counts } };
  }

  /**
   * The customer's version as Redis has it now. A listing of the customer started in the same tick (the users card
   * reads its page and its subscriptions side by side) reads it in its script: that answer is used rather than a
   * command of its own, DataLoader-style. Only within the tick, so never a version read before the caller asked.
   */
  private async currentVersion(customerId: string): Promise<string> {
    const beside = await this.listingVersions.get(customerId);
    if (beside !== undefined) return beside;
    const sentAfter = this.changesSent;
    const version = (await this.redis.hget(this.keys.customerKey(customerId, 'counts'), 'ver')) ?? '0';
    // Changes sent before this read were answered before it (one connection, in order), but their callers' promise
    // chains are longer than this one: let them bring the kept counters up to date first (countersMoved).
    const earlier = [...this.changesInFlight].filter(([sent, c]) => sent <= sentAfter && c.customerId === customerId).map(([, c]) => c.answered);
    if (earlier.length) await Promise.all(earlier);
    return version;
  }

  private async readSubscriptionsAndCounts(customerId: string): Promise<{ subscriptions: Subscription[]; counts: UserCounts; version: string }> {
    const [names, seats, counts] = await this.readHashes(customerId, ['skus', 'seats', 'counts']);
    const subscriptions = Object.keys(names)
      .sort()
      .map((skuId) => {
        const totalSeats = Number(seats[skuId] ?? 0);
        const assignedSeats = Number(counts[`lic:${skuId}`] ?? 0);
        return { skuId, name: names[skuId], totalSeats, assignedSeats, availableSeats: totalSeats - assignedSeats };
      });
    return { subscriptions, counts: countsOf(counts), version: counts.ver ?? '0' };
  }

  /** The bot's own role table is the only one: this directory grants no rights of its own. */
  async accessFor(): Promise<null> {
    return null;
  }

  private async readHashes(customerId: string, names: Array<'skus' | 'seats' | 'counts' | 'customer'>) {
    const pipeline = this.redis.pipeline();
    pipeline.exists(this.keys.customerKey(customerId, 'customer'));
    for (const n of names) pipeline.hgetall(this.keys.customerKey(customerId, n));
    const results = await replies(pipeline);
    if (Number(results[0]) !== 1) throw new DirectoryError('CUSTOMER_NOT_FOUND', { customer: customerId });
    return results.slice(1) as Array<Record<string, string>>;
  }

  /**
   * Rewrites every customer's index entries written before layout 3 (with the UPN in them) to the short form, one
   * script per customer (atomic for that customer; a no-op once done). Run at start-up, before any request; returns
   * how many entries were rewritten.
   */
  async migrateLayout(): Promise<number> {
    let moved = 0;
    for (const id of await this.redis.smembers(this.keys.customers())) {
      const k = (n: Parameters<KeyLayout['customerKey']>[1]) => this.keys.customerKey(id, n);
      const [n] = await runScript(this.redis, 'pabMigrateLayout', [k('counts'), k('idx:active'), k('idx:unlicensed'), k('idx:license'), k('idx:role')], []);
      moved += Number(n);
    }
    return moved;
  }

  // ---------------------------------------------------------------- reading users

  async listUsers(customerId: string, listing: UserListing): Promise<{ users: CustomerUser[]; total: number }> {
    const { filter } = listing;
    const k = (n: Parameters<KeyLayout['customerKey']>[1]) => this.keys.customerKey(customerId, n);
    const args = [filter.kind, filter.kind === 'license' ? filter.skuId : '', listing.role ?? '', listing.search, String(listing.offset), String(listing.pageSize)];
    const cacheKey = `${customerId}\0${args.join('\0')}`;
    const cached = this.pages.get(cacheKey);
    const call = runScript(this.redis, 'pabListUsers', [k('counts'), k('idx:active'), k('idx:unlicensed'), k('idx:license'), k('idx:role'), k('upn')], [...args, cached?.version ?? '']);
    this.shareVersion(customerId, call.then((r) => (r[0] === 'SAME' ? cached?.version : String(r[1])), () => undefined));
    const reply = await call;
    if (reply[0] === 'SAME' && cached) return { users: cached.value.users.map(copyUser), total: cached.value.total };
    const total = Number(reply[0]);
    const ids = reply.slice(2).map((m) => String(m).slice(String(m).lastIndexOf(SEP) + 1));
    // Read after the script: the users are as new as the version the script saw, or newer (never older).
    const users = await this.readUsers(customerId, ids);
    if (!users.length && total === 0) await this.getCustomer(customerId); // unknown customer → typed error
    const page = { users: users.filter((u): u is CustomerUser => u !== null), total };
    // Windows the cards and the tab show are kept; a whole listing read for a selection is not (thousands of users).
    if (listing.pageSize <= MAX_CACHED_WINDOW) this.pages.set(cacheKey, String(reply[1]), page);
    return { users: page.users.map(copyUser), total };
  }

  /** Offers a listing's version to version checks of the same customer until the end of the current tick. */
  private shareVersion(customerId: string, version: Promise<string | undefined>): void {
    this.listingVersions.set(customerId, version);
    process.nextTick(() => {
      if (this.listingVersions.get(customerId) === version) this.listingVersions.delete(customerId);
    });
  }

  async readUsers(customerId: string, userIds: string[]): Promise<Array<CustomerUser | null>> {
    if (!userIds.length) return [];
    const pipeline = this.redis.pipeline();
    // HMGET of named fields: the client keeps the reply an array (no object built per field) and skips the sort key.
    for (const id of userIds) pipeline.hmget(this.keys.user(customerId, id), ...USER_READ_FIELDS);
    // Every user has a UPN: none means no such user. The id is the key's (layout 3 does not store it again).
    return ((await replies(pipeline)) as Array<Array<string | null>>).map((values, i) => (values[0] ? toUser(customerId, userIds[i], userHashOf(values)) : null));
  }

  async userIdsByUpn(customerId: string, upns: string[]): Promise<Array<string | null>> {
    const key = this.keys.customerKey(customerId, 'upn');
    const ids: Array<string | null> = [];
    for (let i = 0; i < upns.length; i += 1000) {
      const chunk = upns.slice(i, i + 1000);
      ids.push(...(await this.redis.hmget(key, ...chunk)));
    }
    return ids;
  }

  async deletedUsers(customerId: string): Promise<CustomerUser[]> {
    await this.getCustomer(customerId);
    const ids = await this.redis.zrevrange(this.keys.customerKey(customerId, 'deleted'), 0, -1);
    return (await this.readUsers(customerId, ids)).filter((u): u is CustomerUser => u !== null && u.state === 'deleted' && u.deletedAt !== null);
  }

  async verifyUserPassword(customerId: string, userId: string, password: string): Promise<boolean> {
    const hash = await this.redis.hget(this.keys.user(customerId, userId), 'pwHash');
    return !!hash && this.passwords.verify(password, hash);
  }

  // ---------------------------------------------------------------- changes

  async createUser(customerId: string, input: ValidNewUser, password: string, options: OperationOptions, now: number): Promise<{ user: CustomerUser; replayed: boolean }> {
    const id = newUserId();
    const upn = input.userPrincipalName;
    const licenses = [...input.licenses].sort();
    const reply = await this.mutate('pabCreateUser', customerId, options, 'create-user', upn, [
      id, upn, input.username, input.domain, input.displayName, input.firstName, input.lastName, input.usageLocation, input.role, licenses.join(','),
      password ? await this.passwords.hash(password) : '', password ? '1' : '0', sortName(input.displayName),
    ], [this.keys.user(customerId, id)], now);
    // A replay that created the very id drawn above is this call's own script, re-sent by the client after its reply
    // was lost: the user and the password are this call's, so the password is shown now (it never was).
    const replayed = reply.replayed && String(reply[1]) !== id;
    if (replayed) return { user: await this.getUser(customerId, String(reply[1])), replayed };
    // The script wrote exactly these fields; only a replay (first result, maybe another user) reads back.
    const user: CustomerUser = {
      id, customerId, userPrincipalName: upn, username: input.username, domain: input.domain, displayName: input.displayName,
      firstName: input.firstName, lastName: input.lastName, usageLocation: input.usageLocation, role: input.role,
      licenses, state: 'active', createdAt: now, deletedAt: null, rememberedLicenses: [],
      version: Number(reply[2]), mustChangePassword: !!password, hasPassword: !!password,
    };
    return { user, replayed: false };
  }

  async changeLicenses(customerId: string, refs: UserRef[], change: LicenseChange, options: OperationOptions): Promise<LicenseChangeResult[]> {
    const reply = await this.mutate(
      'pabChangeLicenses',
      customerId,
      options,
      'change-licenses',
      `${refs.length} user(s)`,
      [change.add.join(','), change.remove.join(','), change.onlyHolders, ...refs.map((r) => versionArg(r.expectedVersion))],
      refs.map((r) => this.keys.user(customerId, r.userId)),
    );
    const results: LicenseChangeResult[] = [];
    // Seven values per user, the last two its names; a record written before holds five (reply[1] is the count).
    const stride = Number(reply[1]) ? (reply.length - 2) / Number(reply[1]) : 5;
    for (let i = 2; i < reply.length; i += stride) {
      results.push({
        userId: String(reply[i]),
        changed: String(reply[i + 1]) === '1',
        added: csv(reply[i + 2]),
        removed: csv(reply[i + 3]),
        version: Number(reply[i + 4]),
        ...(stride === 7 ? { displayName: String(reply[i + 5]), userPrincipalName: String(reply[i + 6]) } : {}),
      });
    }
    return results;
  }

  async resetPassword(customerId: string, ref: UserRef, password: string, options: OperationOptions): Promise<{ user: CustomerUser; replayed: boolean }> {
    const hash = await this.passwords.hash(password);
    const current = await this.getUser(customerId, ref.userId);
    const reply = await this.mutate(
      'pabResetPassword',
      customerId,
      options,
      'reset-password',
      current.userPrincipalName,
      [versionArg(ref.expectedVersion), hash],
      [this.keys.user(customerId, ref.userId)],
    );
    if (reply.replayed) {
      const stored = await this.getUser(customerId, ref.userId);
      // The stored hash is this call's own (salted, so unique): its script was re-sent after its reply was lost, and
      // this password, never shown, is the one that works.
      const own = (await this.redis.hget(this.keys.user(customerId, ref.userId), 'pwHash')) === hash;
      return { user: stored, replayed: !own };
    }
    return { user: { ...current, version: Number(reply[2]), mustChangePassword: true, hasPassword: true }, replayed: false };
  }

  async blockSignIn(customerId: string, ref: UserRef, options: OperationOptions): Promise<{ user: CustomerUser; replayed: boolean }> {
    const reply = await this.mutate('pabBlockSignIn', customerId, options, 'block-sign-in', ref.userId, [versionArg(ref.expectedVersion)], [this.keys.user(customerId, ref.userId)]);
    return { user: await this.getUser(customerId, ref.userId), replayed: reply.replayed };
  }

  async deleteUsers(customerId: string, refs: UserRef[], options: OperationOptions): Promise<Array<{ userId: string; version: number; rememberedLicenses: string[] }>> {
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

  async restoreUsers(customerId: string, refs: Array<UserRef & { newUsername: string }>, options: OperationOptions): Promise<RestoreOutcome[]> {
    const args: string[] = [String(RESTORE_WINDOW_MS)];
    for (const r of refs) args.push(r.newUsername, versionArg(r.expectedVersion));
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

  async discardNewUsers(customerId: string, userIds: string[], actor: Actor): Promise<number> {
    const reply = await this.mutate('pabDiscardNewUsers', customerId, { actor, operationId: '-' }, 'discard-new-users', `${userIds.length} user(s)`, [], userIds.map((id) => this.keys.user(customerId, id)));
    return Number(reply[1]);
  }

  /**
   * Candidates are read first so the script can declare their keys; the script re-checks each one, so concurrent
   * purgers never double-count.
   */
  async purgeExpired(customerId: string | undefined, now: number): Promise<number> {
    const customers = customerId ? [customerId] : await this.redis.smembers(this.keys.customers());
    const cutoff = now - RESTORE_WINDOW_MS;
    let purged = 0;
    for (const id of customers) {
      for (;;) {
        const ids = await this.redis.zrangebyscore(this.keys.customerKey(id, 'deleted'), '-inf', `(${cutoff}`, 'LIMIT', 0, PURGE_BATCH);
        if (!ids.length) break;
        const reply = await this.mutate('pabPurgeUsers', id, { actor: SYSTEM_ACTOR, operationId: '-' }, 'purge', 'expired users', [String(cutoff - 1)], ids.map((u) => this.keys.user(id, u)), now);
        purged += Number(reply[1]);
        if (ids.length < PURGE_BATCH) break;
      }
    }
    return purged;
  }

  // ---------------------------------------------------------------- plumbing

  private async getUser(customerId: string, userId: string): Promise<CustomerUser> {
    const [user] = await this.readUsers(customerId, [userId]);
    if (user) return user;
    await this.getCustomer(customerId); // unknown customer → its own typed error
    throw new DirectoryError('USER_NOT_FOUND', { user: userId });
  }

  /** Runs a mutating script; a typed error for 'ERR' replies. Operation id '-' = not idempotent. */
  private async mutate(
    script: MutatingScript,
    customerId: string,
    options: OperationOptions,
    action: string,
    target: string,
    args: string[],
    userKeys: string[],
    now = this.now(),
  ): Promise<ScriptReply & { replayed: boolean }> {
    if (userKeys.length > MAX_USER_KEYS) throw new DirectoryError('TOO_MANY_USERS', { max: MAX_USER_KEYS, given: userKeys.length });
    // Without the caller's id, a drawn one still guards against the client re-sending the script after a lost reply;
    // 16 characters like a user id (a UUID's 36 made each record 16 B larger in Redis).
    const opId = options.operationId ?? newUserId();
    const idempotent = opId !== '-';
    const record = this.keys.operationRecords(customerId, opId, now);
    const keys = [...this.keys.customerKeys(customerId), record.legacy, record.current, record.previous, record.next, ...userKeys];
    const sent = ++this.changesSent;
    const call = runScript(this.redis, script, keys, [
      now,
      idempotent ? `${record.ttlMs} ${opId}` : '0',
      options.actor.id,
      options.actor.name,
      action,
      target,
      ...args,
    ]).then((answer) => {
      if (answer[0] === 'OK') {
        // The counters the change moved come last (scripts.ts); the methods read the result without them.
        const moved = String(answer.pop() ?? '');
        // A customer's provisioning changes its skus and seats too: those are read again.
        if (script !== 'pabUpsertCustomer') this.countersMoved(customerId, moved);
      }
      return answer;
    });
    this.changesInFlight.set(sent, { customerId, answered: call.catch(() => undefined) });
    let reply: ScriptReply;
    try {
      reply = await call;
    } finally {
      this.changesInFlight.delete(sent);
    }
    let replayed = false;
    if (reply[0] === 'REPLAY') {
      reply = String(reply[1]).split('\x1f');
      replayed = true;
    }
    if (reply[0] === 'ERR') throw scriptError(customerId, reply);
    return Object.assign(reply, { replayed });
  }

  /**
   * Brings the kept subscriptions and counts up to a change's result, when they are those of the version just before it
   * (this change was then the only one since they were read; provisioning, which changes skus and seats, is not passed here):
   * the card drawn after a change need not read the customer's counters again. Otherwise they stay as they are, and
   * the next read finds them out of date by the version, as before.
   */
  private countersMoved(customerId: string, moved: string): void {
    const cached = this.subscriptions.get(customerId);
    const customer = this.customers.get(customerId);
    if ((!cached && !customer) || !moved) return;
    const parts = moved.split('\x1f');
    const values = new Map<string, number>();
    for (let i = 0; i + 1 < parts.length; i += 2) values.set(parts[i], Number(parts[i + 1]));
    const version = values.get('ver');
    if (version === undefined) return;
    // A change other than provisioning leaves the customer's name and domains as they were.
    if (customer && String(version - 1) === customer.version) this.customers.set(customerId, String(version), customer.value);
    if (!cached || String(version - 1) !== cached.version) return;
    const subscriptions = cached.value.subscriptions.map((s) => {
      const assigned = values.get(`lic:${s.skuId}`);
      return assigned === undefined ? s : { ...s, assignedSeats: assigned, availableSeats: s.totalSeats - assigned };
    });
    const counts = { ...cached.value.counts };
    for (const field of ['active', 'unlicensed', 'deleted'] as const) {
      const value = values.get(field);
      if (value !== undefined) counts[field] = value;
    }
    this.subscriptions.set(customerId, String(version), { subscriptions, counts });
  }
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

export const countsOf = (counts: Record<string, string>): UserCounts => ({
  active: Number(counts.active ?? 0),
  unlicensed: Number(counts.unlicensed ?? 0),
  deleted: Number(counts.deleted ?? 0),
});

function toUser(customerId: string, id: string, h: UserHash): CustomerUser {
  const at = h.upn.lastIndexOf('@');
  return {
    id,
    customerId,
    userPrincipalName: h.upn,
    username: h.upn.slice(0, at),
    domain: h.upn.slice(at + 1),
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
    // Only when blocked: a user never blocked reads as created.
    ...(h.signInBlocked === '1' ? { signInBlocked: true } : {}),
  };
}

const csv = (v: unknown): string[] => String(v ?? '').split(',').filter(Boolean);
const versionArg = (v: number | undefined): string => (v === undefined ? '' : String(v));

/** What users are sorted by: the lower-cased display name (equal names by id; see keys.ts). */
function sortName(displayName: string): string {
  return displayName.toLowerCase();
}
