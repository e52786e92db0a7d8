/**
 * Every row is validated before anything is written (SPEC §6): each golden file of test/fixtures/import gives
 * exactly the expected preview through ImportService.preview: rows in the file, rows ready, and each issue with
 * its line number, reason code and parameters. Real Redis, customer contoso (contoso.onmicrosoft.com,
 * contoso.com) with O365_E3 (25 seats) and SPE_E5 (5 seats) and one existing user, alice.
 */
import { CredentialVault } from '../../services/credentials';
import { ImportOptions, ImportPreview, ImportService, PREVIEW_ISSUES, RowIssue } from '../../services/import/importer';
import { fixture, partnerCenterCsv } from '../support/importCsv';
import { createTestDirectory, TestDirectory } from '../support/testDirectory';

let t: TestDirectory;
let importer: ImportService;

beforeEach(async () => {
  t = await createTestDirectory();
  await t.seed({ users: [{ username: 'alice', displayName: 'Alice Smith', licenses: ['O365_E3'] }] });
  importer = new ImportService(t.directory, new CredentialVault(t.redis, t.keys, t.clock));
});

afterEach(async () => {
  await t.cleanup();
});

interface Expected {
  total: number;
  ready: number;
  issues: RowIssue[];
  withoutUsageLocation?: number;
  withoutLicenses?: number;
  seatsNeeded?: Record<string, number>;
}

function summary(p: ImportPreview, expected: Expected) {
  const out: Record<string, unknown> = { total: p.total, ready: p.ready, issueCount: p.issueCount, issues: p.issues };
  if (expected.withoutUsageLocation !== undefined) out.withoutUsageLocation = p.withoutUsageLocation;
  if (expected.withoutLicenses !== undefined) out.withoutLicenses = p.withoutLicenses;
  if (expected.seatsNeeded !== undefined) out.seatsNeeded = p.seatsNeeded;
  return out;
}

const expectation = (e: Expected) => ({ ...e, issueCount: e.issues.length });

async function preview(name: string | Buffer, options?: ImportOptions): Promise<ImportPreview> {
  const bytes = typeof name === 'string' ? fixture(name) : name;
  const result = await importer.preview('contoso', bytes, typeof name === 'string' ? name : 'generated.csv', t.actor);
  if (!result.ok) throw new Error(`expected a preview, got the problem ${JSON.stringify(result.problem)}`);
  return options ? importer.validate('contoso', result.preview.jobId, options, t.actor) : result.preview;
}

const issue = (line: number, code: RowIssue['code'], params: RowIssue['params'] = {}): RowIssue => ({ line, code, params });
const field = (line: number, name: string, reason: string) => issue(line, 'INVALID_FIELD', { field: name, reason });

describe('the templates people have, as Excel saves them', () => {
  test('Partner Center (UTF-8 with BOM, CRLF, quoted commas, trailing empty lines): every row asks for the batch usage location, then all are ready', async () => {
    const expected: Expected = {
      total: 4,
      ready: 0,
      issues: [2, 3, 4, 5].map((line) => issue(line, 'USAGE_LOCATION_NEEDED')),
      withoutUsageLocation: 4,
      withoutLicenses: 4,
    };
    const p = await preview('partner-center.csv');
    expect(summary(p, expected)).toEqual(expectation(expected));

    const withBatch: Expected = { total: 4, ready: 4, issues: [], withoutUsageLocation: 4, withoutLicenses: 4, seatsNeeded: { O365_E3: 4 } };
    const again = await importer.validate('contoso', p.jobId, { mode: 'validRows', usageLocation: 'us', licenses: ['O365_E3'] }, t.actor);
    expect(summary(again, withBatch)).toEqual(expectation(withBatch));
  });

  test('European Excel (semicolons, a quoted semicolon, Usage location and Licenses columns, trailing ;;;; rows)', async () => {
    const expected: Expected = { total: 3, ready: 3, issues: [], withoutUsageLocation: 0, withoutLicenses: 1, seatsNeeded: { O365_E3: 2, SPE_E5: 1 } };
    expect(summary(await preview('semicolon.csv'), expected)).toEqual(expectation(expected));
  });

  test('Microsoft 365 admin center, saved as Unicode text (UTF-16LE, tabs, a line break inside a quoted address, country names)', async () => {
    // Row 1 spans lines 2–3; "Atlantis" is no country, so that row (line 6) needs the batch usage location.
    const expected: Expected = { total: 5, ready: 4, issues: [issue(6, 'USAGE_LOCATION_NEEDED')], withoutUsageLocation: 1 };
    const p = await preview('m365-admin-unicode.txt');
    expect(summary(p, expected)).toEqual(expectation(expected));
    const withBatch: Expected = { total: 5, ready: 5, issues: [] };
    expect(summary(await importer.validate('contoso', p.jobId, { mode: 'validRows', usageLocation: 'DE' }, t.actor), withBatch)).toEqual(expectation(withBatch));
  });

  test('the older admin center template without "Alternate email address"', async () => {
    const expected: Expected = { total: 2, ready: 2, issues: [], withoutUsageLocation: 0 };
    expect(summary(await preview('m365-admin-old.txt'), expected)).toEqual(expectation(expected));
  });

  test('Windows-1252 (Excel "CSV (Comma delimited)") with accented names, a curly apostrophe, a dash and €', async () => {
    const expected: Expected = { total: 4, ready: 4, issues: [] };
    expect(summary(await preview('windows-1252.csv'), expected)).toEqual(expectation(expected));
  });

  test('10,000 rows (the limit) are all validated', async () => {
    const p = await preview(partnerCenterCsv(10_000, { usageLocation: () => 'US' }));
    expect(summary(p, { total: 0, ready: 0, issues: [] })).toEqual({ total: 10_000, ready: 10_000, issueCount: 0, issues: [] });
  });
});

