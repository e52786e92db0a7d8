import { AUDIT_CAP } from './directories/constants';
import { KeyLayout } from './store/keys';
import { RedisClient, replies } from './store/redis';
import type { Actor, AuditEntry } from './types';

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

/** An entry as the audit lists store it (a change script or an atomic step may append it itself). */
export function formatAudit(e: Omit<AuditEntry, 'detail'> & { detail?: string }): string {
  return [e.at, e.actorId, e.actorName, e.action, e.target, e.result, e.detail ?? ''].join('\x1f');
}

function parseAudit(raw: string): AuditEntry {
  const [at, actorId, actorName, action, target, result, detail] = raw.split('\x1f');
  return { at: Number(at), actorId, actorName, action, target, result, detail: detail ?? '' };
}
