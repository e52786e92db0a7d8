import { randomBytes, randomInt, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';

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
export const PASSWORD_LENGTH = 16;

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