describe('rows with mistakes name their line and reason', () => {
  test('duplicate emails: the later line names the first; an email already in the tenant is taken', async () => {
    const expected: Expected = {
      total: 6,
      ready: 3,
      issues: [
        issue(4, 'DUPLICATE_IN_FILE', { upn: 'ANN.LEE@contoso.com', line: 2 }),
        issue(6, 'DUPLICATE_IN_FILE', { upn: 'bo.chan@contoso.com', line: 3 }),
        issue(7, 'UPN_TAKEN', { upn: 'alice@contoso.onmicrosoft.com' }),
      ],
    };
    expect(summary(await preview('duplicates.csv'), expected)).toEqual(expectation(expected));
  });

  test('bad user names: characters, a dot at either end, accents, too long, missing, a malformed domain', async () => {
    const expected: Expected = {
      total: 8,
      ready: 1,
      issues: [
        field(3, 'username', 'characters'),
        field(4, 'username', 'dotAtEdge'),
        field(5, 'username', 'characters'),
        field(6, 'username', 'tooLong'),
        field(7, 'username', 'required'),
        field(8, 'username', 'dotAtEdge'),
        field(9, 'domain', 'format'),
      ],
    };
    expect(summary(await preview('bad-upns.csv'), expected)).toEqual(expectation(expected));
  });

  test('a domain that is not the customer’s', async () => {
    const expected: Expected = { total: 2, ready: 1, issues: [issue(3, 'DOMAIN_NOT_IN_CUSTOMER', { field: 'domain', domain: 'fabrikam.com' })] };
    expect(summary(await preview('foreign-domain.csv'), expected)).toEqual(expectation(expected));
  });

  test('too few seats: rows in file order take the seats, the rows beyond them are named with the license', async () => {
    const expected: Expected = {
      total: 8,
      ready: 6,
      issues: [issue(7, 'NO_SEAT_LEFT', { license: 'SPE_E5' }), issue(8, 'NO_SEAT_LEFT', { license: 'SPE_E5' })],
      seatsNeeded: { SPE_E5: 7, O365_E3: 2 },
    };
    expect(summary(await preview('too-few-seats.csv'), expected)).toEqual(expectation(expected));
  });

  test('seats already held count: with 3 of 5 E5 seats taken, the third E5 row is the first without a seat', async () => {
    await t.seed({ users: [1, 2, 3].map((n) => ({ username: `holder${n}`, licenses: ['SPE_E5'] })) });
    const p = await preview('too-few-seats.csv');
    expect(p.issues).toEqual([4, 5, 6, 7, 8].map((line) => issue(line, 'NO_SEAT_LEFT', { license: 'SPE_E5' })));
    expect(p.ready).toBe(3);
  });

  test('unknown licenses and a malformed license id (ids are not case-sensitive)', async () => {
    const expected: Expected = {
      total: 3,
      ready: 1,
      issues: [issue(3, 'UNKNOWN_LICENSE', { license: 'VISIO_PLAN2' }), field(4, 'licenses', 'sku')],
    };
    expect(summary(await preview('unknown-licenses.csv'), expected)).toEqual(expectation(expected));
  });

  test('a batch license the customer does not have is refused as a whole', async () => {
    const p = await preview('partner-center.csv');
    await expect(importer.validate('contoso', p.jobId, { mode: 'validRows', usageLocation: 'US', licenses: ['VISIO_PLAN2'] }, t.actor)).rejects.toMatchObject({
      code: 'UNKNOWN_LICENSE',
      params: { license: 'VISIO_PLAN2' },
    });
  });

  test('bad usage locations; an empty one takes the batch location', async () => {
    const expected: Expected = {
      total: 4,
      ready: 1,
      issues: [field(3, 'usageLocation', 'country'), field(4, 'usageLocation', 'country'), issue(5, 'USAGE_LOCATION_NEEDED')],
      withoutUsageLocation: 1,
    };
    const p = await preview('bad-usage-location.csv');
    expect(summary(p, expected)).toEqual(expectation(expected));
    const withBatch: Expected = { total: 4, ready: 2, issues: [field(3, 'usageLocation', 'country'), field(4, 'usageLocation', 'country')] };
    expect(summary(await importer.validate('contoso', p.jobId, { mode: 'validRows', usageLocation: 'US' }, t.actor), withBatch)).toEqual(expectation(withBatch));
    // A batch location that is no country code (the UK is GB) is named on the rows that would take it.
    const withBadBatch: Expected = { total: 4, ready: 1, issues: [3, 4, 5].map((line) => field(line, 'usageLocation', 'country')) };
    expect(summary(await importer.validate('contoso', p.jobId, { mode: 'validRows', usageLocation: 'UK' }, t.actor), withBadBatch)).toEqual(expectation(withBadBatch));
  });

  test('a role that does not exist', async () => {
    const expected: Expected = { total: 4, ready: 3, issues: [field(4, 'role', 'unknownRole')] };
    expect(summary(await preview('bad-role.csv'), expected)).toEqual(expectation(expected));
  });

  test('the preview lists the first 50 issues and counts them all, in line order', async () => {
    // 120 rows; every other user name has a space.
    const p = await preview(partnerCenterCsv(120, { usageLocation: () => 'US', username: (i) => (i % 2 ? `bad ${i}` : `ok${i}`) }));
    expect(p.ready).toBe(60);
    expect(p.issueCount).toBe(60);
    expect(p.issues).toHaveLength(PREVIEW_ISSUES);
    expect(p.issues.map((i) => i.line)).toEqual(Array.from({ length: PREVIEW_ISSUES }, (_, k) => 3 + 2 * k));
  });
});

