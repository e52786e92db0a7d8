/** Domain types of the directory (SPEC §1). */

export const USER_ROLES = [
  'user',
  'global-admin',
  'billing-admin',
  'user-admin',
  'password-admin',
  'helpdesk-admin',
  'service-admin',
] as const;
export type UserRole = (typeof USER_ROLES)[number];

export type UserState = 'active' | 'deleted';

export interface Subscription {
  skuId: string;
  name: string;
  totalSeats: number;
  assignedSeats: number;
  availableSeats: number;
}

export interface Customer {
  id: string;
  name: string;
  /** The first domain is the default domain. */
  domains: string[];
}

export interface CustomerUser {
  id: string;
  customerId: string;
  userPrincipalName: string;
  username: string;
  domain: string;
  displayName: string;
  firstName: string;
  lastName: string;
  usageLocation: string;
  role: UserRole;
  licenses: string[];
  state: UserState;
  createdAt: number;
  deletedAt: number | null;
  /** Licenses held at deletion, given back on restore where seats allow. */
  rememberedLicenses: string[];
  version: number;
  mustChangePassword: boolean;
  hasPassword: boolean;
  /** Sign-in blocked (offboarding's first step; Graph: accountEnabled false). Absent = not blocked. */
  signInBlocked?: boolean;
}

export interface Actor {
  /** Stable id of the partner agent (Entra object id) or a system name such as `provisioning`. */
  id: string;
  name: string;
}

export interface AuditEntry {
  at: number;
  actorId: string;
  actorName: string;
  action: string;
  target: string;
  result: string;
  detail: string;
}

export type UserFilter =
  | { kind: 'all' }
  | { kind: 'licensed' }
  | { kind: 'unlicensed' }
  | { kind: 'license'; skuId: string };

export interface ListUsersQuery {
  filter?: UserFilter;
  role?: UserRole;
  search?: string;
  page?: number;
  pageSize?: number;
  /** Rows to skip instead of whole pages (the tab's scrolled windows); `page` is then the page this offset falls in. */
  offset?: number;
}

export interface UserPage {
  users: CustomerUser[];
  total: number;
  page: number;
  pageSize: number;
  pageCount: number;
}

export interface NewUserInput {
  username: string;
  domain?: string;
  firstName?: string;
  lastName?: string;
  displayName: string;
  usageLocation: string;
  role?: UserRole;
  licenses?: string[];
  /** Copy role and licenses from this existing user (id). */
  likeUserId?: string;
}

export interface CreatedUser {
  user: CustomerUser;
  /** Shown once to the acting agent; never stored or logged. */
  temporaryPassword: string;
}

export interface UserRef {
  userId: string;
  /** The version the caller's view was drawn from; omitted = no check. */
  expectedVersion?: number;
}

export interface LicenseChangeResult {
  userId: string;
  changed: boolean;
  added: string[];
  removed: string[];
  version: number;
  /** The user's names as the change saw them (for its card); absent from results recorded by an earlier version. */
  displayName?: string;
  userPrincipalName?: string;
}

export interface RestoreRequest extends UserRef {
  newUsername?: string;
}

export type RestoreOutcome =
  | { userId: string; ok: true; restoredLicenses: string[]; notRestoredLicenses: string[]; userPrincipalName: string }
  | { userId: string; ok: false; error: 'UPN_TAKEN' | 'RESTORE_WINDOW_OVER' | 'NOT_DELETED' | 'USER_NOT_FOUND' | 'STALE'; userPrincipalName: string };

export interface OperationOptions {
  actor: Actor;
  /** Same id twice → one effect, same result (kept 48 h). Generated when omitted. */
  operationId?: string;
}
