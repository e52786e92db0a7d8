import { createHmac, randomBytes, scryptSync } from 'node:crypto';
import {
  generateTemporaryPassword,
  hashPassword,
  keyedPasswordHasher,
  meetsPasswordPolicy,
  parsePasswordHashKey,
  PASSWORD_LENGTH,
  PASSWORD_MIN_ENTROPY_BITS,
  scryptPasswordHasher,
  storedHashParameters,
  verifyPassword,
} from '../../services/passwords';
import { deterministicPasswords } from '../support/testDirectory';

/** Entra's allowed symbols (Microsoft Entra password policies). */
const ENTRA_SYMBOLS = `@#$%^&*-_!+=[]{}|\\:',.?/\`~"();<> `;
const LOOK_ALIKES = /[0Oo1lI]/;

describe('generateTemporaryPassword', () => {
  const sample = Array.from({ length: 3000 }, () => generateTemporaryPassword());

  it('meets the policy every time: ≥ 14, upper, lower, digit, an Entra symbol, no look-alikes', () => {
    for (const p of sample) {
      expect(p.length).toBeGreaterThanOrEqual(14);
      expect(p).toHaveLength(PASSWORD_LENGTH);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[a-z]/);
      expect(p).toMatch(/[2-9]/);
      expect(p).not.toMatch(LOOK_ALIKES);
      expect([...p].some((ch) => ENTRA_SYMBOLS.includes(ch))).toBe(true);
      expect([...p].every((ch) => /[A-Za-z2-9]/.test(ch) || ENTRA_SYMBOLS.includes(ch))).toBe(true);
      // A letter first: a spreadsheet never reads it as a formula.
      expect(p[0]).toMatch(/[A-Za-z]/);
      expect(meetsPasswordPolicy(p)).toBe(true);
    }
  });

  it('is unpredictable: no repeats, and every allowed character shows up in every position after the first', () => {
    expect(new Set(sample).size).toBe(sample.length);
    const alphabet = new Set(sample.join(''));
    for (const ch of 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789') expect(alphabet).toContain(ch);
    // The required classes are shuffled, not pinned to fixed positions.
    const digitPositions = new Set(sample.map((p) => p.search(/[2-9]/)));
    expect(digitPositions.size).toBeGreaterThan(8);
  });
});

describe('meetsPasswordPolicy', () => {
  it.each([
    ['too short', 'Ab3#efghjkmnp'],
    ['no upper case', 'ab3#efghjkmnpq'],
    ['no lower case', 'AB3#EFGHJKMNPQ'],
    ['no digit', 'Abc#efghjkmnpq'],
    ['no symbol', 'Ab3defghjkmnpq'],
    ['a zero', 'Ab3#efghjkmnp0'],
    ['an O', 'Ab3#efghjkmnpO'],
    ['an o', 'Ab3#efghjkmnpo'],
    ['a one', 'Ab3#efghjkmnp1'],
    ['an l', 'Ab3#efghjkmnpl'],
    ['an I', 'Ab3#efghjkmnpI'],
  ])('refuses a password with %s', (_why, p) => {
    expect(meetsPasswordPolicy(p)).toBe(false);
  });

  it('accepts a good one, and every deterministic test password', () => {
    expect(meetsPasswordPolicy('Ab3#efghjkmnpq')).toBe(true);
    const gen = deterministicPasswords();
    const made = Array.from({ length: 100 }, gen);
    expect(new Set(made).size).toBe(100);
    for (const p of made) expect(meetsPasswordPolicy(p)).toBe(true);
  });
});

