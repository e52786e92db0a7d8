/**
 * Hostile CSV files, generated with fast-check (issue 8): arbitrary bytes, and CSV-shaped files whose cells carry
 * control characters, bidi marks, emoji and other astral characters, formula prefixes (= + - @ tab CR), quotes,
 * separators, line breaks, BOMs and 10 kB cells, saved with any of the delimiters, line endings and encodings the
 * reader accepts. Every file gets a clear problem or a clean preview, nothing throws; a cell comes out of the reader
 * exactly as written and each row is named by the line it starts on; a refused row names its line and the field at
 * fault, a name is either refused or stored exactly, the results CSV round-trips with every formula neutralised, and
 * a refused file or a refused start changes nothing that is stored.
 *
 * Seeded (FC_SEED, FC_RUNS to explore further); real Redis, customer contoso with deterministic passwords.
 */
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { CredentialVault } from '../../services/credentials';
import { CsvResult, readCsv } from '../../services/import/csvFile';
import { ImportMode, ImportService, RowIssue } from '../../services/import/importer';
import { mapHeaders } from '../../services/import/templates';
import { createTestDirectory, dumpValues, TestDirectory } from '../support/testDirectory';

const SEED = Number(process.env.FC_SEED ?? 20250303);
const RUNS = Number(process.env.FC_RUNS ?? 0) || undefined;
const runs = (n: number) => ({ seed: SEED, numRuns: RUNS ?? n });

// ------------------------------------------------------------------------------------------ what a hostile cell is made of

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String.fromCharCode(from + i));
/** C0 controls that make a file "not text" (tab, LF and CR are ordinary CSV characters). */
const BINARY_CONTROLS = [...range(0x00, 0x08), '\u000b', '\u000c', ...range(0x0e, 0x1f)];
const BINARY_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;
const OTHER_CONTROLS = ['\t', '\n', '\r', '\u007f', ...range(0x80, 0x9f)];
const BIDI = ['\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u061c'];
const ASTRAL = ['\u{1F600}', '\u{1F469}\u{1F3FD}\u200d\u{1F4BB}', '\u{1F3F3}\ufe0f\u200d\u{1F308}', '\u{1D518}', '\u{20000}', '\u{10FFFD}', '\u{1F1EF}\u{1F1F5}'];
const SEPARATORS = [',', ';', '\t', '"', '""', '"x"', '\n', '\r\n', '\r', ' ', '  '];
const INVISIBLE = ['\ufeff', '\u00a0', '\u2028', '\u2029', '\u200b', '\u200c', '\u200d', '\u3000', '\u0301'];
const FORMULAS = ['=', '+', '-', '@', '\t', '\r', '=1+1', '=HYPERLINK("http://evil.example/?x","Click")', "=cmd|' /C calc'!A0", '@SUM(1+1)', '+1-1', '-2+3', '\t=1', '\r=1'];
const TEN_KB = ['x'.repeat(10_000), '\u00e9'.repeat(5_000), '\u{1F600}'.repeat(2_500), 'a,b;"c"\r\n'.repeat(1_000)];

/** A piece of a cell; `controls` lets in the C0 characters that make the whole file binary (where the reader sees them). */
const piece = (controls: boolean) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }) },
    { weight: 2, arbitrary: fc.constantFrom(...OTHER_CONTROLS) },
    { weight: controls ? 1 : 0, arbitrary: fc.constantFrom(...BINARY_CONTROLS) },
    { weight: 3, arbitrary: fc.constantFrom(...BIDI) },
    { weight: 3, arbitrary: fc.constantFrom(...ASTRAL) },
    { weight: 3, arbitrary: fc.constantFrom(...SEPARATORS) },
    { weight: 2, arbitrary: fc.constantFrom(...INVISIBLE) },
    { weight: 1, arbitrary: fc.constantFrom(...TEN_KB) },
  );

const hostileCell = (controls: boolean, maxPieces = 5) =>
  fc.tuple(fc.option(fc.constantFrom(...FORMULAS), { freq: 3 }), fc.array(piece(controls), { maxLength: maxPieces })).map(([prefix, pieces]) => (prefix ?? '') + pieces.join(''));

// ------------------------------------------------------------------------------------------ writing a file

type Delimiter = ',' | ';' | '\t';
type Eol = '\r\n' | '\n' | '\r';
type Encoding = 'utf-8' | 'utf-8 BOM' | 'utf-16le BOM' | 'utf-16be BOM';

