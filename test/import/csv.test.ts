/**
 * Reading CSV files as Excel saves them (SPEC §6), and sending them to the bot: the file attached to
 * `import users contoso` in the 1:1 chat is downloaded from the URL Teams gives (a local server here) and
 * answered with the preview, or with why it cannot be imported.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_FILE_BYTES, openCsv, readCsv } from '../../services/import/csvFile';
import { mapHeaders } from '../../services/import/templates';
import { BotApp, errorLogs, startBotApp } from '../support/botApp';
import { Card, CHANNEL, GROUP_CHAT, inputs, PERSONAL, texts, Where } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { FileServer, startFileServer, teamsFileAttachment } from '../support/fileServer';
import { csvOfSize, fixture } from '../support/importCsv';

function table(bytes: Buffer | string) {
  const result = readCsv(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
  if (!result.ok) throw new Error(`expected a table, got ${JSON.stringify(result.problem)}`);
  return result.table;
}
const lines = (bytes: Buffer | string) => table(bytes).rows.map((r) => [r.line, r.cells.join('|')]);

describe('reading the bytes', () => {
  test('Partner Center, UTF-8 with BOM and CRLF: quoted commas and doubled quotes, trailing empty lines dropped', () => {
    const t = table(fixture('partner-center.csv'));
    expect(t).toMatchObject({ encoding: 'utf-8', delimiter: ',' });
    expect(t.headers).toEqual(['First name', 'Last name', 'Display name', 'Email', 'Status update']);
    expect(t.rows.map((r) => [r.line, r.cells[2]])).toEqual([
      [2, 'Smith, Anna'],
      [3, 'Ben Okafor'],
      [4, 'Dubois, Chloé "Coco"'],
      [5, ''],
    ]);
  });

  test('semicolons: a quoted semicolon stays in its cell; rows of only ;;;; are not rows', () => {
    const t = table(fixture('semicolon.csv'));
    expect(t).toMatchObject({ delimiter: ';', encoding: 'utf-8' });
    expect(t.rows).toHaveLength(3);
    expect(t.rows[1].cells.slice(0, 3)).toEqual(['Åsa', 'Lindqvist', 'Lindqvist; Åsa']);
    expect(t.rows[1].cells[6]).toBe('O365_E3;SPE_E5');
  });

  test('blank lines above the header: the delimiter comes from the header line, and rows keep their own line numbers', () => {
    const t = table('\r\n  \r\n;;\r\nFirst name;Last name;Display name;User name\r\nAnn;Lee;Ann Lee;ann@contoso.com\r\n');
    expect(t).toMatchObject({ delimiter: ';', headers: ['First name', 'Last name', 'Display name', 'User name'] });
    expect(t.rows).toEqual([{ line: 5, cells: ['Ann', 'Lee', 'Ann Lee', 'ann@contoso.com'] }]);
    // One line of 64 kB of spaces before the header costs what reading it costs (the search for the header is linear).
    expect(table(`${' '.repeat(64 * 1024)}\nA,B\n1,2\n`)).toMatchObject({ delimiter: ',', headers: ['A', 'B'] });
  });

  test('Unicode text (UTF-16LE with BOM, tabs): every admin center column, a line break inside a quoted address', () => {
    const t = table(fixture('m365-admin-unicode.txt'));
    expect(t).toMatchObject({ encoding: 'utf-16le', delimiter: '\t' });
    expect(t.headers).toHaveLength(16);
    expect(mapHeaders(t.headers).ok).toBe(true);
    expect(t.rows.map((r) => r.line)).toEqual([2, 4, 5, 6, 7]);
    expect(t.rows[0].cells[11]).toBe('1-2-3 Shibuya\nBuilding 4, 5th floor');
    expect(t.rows[1].cells[4]).toBe('Sales "Lead"');
    expect(t.rows[2].cells[3]).toBe('李伟');
  });

  test('the older admin center template (15 columns, no Alternate email address) is accepted', () => {
    const t = table(fixture('m365-admin-old.txt'));
    expect(t.headers).toHaveLength(15);
    expect(t.headers).not.toContain('Alternate email address');
    expect(mapHeaders(t.headers).ok).toBe(true);
  });

  test('Windows-1252: accents, the curly apostrophe of O’Brien, a dash and € come out as typed', () => {
    const t = table(fixture('windows-1252.csv'));
    expect(t.encoding).toBe('windows-1252');
    expect(t.rows.map((r) => r.cells[2])).toEqual(['José Núñez', 'Françoise Lévêque', 'Søren Ørsted – Team €', 'Seán O’Brien']);
  });

  test('UTF-16 without a BOM is recognised too', () => {
    const t = table(Buffer.from('Email\tDisplay name\r\na@contoso.com\tA\r\n', 'utf16le'));
    expect(t).toMatchObject({ encoding: 'utf-16le', delimiter: '\t' });
    expect(t.rows[0].cells).toEqual(['a@contoso.com', 'A']);
  });

  test('line numbers are the file’s: after empty lines, after line breaks inside quotes (CRLF or LF), after ;;; rows', () => {
    expect(lines('h1,h2\r\n\r\na,b\r\n\r\n\r\nc,d\r\n\r\n')).toEqual([
      [3, 'a|b'],
      [6, 'c|d'],
    ]);
    expect(lines('h1,h2\r\na,"x\r\ny\r\nz"\r\n\r\nc,d\r\n')).toEqual([
      [2, 'a|x\r\ny\r\nz'],
      [6, 'c|d'],
    ]);
    expect(lines('h1,h2\na,"x\ny"\nc,d')).toEqual([
      [2, 'a|x\ny'],
      [4, 'c|d'],
    ]);
    expect(lines('h1;h2\r\n;\r\na;b\r\n;;\r\nc;d\r\n')).toEqual([
      [3, 'a|b'],
      [5, 'c|d'],
    ]);
    expect(lines('\r\n\r\nh1,h2\r\na,b\r\n')).toEqual([[4, 'a|b']]);
  });

  test('exactly 5 MB is read; 5 MB and 1 byte is too large', () => {
    expect(table(csvOfSize(MAX_FILE_BYTES)).rows).toHaveLength(100);
    expect(readCsv(csvOfSize(MAX_FILE_BYTES + 1))).toEqual({ ok: false, problem: { kind: 'tooLarge', maxBytes: MAX_FILE_BYTES } });
  });

  test('empty files, a quote never closed', () => {
    expect(readCsv(Buffer.from('\ufeff\r\n\r\n'))).toEqual({ ok: false, problem: { kind: 'empty' } });
    expect(readCsv(Buffer.from(';;;\r\n;;;\r\n'))).toEqual({ ok: false, problem: { kind: 'empty' } });
    expect(readCsv(Buffer.from('Email,Display name\r\na@contoso.com,"never closed\r\n'))).toMatchObject({ ok: false, problem: { kind: 'malformed' } });
  });

  /**
   * A file of ~600 kB is read 64 kB of text at a time: records, quoted line breaks, CRLFs and multi-byte characters
   * fall across the chunks' edges. Each encoding gives the same rows and line numbers as the file was written with.
   */
  describe('a file larger than one chunk of text', () => {
    const written: Array<{ line: number; cells: string[] }> = [];
    let text = 'First name,Last name,Display name,Email\r\n';
    let line = 2;
    for (let i = 0; i < 6000; i++) {
      // Every 7th row has a two-line quoted name (CRLF or LF inside), every 11th is followed by a blank line and a ,,, row.
      const display = i % 7 === 0 ? `Zoë ${i}${i % 2 ? '\r\n' : '\n'}O’Brien – €${i}` : `Zoë O’Brien ${i}`;
      written.push({ line, cells: [`Zoë${i}`, 'O’Brien', display, `user${i}@contoso.com`] });
      text += `Zoë${i},O’Brien,"${display.replace(/"/g, '""')}",user${i}@contoso.com\r\n`;
      line += i % 7 === 0 ? 2 : 1;
      if (i % 11 === 0) {
        text += '\r\n,,,\r\n';
        line += 2;
      }
    }
    const windows1252 = (s: string) => Buffer.from(s.replace(/’/g, '\x92').replace(/–/g, '\x96').replace(/€/g, '\x80'), 'latin1');
    const utf16le = (s: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(s, 'utf16le')]);
    test.each([
      ['utf-8', Buffer.from(text, 'utf8')],
      ['utf-8', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')])],
      ['utf-16le', utf16le(text)],
      ['windows-1252', windows1252(text)],
    ])('%s (%#)', (encoding, bytes) => {
      expect(bytes.length).toBeGreaterThan(4 * 64 * 1024);
      const t = table(bytes);
      expect(t.encoding).toBe(encoding);
      expect(t.headers).toEqual(['First name', 'Last name', 'Display name', 'Email']);
      expect(t.rows).toEqual(written);
    });

    test('the rows come one at a time; too many rows or a malformed record further down refuse the file, counted to its end', () => {
      const opened = openCsv(Buffer.from(text), { maxRows: 5000, maxBytes: MAX_FILE_BYTES });
      if (!opened.ok) throw new Error('not opened');
      const first = opened.rows.next();
      expect(first).toEqual({ done: false, value: written[0] });
      let handedOut = 1;
      let next = opened.rows.next();
      for (; !next.done; next = opened.rows.next()) handedOut++;
      expect(handedOut).toBe(5000);
      expect(next.value).toEqual({ ok: false, problem: { kind: 'tooManyRows', max: 5000, rows: 6000 } });
      const broken = `${text}Ann,Lee,"never closed,ann@contoso.com\r\n`;
      expect(readCsv(Buffer.from(broken))).toMatchObject({ ok: false, problem: { kind: 'malformed' } });
    });
  });
});