describe('hashPassword / verifyPassword', () => {
  it('salts (same password, different hashes) and verifies only the right password', async () => {
    const [a, b] = await Promise.all([hashPassword('Xy7#secretPassw'), hashPassword('Xy7#secretPassw')]);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^s1\$[A-Za-z0-9_-]{16}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toContain('Xy7#secretPassw');
    expect(await verifyPassword('Xy7#secretPassw', a)).toBe(true);
    expect(await verifyPassword('Xy7#secretPassw', b)).toBe(true);
    expect(await verifyPassword('Xy7#secretpassw', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
  });

  // N was 2^12 at first; it is 2^10 (1 MiB of memory per hash, ~6 ms here) so that a 10,000-user import
  // does not spend minutes hashing. Temporary passwords carry over 90 bits of entropy (see README), so the
  // memory-hard KDF guards the stored value; it is not the only thing standing between an attacker and a
  // guessable secret. The test keeps the floor that decision sets.
  it('uses a memory-hard KDF: scrypt with N ≥ 2^10 and r ≥ 8', async () => {
    const parameters = storedHashParameters(await hashPassword('Xy7#secretPassw'));
    expect(parameters?.N).toBeGreaterThanOrEqual(1024);
    expect(parameters?.r).toBeGreaterThanOrEqual(8);
  });

  // Redis keeps a hash compact (listpack) only while every value is at most hash-max-listpack-value (64) bytes long;
  // one longer value turns the user's whole record into a hash table, 1.1 KB more per user (README, Performance).
  it('is short enough for the compact encoding of a user record: at most 64 characters', async () => {
    for (const password of ['Xy7#secretPassw', generateTemporaryPassword(), 'x'.repeat(256)]) {
      expect((await hashPassword(password)).length).toBeLessThanOrEqual(64);
    }
  });

  it('still verifies values stored in the first form (scrypt$N$r$p$salt$key)', async () => {
    const salt = randomBytes(16);
    const first = ['scrypt', 1024, 8, 1, salt.toString('base64'), scryptSync('Xy7#secretPassw', salt, 32, { N: 1024, r: 8, p: 1 }).toString('base64')].join('$');
    expect(await verifyPassword('Xy7#secretPassw', first)).toBe(true);
    expect(await verifyPassword('Xy7#secretPassx', first)).toBe(false);
    expect(storedHashParameters(first)).toEqual({ N: 1024, r: 8, p: 1 });
  });

  it('refuses stored values of another scheme or without a hash', async () => {
    expect(await verifyPassword('x', 'plain$x')).toBe(false);
    expect(await verifyPassword('x', '')).toBe(false);
    expect(await verifyPassword('x', 'scrypt$4096$8$1$c2FsdA==')).toBe(false);
    expect(await verifyPassword('x', 's9$c2FsdA$c2FsdA')).toBe(false);
    expect(await verifyPassword('x', 's1$c2FsdA$')).toBe(false);
    expect(await verifyPassword('x', 'scrypt$x$8$1$c2FsdA==$c2FsdA==')).toBe(false);
  });
});

describe('entropy of a temporary password', () => {
  // The keyed hash (below) is only as strong as the password is unguessable: the issue asks for ≥ 96 bits.
  it('has at least 96 bits of min-entropy (a bound that ignores what the shuffle adds)', () => {
    expect(PASSWORD_MIN_ENTROPY_BITS).toBeGreaterThanOrEqual(96);
    // Recomputed from the alphabets the generator actually uses, as seen in a large sample.
    const sample = Array.from({ length: 5000 }, () => generateTemporaryPassword());
    const seen = new Set(sample.join(''));
    const upper = [...seen].filter((c) => /[A-Z]/.test(c)).length;
    const lower = [...seen].filter((c) => /[a-z]/.test(c)).length;
    const digits = [...seen].filter((c) => /[0-9]/.test(c)).length;
    const symbols = seen.size - upper - lower - digits;
    const bits = Math.log2(upper + lower) + Math.log2(upper) + Math.log2(lower) + Math.log2(digits) + Math.log2(symbols) + (PASSWORD_LENGTH - 5) * Math.log2(seen.size);
    expect(bits).toBeCloseTo(PASSWORD_MIN_ENTROPY_BITS, 6);
  });
});

describe('keyed hash (HMAC-SHA-256, PASSWORD_HASH_KEY)', () => {
  const key = randomBytes(32);
  const hasher = keyedPasswordHasher(key);

  it('salts, verifies only the right password, and only under the same key', async () => {
    const [a, b] = await Promise.all([hasher.hash('Xy7#secretPassw'), hasher.hash('Xy7#secretPassw')]);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^h1\$[A-Za-z0-9_-]{16}\$[A-Za-z0-9_-]{43}$/);
    expect(a.length).toBeLessThanOrEqual(64);
    expect(a).not.toContain('Xy7#secretPassw');
    expect(await hasher.verify('Xy7#secretPassw', a)).toBe(true);
    expect(await hasher.verify('Xy7#secretPassw', b)).toBe(true);
    expect(await hasher.verify('Xy7#secretpassw', a)).toBe(false);
    expect(await hasher.verify('', a)).toBe(false);
    expect(await keyedPasswordHasher(randomBytes(32)).verify('Xy7#secretPassw', a)).toBe(false);
    // Without the key (the scrypt hasher, or a copy of Redis) a keyed value verifies nothing.
    expect(await scryptPasswordHasher.verify('Xy7#secretPassw', a)).toBe(false);
  });

  it('is HMAC-SHA-256 of the salt and the password under the key', async () => {
    const stored = await hasher.hash('Xy7#secretPassw');
    const [, salt, mac] = stored.split('$');
    const expected = createHmac('sha256', key).update('pab temporary password h1\0').update(Buffer.from(salt, 'base64url')).update('Xy7#secretPassw').digest('base64url');
    expect(mac).toBe(expected);
  });

  it('still verifies every scrypt form stored before the key was set', async () => {
    const salt = randomBytes(16);
    const first = ['scrypt', 1024, 8, 1, salt.toString('base64'), scryptSync('Xy7#secretPassw', salt, 32, { N: 1024, r: 8, p: 1 }).toString('base64')].join('$');
    const s1 = await hashPassword('Xy7#secretPassw');
    for (const old of [first, s1]) {
      expect(await hasher.verify('Xy7#secretPassw', old)).toBe(true);
      expect(await hasher.verify('Xy7#secretPassx', old)).toBe(false);
    }
  });

  it('refuses malformed keyed values', async () => {
    for (const bad of ['h1$', 'h1$c2FsdA$', 'h1$c2FsdA$c2FsdA', `h1$${'A'.repeat(16)}$${'A'.repeat(42)}`, `h1$${'A'.repeat(16)}$${'A'.repeat(43)}$x`]) {
      expect(await hasher.verify('x', bad)).toBe(false);
    }
  });

  it('needs a key of at least 32 bytes, given in base64', () => {
    expect(() => keyedPasswordHasher(randomBytes(16))).toThrow(/32 bytes/);
    const k = randomBytes(32);
    expect(parsePasswordHashKey(k.toString('base64'))?.equals(k)).toBe(true);
    expect(parsePasswordHashKey(k.toString('base64url'))?.equals(k)).toBe(true);
    expect(parsePasswordHashKey(randomBytes(31).toString('base64'))).toBeUndefined();
    expect(parsePasswordHashKey('not base64 at all!')).toBeUndefined();
    expect(parsePasswordHashKey('')).toBeUndefined();
  });
});