describe('files that cannot be imported at all', () => {
  async function problem(name: string | Buffer) {
    const result = await importer.preview('contoso', typeof name === 'string' ? fixture(name) : name, 'x.csv', t.actor);
    if (result.ok) throw new Error('expected a problem, got a preview');
    return result.problem;
  }

  test('unknown columns are named', async () => {
    expect(await problem('unknown-columns.csv')).toEqual({ kind: 'headers', unknown: ['Manager', 'Cost center'], missing: [], duplicate: [] });
  });

  test('wrong headers: the unknown ones and the missing ones are named', async () => {
    expect(await problem('wrong-headers.csv')).toEqual({
      kind: 'headers',
      unknown: ['Name', 'E-mail address', 'Phone'],
      missing: ['Email / User Name', 'Display name'],
      duplicate: [],
    });
  });

  test('a column given twice (Email and User Name both mean the user name)', async () => {
    expect(await problem(Buffer.from('Email,User Name,Display name\r\na@contoso.com,b@contoso.com,A\r\n'))).toEqual({
      kind: 'headers',
      unknown: [],
      missing: [],
      duplicate: ['User Name'],
    });
  });

  test('an .xlsx renamed to .csv is a binary file', async () => {
    expect(await problem('binary-xlsx.csv')).toEqual({ kind: 'binary' });
  });

  test('10,001 rows are one too many', async () => {
    expect(await problem(partnerCenterCsv(10_001))).toEqual({ kind: 'tooManyRows', max: 10_000, rows: 10_001 });
  });

  test('nothing is stored for a file that cannot be imported', async () => {
    const before = (await t.scanKeys()).sort();
    await problem('unknown-columns.csv');
    await problem(partnerCenterCsv(10_001));
    expect((await t.scanKeys()).sort()).toEqual(before);
  });
});