interface FileShape {
  delimiter: Delimiter;
  eol: Eol;
  encoding: Encoding;
  trailingEmptyLines: number;
}

const fileShape: fc.Arbitrary<FileShape> = fc.record({
  delimiter: fc.constantFrom<Delimiter>(',', ';', '\t'),
  eol: fc.constantFrom<Eol>('\r\n', '\n', '\r'),
  encoding: fc.constantFrom<Encoding>('utf-8', 'utf-8 BOM', 'utf-16le BOM', 'utf-16be BOM'),
  trailingEmptyLines: fc.integer({ min: 0, max: 2 }),
});

/** Quoted as Excel quotes: when the cell holds the delimiter, a quote or a line break. */
const quote = (cell: string, delimiter: string) => (cell.includes(delimiter) || /["\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell);
const recordText = (cells: string[], delimiter: string) => cells.map((c) => quote(c, delimiter)).join(delimiter);

function encode(text: string, encoding: Encoding): Buffer {
  switch (encoding) {
    case 'utf-8':
      return Buffer.from(text, 'utf8');
    case 'utf-8 BOM':
      return Buffer.from(`\ufeff${text}`, 'utf8');
    case 'utf-16le BOM':
      return Buffer.from(`\ufeff${text}`, 'utf16le');
    case 'utf-16be BOM':
      return Buffer.from(`\ufeff${text}`, 'utf16le').swap16();
  }
}

/** Line breaks as a text editor counts them: LF, CRLF, or a CR alone. */
const lineBreaks = (text: string) => (text.match(/\r\n|\n|\r/g) ?? []).length;

interface WrittenFile {
  bytes: Buffer;
  /** The decoded text, as the reader should see it. */
  text: string;
  /** Line of the file on which each data row starts (the header is line 1). */
  lines: number[];
}

function writeFile(records: string[][], shape: FileShape): WrittenFile {
  let text = '';
  const lines: number[] = [];
  records.forEach((cells, i) => {
    if (i > 0) lines.push(1 + lineBreaks(text));
    text += recordText(cells, shape.delimiter) + shape.eol;
  });
  text += shape.eol.repeat(shape.trailingEmptyLines);
  return { bytes: encode(text, shape.encoding), text, lines };
}

const expectedEncoding = (e: Encoding) => (e === 'utf-16le BOM' ? 'utf-16le' : e === 'utf-16be BOM' ? 'utf-16be' : 'utf-8');

// ------------------------------------------------------------------------------------------ the rules, as the spec words them

/** Control characters, bidi embeddings, overrides and isolates (SPEC §1), line and paragraph separators and lone surrogates never belong in a name. */
const NOT_IN_A_NAME = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** A cell a spreadsheet would run as a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;
/** Headers are matched regardless of case and of anything but letters and digits (README). */
const normalised = (h: string) => h.toLowerCase().replace(/[^a-z0-9]/g, '');
/** The headers of both templates and ours, normalised (case and anything but letters and digits ignored). */
const KNOWN_HEADERS = new Set(
  [
    'First name', 'Last name', 'Display name', 'Email', 'Status update', 'User Name', 'Job Title', 'Department', 'Office Number', 'Office Phone',
    'Mobile Phone', 'Fax', 'Alternate email address', 'Address', 'City', 'State or Province', 'ZIP or Postal Code', 'Country or Region',
    'Usage location', 'Licenses', 'Role',
  ].map((h) => normalised(h)),
);

const PROBLEM_KINDS = new Set(['tooLarge', 'empty', 'binary', 'malformed', 'tooManyRows']);

/** Whatever readCsv returns for any input: a known problem, or a table whose rows start on increasing lines after the header. */
function expectWellFormedResult(result: CsvResult, text?: string) {
  if (!result.ok) {
    expect(PROBLEM_KINDS.has(result.problem.kind)).toBe(true);
    if (result.problem.kind === 'malformed') {
      expect(result.problem.line).toBeGreaterThanOrEqual(1);
      expect(typeof result.problem.reason).toBe('string');
    }
    return;
  }
  const { table } = result;
  expect([',', ';', '\t']).toContain(table.delimiter);
  for (const h of table.headers) expect(h).toBe(h.trim());
  let previous = 1;
  for (const row of table.rows) {
    expect(Number.isInteger(row.line)).toBe(true);
    expect(row.line).toBeGreaterThan(previous);
    previous = row.line;
    expect(row.cells.some((c) => c.trim() !== '')).toBe(true);
  }
  if (text !== undefined) expect(previous).toBeLessThanOrEqual(1 + lineBreaks(text));
}

// ------------------------------------------------------------------------------------------ reading (pure)

describe('reading any bytes gives a clear problem or a table, and never throws', () => {
  it('arbitrary bytes, with or without a BOM in front', () => {
    const boms = fc.constantFrom(Buffer.alloc(0), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from([0xff, 0xfe]), Buffer.from([0xfe, 0xff]));
    fc.assert(
      fc.property(boms, fc.uint8Array({ maxLength: 600 }), (bom, body) => {
        expectWellFormedResult(readCsv(Buffer.concat([bom, Buffer.from(body)])));
      }),
      runs(1500),
    );
  });

  it('arbitrary text built from hostile pieces, separators and line breaks (any quoting, balanced or not)', () => {
    const text = fc.array(fc.oneof(piece(true), fc.constantFrom(...FORMULAS), fc.string({ unit: 'binary', maxLength: 6 })), { maxLength: 40 }).map((p) => p.join(''));
    fc.assert(
      fc.property(text, fc.constantFrom<Encoding>('utf-8', 'utf-8 BOM', 'utf-16le BOM'), (t, encoding) => {
        expectWellFormedResult(readCsv(encode(t, encoding)), encoding === 'utf-8' ? undefined : t);
      }),
      runs(1500),
    );
  });
});

const TEMPLATE = ['Email', 'Display name', 'First name', 'Last name', 'Department'];

describe('a well-formed file with hostile cells is read exactly', () => {
  const file = fc.record({
    shape: fileShape,
    controls: fc.boolean(),
    headers: fc.shuffledSubarray(TEMPLATE, { minLength: TEMPLATE.length }),
    /** A 70 kB first cell puts what follows beyond the 64 kB the binary check looks at. */
    padded: fc.boolean(),
    rows: fc.integer({ min: 1, max: 6 }),
  }).chain((f) =>
    fc.record({
      f: fc.constant(f),
      cells: fc.array(fc.array(hostileCell(f.controls), { minLength: f.headers.length, maxLength: f.headers.length }), { minLength: f.rows, maxLength: f.rows }),
    }),
  );

  it('every cell comes back as written, each row with the line it starts on; a file is "binary" only for the C0 controls it really holds', () => {
    let tables = 0;
    let binaries = 0;
    fc.assert(
      fc.property(file, ({ f, cells }) => {
        // The first cell of each row is never blank: a row of only blank cells is (rightly) not a row.
        const rows = cells.map((r, i) => [`row${i}${r[0]}`, ...r.slice(1)]);
        if (f.padded) rows[0][0] += 'p'.repeat(70_000);
        const written = writeFile([f.headers, ...rows], f.shape);
        const result = readCsv(written.bytes);
        expectWellFormedResult(result, written.text);
        if (!result.ok) {
          expect(result.problem).toEqual({ kind: 'binary' });
          expect(written.text).toMatch(BINARY_CONTROL);
          binaries++;
          return;
        }
        tables++;
        expect(result.table.headers).toEqual(f.headers);
        expect(result.table.delimiter).toBe(f.shape.delimiter);
        expect(result.table.encoding).toBe(expectedEncoding(f.shape.encoding));
        expect(result.table.rows.map((r) => r.line)).toEqual(written.lines);
        expect(result.table.rows.map((r) => r.cells)).toEqual(rows);
      }),
      runs(400),
    );
    // Both outcomes were exercised.
    expect(tables).toBeGreaterThan(0);
    expect(binaries).toBeGreaterThan(0);
  });

  it('headers: each one is a known column or named as unknown, whatever it is called (prototype keys included)', () => {
    const header = fc.oneof(
      fc.constantFrom(...TEMPLATE, 'User Name', 'Usage location', 'Licenses', 'Role', 'Country or Region', 'Job Title'),
      fc.constantFrom('constructor', 'Constructor', '__proto__', 'proto', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', '__defineGetter__', 'isPrototypeOf'),
      fc.tuple(fc.constantFrom(...TEMPLATE), fc.constantFrom(...BIDI, ...INVISIBLE, '=', '@', '-', '\t', '\u{1F600}')).map(([h, x]) => x + h),
      hostileCell(false, 3),
    );
    fc.assert(
      fc.property(fc.array(header, { minLength: 1, maxLength: 8 }), (headers) => {
        const mapping = mapHeaders(headers);
        const unknown = headers.filter((h) => h.trim() && !KNOWN_HEADERS.has(normalised(h))).map((h) => h.trim());
        if (mapping.ok) {
          expect(unknown).toEqual([]);
          expect(mapping.columns).toHaveLength(headers.length);
          for (const c of mapping.columns) expect(typeof c).toBe('string');
        } else {
          expect(mapping.unknown).toEqual(unknown);
        }
      }),
      runs(1500),
    );
  });
});

// ------------------------------------------------------------------------------------------ through the importer, on Redis

let t: TestDirectory;
let importer: ImportService;
let vault: CredentialVault;

beforeAll(async () => {
  t = await createTestDirectory({ passwords: 'deterministic' });
  await t.seed({ users: [{ username: 'alice', displayName: 'Alice Smith', licenses: ['O365_E3'] }] });
  vault = new CredentialVault(t.redis, t.keys, t.clock);
  importer = new ImportService(t.directory, vault);
});

afterAll(async () => {
  await t.cleanup();
});

/** Every value stored under the test's root. */
const everything = async () => Object.fromEntries([...(await dumpValues(t)).entries()].sort(([a], [b]) => a.localeCompare(b)));

describe('a file the importer refuses stores nothing', () => {
  it('arbitrary bytes, and hostile header lines: a clear problem, or a preview; a problem leaves every stored value as it was', async () => {
    const headerLine = fc
      .array(fc.oneof(fc.constantFrom(...TEMPLATE, 'constructor', 'Manager', '=Email', 'E\u200bmail'), hostileCell(true, 3)), { minLength: 1, maxLength: 6 })
      .map((h) => Buffer.from(`${h.map((c) => quote(c, ',')).join(',')}\r\nrow@contoso.com,Row,R,W,D\r\n`));
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), headerLine), async (bytes) => {
        const before = await everything();
        const result = await importer.preview('contoso', bytes, 'hostile.csv', t.actor);
        if (result.ok) return;
        refused++;
        expect([...PROBLEM_KINDS, 'headers']).toContain(result.problem.kind);
        if (result.problem.kind === 'headers') {
          const { unknown, missing, duplicate } = result.problem;
          expect(unknown.length + missing.length + duplicate.length).toBeGreaterThan(0);
        }
        expect(await everything()).toEqual(before);
      }),
      runs(60),
    );
    expect(refused).toBeGreaterThan(0);
  });
});

