/**
 * The biggest import SPEC §6 allows, over the real bot path: 10,000 rows attached in the 1:1 chat, the preview, the
 * Import click with a usage location and a license for the batch, the progress card updated in place (PUT to the
 * preview message the invoke replies to), the summary replacing it, and the one-time results CSV in the 1:1 chat.
 * Prints rows per second for the whole run (no timing is asserted). BULK_IMPORT_ROWS=<n> runs it with fewer rows while
 * working on it; the suite runs the full 10,000.
 */
import { parse } from 'csv-parse/sync';
import { VERBS } from '../../cards/verbs';
import { BotApp, errorLogs, startBotApp } from '../support/botApp';
import { actions, Card, cardOf, PERSONAL, submission, texts } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { FileServer, startFileServer, teamsFileAttachment } from '../support/fileServer';
import { defaultUsername, formulaDisplayName, partnerCenterCsv } from '../support/importCsv';

const ROWS = Number(process.env.BULK_IMPORT_ROWS ?? 10_000);
const n = (x: number) => x.toLocaleString('en');
/** Odd rows name both licenses in the file; even rows take the batch's O365_E3. */
const rowLicenses = (i: number) => (i % 2 ? 'O365_E3;SPE_E5' : '');

let connector: FakeConnector;
let files: FileServer;
let bot: BotApp;

beforeAll(async () => {
  connector = await startFakeConnector();
  files = await startFileServer();
});
afterAll(async () => {
  await files.stop();
  await connector.stop();
});
beforeEach(async () => {
  bot = await startBotApp(connector, {
    seed: {
      subscriptions: [
        { skuId: 'O365_E3', name: 'Office 365 E3', seats: ROWS },
        { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: ROWS / 2 },
        { skuId: 'VISIO', name: 'Visio Plan 2', seats: 10 },
      ],
    },
  });
});
afterEach(async () => {
  await bot.stop();
  expect(connector.unexpected()).toEqual([]);
  expect(errorLogs(bot.logLines)).toEqual([]);
});

