import { AUDIT_CAP } from './directories/constants';
import { KeyLayout } from './store/keys';
import { RedisClient, replies } from './store/redis';
import type { Actor, AuditEntry } from './types';

/**
 * A job's audit entry and its own record of having written it, in one atomic step (the job's hash and the audit list
 * share the customer's hash tag): when the job's hash already has the guard field, nothing is written again (a
 * resumed job that had recorded its entry). ARGV: guard field, entry, cap, then field/value pairs for the job's hash
 * (the guard first, set to the entry's time).
 */
const APPEND_ONCE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
return 1
`;

/**
 * The customers' audit logs and the partner-wide refusal log: capped Redis lists, newest first, fields joined by \x1f,
 * never a secret. The Redis directory's change scripts append to the same list in the same atomic step as the change;
 * everything else (refusals, the Graph directory's changes) appends here.
 */
export class AuditLog {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
  ) {}

  async append(customerId: string | null, entry: Omit<AuditEntry, 'detail'> & { detail?: string }): Promise<void> {
    const raw = formatAudit(entry);
    // Two lists in two slots: one pipeline per list (a pipeline may not span slots on a cluster).
    const key = customerId === null ? this.keys.refusals() : this.keys.customerKey(customerId, 'audit');
    await replies(this.redis.pipeline().lpush(key, raw).ltrim(key, 0, AUDIT_CAP - 1));
  }

  /** Appends a job's entry once (see APPEND_ONCE), setting `guard` (to the entry's time) and `also` on the job's hash. */
  async appendOnce(customerId: string, jobKey: string, guard: string, entry: AuditEntry, also: Record<string, string> = {}): Promise<void> {
    const fields = { [guard]: String(entry.at), ...also };
    await this.redis.eval(APPEND_ONCE, 2, jobKey, this.keys.customerKey(customerId, 'audit'), guard, formatAudit(entry), String(AUDIT_CAP), ...Object.entries(fields).flat());
  }

  async page(customerId: string, page = 1, pageSize = 20): Promise<{ entries: AuditEntry[]; total: number }> {
    const key = this.keys.customerKey(customerId, 'audit');
    const start = (Math.max(page, 1) - 1) * pageSize;
    const [raw, total] = (await replies(this.redis.pipeline().lrange(key, start, start + pageSize - 1).llen(key))) as [string[], number];
    return { entries: raw.map(parseAudit), total };
  }

  async refusals(count = 50): Promise<AuditEntry[]> {
    return (await this.redis.lrange(this.keys.refusals(), 0, count - 1)).map(parseAudit);
  }
}

export function auditEntry(at: number, actor: Actor, action: string, target: string, result: string, detail = ''): Omit<AuditEntry, never> {
  return { at, actorId: actor.id, actorName: actor.name, action, target, result, detail };
}

function formatAudit(e: Omit<AuditEntry, 'detail'> & { detail?: string }): string {
  return [e.at, e.actorId, e.actorName, e.action, e.target, e.result, e.detail ?? ''].join('\x1f');
}

function parseAudit(raw: string): AuditEntry {
  const [at, actorId, actorName, action, target, result, detail] = raw.split('\x1f');
  return { at: Number(at), actorId, actorName, action, target, result, detail: detail ?? '' };
}
