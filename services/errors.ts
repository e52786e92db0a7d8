/**
 * Typed errors for user mistakes. Each carries a stable code and the parameters a message needs,
 * so the bot can render it in the caller's language.
 */
export type DirectoryErrorCode =
  | 'CUSTOMER_NOT_FOUND'
  | 'USER_NOT_FOUND'
  | 'INVALID_FIELD'
  | 'UPN_TAKEN'
  | 'NO_SEATS'
  | 'UNKNOWN_LICENSE'
  | 'RESTORE_WINDOW_OVER'
  | 'STALE'
  | 'NOT_ACTIVE'
  | 'NOT_DELETED'
  | 'SEATS_BELOW_ASSIGNED'
  | 'DOMAIN_NOT_IN_CUSTOMER'
  | 'TOO_MANY_USERS'
  | 'IMPORT_NOT_FOUND'
  /** The directory acts with the agent's own rights (Graph) and the agent has not signed in yet. */
  | 'SIGN_IN_REQUIRED'
  /** The agent lacks a directory role in this customer (GDAP): `roles` names the missing ones. */
  | 'DIRECTORY_ROLE_MISSING'
  /** The directory refused the change itself (Graph's 403), whatever the bot's own role table says. */
  | 'DIRECTORY_REFUSED';

export type ErrorParams = Record<string, string | number>;

export class DirectoryError extends Error {
  constructor(
    readonly code: DirectoryErrorCode,
    readonly params: ErrorParams = {},
  ) {
    super(`${code}${Object.keys(params).length ? ' ' + JSON.stringify(params) : ''}`);
    this.name = 'DirectoryError';
  }
}

export const isDirectoryError = (err: unknown): err is DirectoryError => err instanceof DirectoryError;