test(
  `${n(ROWS)} rows: every user once with its licenses, seats add up, the results CSV lists every row with a working password`,
  async () => {
    const client = bot.client();
    const csv = partnerCenterCsv(ROWS, { displayName: formulaDisplayName, licenses: rowLicenses });
    const attachment = teamsFileAttachment('users.csv', files.serve('/bulk/users.csv', csv));

    const started = Date.now();
    const { card: preview, replyId } = await bot.say(client, 'import users contoso', PERSONAL, { attachments: [attachment] });
    const previewMs = Date.now() - started;
    expect(texts(preview)).toEqual(expect.arrayContaining([`${n(ROWS)} rows in the file.`, '0 rows are ready to import.']));

    // Import, with the usage location and license for the rows without them; the invoke replies to the preview message.
    const { verb, data } = submission(preview, 'Import', { usageLocation: 'US', licenses: 'O365_E3' });
    expect(verb).toBe(VERBS.importRun);
    const clicked = Date.now();
    const answer = await client.sendInvoke(client.invokeActivity(verb, data, PERSONAL, { replyToId: replyId }));
    expect(answer.status).toBe(200);
    expect(texts(answer.card)[0]).toBe('Importing users \u2014 Contoso Ltd');
    await bot.app.importRunner.idle();
    const runMs = Date.now() - clicked;
    const rate = Math.round(ROWS / ((Date.now() - started) / 1000));
    console.log(
      `bulk import: ${ROWS} rows in ${((Date.now() - started) / 1000).toFixed(1)} s = ${rate} rows/s end to end (preview ${(previewMs / 1000).toFixed(1)} s, run ${(runMs / 1000).toFixed(1)} s)`,
    );

    // The progress card was updated in place, and the summary replaced it.
    const updates = connector.records().filter((r) => r.kind === 'update');
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.every((u) => u.targetActivityId === replyId && u.conversationId === client.conversationId())).toBe(true);
    expect(texts(cardOf(updates[0].activity))[0]).toBe('Importing users \u2014 Contoso Ltd');
    const summary = cardOf(updates[updates.length - 1].activity);
    expect(texts(summary)).toEqual([
      'Import finished \u2014 Contoso Ltd',
      `${n(ROWS)} users created, 0 rows not created, of ${n(ROWS)}.`,
      'The passwords and the results file were sent to you in your 1:1 chat with the bot.',
    ]);

    // Every user exists once, with its licenses and the batch usage location.
    const upnIndex = await bot.t.redis.hgetall(bot.t.keys.customerKey('contoso', 'upn'));
    expect(Object.keys(upnIndex)).toHaveLength(ROWS);
    const holders: Record<string, number> = {};
    for (let i = 0; i < ROWS; i += 500) {
      const upns = Array.from({ length: 500 }, (_, k) => `${defaultUsername(i + k)}@contoso.com`);
      const users = await bot.t.directory.readUsers('contoso', upns.map((u) => upnIndex[u]));
      users.forEach((u, k) => {
        const row = i + k;
        expect(u).toMatchObject({ userPrincipalName: upns[k], displayName: formulaDisplayName(row), usageLocation: 'US', state: 'active', mustChangePassword: true });
        expect(u!.licenses).toEqual(row % 2 ? ['O365_E3', 'SPE_E5'] : ['O365_E3']);
        for (const l of u!.licenses) holders[l] = (holders[l] ?? 0) + 1;
      });
    }
    const subscriptions = await bot.t.directory.getSubscriptions('contoso');
    expect(subscriptions.map((s) => [s.skuId, s.assignedSeats])).toEqual([
      ['O365_E3', holders.O365_E3],
      ['SPE_E5', holders.SPE_E5],
      ['VISIO', 0],
    ]);
    expect(holders).toEqual({ O365_E3: ROWS, SPE_E5: ROWS / 2 });

    // One confirmation in the 1:1 chat, with the one-time results download.
    const personal = connector.records().filter((r) => r.conversationId === client.conversationId() && r.kind !== 'update');
    const confirmations = personal.map((r) => cardOf(r.activity)).filter((c: Card) => texts(c)[0]?.startsWith('Import results'));
    expect(confirmations).toHaveLength(1);
    expect(texts(confirmations[0])[0]).toBe(`Import results: ${n(ROWS)} new users \u2014 Contoso Ltd`);
    const link = actions(confirmations[0]).find((a) => a.type === 'Action.OpenUrl')!.url!;
    const response = await fetch(`${bot.url}${new URL(link).pathname}`);
    expect(response.status).toBe(200);
    const content = await response.text();
    const [header, ...rows] = parse(content, { bom: true }) as string[][];
    expect(header).toEqual(['First name', 'Last name', 'Display name', 'Email', 'Status update', 'Licenses', 'Temporary password']);
    expect(rows).toHaveLength(ROWS);
    rows.forEach((r, i) => {
      expect(r[3]).toBe(`${defaultUsername(i)}@contoso.com`);
      expect(r[4]).toBe(`Created ${defaultUsername(i)}@contoso.com`);
      expect(r[6]).toMatch(/^[A-Za-z][!-~]{17}$/); // PASSWORD_LENGTH (18)
    });
    // Formulas are neutralised: no cell would run in a spreadsheet.
    expect(rows.flat().filter((cell) => /^[=+\-@]/.test(cell))).toEqual([]);
    expect(rows[1][2]).toBe(`'${formulaDisplayName(1)}`);
    expect(rows[2][2]).toBe(`'${formulaDisplayName(2)}`);
    expect(rows[3][2]).toBe(`'${formulaDisplayName(3)}`);
    expect(rows[4][2]).toBe(`'${formulaDisplayName(4)}`);
    // Passwords verify (a sample: scrypt is slow on purpose).
    for (let i = 0; i < ROWS; i += 499) {
      const id = upnIndex[`${defaultUsername(i)}@contoso.com`];
      expect(await bot.t.directory.verifyUserPassword('contoso', id, rows[i][6])).toBe(true);
    }
    // The link worked once.
    expect((await fetch(`${bot.url}${new URL(link).pathname}`)).status).toBe(410);
  },
  600_000,
);
