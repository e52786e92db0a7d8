import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { stringify } from 'csv-stringify/sync';
import type { Clock } from './directory';
import type { KeyLayout } from './store/keys';
import type { RedisClient } from './store/redis';

/**
 * Temporary passwords waiting to reach their agent (SPEC §4). Nothing here is ever stored in clear:
 * - a "Save and add another" series keeps its entries encrypted under a key carried by the form card;
 * - a download keeps the CSV encrypted (AES-256-GCM) under a key that is part of the link and stored
 *   nowhere; Redis holds the ciphertext and a hash of the link's id, both deleted on first use or expiry.
 *   A large file (an import's results) is written in parts, each sealed under that key as it is made and bound to its
 *   place, so that neither the writer nor the download route ever holds the whole file.
 */
export const DOWNLOAD_TTL_MS = 10 * 60 * 1000;
export const SERIES_TTL_MS = 24 * 60 * 60 * 1000;
export const UNDELIVERED_TTL_MS = 48 * 60 * 60 * 1000;

export interface Credential {
  displayName: string;
  userPrincipalName: string;
  password: string;
}

const b64url = (b: Buffer): string => b.toString('base64url');

function encrypt(key: Buffer, plain: string, aad?: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  if (aad !== undefined) cipher.setAAD(Buffer.from(aad, 'utf8'));
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), data].map(b64url).join('.');
}

