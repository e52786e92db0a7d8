/**
 * The Import users dialog, over HTTP as Teams and a browser drive it: the button on the cards, task/fetch (a one-time
 * token in the page's URL), the page, the upload (POST /dialogs/import), task/submit (the preview posted where the
 * button was clicked) and, outside Teams, the proactive post. Real Redis, a random key root per test, a fake clock,
 * replies at a fake connector.
 */
import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CONTENT_SECURITY_POLICY, FRAME_ANCESTORS } from '../../bot/dialogs/page';
import { importDialogUrl } from '../../bot/handlers/importDialog';
import { importCustomerChoiceCard } from '../../cards/importCards';
import { translator } from '../../cards/i18n';
import { TEAMS_FILE_DOWNLOAD_INFO } from '../../bot/fileDownload';
import { DIALOG_TTL_MS, ImportDialogs } from '../../services/import/dialogs';
import { appVersion, buildManifest } from '../../scripts/packageManifest';
import { BotApp, errorLogs, LEE, MEGAN, startBotApp } from '../support/botApp';
import { Activity, Agent, BotClient, Card, cardOf, CHANNEL, findAction, GROUP_CHAT, PERSONAL, submission, texts, visibleText, Where } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';

// @microsoft/app-manifest (the manifest builder) requires strip-bom, an ES module Jest cannot load (as in manifest.test.ts).
jest.mock('strip-bom', () => ({ __esModule: true, default: (s: string) => s.replace(/^\uFEFF/, '') }));

const ADELE: Agent = { id: '29:1adele-vance', aadObjectId: '5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', name: 'Adele Vance' }; // helpdesk
const PUBLIC_BASE_URL = 'https://bot.contoso.example';
const FIXTURE = readFileSync(join(__dirname, '..', 'fixtures', 'import-dialog', 'new-users.csv'));
const FIXTURE_NAME = 'new-users.csv';

let connector: FakeConnector;
let files: { url: string; server: Server; served: Map<string, Buffer> };
let botApp: BotApp;

beforeAll(async () => {
  connector = await startFakeConnector();
  // Stands in for the download URL Teams puts in a file attachment (the 1:1 path).
  const served = new Map<string, Buffer>();
  const server = createServer((req, res) => {
    const body = served.get(req.url ?? '');
    if (!body) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  files = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, served };
});

afterAll(async () => {
  await connector.stop();
  await new Promise<void>((resolve) => files.server.close(() => resolve()));
});

beforeEach(async () => {
  botApp = await startBotApp(connector, {
    seed: { id: 'contoso', name: 'Contoso Ltd', subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 10 }], users: [{ username: 'alice', displayName: 'Alice Smith' }] },
    env: { HELPDESK_AGENTS: ADELE.aadObjectId, PUBLIC_BASE_URL },
  });
  await botApp.t.seed({ id: 'fabrikam', name: 'Fabrikam', domains: ['fabrikam.onmicrosoft.com'], subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 5 }] });
});

afterEach(async () => {
  await botApp.stop();
  expect(connector.unexpected()).toEqual([]);
  expect(errorLogs(botApp.logLines)).toEqual([]);
});

// ------------------------------------------------------------------------------------------ helpers

const client = (agent: Agent = MEGAN, locale = 'en-US') => new BotClient({ ...botApp.client(agent).options, locale });

interface TaskAnswer {
  status: number;
  /** The TaskModuleResponse; undefined when the answer has no body (the dialog closes). */
  body?: { task?: { type: string; value: { title?: string; url?: string; fallbackUrl?: string; card?: { contentType: string; content: Card } } } };
}

/** A task/fetch or task/submit invoke as Teams sends it, answered in the same HTTP response. */
async function task(bot: BotClient, name: 'task/fetch' | 'task/submit', data: unknown, where: Where = PERSONAL): Promise<TaskAnswer> {
  const activity = bot.activity('invoke', where, { name, value: { data, context: { theme: 'default' } } });
  const { status, text } = await bot.post(activity);
  return { status, body: text ? JSON.parse(text) : undefined };
}