describe('hostile rows: each refused row names its line and field, names are refused or stored exactly, the results CSV is safe', () => {
  let batch = 0;
  const FIELDS = ['username', 'domain', 'displayName', 'firstName', 'lastName'];
  const EMAIL_NOISE = [' ', '\t', '\r\n', '-', '=', '+', '@', '\u202e', '\u200f', '\u{1F600}', '"', ','];
  const noise = fc.oneof({ weight: 4, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom(...EMAIL_NOISE) });
  /** Names that may well be valid: letters of any script, emoji, bidi marks, quotes, separators, formula prefixes. */
  const printablePiece = fc.oneof(
    { weight: 8, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }) },
    { weight: 3, arbitrary: fc.constantFrom('\u200e', '\u200f', '\u061c') },
    { weight: 3, arbitrary: fc.constantFrom(...ASTRAL) },
    { weight: 3, arbitrary: fc.constantFrom(',', ';', '"', '""', '"x"', ' ', '  ') },
    { weight: 2, arbitrary: fc.constantFrom(...INVISIBLE) },
  );
  const name = (controls: boolean, maxPieces: number) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.tuple(fc.option(fc.constantFrom(...FORMULAS), { freq: 3 }), fc.array(printablePiece, { maxLength: maxPieces })).map(([p, xs]) => (p ?? '') + xs.join('')) },
      { weight: 1, arbitrary: hostileCell(controls, maxPieces) },
    );
  const row = (controls: boolean) =>
    fc.record({
      prefix: noise,
      suffix: noise,
      domain: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('contoso.com', 'CONTOSO.COM', 'contoso.onmicrosoft.com') }, { weight: 1, arbitrary: fc.constant('fabrikam.com') }),
      displayName: name(controls, 4),
      firstName: name(controls, 2),
      lastName: name(controls, 2),
      department: hostileCell(controls, 4),
    });
  const job = fc.record({
    shape: fileShape,
    headers: fc.shuffledSubarray(TEMPLATE, { minLength: TEMPLATE.length }),
    mode: fc.oneof({ weight: 3, arbitrary: fc.constant<ImportMode>('validRows') }, { weight: 1, arbitrary: fc.constant<ImportMode>('allOrNothing') }),
    /** One file in four may hold C0 controls (refused as binary, unless beyond the first 64 kB). */
    controls: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
  }).chain((j) => fc.record({ j: fc.constant(j), rows: fc.array(row(j.controls), { minLength: 1, maxLength: 6 }) }).map(({ rows }) => ({ ...j, rows })));

  /** The customer as an agent sees it: every user, the counters, the seats. */
  async function customerState() {
    const upns = await t.redis.hgetall(t.keys.customerKey('contoso', 'upn'));
    const ids = Object.values(upns).sort();
    return { upns, users: await t.directory.readUsers('contoso', ids), ...(await t.directory.getSubscriptionsAndCounts('contoso')) };
  }

  it('through preview, start and run', async () => {
    const outcomes = { refusedFile: 0, refusedStart: 0, ran: 0, created: 0, refusedRows: 0, formulaNames: 0, bidiMarkNames: 0, astralNames: 0 };
    await fc.assert(
      fc.asyncProperty(job, async ({ shape, headers, mode, rows }) => {
        const b = ++batch;
        // Each row's user name is clean and unique; only what surrounds it in the Email cell is hostile. Blanks around
        // the address are trimmed, and a leading "-" is a valid user name character (it makes a formula-like UPN).
        const generated = rows.map((r, i) => {
          const username = `${r.prefix === '-' ? '-' : ''}h${b}r${i}`;
          const emailClean = (!r.prefix.trim() || r.prefix === '-') && !r.suffix.trim();
          const cells: Record<string, string> = {
            Email: `${r.prefix === '-' ? '' : r.prefix}${username}@${r.domain}${r.suffix}`,
            'Display name': r.displayName,
            'First name': r.firstName,
            'Last name': r.lastName,
            Department: r.department,
          };
          return { ...r, username, emailClean, cells, record: headers.map((h) => cells[h]) };
        });
        const written = writeFile([headers, ...generated.map((g) => g.record)], shape);

        const before = await everything();
        const state = await customerState();
        const previewed = await importer.preview('contoso', written.bytes, 'hostile.csv', t.actor);
        if (!previewed.ok) {
          // Only C0 controls refuse a well-formed file; nothing was stored.
          expect(previewed.problem).toEqual({ kind: 'binary' });
          expect(written.text).toMatch(BINARY_CONTROL);
          expect(await everything()).toEqual(before);
          outcomes.refusedFile++;
          return;
        }
        const options = { mode, usageLocation: 'US' };
        const preview = await importer.validate('contoso', previewed.preview.jobId, options, t.actor);
        expect(preview.total).toBe(rows.length);
        expect(preview.issueCount).toBe(preview.issues.length);
        expect(preview.ready + preview.issueCount).toBe(rows.length);

        // Each refused row is named by its line, and the field it names is really at fault.
        const issueOf = new Map<number, RowIssue>();
        for (const issue of preview.issues) {
          const index = written.lines.indexOf(issue.line);
          expect(index).toBeGreaterThanOrEqual(0);
          expect(issueOf.has(index)).toBe(false);
          issueOf.set(index, issue);
          const g = generated[index];
          expect(['INVALID_FIELD', 'DOMAIN_NOT_IN_CUSTOMER']).toContain(issue.code);
          const field = String(issue.params.field);
          expect(FIELDS).toContain(field);
          if (issue.code === 'DOMAIN_NOT_IN_CUSTOMER') expect(g.domain).toBe('fabrikam.com');
          else if (field === 'username' || field === 'domain') expect(g.emailClean).toBe(false);
          else {
            const value = { displayName: g.displayName, firstName: g.firstName, lastName: g.lastName }[field]!.trim();
            const max = field === 'displayName' ? 256 : 64;
            if (issue.params.reason === 'characters') expect(value).toMatch(NOT_IN_A_NAME);
            else if (issue.params.reason === 'tooLong') expect(value.length).toBeGreaterThan(max);
            else {
              expect(issue.params).toEqual({ field: 'displayName', reason: 'required' });
              expect([g.displayName, g.firstName, g.lastName].every((v) => !v.trim())).toBe(true);
            }
          }
        }
        // A row not refused is valid by the same rules: a clean user name and domain, names without control characters.
        generated.forEach((g, i) => {
          if (issueOf.has(i)) return;
          expect(g.emailClean && g.domain !== 'fabrikam.com').toBe(true);
          for (const [v, max] of [[g.displayName, 256], [g.firstName, 64], [g.lastName, 64]] as const) {
            expect(v.trim()).not.toMatch(NOT_IN_A_NAME);
            expect(v.trim().length).toBeLessThanOrEqual(max);
          }
        });
        outcomes.refusedRows += preview.issueCount;

        const beforeStart = await everything();
        const { started } = await importer.start('contoso', preview.jobId, t.actor, options);
        if ((mode === 'allOrNothing' && preview.issueCount > 0) || preview.ready === 0) {
          // Refused as a whole: not one stored value changed.
          expect(started).toBe(false);
          expect(await everything()).toEqual(beforeStart);
          outcomes.refusedStart++;
          return;
        }
        expect(started).toBe(true);
        const result = await importer.run('contoso', preview.jobId);
        expect(result).toMatchObject({ state: 'done', total: rows.length, created: preview.ready, failed: preview.issueCount });
        outcomes.ran++;
        outcomes.created += result!.created;

        // Exactly the rows not refused were created, with their names stored as written (trimmed); nothing else changed.
        const after = await customerState();
        const newUpns = Object.keys(after.upns).filter((u) => !(u in state.upns));
        const expectedUpns = generated.filter((_, i) => !issueOf.has(i)).map((g) => `${g.username}@${g.domain.toLowerCase()}`);
        expect(newUpns.sort()).toEqual([...expectedUpns].sort());
        expect(after.counts.active - state.counts.active).toBe(preview.ready);
        expect(after.subscriptions).toEqual(state.subscriptions);
        for (const [i, g] of generated.entries()) {
          if (issueOf.has(i)) continue;
          const upn = `${g.username}@${g.domain.toLowerCase()}`;
          const [user] = await t.directory.readUsers('contoso', [after.upns[upn]]);
          const firstName = g.firstName.trim();
          const lastName = g.lastName.trim();
          expect(user).toMatchObject({
            userPrincipalName: upn,
            displayName: g.displayName.trim() || [firstName, lastName].filter(Boolean).join(' '),
            firstName,
            lastName,
            usageLocation: 'US',
          });
          if (FORMULA_START.test(user!.displayName)) outcomes.formulaNames++;
          if (/[\u200e\u200f\u061c]/.test(user!.displayName)) outcomes.bidiMarkNames++;
          if (/[\u{10000}-\u{10FFFF}]/u.test(user!.displayName)) outcomes.astralNames++;
        }

        // The results CSV: every cell as read, a formula prefix neutralised by a leading apostrophe, and no cell that
        // a spreadsheet would run.
        const download = await vault.redeemDownload(result!.downloadToken);
        if (!download.ok) throw new Error('the results download is gone');
        const [outHeaders, ...outRows] = parse(download.content, { bom: true, relax_column_count: false }) as string[][];
        const neutralised = (cell: string) => (FORMULA_START.test(cell) ? `'${cell}` : cell);
        expect(outHeaders).toEqual([...headers, 'Status update', 'Temporary password']);
        expect(outRows).toHaveLength(rows.length);
        outRows.forEach((out, i) => {
          const g = generated[i];
          expect(out.slice(0, headers.length)).toEqual(g.record.map(neutralised));
          const issue = issueOf.get(i);
          if (issue) {
            expect(out[headers.length]).toMatch(new RegExp(`^Not created: ${issue.code}\\b`));
            expect(out[headers.length + 1]).toBe('');
          } else {
            expect(out[headers.length]).toBe(`Created ${g.username}@${g.domain.toLowerCase()}`);
            expect(out[headers.length + 1]).toMatch(/^Pw#Test-[2-9]+-Kyzx$/);
          }
        });
        const runnable = [outHeaders, ...outRows].flat().filter((cell) => FORMULA_START.test(cell));
        expect(runnable).toEqual([]);
      }),
      runs(60),
    );
    // Each path was taken.
    expect(outcomes.refusedFile).toBeGreaterThan(0);
    expect(outcomes.refusedStart).toBeGreaterThan(0);
    expect(outcomes.ran).toBeGreaterThan(0);
    expect(outcomes.created).toBeGreaterThan(0);
    expect(outcomes.refusedRows).toBeGreaterThan(0);
    // Names a spreadsheet would run, with bidi marks, with astral characters were stored as written.
    expect(outcomes.formulaNames).toBeGreaterThan(0);
    expect(outcomes.bidiMarkNames).toBeGreaterThan(0);
    expect(outcomes.astralNames).toBeGreaterThan(0);
  });
});
