/**
 * The directory state the Graph stand-in serves: tenants, their domains, subscribed SKUs, users, deleted users and
 * directory role assignments. Pure data and rules, no HTTP (graph.ts serves it, index.ts seeds and inspects it).
 */
import { randomBytes, randomUUID, scryptSync, timingSafeEqual } from 'node:crypto';

export interface StandInClock {
  now(): number;
}

/** GDAP / directory role template ids (Microsoft Entra built-in roles). */
export const ROLE = {
  globalAdministrator: '62e90394-69f5-4237-9190-012177145e10',
  billingAdministrator: 'b0f54661-2d74-4c50-afa3-1ec803f12efe',
  userAdministrator: 'fe930be7-5e62-47db-91af-98c3a49a38b1',
  passwordAdministrator: '966707d0-3269-4727-9be2-8c3a10f19b9d',
  helpdeskAdministrator: '729827e3-9c14-49f7-bb1b-9608f156bbb8',
  serviceSupportAdministrator: 'f023fd81-a637-4b56-95fd-791ac0226033',
  licenseAdministrator: '4d6ac14f-3453-41d0-bef9-a3e0c569773a',
} as const;

export const DAY_MS = 24 * 60 * 60 * 1000;
/** Deleted directory objects stay restorable for 30 days, then they are gone for good. */
export const DELETED_RETENTION_MS = 30 * DAY_MS;

export interface AssignedLicense {
  skuId: string;
  disabledPlans: string[];
}

export interface StoredUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  givenName: string | null;
  surname: string | null;
  mailNickname: string;
  usageLocation: string | null;
  accountEnabled: boolean;
  assignedLicenses: AssignedLicense[];
  createdDateTime: string;
  lastPasswordChangeDateTime: string | null;
  jobTitle: string | null;
  mail: string | null;
  /** scrypt hash of the password, never served; `verifyPassword` checks it. */
  passwordHash: string | null;
  forceChangePasswordNextSignIn: boolean;
}

export interface DeletedUser extends StoredUser {
  deletedDateTime: string;
  /** The UPN the user had before deletion (its `userPrincipalName` is the object id without hyphens + this). */
  originalUserPrincipalName: string;
}

export interface StoredSku {
  skuId: string;
  skuPartNumber: string;
  seats: number;
  capabilityStatus: 'Enabled';
}

export interface RoleAssignment {
  id: string;
  principalId: string;
  roleDefinitionId: string;
  directoryScopeId: string;
}

export interface Domain {
  id: string;
  isDefault: boolean;
  isVerified: boolean;
}

export class TenantState {
  readonly users = new Map<string, StoredUser>();
  readonly deleted = new Map<string, DeletedUser>();
  readonly skus: StoredSku[] = [];
  readonly roleAssignments: RoleAssignment[] = [];
  readonly domains: Domain[] = [];
  /** Consistency lag: user id → collection reads that still do not see it (see graph.ts). */
  readonly hiddenFor = new Map<string, number>();
  /** New users and restores are hidden from the next `lag` collection reads (consistencyLag(n)). */
  lag = 0;

  constructor(
    readonly tenantId: string,
    public displayName: string,
    private readonly clock: StandInClock,
  ) {}

  consumedUnits(skuId: string): number {
    let n = 0;
    for (const u of this.users.values()) if (u.assignedLicenses.some((l) => l.skuId === skuId)) n++;
    return n;
  }

  skuById(skuId: string): StoredSku | undefined {
    return this.skus.find((s) => s.skuId.toLowerCase() === skuId.toLowerCase());
  }

  skuByPartNumber(part: string): StoredSku | undefined {
    return this.skus.find((s) => s.skuPartNumber === part);
  }

  /** By object id or (case-insensitive) userPrincipalName. */
  findUser(key: string): StoredUser | undefined {
    const byId = this.users.get(key.toLowerCase());
    if (byId) return byId;
    const k = key.toLowerCase();
    for (const u of this.users.values()) if (u.userPrincipalName.toLowerCase() === k) return u;
    return undefined;
  }

