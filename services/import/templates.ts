import { isIsoCountry, isoCountryCodes } from '../validation';

/**
 * The two templates people already have (SPEC §6), matched without regard to case and spacing, plus
 * the optional Usage location, Licenses and Role columns.
 */
export type Field =
  | 'upn'
  | 'firstName'
  | 'lastName'
  | 'displayName'
  | 'usageLocation'
  | 'licenses'
  | 'role'
  | 'statusUpdate'
  | 'countryOrRegion'
  | 'kept';

/** Normalised header → field. "kept" columns are accepted and repeated in the results, not stored. */
const COLUMNS: Record<string, Field> = {
  // Partner Center
  firstname: 'firstName',
  lastname: 'lastName',
  displayname: 'displayName',
  email: 'upn',
  statusupdate: 'statusUpdate',
  // Microsoft 365 admin center
  username: 'upn',
  jobtitle: 'kept',
  department: 'kept',
  officenumber: 'kept',
  officephone: 'kept',
  mobilephone: 'kept',
  fax: 'kept',
  alternateemailaddress: 'kept',
  address: 'kept',
  city: 'kept',
  stateorprovince: 'kept',
  ziporpostalcode: 'kept',
  countryorregion: 'countryOrRegion',
  // ours
  usagelocation: 'usageLocation',
  licenses: 'licenses',
  role: 'role',
};

export const normaliseHeader = (header: string): string => header.toLowerCase().replace(/[^a-z0-9]/g, '');

export type HeaderMapping = { ok: true; columns: Array<Field>; statusColumn: number } | { ok: false; unknown: string[]; missing: string[]; duplicate: string[] };

export function mapHeaders(headers: string[]): HeaderMapping {
  const columns: Field[] = [];
  const unknown: string[] = [];
  const seen = new Map<Field, string>();
  const duplicate: string[] = [];
  for (const header of headers) {
    // Own keys only: a column called "Constructor" is unknown, not Object.prototype.constructor.
    const key = normaliseHeader(header);
    const field = Object.hasOwn(COLUMNS, key) ? COLUMNS[key] : undefined;
    if (!field) {
      if (header.trim()) unknown.push(header.trim());
      columns.push('kept');
      continue;
    }
    if (field !== 'kept' && seen.has(field)) duplicate.push(header.trim());
    seen.set(field, header);
    columns.push(field);
  }
  const missing: string[] = [];
  if (!seen.has('upn')) missing.push('Email / User Name');
  if (!seen.has('displayName') && !(seen.has('firstName') && seen.has('lastName'))) missing.push('Display name');
  if (unknown.length || missing.length || duplicate.length) return { ok: false, unknown, missing, duplicate };
  return { ok: true, columns, statusColumn: columns.indexOf('statusUpdate') };
}

const regionNames = new Intl.DisplayNames(['en'], { type: 'region' });
let countryCodesByName: Map<string, string> | undefined;

/** "United States" or "US" → "US"; anything else → undefined. */
export function countryCode(value: string): string | undefined {
  const v = value.trim();
  if (/^[A-Za-z]{2}$/.test(v) && isIsoCountry(v)) return v.toUpperCase();
  if (!countryCodesByName) {
    countryCodesByName = new Map();
    for (const code of isoCountryCodes()) {
      const name = regionNames.of(code);
      if (name) countryCodesByName.set(name.toLowerCase(), code);
    }
  }
  return countryCodesByName.get(v.toLowerCase());
}
