import type { Translator } from '../../cards/i18n';
import { DirectoryError, isDirectoryError } from '../../services/errors';
import type { FileProblem } from '../../services/import/importer';

type T = Translator['t'];

const FIELD_KEYS = ['firstName', 'lastName', 'displayName', 'username', 'domain', 'usageLocation', 'role', 'licenses', 'userIds', 'newUsername'] as const;
const REASON_KEYS = ['required', 'tooLong', 'characters', 'dotAtEdge', 'upnTooLong', 'format', 'country', 'unknownRole', 'sku', 'addAndRemove', 'sameUser'] as const;

/** A user mistake in the caller's language. */
export function describeError(t: T, err: DirectoryError): string {
  const p = err.params;
  switch (err.code) {
    case 'CUSTOMER_NOT_FOUND':
      return t('error.customerNotFound', { customer: String(p.customer ?? '') });
    case 'USER_NOT_FOUND':
      return t('error.userNotFound', { user: String(p.user ?? '') });
    case 'INVALID_FIELD': {
      const field = (FIELD_KEYS as readonly string[]).includes(String(p.field)) ? t(`field.${p.field as (typeof FIELD_KEYS)[number]}`) : String(p.field);
      const reason = (REASON_KEYS as readonly string[]).includes(String(p.reason)) ? t(`error.reason.${p.reason as (typeof REASON_KEYS)[number]}`) : String(p.reason);
      return t('error.invalidField', { field, reason });
    }
    case 'UPN_TAKEN':
      return t('error.upnTaken', { upn: String(p.upn) });
    case 'NO_SEATS':
      return t('error.noSeats', { license: String(p.license), seatsLeft: Number(p.seatsLeft), count: Number(p.seatsNeeded) });
    case 'UNKNOWN_LICENSE':
      return t('error.unknownLicense', { license: String(p.license) });
    case 'RESTORE_WINDOW_OVER':
      return t('error.restoreWindowOver');
    case 'STALE':
      return t('error.stale');
    case 'NOT_ACTIVE':
      return t('error.notActive');
    case 'NOT_DELETED':
      return t('error.notDeleted');
    case 'SEATS_BELOW_ASSIGNED':
      return t('error.seatsBelowAssigned', { license: String(p.license), seats: Number(p.seats), assigned: Number(p.assigned) });
    case 'DOMAIN_NOT_IN_CUSTOMER':
      return t('error.domainNotInCustomer', { domain: String(p.domain) });
    case 'TOO_MANY_USERS':
      // A listing too long for one change ("all users in this view") says how to narrow it.
      if (p.listing) return t('error.tooManyInView', { count: Number(p.given), max: Number(p.max) });
      return t('error.tooManyUsers', { max: Number(p.max) });
    case 'IMPORT_NOT_FOUND':
      return p.approval ? t('error.approvalNotFound') : t('error.importNotFound');
    case 'SIGN_IN_REQUIRED':
      return t('error.signInRequired');
    case 'DIRECTORY_ROLE_MISSING':
      return t('error.directoryRoleMissing', { roles: String(p.roles ?? '') });
    case 'DIRECTORY_REFUSED':
      return t('error.directoryRefused');
  }
}

/**
 * Redis unreachable or a command timed out: the caller should try again. A change whose reply was lost may have been
 * applied; trying the same action again is safe, its operation id replays the first result.
 */
export function isUnavailable(err: unknown): boolean {
  if (isDirectoryError(err)) return false;
  const e = err as { name?: string; code?: string; message?: string };
  return (
    e?.name === 'MaxRetriesPerRequestError' ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'NR_CLOSED'].includes(String(e?.code)) ||
    /Connection is closed|Stream isn't writeable|connect ECONNREFUSED|LOADING|CLUSTERDOWN|TRYAGAIN|Command timed out|Failed to refresh slots cache|None of startup nodes is available/.test(String(e?.message))
  );
}

/** A CSV row's problem, in the caller's language (row checks reuse the directory's field rules). */
export function describeRowIssue(t: T, code: string, params: Record<string, string | number>): string {
  switch (code) {
    case 'DUPLICATE_IN_FILE':
      return t('import.reason.DUPLICATE_IN_FILE', { upn: String(params.upn), line: Number(params.line) });
    case 'USAGE_LOCATION_NEEDED':
      return t('import.reason.USAGE_LOCATION_NEEDED');
    case 'NO_SEAT_LEFT':
      return t('import.reason.NO_SEAT_LEFT', { license: String(params.license) });
    case 'TOO_MANY_CELLS':
      return t('import.reason.TOO_MANY_CELLS', { count: Number(params.count), expected: Number(params.expected) });
    default:
      return describeError(t, new DirectoryError(code as DirectoryError['code'], params)) ?? code;
  }
}

/** Why a file cannot be imported at all. */
export function describeFileProblem(t: T, problem: FileProblem): string {
  switch (problem.kind) {
    case 'tooLarge':
      return t('import.problem.tooLarge', { max: problem.maxBytes / 1024 / 1024 });
    case 'empty':
      return t('import.problem.empty');
    case 'binary':
      return t('import.problem.binary');
    case 'malformed':
      return t('import.problem.malformed', { line: problem.line });
    case 'tooManyRows':
      return t('import.problem.tooManyRows', { rows: problem.rows, max: problem.max });
    case 'headers':
      return [
        problem.unknown.length ? t('import.problem.unknownColumns', { columns: problem.unknown.join(', ') }) : '',
        problem.missing.length ? t('import.problem.missingColumns', { columns: problem.missing.join(', ') }) : '',
        problem.duplicate.length ? t('import.problem.duplicateColumns', { columns: problem.duplicate.join(', ') }) : '',
      ]
        .filter(Boolean)
        .join(' ');
  }
}