  upnTaken(upn: string, exceptId?: string): boolean {
    const u = this.findUser(upn);
    return !!u && u.id !== exceptId && u.userPrincipalName.toLowerCase() === upn.toLowerCase();
  }

  verifiedDomain(upn: string): boolean {
    const at = upn.lastIndexOf('@');
    if (at <= 0) return false;
    const domain = upn.slice(at + 1).toLowerCase();
    return this.domains.some((d) => d.isVerified && d.id.toLowerCase() === domain);
  }

  rolesOf(userId: string): string[] {
    return this.roleAssignments.filter((a) => a.principalId === userId).map((a) => a.roleDefinitionId);
  }

  /** Drops deleted items older than 30 days by the stand-in's clock. Called before every use of `deleted`. */
  purgeExpired(): void {
    const now = this.clock.now();
    for (const [id, d] of this.deleted) if (now - Date.parse(d.deletedDateTime) >= DELETED_RETENTION_MS) this.deleted.delete(id);
  }

  hideFromCollections(userId: string): void {
    if (this.lag > 0) this.hiddenFor.set(userId, this.lag);
    else this.hiddenFor.delete(userId);
  }

  /** One collection read happened: returns the ids it must not see, and ages the lag of each by one read. */
  collectionRead(): Set<string> {
    const hidden = new Set<string>();
    for (const [id, left] of this.hiddenFor) {
      hidden.add(id);
      if (left <= 1) this.hiddenFor.delete(id);
      else this.hiddenFor.set(id, left - 1);
    }
    return hidden;
  }

  newUser(input: {
    userPrincipalName: string;
    displayName: string;
    mailNickname?: string;
    givenName?: string | null;
    surname?: string | null;
    usageLocation?: string | null;
    accountEnabled?: boolean;
    password?: string | null;
    forceChangePasswordNextSignIn?: boolean;
    jobTitle?: string | null;
  }): StoredUser {
    const now = new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const user: StoredUser = {
      id: randomUUID(),
      userPrincipalName: input.userPrincipalName,
      displayName: input.displayName,
      givenName: input.givenName ?? null,
      surname: input.surname ?? null,
      mailNickname: input.mailNickname ?? input.userPrincipalName.split('@')[0],
      usageLocation: input.usageLocation ?? null,
      accountEnabled: input.accountEnabled ?? true,
      assignedLicenses: [],
      createdDateTime: now,
      lastPasswordChangeDateTime: input.password ? now : null,
      jobTitle: input.jobTitle ?? null,
      mail: null,
      passwordHash: input.password ? hashPassword(input.password) : null,
      forceChangePasswordNextSignIn: input.forceChangePasswordNextSignIn ?? false,
    };
    this.users.set(user.id, user);
    return user;
  }

  nowIso(): string {
    return new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
}

export function hashPassword(pw: string): string {
  const salt = randomBytes(16);
  // Low cost: test support, and creating a user must stay cheap.
  return `${salt.toString('hex')}:${scryptSync(pw, salt, 32, { N: 1024 }).toString('hex')}`;
}

export function checkPassword(hash: string | null, pw: string): boolean {
  if (!hash) return false;
  const [salt, h] = hash.split(':');
  const got = scryptSync(pw, Buffer.from(salt, 'hex'), 32, { N: 1024 });
  return timingSafeEqual(got, Buffer.from(h, 'hex'));
}

/**
 * Microsoft Entra's default password policy for cloud users: 8–256 characters, at least three of lowercase, uppercase,
 * digits and symbols. (https://learn.microsoft.com/entra/identity/authentication/concept-password-ban-bad-combined-policy)
 */
export function meetsPasswordPolicy(pw: unknown): boolean {
  if (typeof pw !== 'string' || pw.length < 8 || pw.length > 256) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(pw)).length;
  return classes >= 3;
}

export function roleAssignmentId(): string {
  return randomBytes(24).toString('base64url') + '-1';
}