function decrypt(key: Buffer, sealed: string, aad?: string): string | null {
  const [iv, tag, data] = sealed.split('.').map((p) => Buffer.from(p ?? '', 'base64url'));
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    if (aad !== undefined) decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/** Spreadsheet formulas are neutralised: a cell starting with = + - @ (or tab/CR) gets a leading apostrophe. */
export function neutraliseFormula(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
}

export function credentialsCsv(rows: Credential[], headers: [string, string, string]): string {
  return stringify([headers, ...rows.map((r) => [r.displayName, r.userPrincipalName, r.password])].map((row) => row.map(neutraliseFormula)), {
    bom: true,
    record_delimiter: 'windows',
  });
}

/** A download link's token: a random 128-bit id and a random 256-bit key, base64url, joined by a dot. */
const newDownloadToken = (): string => `${b64url(randomBytes(16))}.${b64url(randomBytes(32))}`;

/**
 * KEYS[1] the series, KEYS[2] its finished record (one hash tag); ARGV[1] TTL (ms), ARGV[2] the sealed token drawn by
 * this call. → {'FIRST', entries…} (moved to the record with the token), {'DONE', record…} or {'EMPTY'}.
 */
const FINISH_SERIES = `
local done = redis.call('LRANGE', KEYS[2], 0, -1)
if #done > 0 then return {'DONE', unpack(done)} end
local items = redis.call('LRANGE', KEYS[1], 0, -1)
if #items == 0 then return {'EMPTY'} end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('RPUSH', KEYS[2], 'token:' .. ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return {'FIRST', unpack(items)}
`;

export type Redeemed = { ok: true; filename: string; content: string } | { ok: false; reason: 'gone' };

/**
 * A download taken for sending: its file as it was stored, one part after another (a file written in parts, such as a
 * large import's results, is never held whole). A part that is missing or does not open ends the iteration with an error.
 */
export type Opened = { ok: true; filename: string; parts: AsyncGenerator<string, void, void> } | { ok: false; reason: 'gone' };

/** A file being written in parts for one download: each part sealed under the link's key, bound to its place. */
export interface PartedDownload {
  token: string;
  seal(index: number, content: string): string;
}

const partAad = (index: number): string => `part:${index}`;

export class CredentialVault {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
    private readonly clock: Clock,
  ) {}

  /**
   * Remembers that an operation's passwords could not be sent privately (and why), so that the same button delivered
   * again says so instead of "sent". Kept as long as the operation's own record (48 h).
   */
  async recordUndelivered(owner: string, operationId: string, reason: string): Promise<void> {
    await this.redis.set(this.keys.undeliveredPasswords(owner, operationId), reason, 'PX', UNDELIVERED_TTL_MS);
  }

  /** Why an operation's passwords were not delivered, or null when they were (or it is unknown). */
  async undelivered(owner: string, operationId: string): Promise<string | null> {
    return this.redis.get(this.keys.undeliveredPasswords(owner, operationId));
  }

  /** A new series: its id and the key the form card carries (never stored server-side). */
  newSeries(): { id: string; key: string } {
    return { id: b64url(randomBytes(16)), key: b64url(randomBytes(32)) };
  }

  async addToSeries(owner: string, seriesId: string, seriesKey: string, credential: Credential): Promise<void> {
    const key = this.keys.credentialSeries(owner, seriesId);
    await this.redis.multi().rpush(key, encrypt(Buffer.from(seriesKey, 'base64url'), JSON.stringify(credential))).pexpire(key, SERIES_TTL_MS).exec();
  }

  /**
   * Finishes a series, once. The first call moves its sealed entries to a "finished" record (still sealed under the
   * series key, kept as long as a download link) together with the download token it draws, sealed the same way; a
   * repeated call (Teams' retry, the button pressed twice) gets the same entries and token back. `first` says whether
   * this call finished it: only that call creates the download and delivers anything.
   */
  async finishSeries(owner: string, seriesId: string, seriesKey: string): Promise<{ first: boolean; credentials: Credential[]; token: string }> {
    const k = Buffer.from(seriesKey, 'base64url');
    const drawn = newDownloadToken();
    const reply = (await this.redis.eval(
      FINISH_SERIES,
      2,
      this.keys.credentialSeries(owner, seriesId),
      this.keys.credentialSeriesDone(owner, seriesId),
      String(DOWNLOAD_TTL_MS),
      encrypt(k, drawn),
    )) as string[];
    const [state, ...sealed] = reply;
    const open = (x: string) => decrypt(k, x);
    const token = state === 'FIRST' ? drawn : (open(sealed.find((x) => x.startsWith('token:'))?.slice(6) ?? '') ?? '');
    const credentials = sealed.filter((x) => !x.startsWith('token:')).map(open).filter((p): p is string => p !== null).map((p) => JSON.parse(p) as Credential);
    return { first: state === 'FIRST', credentials, token };
  }

  /** Takes (and deletes) every credential of a series; only its owner's key opens them. */
  async takeSeries(owner: string, seriesId: string, seriesKey: string): Promise<Credential[]> {
    const key = this.keys.credentialSeries(owner, seriesId);
    const results = await this.redis.multi().lrange(key, 0, -1).del(key).exec();
    const sealed = (results?.[0]?.[1] as string[] | undefined) ?? [];
    const k = Buffer.from(seriesKey, 'base64url');
    return sealed.map((s) => decrypt(k, s)).filter((p): p is string => p !== null).map((p) => JSON.parse(p) as Credential);
  }

  /** Stores a file for one download; returns the token that the link carries (id + key). */
  /** `finished`: the finished series this file comes from, deleted with the download when it is used. */
  async createDownload(owner: string, filename: string, content: string, token = newDownloadToken(), finished?: { seriesId: string }): Promise<string> {
    const [id, key] = token.split('.').map((p) => Buffer.from(p, 'base64url'));
    const redisKey = this.keys.download(createHash('sha256').update(id).digest('hex'));
    const extra = finished ? ['finished', this.keys.credentialSeriesDone(owner, finished.seriesId)] : [];
    await this.redis
      .multi()
      .hset(redisKey, 'owner', owner, 'filename', filename, 'expiresAt', String(this.clock.now() + DOWNLOAD_TTL_MS), 'data', encrypt(key, content), ...extra)
      .pexpire(redisKey, DOWNLOAD_TTL_MS)
      .exec();
    return token;
  }

  /**
   * A download written in parts (sealed by `seal`, kept by the caller in a Redis list, in order), for a file too large
   * to build whole. The key is in the token only: parts left behind by a writer that stopped can never be opened.
   */
  newPartedDownload(): PartedDownload {
    const token = newDownloadToken();
    const key = Buffer.from(token.split('.')[1], 'base64url');
    return { token, seal: (index, content) => encrypt(key, content, partAad(index)) };
  }

  /** Makes the parts written under `download` (the list `partsKey`, `count` parts) one download; they expire with it. */
  async createPartedDownload(owner: string, filename: string, download: PartedDownload, partsKey: string, count: number): Promise<string> {
    const id = Buffer.from(download.token.split('.')[0], 'base64url');
    const redisKey = this.keys.download(createHash('sha256').update(id).digest('hex'));
    await this.redis.pexpire(partsKey, DOWNLOAD_TTL_MS);
    await this.redis
      .multi()
      .hset(redisKey, 'owner', owner, 'filename', filename, 'expiresAt', String(this.clock.now() + DOWNLOAD_TTL_MS), 'parts', partsKey, 'count', String(count))
      .pexpire(redisKey, DOWNLOAD_TTL_MS)
      .exec();
    return download.token;
  }

  /**
   * Answers once: the stored record is deleted in the same step it is read; the parts of a file written in parts are
   * read one at a time as they are sent, and deleted after the last (or when the sending stops).
   */
  async openDownload(token: string): Promise<Opened> {
    const [idPart, keyPart] = token.split('.');
    if (!/^[A-Za-z0-9_-]{22}$/.test(idPart ?? '') || !/^[A-Za-z0-9_-]{43}$/.test(keyPart ?? '')) return { ok: false, reason: 'gone' };
    const redisKey = this.keys.download(createHash('sha256').update(Buffer.from(idPart, 'base64url')).digest('hex'));
    const results = await this.redis.multi().hgetall(redisKey).del(redisKey).exec();
    const stored = (results?.[0]?.[1] as Record<string, string> | undefined) ?? {};
    // Once the file is taken, the finished series it came from goes too: nothing of the series is left.
    if (stored.finished) await this.redis.del(stored.finished);
    const expired = Number(stored.expiresAt) <= this.clock.now();
    const key = Buffer.from(keyPart, 'base64url');
    if (stored.parts) {
      const partsKey = stored.parts;
      if (expired) {
        await this.redis.del(partsKey);
        return { ok: false, reason: 'gone' };
      }
      const redis = this.redis;
      const count = Number(stored.count);
      // The first part is opened before answering, so that a link whose parts are gone answers "gone" like any other.
      const first = count > 0 ? decrypt(key, (await redis.lindex(partsKey, 0)) ?? '', partAad(0)) : '';
      if (first === null) {
        await redis.del(partsKey);
        return { ok: false, reason: 'gone' };
      }
      async function* parts(): AsyncGenerator<string, void, void> {
        try {
          yield first as string;
          for (let i = 1; i < count; i++) {
            const part = decrypt(key, (await redis.lindex(partsKey, i)) ?? '', partAad(i));
            if (part === null) throw new Error(`download part ${i} of ${count} is missing or does not open`);
            yield part;
          }
        } finally {
          await redis.del(partsKey);
        }
      }
      return { ok: true, filename: stored.filename, parts: parts() };
    }
    if (!stored.data || expired) return { ok: false, reason: 'gone' };
    const content = decrypt(key, stored.data);
    if (content === null) return { ok: false, reason: 'gone' };
    return {
      ok: true,
      filename: stored.filename,
      parts: (async function* () {
        yield content;
      })(),
    };
  }

  /** The whole file at once (tests, small files): `openDownload` with its parts joined. */
  async redeemDownload(token: string): Promise<Redeemed> {
    const opened = await this.openDownload(token);
    if (!opened.ok) return opened;
    const parts: string[] = [];
    try {
      for await (const part of opened.parts) parts.push(part);
    } catch {
      return { ok: false, reason: 'gone' };
    }
    return { ok: true, filename: opened.filename, content: parts.join('') };
  }
}