// ------------------------------------------------------------------------------------------ through the bot

describe('sending the file to the bot', () => {
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
      seed: { users: [{ username: 'alice', displayName: 'Alice Smith', licenses: ['O365_E3'] }] },
      app: { downloadTimeoutMs: 500 },
    });
  });
  afterEach(async () => {
    await bot.stop();
    expect(connector.unexpected()).toEqual([]);
    expect(errorLogs(bot.logLines)).toEqual([]);
  });

  let served = 0;
  /** Serves the bytes under a fresh path; returns the attachment and the path. */
  function attach(name: string, bytes: Buffer) {
    const path = `/files/${++served}/${encodeURIComponent(name)}`;
    return { attachment: teamsFileAttachment(name, files.serve(path, bytes)), path };
  }

  async function send(name: string, bytes: Buffer, where: Where = PERSONAL): Promise<Card> {
    const { attachment } = attach(name, bytes);
    return (await bot.say(bot.client(), 'import users contoso', where, { attachments: [attachment] })).card;
  }

  test('the Partner Center file: the preview lists each row without a usage location by line; Check again with one makes all ready', async () => {
    const preview = await send('partner-center.csv', fixture('partner-center.csv'));
    expect(texts(preview)).toEqual(
      expect.arrayContaining([
        'Import users \u2014 Contoso Ltd',
        'File: partner-center.csv',
        '4 rows in the file.',
        '0 rows are ready to import.',
        '4 rows have errors:',
        'Line 2: no usage location: choose one for the batch below.',
        'Line 5: no usage location: choose one for the batch below.',
      ]),
    );
    expect(inputs(preview).map((i) => i.id)).toEqual(expect.arrayContaining(['usageLocation', 'licenses', 'mode']));
    // "UK" is no country code (GB is): each row says so, rather than asking for a location again.
    const mistyped = await bot.client().click(preview, 'Check again', { usageLocation: 'UK' });
    expect(texts(mistyped.card)).toEqual(expect.arrayContaining(['0 rows are ready to import.', 'Line 2: Usage location: not a two-letter ISO country code']));
    const checked = await bot.client().click(mistyped.card, 'Check again', { usageLocation: 'US', licenses: 'O365_E3' });
    expect(texts(checked.card)).toEqual(expect.arrayContaining(['4 rows are ready to import.', 'Office 365 E3: 4 needed, 24 available']));
    expect(texts(checked.card).some((l) => l.startsWith('Line '))).toBe(false);
  });

  test('the admin center file saved as Unicode text (.txt): the row after a two-line address is named by its own line', async () => {
    const preview = await send('m365-admin-unicode.txt', fixture('m365-admin-unicode.txt'));
    expect(texts(preview)).toEqual(
      expect.arrayContaining(['5 rows in the file.', '4 rows are ready to import.', '1 row has an error:', 'Line 6: no usage location: choose one for the batch below.']),
    );
  });

  test('duplicate emails and a taken one, as the agent reads them', async () => {
    const preview = await send('duplicates.csv', fixture('duplicates.csv'));
    expect(texts(preview)).toEqual(
      expect.arrayContaining([
        '3 rows are ready to import.',
        'Line 4: ANN.LEE@contoso.com appears again (first on line 2).',
        'Line 6: bo.chan@contoso.com appears again (first on line 3).',
        expect.stringMatching(/^Line 7: .*alice@contoso\.onmicrosoft\.com/),
      ]),
    );
  });

  test('unknown columns are named; an .xlsx renamed to .csv is called binary; nothing is stored', async () => {
    const before = (await bot.t.scanKeys()).length;
    expect(texts(await send('users.csv', fixture('unknown-columns.csv')))).toContain(
      'Unknown columns: Manager, Cost center. Use the Partner Center or the Microsoft 365 admin center template, plus Usage location, Licenses and Role.',
    );
    expect(texts(await send('users.csv', fixture('binary-xlsx.csv')))).toContain(
      'This is not a text CSV file (it looks like a binary file, e.g. .xlsx). Save it from Excel as CSV.',
    );
    // Only the agent's remembered 1:1 chat may have been added.
    expect((await bot.t.scanKeys()).filter((k) => k.includes(':import:'))).toEqual([]);
    expect((await bot.t.scanKeys()).length).toBeLessThanOrEqual(before + 1);
  });

  test('in a channel or a group chat the bot explains that files go through the 1:1 chat, and does not fetch the file', async () => {
    for (const where of [CHANNEL, GROUP_CHAT]) {
      const { attachment, path } = attach('partner-center.csv', fixture('partner-center.csv'));
      const { card } = await bot.say(bot.client(), 'import users contoso', where, { attachments: [attachment] });
      // (The rest of the sentence says how: the 1:1 chat, or the Import users dialog where there is one.)
      expect(texts(card)).toContainEqual(expect.stringMatching(/^Files reach the bot only in your 1:1 chat with it\. .*import users contoso.*1:1 chat/));
      expect(files.requests(path)).toBe(0);
    }
  });

  test('without a file the bot says how to attach one', async () => {
    const { card } = await bot.say(bot.client(), 'import users contoso');
    expect(texts(card)).toContainEqual(expect.stringMatching(/^Attach the CSV file to the message: import users contoso \(Partner Center or Microsoft 365 admin center template\)/));
  });

  test('a file that is not a CSV by its name is refused without being fetched', async () => {
    const { attachment, path } = attach('users.xlsx', fixture('binary-xlsx.csv'));
    const { card } = await bot.say(bot.client(), 'import users contoso', PERSONAL, { attachments: [attachment] });
    expect(texts(card)).toContain('This file is not a CSV (users.xlsx). Save it from Excel as CSV UTF-8 (Comma delimited) and send it again.');
    expect(files.requests(path)).toBe(0);
  });

  /** A download that keeps sending (or announces more than 5 MB) until the client hangs up; records what it sent. */
  function endless(contentLength?: number) {
    let onClose!: () => void;
    const state = { written: 0, closedByClient: false, closed: new Promise<void>((r) => (onClose = r)) };
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const limit = 64 * 1024 * 1024;
    const handler = (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'text/csv', ...(contentLength ? { 'Content-Length': contentLength } : {}) });
      res.on('close', () => {
        state.closedByClient = !res.writableFinished;
        onClose();
      });
      res.write('Email,Display name\r\n');
      const pump = () => {
        // With a Content-Length the server sends one chunk and then waits: the answer must not need the rest.
        while (!res.destroyed && state.written < limit && (!contentLength || state.written === 0)) {
          state.written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      pump();
    };
    return { state, handler };
  }

  test('a download announced as over 5 MB is refused from its headers, without reading the body', async () => {
    const { state, handler } = endless(6 * 1024 * 1024);
    const attachment = teamsFileAttachment('big.csv', files.serveHandler('/big-announced.csv', handler));
    const { card } = await bot.say(bot.client(), 'import users contoso', PERSONAL, { attachments: [attachment] });
    expect(texts(card)).toContain('The file is larger than 5 MB.');
    await state.closed;
    expect(state.closedByClient).toBe(true);
    expect(state.written).toBe(64 * 1024);
  });

  test('a download without a length that goes past 5 MB is cut off there', async () => {
    const { state, handler } = endless();
    const attachment = teamsFileAttachment('big.csv', files.serveHandler('/big-streamed.csv', handler));
    const { card } = await bot.say(bot.client(), 'import users contoso', PERSONAL, { attachments: [attachment] });
    expect(texts(card)).toContain('The file is larger than 5 MB.');
    await state.closed;
    expect(state.closedByClient).toBe(true);
    // The server could send 64 MB; the bot stopped reading a little after 5 MB (what sat in socket buffers aside).
    expect(state.written).toBeLessThan(16 * 1024 * 1024);
  });

  test('a download that never answers times out (the injected 500 ms), and the agent is told to send it again', async () => {
    let requested!: () => void;
    const asked = new Promise<void>((r) => (requested = r));
    const attachment = teamsFileAttachment('slow.csv', files.serveHandler('/never.csv', () => requested()));
    const { card } = await bot.say(bot.client(), 'import users contoso', PERSONAL, { attachments: [attachment] });
    await asked;
    expect(texts(card)).toContain('I could not download the file from Teams. Send it again.');
  });

  test('a download answered with an error status is refused the same way', async () => {
    const attachment = teamsFileAttachment('gone.csv', `${files.url}/not-there.csv`);
    const { card } = await bot.say(bot.client(), 'import users contoso', PERSONAL, { attachments: [attachment] });
    expect(texts(card)).toContain('I could not download the file from Teams. Send it again.');
  });
});