/** Opens the dialog from a card's Import users button: what Teams sends for that Action.Submit. */
async function openDialog(bot: BotClient, card: Card, where: Where = PERSONAL, title = 'Import users'): Promise<TaskAnswer> {
  const button = findAction(card, title);
  expect(button.type).toBe('Action.Submit');
  expect(button.data).toMatchObject({ msteams: { type: 'task/fetch' } });
  return task(bot, 'task/fetch', button.data, where);
}

/** The token in the dialog's URL. */
function tokenOf(answer: TaskAnswer): string {
  const pageUrl = answer.body?.task?.value.url;
  if (!pageUrl) throw new Error(`the dialog did not open a page: ${JSON.stringify(answer.body)}`);
  return new URL(pageUrl).searchParams.get('t') ?? '';
}

const dialogCardOf = (answer: TaskAnswer): Card => {
  const card = answer.body?.task?.value.card;
  if (!card) throw new Error(`the dialog shows no card: ${JSON.stringify(answer.body)}`);
  expect(card.contentType).toBe('application/vnd.microsoft.card.adaptive');
  return card.content;
};

/** Types a command and returns the card the bot replied with. */
const say = async (bot: BotClient, text: string, where: Where = PERSONAL, extra: Partial<Activity> = {}): Promise<Card> => (await botApp.say(bot, text, where, extra)).card;

/** The page's GET. */
const page = (token: string, headers: Record<string, string> = {}) => fetch(`${botApp.url}/dialogs/import?t=${encodeURIComponent(token)}`, { headers });

interface UploadOptions {
  customer?: string;
  name?: string;
  mode?: 'teams' | 'standalone';
  agent?: string;
  contentType?: string;
}

/** The page's upload: the file as it is, with the token, the customer, the file name and where the page runs. */
async function upload(token: string, bytes: Buffer, options: UploadOptions = {}): Promise<{ status: number; body: { ok: boolean; message: string; uploadId?: string; rows?: number } }> {
  const params = new URLSearchParams({ t: token, customer: options.customer ?? 'contoso', name: options.name ?? FIXTURE_NAME, mode: options.mode ?? 'teams' });
  if (options.agent) params.set('agent', options.agent);
  const response = await fetch(`${botApp.url}/dialogs/import?${params}`, {
    method: 'POST',
    headers: { 'Content-Type': options.contentType ?? 'application/octet-stream' },
    body: new Uint8Array(bytes),
  });
  return { status: response.status, body: await response.json() };
}

/** Keys a dialog can leave behind: uploads, import jobs. */
async function storedUploadsAndJobs(): Promise<string[]> {
  return (await botApp.t.scanKeys()).filter((k) => k.includes('dialog-upload:') || k.includes(':import:')).sort();
}

