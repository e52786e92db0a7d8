import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../directory';
import type { KeyLayout } from '../store/keys';
import type { RedisClient } from '../store/redis';
import { readCsv } from './csvFile';
import type { FileProblem } from './importer';
import { mapHeaders } from './templates';

/**
 * The Import users dialog (a Teams task module with a page of the bot's own): files reach a bot only in the 1:1
 * chat, so the dialog uploads the CSV over HTTPS instead. Two short-lived records, both in Redis by a hash of
 * their id (the ids themselves are only in the dialog's URL and in the dialog's submit):
 *
 * - a **token**, issued to an admin agent's task/fetch, bound to that agent, the customer and the conversation where
 *   the button was clicked; 15 minutes; the upload it allows deletes it (single use);
 * - an **upload**: the file with the same binding, taken once by the dialog's task/submit (or by the proactive post
 *   when the page runs outside Teams) and handed to the same preview as a file sent in the 1:1 chat.
 *
 * A browser request carries no Teams identity: the token is what admits it. The binding is checked again where the
 * identity is authenticated (the task/submit invoke must come from the same agent in the same conversation).
 */
export const DIALOG_TTL_MS = 15 * 60 * 1000;

/** Who opened the dialog, for which customer, from where. */
export interface DialogBinding {
  /** The agent's Entra object id (as the bot identifies callers). */
  agentId: string;
  agentName: string;
  customerId: string;
  /** The conversation the button was clicked in (a channel thread, a group chat, the 1:1 chat). */
  conversationId: string;
  /** That conversation's reference (JSON), for posting the preview there when the page runs outside Teams. */
  reference: string;
  /** The agent's Teams locale: the page and its messages are in that language. */
  locale: string;
}

export type DialogRefusal = 'gone' | 'wrongCustomer' | 'wrongAgent' | 'wrongConversation';

export interface DialogUpload {
  binding: DialogBinding;
  fileName: string;
  bytes: Buffer;
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const UPLOAD_ID = /^[A-Za-z0-9_-]{22}$/;
const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');
const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

const FIELDS = ['agentId', 'agentName', 'customerId', 'conversationId', 'reference', 'locale'] as const;

function bindingOf(stored: Record<string, string>): DialogBinding | null {
  if (FIELDS.some((f) => stored[f] === undefined)) return null;
  return Object.fromEntries(FIELDS.map((f) => [f, stored[f]])) as unknown as DialogBinding;
}

/** What a file must be before it is worth a preview: readable CSV with known headers (the rules of csvFile/templates). */
export function inspectCsvFile(bytes: Buffer): { ok: true; rows: number } | { ok: false; problem: FileProblem } {
  const csv = readCsv(bytes);
  if (!csv.ok) return { ok: false, problem: csv.problem };
  const mapping = mapHeaders(csv.table.headers);
  if (!mapping.ok) return { ok: false, problem: { kind: 'headers', unknown: mapping.unknown, missing: mapping.missing, duplicate: mapping.duplicate } };
  return { ok: true, rows: csv.table.rows.length };
}

export class ImportDialogs {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
    private readonly clock: Clock,
  ) {}

  /** A new token for this binding; only its hash is stored. */
  async issue(binding: DialogBinding): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const key = this.keys.dialogToken(sha256(token));
    await this.redis
      .multi()
      .hset(key, { ...binding, expiresAt: String(this.clock.now() + DIALOG_TTL_MS) })
      .pexpire(key, DIALOG_TTL_MS)
      .exec();
    return token;
  }

  /**
   * The binding of a token that is still valid (not used, not expired by the injected clock, matching what the
   * request claims); nothing is changed.
   */
  async check(token: string, expect: { customerId?: string; agentId?: string } = {}): Promise<{ ok: true; binding: DialogBinding } | { ok: false; reason: DialogRefusal }> {
    if (!TOKEN.test(token)) return { ok: false, reason: 'gone' };
    const stored = await this.redis.hgetall(this.keys.dialogToken(sha256(token)));
    const binding = bindingOf(stored);
    if (!binding || !(Number(stored.expiresAt) > this.clock.now())) return { ok: false, reason: 'gone' };
    if (expect.customerId !== undefined && expect.customerId !== binding.customerId) return { ok: false, reason: 'wrongCustomer' };
    if (expect.agentId !== undefined && !same(expect.agentId, binding.agentId)) return { ok: false, reason: 'wrongAgent' };
    return { ok: true, binding };
  }

  /**
   * Uses the token (once: its deletion decides between two concurrent uploads) and stores the file under a new
   * upload id with the token's binding. A refused request stores nothing and leaves the token as it was.
   */
  async redeem(
    token: string,
    expect: { customerId: string; agentId?: string },
    file: { name: string; bytes: Buffer },
  ): Promise<{ ok: true; uploadId: string; binding: DialogBinding } | { ok: false; reason: DialogRefusal }> {
    const checked = await this.check(token, expect);
    if (!checked.ok) return checked;
    if ((await this.redis.del(this.keys.dialogToken(sha256(token)))) !== 1) return { ok: false, reason: 'gone' };
    const uploadId = randomBytes(16).toString('base64url');
    const key = this.keys.dialogUpload(sha256(uploadId));
    await this.redis
      .multi()
      .hset(key, { ...checked.binding, fileName: file.name, data: file.bytes.toString('base64'), expiresAt: String(this.clock.now() + DIALOG_TTL_MS) })
      .pexpire(key, DIALOG_TTL_MS)
      .exec();
    return { ok: true, uploadId, binding: checked.binding };
  }

  /**
   * Hands an upload over once, to its own agent in its own conversation; anyone else is refused and the upload stays
   * for its agent.
   */
  async take(uploadId: string, expect: { agentId: string; conversationId: string }): Promise<{ ok: true; upload: DialogUpload } | { ok: false; reason: DialogRefusal }> {
    if (!UPLOAD_ID.test(uploadId)) return { ok: false, reason: 'gone' };
    const key = this.keys.dialogUpload(sha256(uploadId));
    const stored = await this.redis.hgetall(key);
    const binding = bindingOf(stored);
    if (!binding || stored.data === undefined || !(Number(stored.expiresAt) > this.clock.now())) return { ok: false, reason: 'gone' };
    if (!same(expect.agentId, binding.agentId)) return { ok: false, reason: 'wrongAgent' };
    if (expect.conversationId !== binding.conversationId) return { ok: false, reason: 'wrongConversation' };
    if ((await this.redis.del(key)) !== 1) return { ok: false, reason: 'gone' };
    return { ok: true, upload: { binding, fileName: stored.fileName ?? 'upload.csv', bytes: Buffer.from(stored.data, 'base64') } };
  }
}
