import { DirectoryError } from '../../services/errors';
import {
  isIsoCountry,
  validateDomain,
  validateName,
  validateRole,
  validateSkuIds,
  validateUpn,
  validateUsageLocation,
  validateUsername,
} from '../../services/validation';

function failure(fn: () => unknown): { code: string; params: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    if (err instanceof DirectoryError) return { code: err.code, params: err.params };
    throw err;
  }
  throw new Error('expected a DirectoryError');
}

describe('validateUsername (the UPN local part)', () => {
  it.each(["alice", "o'brien", 'a.b-c_d!e#f^g~h', 'A'.repeat(64), '9', ' padded '])('accepts %p', (u) => {
    expect(validateUsername(u)).toBe(u.trim());
  });
  it.each([
    ['', 'required'],
    ['   ', 'required'],
    ['a'.repeat(65), 'tooLong'],
    ['josé', 'characters'],
    ['Ångström', 'characters'],
    ['a b', 'characters'],
    ['a@b', 'characters'],
    ['a"b', 'characters'],
    ['a/b', 'characters'],
    ['a,b', 'characters'],
    ['alice.', 'dotAtEdge'],
    ['.alice', 'dotAtEdge'],
  ])('refuses %p (%s), naming the field', (u, reason) => {
    expect(failure(() => validateUsername(u))).toEqual({ code: 'INVALID_FIELD', params: { field: 'username', reason } });
  });
  it('names the field it was asked to (newUsername on restore)', () => {
    expect(failure(() => validateUsername('x y', 'newUsername')).params.field).toBe('newUsername');
  });
});

describe('validateDomain and validateUpn', () => {
  const domains = ['contoso.onmicrosoft.com', 'contoso.com'];
  it('accepts one of the customer’s domains in any case', () => {
    expect(validateDomain(' Contoso.COM ', domains)).toBe('contoso.com');
  });
  it('refuses other domains and non-domains, naming the field', () => {
    expect(failure(() => validateDomain('fabrikam.com', domains))).toEqual({
      code: 'DOMAIN_NOT_IN_CUSTOMER',
      params: { field: 'domain', domain: 'fabrikam.com' },
    });
    expect(failure(() => validateDomain('contoso', domains)).params).toMatchObject({ field: 'domain', reason: 'format' });
    const long = `${'x'.repeat(41)}.example`; // 49
    expect(failure(() => validateDomain(long, [...domains, long])).params).toMatchObject({ field: 'domain', reason: 'format' });
  });
  it('caps the whole UPN at 113 characters', () => {
    expect(validateUpn('a'.repeat(64), `${'x'.repeat(40)}.example`)).toHaveLength(113);
    expect(failure(() => validateUpn('a'.repeat(64), `${'x'.repeat(41)}.example`))).toEqual({
      code: 'INVALID_FIELD',
      params: { field: 'username', reason: 'upnTooLong' },
    });
  });
});

describe('names, usage location, role, licenses', () => {
  it('checks name lengths and refuses control and bidi-override characters', () => {
    expect(validateName(' Ann ', 'displayName', 256, true)).toBe('Ann');
    expect(validateName(undefined, 'firstName', 64, false)).toBe('');
    expect(failure(() => validateName('', 'displayName', 256, true)).params).toEqual({ field: 'displayName', reason: 'required' });
    expect(failure(() => validateName('x'.repeat(65), 'lastName', 64, false)).params).toEqual({ field: 'lastName', reason: 'tooLong' });
    expect(failure(() => validateName('evil\u202Etxt', 'displayName', 256, true)).params).toEqual({ field: 'displayName', reason: 'characters' });
    expect(failure(() => validateName('a\nb', 'firstName', 64, false)).params).toEqual({ field: 'firstName', reason: 'characters' });
    for (const bad of ['Ann\u2028Lee', 'Ann\u2029Lee', 'Ann\ud800', '\udc00Ann', 'A\udc00\ud800']) {
      expect(failure(() => validateName(bad, 'displayName', 256, true)).params).toEqual({ field: 'displayName', reason: 'characters' });
    }
    // What names are made of stays: accents, CJK, an emoji (a surrogate pair) and emoji joined with U+200D.
    for (const good of ['José Ångström', '김민준', 'Ann \ud83d\ude00', 'Family \ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67']) {
      expect(validateName(good, 'displayName', 256, true)).toBe(good);
    }
  });
  it('accepts ISO 3166 alpha-2 codes only', () => {
    expect(validateUsageLocation(' kr ')).toBe('KR');
    expect(isIsoCountry('gb')).toBe(true);
    for (const bad of ['UK', 'EU', 'XX', 'USA', 'U', '12']) {
      expect(failure(() => validateUsageLocation(bad)).params).toEqual({ field: 'usageLocation', reason: 'country' });
    }
  });
  it('knows the seven roles, defaulting to user', () => {
    expect(validateRole(undefined)).toBe('user');
    expect(validateRole(' Global-Admin ')).toBe('global-admin');
    expect(failure(() => validateRole('admin')).params).toEqual({ field: 'role', reason: 'unknownRole' });
  });
  it('deduplicates license ids and refuses ones that cannot be sku ids', () => {
    expect(validateSkuIds(['O365_E3', ' O365_E3 ', '', 'SPE_E5'])).toEqual(['O365_E3', 'SPE_E5']);
    expect(failure(() => validateSkuIds(['O365,E3'])).params).toEqual({ field: 'licenses', reason: 'sku' });
  });
});