/** Job and operation ids differ between two previews of the same file; everything else must not. */
function withoutIds(card: Card): unknown {
  return JSON.parse(JSON.stringify(card).replace(/"(jobId|operationId)":"[^"]*"/g, '"$1":"…"'));
}

async function usersCardFor(bot: BotClient, where: Where = PERSONAL): Promise<Card> {
  return say(bot, 'users contoso', where);
}

// ------------------------------------------------------------------------------------------ the button

describe('the Import users button opens a Teams dialog', () => {
  test('on the Users and licenses card (beside Licenses and seats, not among the 5 bottom actions) and on the help card, for admin agents', async () => {
    const users = await usersCardFor(client());
    const button = findAction(users, 'Import users');
    expect(button).toEqual({ type: 'Action.Submit', title: 'Import users', data: { msteams: { type: 'task/fetch' }, dialog: 'importUsers', customerId: 'contoso' }, associatedInputs: 'none' });
    expect((users.actions as unknown[]).length).toBeLessThanOrEqual(5);
    expect((users.actions as Array<{ title: string }>).map((a) => a.title)).not.toContain('Import users');

    const help = await say(client(), 'help');
    expect(findAction(help, 'Import users').data).toEqual({ msteams: { type: 'task/fetch' }, dialog: 'importUsers' });

    // A helpdesk agent may not import: no button, and a hand-made task/fetch is refused without a token.
    const helpdesk = client(ADELE);
    const helpdeskUsers = await usersCardFor(helpdesk);
    const helpdeskHelp = await say(helpdesk, 'help');
    expect(() => findAction(helpdeskUsers, 'Import users')).toThrow(/found 0/);
    expect(() => findAction(helpdeskHelp, 'Import users')).toThrow(/found 0/);
    const refused = await task(helpdesk, 'task/fetch', { msteams: { type: 'task/fetch' }, dialog: 'importUsers', customerId: 'contoso' }, CHANNEL);
    expect(refused.status).toBe(200);
    expect(refused.body?.task?.value.url).toBeUndefined();
    expect(visibleText(dialogCardOf(refused))).toMatch(/You are not allowed to do that\. Your role: Helpdesk agent\./);
    expect((await botApp.t.scanKeys()).filter((k) => k.includes('dialog-token:'))).toEqual([]);
    expect(await botApp.t.redis.lrange(botApp.t.keys.refusals(), 0, -1)).toEqual([expect.stringContaining('importDialog')]);
  });

  test('task/fetch answers with the page of the bot (PUBLIC_BASE_URL/dialogs/import?t=<token>), whose host is in the manifest', async () => {
    const bot = client();
    const answer = await openDialog(bot, await usersCardFor(bot, CHANNEL), CHANNEL);
    expect(answer.status).toBe(200);
    const value = answer.body!.task!.value;
    expect(answer.body!.task!.type).toBe('continue');
    expect(value.title).toBe('Import users \u2014 Contoso Ltd');
    const token = tokenOf(answer);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(value.url).toBe(importDialogUrl(PUBLIC_BASE_URL, token));
    expect(value.fallbackUrl).toBe(value.url);
    // Only a hash of the token is stored, for 15 minutes.
    const tokenKeys = (await botApp.t.scanKeys()).filter((k) => k.includes('dialog-token:'));
    expect(tokenKeys).toHaveLength(1);
    expect(tokenKeys[0]).not.toContain(token);
    expect(await botApp.t.redis.pttl(tokenKeys[0])).toBeGreaterThan(DIALOG_TTL_MS - 60_000);
    expect(JSON.stringify(await botApp.t.redis.hgetall(tokenKeys[0]))).not.toContain(token);

    const manifest = buildManifest({ publicBaseUrl: PUBLIC_BASE_URL, version: appVersion() }).manifest;
    expect(manifest.validDomains).toContain(new URL(value.url!).hostname);
  });

  test('from the help card the dialog asks for the customer first, then opens the page', async () => {
    const bot = client();
    const first = await openDialog(bot, await say(bot, 'help', GROUP_CHAT), GROUP_CHAT);
    const choice = dialogCardOf(first);
    expect(texts(choice)).toEqual(['Import users']);
    const customers = (choice.body as Array<{ id?: string; choices?: Array<{ title: string; value: string }>; isRequired?: boolean }>).find((e) => e.id === 'customerId');
    expect(customers?.choices).toEqual([
      { title: 'Contoso Ltd (contoso.onmicrosoft.com)', value: 'contoso' },
      { title: 'Fabrikam (fabrikam.onmicrosoft.com)', value: 'fabrikam' },
    ]);
    expect(customers?.isRequired).toBe(true);
    const next = findAction(choice, 'Next');
    const second = await task(bot, 'task/submit', { ...next.data, customerId: 'fabrikam' }, GROUP_CHAT);
    expect(second.body?.task?.value.title).toBe('Import users \u2014 Fabrikam');
    expect(tokenOf(second)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test('typed `import users` outside the 1:1 chat answers with the button instead of a dead end', async () => {
    const card = await say(client(), 'import users contoso', CHANNEL);
    expect(texts(card)[1]).toMatch(/^Files reach the bot only in your 1:1 chat with it\. Click Import users/);
    expect(findAction(card, 'Import users').data).toMatchObject({ dialog: 'importUsers', customerId: 'contoso' });
  });

  test('another tenant, or a caller with no bot role, gets a refusal in the dialog: no token, no upload taken', async () => {
    const stranger = new BotClient({ ...botApp.client(MEGAN).options, tenantId: '0b0b0b0b-1111-4222-8333-444455556666' });
    const noRole = client({ id: '29:1nobody', aadObjectId: '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a', name: 'Nobody' });
    const open = { msteams: { type: 'task/fetch' }, dialog: 'importUsers', customerId: 'contoso' };
    expect(visibleText(dialogCardOf(await task(stranger, 'task/fetch', open)))).toContain('This bot serves only its partner\u2019s staff.');
    expect(visibleText(dialogCardOf(await task(noRole, 'task/fetch', open)))).toContain('You are not allowed to do that. Your role: No bot role.');
    expect((await botApp.t.scanKeys()).filter((k) => k.includes('dialog-token:'))).toEqual([]);

    const token = tokenOf(await task(client(), 'task/fetch', open));
    const { body } = await upload(token, FIXTURE);
    expect(visibleText(dialogCardOf(await task(stranger, 'task/submit', { uploadId: body.uploadId })))).toContain('This bot serves only its partner\u2019s staff.');
    expect(visibleText(dialogCardOf(await task(noRole, 'task/submit', { uploadId: body.uploadId })))).toContain('You are not allowed to do that.');
    expect((await storedUploadsAndJobs()).filter((k) => k.includes('dialog-upload:'))).toHaveLength(1);
  });

  test('from the help card with many customers: as many as fit on the card, and how to reach the others', () => {
    const many = Array.from({ length: 500 }, (_, i) => ({ id: `customer-${i}`, name: `Customer ${i}`, domains: [`customer${i}.onmicrosoft.com`] }));
    const card = importCustomerChoiceCard(translator('en-US').t, many) as unknown as Card;
    const offered = (card.body as Array<{ id?: string; choices?: unknown[] }>).find((e) => e.id === 'customerId')?.choices ?? [];
    expect(offered.length).toBeGreaterThan(100);
    expect(offered.length).toBeLessThan(500);
    expect(texts(card)).toContain(`Only the first ${offered.length} customers are listed. For another customer, click Import users on its Users and licenses card.`);
  });

  test('dialog data that is not ours is refused with a card, never a 500', async () => {
    for (const data of [undefined, {}, { dialog: 'other' }, { dialog: 'importUsers', customerId: 'Not An Id!' }, { uploadId: 'short' }]) {
      const answer = await task(client(), 'task/fetch', data);
      expect(answer.status).toBe(200);
      expect(visibleText(dialogCardOf(answer))).toContain('This button sent data I cannot use.');
    }
    expect(botApp.logLines.filter((l) => l.includes('rejected dialog data'))).toHaveLength(5);
  });
});

// ------------------------------------------------------------------------------------------ the token

describe('the token: single use, 15 minutes, bound to the agent, the customer and the conversation', () => {
  let token: string;

  beforeEach(async () => {
    token = tokenOf(await openDialog(client(), await usersCardFor(client(), CHANNEL), CHANNEL));
  });

  test('the page opens with it; after the upload it is used up: the page and a second upload are refused with a clear message', async () => {
    const opened = await page(token);
    expect(opened.status).toBe(200);
    expect(await opened.text()).toContain('<h1>Import users \u2014 Contoso Ltd</h1>');

    const first = await upload(token, FIXTURE);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ ok: true, rows: 3, message: 'new-users.csv: 3 rows. The preview is being posted in the conversation.' });
    expect(first.body.uploadId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect((await botApp.t.scanKeys()).filter((k) => k.includes('dialog-token:'))).toEqual([]);

    const again = await upload(token, FIXTURE);
    expect(again).toEqual({ status: 410, body: { ok: false, message: 'This import window has expired (after 15 minutes) or was already used. Close it and click Import users again in Teams.' } });
    const reopened = await page(token);
    expect(reopened.status).toBe(410);
    const html = await reopened.text();
    expect(html).toContain('<h1>This import window has expired</h1>');
    expect(html).not.toContain('<form');
    expect(await storedUploadsAndJobs()).toHaveLength(1); // the first upload only
  });

  test('it expires after 15 minutes by the injected clock: page and upload refused, nothing stored', async () => {
    botApp.t.clock.advance(DIALOG_TTL_MS - 1);
    expect((await page(token)).status).toBe(200);
    botApp.t.clock.advance(1);
    expect((await page(token)).status).toBe(410);
    const late = await upload(token, FIXTURE);
    expect(late.status).toBe(410);
    expect(late.body.message).toMatch(/^This import window has expired/);
    expect(await storedUploadsAndJobs()).toEqual([]);
  });

  test('an upload for another customer is refused, nothing is stored, and the token still works for its own customer', async () => {
    const wrong = await upload(token, FIXTURE, { customer: 'fabrikam' });
    expect(wrong).toEqual({
      status: 403,
      body: { ok: false, message: 'This import window was opened for another customer. Nothing was uploaded. Click Import users again on the right customer\u2019s card.' },
    });
    expect(await storedUploadsAndJobs()).toEqual([]);
    expect((await upload(token, FIXTURE)).status).toBe(200);
  });

  test('an upload from a page that runs in Teams for another agent is refused, nothing stored', async () => {
    const wrong = await upload(token, FIXTURE, { agent: LEE.aadObjectId });
    expect(wrong).toEqual({ status: 403, body: { ok: false, message: 'This import window was opened by another agent. Nothing was uploaded. Click Import users yourself in Teams.' } });
    expect(await storedUploadsAndJobs()).toEqual([]);
    // The agent the page runs for is compared without regard to case, as Entra ids are.
    expect((await upload(token, FIXTURE, { agent: MEGAN.aadObjectId.toUpperCase() })).status).toBe(200);
  });

  test('the upload is handed over only to its agent, in its conversation; anyone else gets a card and nothing is posted', async () => {
    const { body } = await upload(token, FIXTURE);
    const channel = client().conversationId(CHANNEL);
    const before = connector.activitiesIn(channel).length;

    const otherAgent = await task(client(LEE), 'task/submit', { uploadId: body.uploadId }, CHANNEL);
    expect(visibleText(dialogCardOf(otherAgent))).toContain('This upload was made by another agent or in another conversation. Nothing was posted.');
    const otherChat = await task(client(), 'task/submit', { uploadId: body.uploadId }, GROUP_CHAT);
    expect(visibleText(dialogCardOf(otherChat))).toContain('This upload was made by another agent or in another conversation. Nothing was posted.');
    expect(connector.activitiesIn(channel)).toHaveLength(before);
    expect(connector.activitiesIn(client().conversationId(GROUP_CHAT))).toHaveLength(0);
    expect((await storedUploadsAndJobs()).filter((k) => k.includes(':import:'))).toEqual([]);

    const own = await task(client(), 'task/submit', { uploadId: body.uploadId }, CHANNEL);
    expect(own).toEqual({ status: 200, body: undefined });
    expect(connector.activitiesIn(channel)).toHaveLength(before + 1);
  });

  test('the service refuses made-up tokens and upload ids without asking Redis for them', async () => {
    const dialogs = new ImportDialogs(botApp.t.redis, botApp.t.keys, botApp.t.clock);
    expect(await dialogs.check('x')).toEqual({ ok: false, reason: 'gone' });
    expect(await dialogs.check('A'.repeat(43))).toEqual({ ok: false, reason: 'gone' });
    expect(await dialogs.take('../../etc', { agentId: MEGAN.aadObjectId, conversationId: 'c' })).toEqual({ ok: false, reason: 'gone' });
    expect((await page('<script>')).status).toBe(410);
  });
});

// ------------------------------------------------------------------------------------------ the upload

describe('the upload: the same limits and messages as a file sent in the 1:1 chat', () => {
  let token: string;

  beforeEach(async () => {
    token = tokenOf(await openDialog(client(), await usersCardFor(client(), CHANNEL), CHANNEL));
  });

  test.each([
    ['larger than 5 MB', Buffer.concat([FIXTURE, Buffer.alloc(5 * 1024 * 1024 + 1 - FIXTURE.length, 0x41)]), {}, 413, 'The file is larger than 5 MB.'],
    ['not a CSV name', FIXTURE, { name: 'users.xlsx' }, 415, 'This file is not a CSV (users.xlsx). Save it from Excel as CSV UTF-8 (Comma delimited) and send it again.'],
    ['binary content', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0x00, 0x00, 0x00, 0x21, 0x00]), {}, 422, 'This is not a text CSV file (it looks like a binary file, e.g. .xlsx). Save it from Excel as CSV.'],
    ['malformed CSV', Buffer.from('First name,Last name,Display name,Email\r\nNina,"Park,Nina Park,nina@contoso.com\r\n'), {}, 422, /^The CSV cannot be read at line \d+ \(for example a quote that is never closed\)\.$/],
    ['unknown columns', Buffer.from('Name,Shoe size\r\nNina,38\r\n'), {}, 422, /^Unknown columns: Name, Shoe size\./],
    ['empty', Buffer.from(''), {}, 422, 'The file is empty.'],
    ['another content type (a form post)', FIXTURE, { contentType: 'application/x-www-form-urlencoded' }, 400, 'This request is not an upload this page makes. Reload the page and try again.'],
  ] as Array<[string, Buffer, UploadOptions, number, string | RegExp]>)('%s: refused with a clear message, nothing stored, the token still usable', async (_name, bytes, options, status, message) => {
    const answer = await upload(token, bytes, options);
    expect(answer.status).toBe(status);
    expect(answer.body.ok).toBe(false);
    expect(answer.body.message).toEqual(typeof message === 'string' ? message : expect.stringMatching(message));
    expect(await storedUploadsAndJobs()).toEqual([]);
    expect((await page(token)).status).toBe(200);
  });

  test('exactly 5 MB is accepted', async () => {
    // The fixture plus rows with long display names, the last one cut to make exactly 5 MB.
    const MAX = 5 * 1024 * 1024;
    const rows = [FIXTURE.toString('utf8')];
    let size = FIXTURE.length;
    for (let i = 0; size < MAX; i++) {
      const row = `First${i},Last${i},${'D'.repeat(480)},user${i}@contoso.com,,US,\r\n`;
      const room = MAX - size;
      rows.push(row.length <= room ? row : `F${'D'.repeat(room - 3)}\r\n`);
      size += Math.min(row.length, room);
    }
    const padded = Buffer.from(rows.join(''));
    expect(padded.length).toBe(5 * 1024 * 1024);
    const answer = await upload(token, padded);
    expect(answer.status).toBe(200);
  });

  test('messages follow the agent\u2019s Teams language (Korean)', async () => {
    const ko = client(MEGAN, 'ko-KR');
    const koToken = tokenOf(await openDialog(ko, await usersCardFor(ko, CHANNEL), CHANNEL, '사용자 가져오기'));
    const html = await (await page(koToken)).text();
    expect(html).toContain('<html lang="ko-KR">');
    expect(html).toContain('<h1>사용자 가져오기 \u2014 Contoso Ltd</h1>');
    expect(html).toContain('<label for="file">CSV 파일</label>');
    expect((await upload(koToken, FIXTURE, { name: 'users.xlsx' })).body.message).toBe('CSV 파일이 아닙니다(users.xlsx). Excel에서 CSV UTF-8(쉼표로 분리)로 저장한 후 다시 보내세요.');
    expect((await upload(koToken, FIXTURE)).body.message).toBe('new-users.csv: 3개 행. 대화에 미리 보기를 게시하는 중입니다.');
    // A browser with no token gets the language it asks for.
    expect(await (await page('used-or-made-up', { 'Accept-Language': 'ko-KR,ko;q=0.9' })).text()).toContain('가져오기 창이 만료되었습니다');
  });
});

// ------------------------------------------------------------------------------------------ the page

describe('the page', () => {
  test('Teams\u2019 hosts only may frame it; scripts, styles and requests only from the bot; no caching, no referrer', async () => {
    const token = tokenOf(await openDialog(client(), await usersCardFor(client())));
    const response = await page(token);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toBe(CONTENT_SECURITY_POLICY);
    const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
    expect(directives['frame-ancestors']).toEqual([...FRAME_ANCESTORS]);
    expect(directives['frame-ancestors']).toEqual(expect.arrayContaining(['https://teams.microsoft.com', 'https://*.teams.microsoft.com', 'https://teams.cloud.microsoft', 'https://*.cloud.microsoft', 'https://*.office.com', 'https://outlook.office.com']));
    expect(directives['frame-ancestors'].join(' ')).not.toMatch(/'self'|\*(\s|$)|http:/);
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(directives['script-src']).toEqual(["'self'"]);
    expect(directives['style-src']).toEqual(["'self'"]);
    // The bot, and the CDN from which @microsoft/teams-js reads the hosts it trusts (it has a built-in list otherwise).
    expect(directives['connect-src']).toEqual(["'self'", 'https://res.cdn.office.net']);
    expect(response.headers.get('x-frame-options')).toBeNull();
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');

    const html = await response.text();
    // No inline script or style: the only <script> without src is the JSON the script reads its texts from.
    const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1].trim());
    expect(scripts).toEqual(['type="application/json" id="dialog-config"', 'src="import.js" defer']);
    expect(html).not.toMatch(/<style|\sstyle="|\son\w+="/);
    // Every control has a label or its text.
    expect(html).toContain('<label for="file">CSV file</label>');
    expect(html).toMatch(/<input id="file"[^>]*type="file"[^>]*aria-describedby="file-hint file-name"/);
    expect(html).toContain('<button type="submit" id="upload" class="primary">Upload and check</button>');
    expect(html).toContain('role="alert"');
    expect(html).toContain('role="status"');

    for (const [asset, type] of [['import.js', 'text/javascript'], ['import.css', 'text/css']]) {
      const served = await fetch(`${botApp.url}/dialogs/${asset}`);
      expect(served.status).toBe(200);
      expect(served.headers.get('content-type')).toContain(type);
      expect((await served.text()).length).toBeGreaterThan(1000);
    }
  });

  test('user data is text: a customer name with markup is escaped in the page and in its JSON', async () => {
    await botApp.t.seed({ id: 'evil', name: '</script><img src=x onerror=alert(1)>', domains: ['evil.onmicrosoft.com'], subscriptions: [] });
    const answer = await task(client(), 'task/fetch', { dialog: 'importUsers', customerId: 'evil' });
    const html = await (await page(tokenOf(answer))).text();
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;');
  });
});

