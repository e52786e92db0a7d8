import { createHmac, randomBytes, randomInt, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';

/**
 * Temporary passwords (SPEC §1): CSPRNG, at least 14 characters, upper + lower + digit + symbol from
 * Entra's allowed set, no look-alike characters (0 O o 1 l I).
 */
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWER = 'abcdefghijkmnpqrstuvwxyz';
const DIGITS = '23456789';
// A subset of Entra's allowed symbols that needs no escaping in CSV, HTML or markdown.
const SYMBOLS = '!#$%*?@^_-+=';
const ALL = UPPER + LOWER + DIGITS + SYMBOLS;
/**
 * 18 characters: at least 100 bits of min-entropy. The first character is one of 48 letters, four more are one of 24
 * upper, 24 lower, 8 digits and 12 symbols, the other 13 one of the 68 allowed characters, then all but the first are
 * shuffled. Whatever the shuffle does, no password is likelier than log2(48·24·24·8·12·68^13) = 100.5 bits allow
 * (each placement of the required characters is at most as likely as one fixed placement). At 16 characters that
 * bound was 88.3 bits, under the 96 the keyed hash below relies on.
 */
export const PASSWORD_LENGTH = 18;
/** The bound above, for the README and its test. */
export const PASSWORD_MIN_ENTROPY_BITS =
  Math.log2(UPPER.length + LOWER.length) + Math.log2(UPPER.length) + Math.log2(LOWER.length) + Math.log2(DIGITS.length) + Math.log2(SYMBOLS.length) + (PASSWORD_LENGTH - 5) * Math.log2(ALL.length);

export type PasswordGenerator = () => string;

export const generateTemporaryPassword: PasswordGenerator = () => {
  // A letter first keeps spreadsheets from reading the password as a formula.
  const chars = [pick(UPPER + LOWER), pick(UPPER), pick(LOWER), pick(DIGITS), pick(SYMBOLS)];
  while (chars.length < PASSWORD_LENGTH) chars.push(pick(ALL));
  // Shuffle all but the first (Fisher–Yates with the CSPRNG).
  for (let i = chars.length - 1; i > 1; i--) {
    const j = 1 + randomInt(i);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
};

function pick(alphabet: string): string {
  return alphabet[randomInt(alphabet.length)];
}

export function meetsPasswordPolicy(password: string): boolean {
  return (
    password.length >= 14 &&
    /[A-Z]/.test(password) &&
    /[a-z]/.test(password) &&
    /[0-9]/.test(password) &&
    /[^A-Za-z0-9]/.test(password) &&
    !/[0Oo1lI]/.test(password)
  );
}

/**
 * scrypt with a per-password salt. The cost is modest on purpose: temporary passwords carry over
 * 90 bits of entropy, so the hash guards the stored value rather than a guessable secret, and bulk
 * imports of 10,000 users must stay fast. The stored value names its parameter set, so the cost can be
 * raised later by adding a set (values of the older set still verify).
 */
const PARAMETER_SETS: Record<string, ScryptParameters> = { s1: { N: 1 << 10, r: 8, p: 1 } };
const CURRENT_SET = 's1';
const SALT_BYTES = 12;
const KEY_BYTES = 32;

export interface ScryptParameters {
  N: number;
  r: number;
  p: number;
}

function scrypt(password: string, salt: Buffer, { N, r, p }: ScryptParameters, len: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, len, { N, r, p, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/**
 * `s1$<salt>$<key>` in unpadded base64url: 63 characters, so that a user's Redis hash stays within
 * `hash-max-listpack-value` (64) and keeps the compact encoding (the first format, 85 characters, turned every
 * user with a password into a hash table: 1.1 KB more per user).
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scrypt(password, salt, PARAMETER_SETS[CURRENT_SET], KEY_BYTES);
  return [CURRENT_SET, salt.toString('base64url'), key.toString('base64url')].join('$');
}

interface StoredHash {
  parameters: ScryptParameters;
  salt: Buffer;
  key: Buffer;
}

/** Reads both the current form and the first one, `scrypt$N$r$p$<salt>$<key>` in padded base64. */
function parseStoredHash(stored: string): StoredHash | undefined {
  const parts = stored.split('$');
  if (parts[0] === 'scrypt' && parts.length === 6) {
    const [, N, r, p, salt, key] = parts;
    const parameters = { N: Number(N), r: Number(r), p: Number(p) };
    if (!Object.values(parameters).every((v) => Number.isSafeInteger(v) && v > 0) || !key) return undefined;
    return { parameters, salt: Buffer.from(salt, 'base64'), key: Buffer.from(key, 'base64') };
  }
  const parameters = PARAMETER_SETS[parts[0]];
  if (!parameters || parts.length !== 3 || !parts[2]) return undefined;
  return { parameters, salt: Buffer.from(parts[1], 'base64url'), key: Buffer.from(parts[2], 'base64url') };
}

/** The scrypt cost a stored value was made with (undefined for anything that is not one of ours). */
export function storedHashParameters(stored: string): ScryptParameters | undefined {
  return parseStoredHash(stored)?.parameters;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseStoredHash(stored);
  if (!parsed || parsed.key.length < 16) return false;
  const key = await scrypt(password, parsed.salt, parsed.parameters, parsed.key.length);
  return timingSafeEqual(key, parsed.key);
}

// ---------------------------------------------------------------------------------------------------------------
// Keyed hash (HMAC-SHA-256) for the bot's own temporary passwords

/**
 * How a directory stores and checks temporary passwords. Every hasher verifies every form this project ever stored
 * (`scrypt$…`, `s1$…`, and `h1$…` when it has the key), so switching hashers never strands a stored value.
 */
export interface PasswordHasher {
  readonly scheme: 'hmac-sha256' | 'scrypt';
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<boolean>;
}

/** The least key material PASSWORD_HASH_KEY must carry. */
export const PASSWORD_HASH_KEY_MIN_BYTES = 32;
const KEYED_SET = 'h1';
const HMAC_SALT_BYTES = 12;
/** Domain separation: the key signs nothing else, but a fixed context makes that explicit. */
const HMAC_CONTEXT = Buffer.from('pab temporary password h1\0');

/** The current scrypt form (`s1$…`): the default, for deployments without PASSWORD_HASH_KEY. */
export const scryptPasswordHasher: PasswordHasher = {
  scheme: 'scrypt',
  hash: hashPassword,
  verify: (password, stored) => (stored.startsWith(`${KEYED_SET}$`) ? Promise.resolve(false) : verifyPassword(password, stored)),
};

/**
 * `h1$<salt>$<mac>`: HMAC-SHA-256 under a server-side key (never stored in Redis) of a per-user 96-bit salt and the
 * password, in unpadded base64url: 63 characters, like `s1$…`, so a user's record keeps its compact encoding.
 * For passwords the bot draws itself (≥ 100 bits, see PASSWORD_LENGTH) a slow KDF buys nothing: 2^100 guesses are out
 * of reach at any speed. What the hash must guard against is a copy of Redis, and without the key such a copy cannot
 * test a single guess. README, Security model, gives the whole reasoning.
 */
export function keyedPasswordHasher(key: Buffer): PasswordHasher {
  if (key.length < PASSWORD_HASH_KEY_MIN_BYTES) throw new Error(`a password hash key needs at least ${PASSWORD_HASH_KEY_MIN_BYTES} bytes`);
  const secret = Buffer.from(key);
  const mac = (salt: Buffer, password: string) => createHmac('sha256', secret).update(HMAC_CONTEXT).update(salt).update(password, 'utf8').digest();
  return {
    scheme: 'hmac-sha256',
    async hash(password) {
      const salt = randomBytes(HMAC_SALT_BYTES);
      return [KEYED_SET, salt.toString('base64url'), mac(salt, password).toString('base64url')].join('$');
    },
    async verify(password, stored) {
      const parts = stored.split('$');
      if (parts[0] !== KEYED_SET) return verifyPassword(password, stored);
      if (parts.length !== 3) return false;
      const salt = Buffer.from(parts[1], 'base64url');
      const expected = Buffer.from(parts[2], 'base64url');
      if (salt.length !== HMAC_SALT_BYTES || expected.length !== 32) return false;
      return timingSafeEqual(mac(salt, password), expected);
    },
  };
}

/**
 * PASSWORD_HASH_KEY as bytes: base64 or base64url (e.g. `openssl rand -base64 32`) of at least 32 bytes; undefined when
 * the value is not that.
 */
export function parsePasswordHashKey(value: string): Buffer | undefined {
  const v = value.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(v)) return undefined;
  const key = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return key.length >= PASSWORD_HASH_KEY_MIN_BYTES ? key : undefined;
}
