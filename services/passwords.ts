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
 * imports of 10,000 users must stay fast. Parameters are stored with the hash so they can be raised.
 */
const SCRYPT = { N: 1 << 10, r: 8, p: 1, keyLength: 32 };

function scrypt(password: string, salt: Buffer, N: number, r: number, p: number, len: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, len, { N, r, p, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keyLength);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await scrypt(password, Buffer.from(salt, 'base64'), Number(n), Number(r), Number(p), expected.length);
  return timingSafeEqual(key, expected);
}