// ------------------------------------------------------------------------------------------ the preview

describe('the preview: the same card as for a file sent in the 1:1 chat, posted where the button was clicked', () => {
  test('1:1 path and dialog path (from a channel) give the same preview for the same file; the import still delivers passwords only in the 1:1 chat', async () => {
    const bot = client();
    // The 1:1 path: the file attached to `import users contoso`, downloaded from Teams' URL.
    files.served.set('/new-users.csv', FIXTURE);
    const attachment = { contentType: TEAMS_FILE_DOWNLOAD_INFO, name: FIXTURE_NAME, content: { downloadUrl: `${files.url}/new-users.csv`, fileType: 'csv' } };
    const viaChat = await say(bot, 'import users contoso', PERSONAL, { attachments: [attachment] });
    expect(texts(viaChat)).toEqual(expect.arrayContaining(['Import users \u2014 Contoso Ltd', 'File: new-users.csv', '3 rows in the file.', '2 rows are ready to import.']));

    // The dialog path, from a channel: fetch, upload, submit.
    const channel = bot.conversationId(CHANNEL);
    const token = tokenOf(await openDialog(bot, await usersCardFor(bot, CHANNEL), CHANNEL));
    const uploaded = await upload(token, FIXTURE);
    const before = connector.activitiesIn(channel).length;
    const submitted = await task(bot, 'task/submit', { uploadId: uploaded.body.uploadId }, CHANNEL);
    expect(submitted).toEqual({ status: 200, body: undefined }); // the dialog closes
    const posted = connector.activitiesIn(channel);
    expect(posted).toHaveLength(before + 1);
    const viaDialog = cardOf(posted[before]);
    expect(withoutIds(viaDialog)).toEqual(withoutIds(viaChat));
    expect(await storedUploadsAndJobs()).toEqual(expect.not.arrayContaining([expect.stringContaining('dialog-upload:')]));

    // The same upload id a second time (Teams retried, or a replay): nothing more is posted.
    const replay = await task(bot, 'task/submit', { uploadId: uploaded.body.uploadId }, CHANNEL);
    expect(visibleText(dialogCardOf(replay))).toContain('This upload is no longer available');
    expect(connector.activitiesIn(channel)).toHaveLength(before + 1);

    // Import from the channel: the results with the passwords go to the agent's 1:1 chat only.
    const personal = bot.conversationId(PERSONAL);
    const personalBefore = connector.activitiesIn(personal).length;
    const { verb, data } = submission(viaDialog, 'Import');
    const run = await bot.invoke(verb, data, CHANNEL);
    expect(texts(run.card)[0]).toBe('Importing users \u2014 Contoso Ltd');
    const [results] = (await connector.waitForActivities(personal, personalBefore + 1)).slice(personalBefore);
    expect(texts(cardOf(results))[0]).toBe('Import results: 2 new users \u2014 Contoso Ltd');
    await botApp.app.importRunner.idle();
    const inChannel = JSON.stringify(connector.activitiesIn(channel));
    expect(inChannel).not.toContain('/downloads/');
    expect((await botApp.t.directory.listUsers('contoso', { pageSize: 100 })).users.map((u) => u.userPrincipalName).sort()).toEqual([
      'alice@contoso.onmicrosoft.com',
      'jiho.kim@contoso.com',
      'nina.park@contoso.com',
    ]);
  });

  test('outside Teams (mode=standalone) the bot posts the preview into the conversation itself; the page says so', async () => {
    const bot = client();
    const group = bot.conversationId(GROUP_CHAT);
    const token = tokenOf(await openDialog(bot, await usersCardFor(bot, GROUP_CHAT), GROUP_CHAT));
    const before = connector.activitiesIn(group).length;
    const answer = await upload(token, FIXTURE, { mode: 'standalone' });
    expect(answer).toEqual({
      status: 200,
      body: {
        ok: true,
        rows: 3,
        message: 'new-users.csv: 3 rows. The preview was posted in the Teams conversation where you clicked Import users. Return to Teams to review it and click Import.',
      },
    });
    const posted = connector.activitiesIn(group);
    expect(posted).toHaveLength(before + 1);
    expect(texts(cardOf(posted[before]))).toEqual(expect.arrayContaining(['Import users \u2014 Contoso Ltd', 'File: new-users.csv', '2 rows are ready to import.']));
    expect(await storedUploadsAndJobs()).toEqual(expect.not.arrayContaining([expect.stringContaining('dialog-upload:')]));
  });

  test('outside Teams, when the conversation cannot be reached, the page says so and how to go on', async () => {
    const bot = client();
    const group = bot.conversationId(GROUP_CHAT);
    const token = tokenOf(await openDialog(bot, await usersCardFor(bot, GROUP_CHAT), GROUP_CHAT));
    connector.failSendsTo(group, 403);
    const answer = await upload(token, FIXTURE, { mode: 'standalone' });
    expect(answer).toEqual({
      status: 502,
      body: { ok: false, message: 'The file was received, but the preview could not be posted in the Teams conversation. Send import users contoso with the file attached in your 1:1 chat with the bot instead.' },
    });
  });
});
