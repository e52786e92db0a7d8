/** Action.Execute verbs: the contract between the cards and the bot's action schemas. */
export const VERBS = {
  runCommand: 'runCommand',
  users: 'users',
  licenses: 'licenses',
  addUser: 'addUser',
  createUser: 'createUser',
  finishSeries: 'finishSeries',
  manageLicenses: 'manageLicenses',
  saveLicenses: 'saveLicenses',
  resetPassword: 'resetPassword',
  confirmResetPassword: 'confirmResetPassword',
  deleteUsers: 'deleteUsers',
  confirmDeleteUsers: 'confirmDeleteUsers',
  deletedUsers: 'deletedUsers',
  restoreUsers: 'restoreUsers',
  audit: 'audit',
  importCheck: 'importCheck',
  importRun: 'importRun',
  offboard: 'offboard',
  confirmOffboard: 'confirmOffboard',
  viewOffboard: 'viewOffboard',
  requestApproval: 'requestApproval',
  decideApproval: 'decideApproval',
  viewApproval: 'viewApproval',
  approvalAgain: 'approvalAgain',
} as const;
export type Verb = (typeof VERBS)[keyof typeof VERBS];

/** Input ids of SPEC §3. */
export const INPUTS = {
  firstName: 'firstName',
  lastName: 'lastName',
  displayName: 'displayName',
  username: 'username',
  domain: 'domain',
  usageLocation: 'usageLocation',
  role: 'role',
  licenses: 'licenses',
  userIds: 'userIds',
  newUsername: 'newUsername',
  filter: 'filter',
  search: 'search',
} as const;

/** Per-license input of the Manage licenses card. */
export const licenseStateInput = (skuId: string): string => `lic_${skuId}`;

export type LicenseState = 'all' | 'some' | 'none';

/** What a card's buttons may show; the bot checks again on every invoke. */
export interface Permissions {
  manageUsers: boolean;
  resetPassword: boolean;
  restore: boolean;
}
