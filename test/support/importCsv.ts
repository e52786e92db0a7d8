/**
 * CSV files for import tests, generated at test time (the big ones are not committed), written the way Excel's
 * "CSV UTF-8 (Comma delimited)" saves them: UTF-8 with BOM, CRLF, quotes where needed.
 *
 *   partnerCenterCsv(10_000, { licenses: (i) => (i % 2 ? 'O365_E3;SPE_E5' : '') })   // Partner Center template
 *   csvOfSize(5 * 1024 * 1024 + 1)                                                  // exactly that many bytes
 *   fixture('semicolon.csv')                                                        // test/fixtures/import/…
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';

export const FIXTURES = join(__dirname, '..', 'fixtures', 'import');
export const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));

export const PARTNER_CENTER_HEADERS = ['First name', 'Last name', 'Display name', 'Email', 'Status update'];

export interface GeneratedCsvOptions {
  domain?: string;
  /** Username of row i (0-based); default user00042. */
  username?: (i: number) => string;
  /** Display name of row i; default "First<i> Last<i>". */
  displayName?: (i: number) => string;
  /** Adds a Licenses column with this value per row. */
  licenses?: (i: number) => string;
  /** Adds a Usage location column with this value per row. */
  usageLocation?: (i: number) => string;
}

export const defaultUsername = (i: number): string => `user${String(i).padStart(5, '0')}`;

/** Display names that a spreadsheet would run as formulas, on some rows. */
export function formulaDisplayName(i: number): string {
  switch (i % 50) {
    case 1:
      return `=HYPERLINK("http://evil.example/?${i}","Click ${i}")`;
    case 2:
      return `+1+${i} Plus`;
    case 3:
      return `@SUM(1+${i}) At`;
    case 4:
      return `-2+${i} Minus`;
    default:
      return `First${i} Last${i}`;
  }
}

export function partnerCenterRows(count: number, options: GeneratedCsvOptions = {}): string[][] {
  const domain = options.domain ?? 'contoso.com';
  const username = options.username ?? defaultUsername;
  const headers = [...PARTNER_CENTER_HEADERS];
  if (options.usageLocation) headers.push('Usage location');
  if (options.licenses) headers.push('Licenses');
  const rows: string[][] = [headers];
  for (let i = 0; i < count; i++) {
    const row = [`First${i}`, `Last${i}`, options.displayName ? options.displayName(i) : `First${i} Last${i}`, `${username(i)}@${domain}`, ''];
    if (options.usageLocation) row.push(options.usageLocation(i));
    if (options.licenses) row.push(options.licenses(i));
    rows.push(row);
  }
  return rows;
}

/** The Partner Center template with `count` rows (UTF-8 with BOM, CRLF, comma). */
export function partnerCenterCsv(count: number, options: GeneratedCsvOptions = {}): Buffer {
  return Buffer.from(stringify(partnerCenterRows(count, options), { bom: true, record_delimiter: 'windows' }), 'utf8');
}

/**
 * A valid Microsoft 365 admin center CSV of exactly `size` bytes (the Address column pads it).
 * Used at the 5 MB limit: the same generator gives the file that fits and the one that is 1 byte over (100 rows,
 * so that no record exceeds the reader's 256 KB record limit).
 */
export function csvOfSize(size: number, rows = 100): Buffer {
  const header = 'User Name,First Name,Last Name,Display Name,Address,Country or Region\r\n';
  const lines = Array.from({ length: rows }, (_, i) => `big${i}@contoso.com,Big,Row${i},Big Row${i},"",United States\r\n`);
  const fixed = Buffer.byteLength(header) + lines.reduce((n, l) => n + Buffer.byteLength(l), 0);
  const padding = size - fixed;
  if (padding < 0) throw new Error(`csvOfSize: ${size} bytes is too small for ${rows} rows`);
  const each = Math.floor(padding / rows);
  const body = lines.map((l, i) => l.replace('""', `"${'x'.repeat(i === rows - 1 ? padding - each * (rows - 1) : each)}"`)).join('');
  const out = Buffer.from(header + body, 'utf8');
  if (out.length !== size) throw new Error(`csvOfSize: made ${out.length} bytes instead of ${size}`);
  return out;
}
