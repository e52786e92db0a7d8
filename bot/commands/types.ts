import type { UserFilter, UserRole } from '../../services/types';
import type { LicenseState } from '../../cards/verbs';
import type { AgentRole } from '../agents';
import type { ImportOptions } from '../../services/import/importer';
import type { ApprovalChange, ApprovalDecision } from '../../services/approvals';

/**
 * What the agent asked for. Typed text and card buttons both become one of these, so a button and
 * its typed command share one handler.
 */
export type Command =
  | { name: 'help' }
  | { name: 'whoami' }
  | { name: 'customers'; text?: string }
  | { name: 'users'; customer: string; filter: UserFilter; role?: UserRole; search?: string; page: number }
  | { name: 'licenses'; customer: string }
  | { name: 'addUser'; customer: string }
  | { name: 'createUser'; customer: string; operationId: string; addAnother: boolean; series?: Series; addedSoFar: number; fields: CreateUserFields }
  | { name: 'finishSeries'; customer: string; series: Series }
  | { name: 'importUsers'; customer: string }
  | { name: 'importCheck'; customer: string; jobId: string; options: ImportOptions }
  | { name: 'importRun'; customer: string; jobId: string; operationId?: string; options: ImportOptions }
  | { name: 'importDialog'; customer?: string }
  | { name: 'importUpload'; uploadId: string }
  | { name: 'assign' | 'unassign'; customer: string; skuId: string; users: string[] }
  | { name: 'replace'; customer: string; from: string; to: string; users: string[] }
  | { name: 'manageLicenses'; customer: string; userIds: string[]; versions: Record<string, number>; allInView?: { filter: UserFilter; role?: UserRole; search?: string } }
  /** `selectionId`: the users were saved with the card (all users in a view); otherwise `userIds` and `versions`. */
  | { name: 'saveLicenses'; customer: string; operationId: string; userIds: string[]; versions: Record<string, number>; selectionId?: string; initial: Record<string, LicenseState>; desired: Record<string, LicenseState>; replace?: { from: string; to: string } }
  | { name: 'resetPassword'; customer: string; user: string; version?: number }
  | { name: 'confirmResetPassword'; customer: string; userId: string; version: number; operationId: string }
  | { name: 'deleteUsers'; customer: string; users: string[]; versions?: Record<string, number> }
  | { name: 'confirmDeleteUsers'; customer: string; userIds: string[]; versions: Record<string, number>; operationId: string }
  | { name: 'deletedUsers'; customer: string }
  | { name: 'restore'; customer: string; users: string[]; newUsername?: string; versions?: Record<string, number>; operationId?: string }
  | { name: 'audit'; customer: string; page: number }
  | { name: 'approvals'; customer: string; enabled: boolean; expiryHours?: number; importOver?: number }
  | { name: 'approvalsChannel' }
  | { name: 'offboard'; customer: string; user: string; to?: string; version?: number }
  /** `colleague`: the confirmation's colleague field as submitted; `drawnColleague`: the colleague it was drawn for. */
  | { name: 'confirmOffboard'; customer: string; userId: string; version: number; toUserId?: string; operationId: string; colleague?: string; drawnColleague?: string }
  /** The refresh of a running offboarding's card (Universal Actions): the job as it is now. */
  | { name: 'viewOffboard'; customer: string; jobId: string }
  | { name: 'requestApproval'; customer: string; change: ApprovalChange; reason: string; operationId: string; colleague?: string; drawnColleague?: string }
  | { name: 'decideApproval'; customer: string; requestId: string; decision: ApprovalDecision }
  | { name: 'viewApproval'; customer: string; requestId: string }
  | { name: 'approvalAgain'; customer: string; requestId: string }
  | { name: 'grant'; role: AgentRole; agent: string }
  | { name: 'revoke'; agent: string };

export type CommandName = Command['name'];

/** A "Save and add another" series: its id, and the key its collected passwords are sealed with. */
export interface Series {
  id: string;
  key: string;
}

export interface CreateUserFields {
  firstName?: string;
  lastName?: string;
  displayName: string;
  username: string;
  domain?: string;
  usageLocation: string;
  role?: string;
  licenses: string[];
}
