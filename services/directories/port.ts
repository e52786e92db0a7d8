/**
 * The one port between the directory's rules (services/directory.ts) and where users and licenses live: the bot's own
 * Redis directory (./redis.ts) or a customer's Microsoft Entra ID through Microsoft Graph (./graph.ts).
 *
 * Everything the service decides — field rules, the like-user copy, password generation, page sizes, the 30-day
 * window shown as days left, the order of lists, how many users one change takes — is decided above this port, once.
 * An adapter only stores and reads, and reports what only it can know (seats really left, a name taken, a stale
 * version, Graph's own refusal) as a typed `DirectoryError`.
 *
 * Operation ids mean the same on both: a change carrying an id applies once, and the same id again answers with the
 * first result (`replayed: true`). The Redis adapter keeps that record inside its change script; the Graph adapter in
 * the bot's Redis beside the call (services/directories/operations.ts).
 */
import type {
  Actor,
  Customer,
  CustomerUser,
  LicenseChangeResult,
  OperationOptions,
  RestoreOutcome,
  Subscription,
  UserFilter,
  UserRef,
  UserRole,
} from '../types';

export interface CustomerDefinition {
  id: string;
  name: string;
  domains: string[];
  subscriptions: Array<{ skuId: string; name: string; seats: number }>;
}

export interface UserCounts {
  active: number;
  unlicensed: number;
  deleted: number;
}

/** A listing request after the service normalised it (page size bounded, text trimmed and lower-cased). */
export interface UserListing {
  filter: UserFilter;
  role?: UserRole;
  search: string;
  offset: number;
  pageSize: number;
}

/** A new user whose every field the service has validated. */
export type ValidNewUser = Pick<CustomerUser, 'userPrincipalName' | 'username' | 'domain' | 'displayName' | 'firstName' | 'lastName' | 'usageLocation' | 'role' | 'licenses'>;

export interface LicenseChange {
  add: string[];
  remove: string[];
  /** Set for `replace`: only the users holding this license change. */
  onlyHolders: string;
}

/**
 * What the signed-in agent may do in one customer, as the directory itself grants it (Graph: the agent's GDAP roles
 * there). `null` from `accessFor`: the directory grants whatever the bot's own role table does (the Redis directory).
 */
export interface DirectoryAccess {
  level: 'admin' | 'helpdesk' | 'none';
  /** The directory roles the agent lacks for admin rights, by name (for the refusal card). */
  missing: string[];
}

export interface DirectoryBackend {
  readonly kind: 'redis' | 'graph';

  // customers and subscriptions
  upsertCustomer(def: CustomerDefinition, actor: Actor): Promise<{ changed: number }>;
  /** Every customer's id and name (matching a reference is the service's rule). */
  customerNames(): Promise<Array<{ id: string; name: string }>>;
  /** The customer that owns this verified domain, if the directory can tell cheaply. */
  customerByDomain(domain: string): Promise<string | null>;
  /** Domains (default first) of these customers, in order; unknown → []. */
  customerDomains(customerIds: string[]): Promise<string[][]>;
  getCustomer(customerId: string): Promise<Customer>;
  subscriptionsAndCounts(customerId: string): Promise<{ subscriptions: Subscription[]; counts: UserCounts }>;
  accessFor(customerId: string): Promise<DirectoryAccess | null>;

  // users
  listUsers(customerId: string, listing: UserListing): Promise<{ users: CustomerUser[]; total: number }>;
  readUsers(customerId: string, userIds: string[]): Promise<Array<CustomerUser | null>>;
  /** Active users' ids by lower-cased UPN, in order; null where none. */
  userIdsByUpn(customerId: string, upns: string[]): Promise<Array<string | null>>;
  /** Deleted users still in the directory, with `deletedAt` (the service keeps those within the window). */
  deletedUsers(customerId: string): Promise<CustomerUser[]>;
  verifyUserPassword(customerId: string, userId: string, password: string): Promise<boolean>;

  // changes; `replayed`: an earlier call's first result (its password was shown then, or never)
  createUser(customerId: string, user: ValidNewUser, temporaryPassword: string, options: OperationOptions, now: number): Promise<{ user: CustomerUser; replayed: boolean }>;
  changeLicenses(customerId: string, users: UserRef[], change: LicenseChange, options: OperationOptions): Promise<LicenseChangeResult[]>;
  resetPassword(customerId: string, user: UserRef, temporaryPassword: string, options: OperationOptions): Promise<{ user: CustomerUser; replayed: boolean }>;
  /** Blocks the user's sign-in (idempotent: an already blocked user stays so); the version changes. */
  blockSignIn(customerId: string, user: UserRef, options: OperationOptions): Promise<{ user: CustomerUser; replayed: boolean }>;
  deleteUsers(customerId: string, users: UserRef[], options: OperationOptions): Promise<Array<{ userId: string; version: number; rememberedLicenses: string[] }>>;
  restoreUsers(customerId: string, requests: Array<UserRef & { newUsername: string }>, options: OperationOptions): Promise<RestoreOutcome[]>;
  /** Roll-back of a half-done all-or-nothing import: removes these users for good, if still exactly as created. */
  discardNewUsers(customerId: string, userIds: string[], actor: Actor): Promise<number>;
  /** Removes users whose restore window is over (the Redis directory; Entra purges its own). */
  purgeExpired(customerId: string | undefined, now: number): Promise<number>;
}
