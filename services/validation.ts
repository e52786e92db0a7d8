import { DirectoryError } from './errors';
import { USER_ROLES, UserRole } from './types';

/** Field rules as Microsoft Entra applies them (SPEC §1). Each failure names the field. */

const USERNAME = /^[A-Za-z0-9'._!#^~-]{1,64}$/;
const DOMAIN = /^(?=.{1,48}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const SKU = /^[A-Za-z0-9_.-]{1,64}$/;
// Control characters, bidi overrides, line and paragraph separators (U+2028/2029: a line break to some renderers and
// CSV readers) and lone UTF-16 surrogates (not text) never belong in a name.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/* ISO 3166-1 alpha-2 codes. */
const ISO_COUNTRIES = new Set(
  ('AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
    'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO ' +
    'FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE ' +
    'JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO ' +
    'MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW ' +
    'PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM ' +
    'TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW').split(' '),
);

function invalid(field: string, reason: string): DirectoryError {
  return new DirectoryError('INVALID_FIELD', { field, reason });
}

/** Control characters, bidi overrides, line separators or lone surrogates: text that is no name of anyone. */
export const hasUnsafeCharacters = (value: string): boolean => CONTROL.test(value);

export function validateUsername(value: string, field = 'username'): string {
  const username = value.trim();
  if (username.length === 0) throw invalid(field, 'required');
  if (username.length > 64) throw invalid(field, 'tooLong');
  if (!USERNAME.test(username)) throw invalid(field, 'characters');
  if (username.startsWith('.') || username.endsWith('.')) throw invalid(field, 'dotAtEdge');
  return username;
}

export function validateDomain(value: string, customerDomains: string[]): string {
  const domain = value.trim().toLowerCase();
  if (!DOMAIN.test(domain)) throw invalid('domain', 'format');
  // Its own code (the bot has a message for it); params.field names the field like INVALID_FIELD does.
  if (!customerDomains.includes(domain)) throw new DirectoryError('DOMAIN_NOT_IN_CUSTOMER', { field: 'domain', domain });
  return domain;
}

export function validateUpn(username: string, domain: string): string {
  const upn = `${username}@${domain}`;
  if (upn.length > 113) throw invalid('username', 'upnTooLong');
  return upn;
}

export function validateName(value: string | undefined, field: string, max: number, required: boolean): string {
  const name = (value ?? '').trim();
  if (required && name.length === 0) throw invalid(field, 'required');
  if (name.length > max) throw invalid(field, 'tooLong');
  if (CONTROL.test(name)) throw invalid(field, 'characters');
  return name;
}

export function validateUsageLocation(value: string): string {
  const code = value.trim().toUpperCase();
  if (!code) throw invalid('usageLocation', 'required');
  if (!ISO_COUNTRIES.has(code)) throw invalid('usageLocation', 'country');
  return code;
}

export function validateRole(value: string | undefined): UserRole {
  const role = (value ?? 'user').trim().toLowerCase();
  if (!(USER_ROLES as readonly string[]).includes(role)) throw invalid('role', 'unknownRole');
  return role as UserRole;
}

export function validateSkuIds(values: string[], field = 'licenses'): string[] {
  const skus = [...new Set(values.map((v) => v.trim()).filter(Boolean))];
  for (const sku of skus) if (!SKU.test(sku)) throw invalid(field, 'sku');
  return skus;
}

export const isIsoCountry = (code: string): boolean => ISO_COUNTRIES.has(code.toUpperCase());
export const isoCountryCodes = (): string[] => [...ISO_COUNTRIES];
