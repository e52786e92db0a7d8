import type { Actor } from '../types';

export const DAY_MS = 24 * 60 * 60 * 1000;
/** A deleted user can be restored for 30 days (Entra's window too). */
export const RESTORE_WINDOW_MS = 30 * DAY_MS;
/** How long an operation's first result answers a repeated delivery of the same operation id. */
export const OPERATION_TTL_MS = 2 * DAY_MS;
/** Entries kept in a customer's audit log and in the partner-wide refusal log. */
export const AUDIT_CAP = 1000;

export const SYSTEM_ACTOR: Actor = { id: 'system', name: 'Partner Admin Bot' };

export function restoreDaysLeft(deletedAt: number, now: number): number {
  return Math.max(0, Math.ceil((deletedAt + RESTORE_WINDOW_MS - now) / DAY_MS));
}
