/**
 * The Import users dialog's page in a real browser (headless Debian Chromium through playwright-core), opened as a
 * plain page outside Teams: the agent picks (or drops) the fixture CSV, uploads it, sees the confirmation, and the bot
 * posts the preview into the Teams conversation where the button was clicked (a fake connector). Every request to
 * anything but the bot (localhost) is aborted, and Chromium resolves no other host name.
 *
 * Screenshots in test-output/ (gitignored): import-dialog-{light,dark}.png (file chosen), import-dialog-{light,dark}-done.png
 * (confirmation), import-dialog-forced-colors.png, import-dialog-teams-contrast.png (inside the stand-in Teams host).
 * The README's docs/import-dialog-light.png and docs/import-dialog-dark.png are copies of import-dialog-light.png and
 * import-dialog-dark-done.png.
 *
 * Needs /usr/bin/chromium, like playground.test.ts: skipped without it, except under CI, where it fails.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { App, createApp } from '../../bot/app';
import { loadSettings } from '../../bot/config';
import { createLogger } from '../../bot/logger';
import { Agent, BotClient, Card, cardOf, findAction, GROUP_CHAT, texts } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { e2eTest, haveChromium, launchChromium } from '../support/chromium';
import { freePort } from '../support/redisServer';
import { publishBot, PUBLISHED, teamsHostPage } from '../support/teamsHost';
import { createTestDirectory, TestDirectory } from '../support/testDirectory';

const OUTPUT = join(__dirname, '..', '..', 'test-output');
const FIXTURE = join(__dirname, '..', 'fixtures', 'import-dialog', 'new-users.csv');
const DEADLINE = 30_000;
const e2e = e2eTest();

const TENANT = '7d0c9a4e-5b1f-4c3a-9e2d-1f0a2b3c4d5e';
const MEGAN: Agent = { id: '29:1megan-bowen', aadObjectId: '3f6b2c1e-8a47-4d2b-9c1e-5a7b8c9d0e1f', name: 'Megan Bowen' };

let t: TestDirectory;
let connector: FakeConnector;
let app: App;
let url: string;
let browser: Browser | undefined;
let logLines: string[] = [];
const blocked: string[] = [];
const consoleErrors: string[] = [];

beforeAll(async () => {
  if (!haveChromium) return;
  mkdirSync(OUTPUT, { recursive: true });
  connector = await startFakeConnector();
  t = await createTestDirectory();
  await t.seed({ id: 'contoso', name: 'Contoso Ltd', subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 10 }] });
  // PUBLIC_BASE_URL is the bot itself, so the browser opens exactly the URL task/fetch answers with.
  const port = await freePort();
  const settings = loadSettings({ HOST: '127.0.0.1', PORT: String(port), PUBLIC_BASE_URL: `http://localhost:${port}`, LOG_LEVEL: 'info', PARTNER_TENANT_ID: TENANT, ADMIN_AGENTS: MEGAN.aadObjectId });
  const logger: Logger = createLogger('info', { write: (line: string) => void logLines.push(line) });
  app = await createApp(settings, { redis: t.redis, keys: t.keys, clock: t.clock, logger });
  url = await app.listen();
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  if (!haveChromium) return;
  await app.close();
  await t.cleanup();
  await connector.stop();
  expect(logLines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
}, 30_000);

/** The Users and licenses card in a group chat, its Import users button, and the page task/fetch opens. */
async function openDialogUrl(): Promise<string> {
  const client = new BotClient({ endpoint: url, serviceUrl: connector.url, tenantId: TENANT, agent: MEGAN });
  const conversation = client.conversationId(GROUP_CHAT);
  const before = connector.activitiesIn(conversation).length;
  await client.message('users contoso', GROUP_CHAT);
  const users: Card = cardOf((await connector.waitForActivities(conversation, before + 1))[before]);
  const activity = client.activity('invoke', GROUP_CHAT, { name: 'task/fetch', value: { data: findAction(users, 'Import users').data, context: { theme: 'default' } } });
  const answer = JSON.parse((await client.post(activity)).text) as { task: { value: { url: string } } };
  return answer.task.value.url;
}

async function newPage(options: { colorScheme: 'light' | 'dark'; forcedColors?: 'active' | 'none' }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser!.newContext({ viewport: { width: 600, height: 560 }, colorScheme: options.colorScheme, forcedColors: options.forcedColors ?? 'none', locale: 'en-US' });
  context.setDefaultTimeout(DEADLINE);
  await context.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === 'localhost' || host === '127.0.0.1') return route.continue();
    blocked.push(route.request().url());
    return route.abort();
  });
  const page = await context.newPage();
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  return { context, page };
}

/** The page has given up on Teams (app.initialize() did not finish within 2 s) and says it runs outside Teams. */
async function waitUntilStandalone(page: Page): Promise<void> {
  await page.locator('#host-status').getByText('This page is not running inside Teams.', { exact: false }).waitFor();
  expect(await page.locator('body').getAttribute('data-host')).toBe('standalone');
}

async function previewsInGroupChat(): Promise<string[][]> {
  return connector
    .activitiesIn(new BotClient({ endpoint: '', serviceUrl: '', tenantId: TENANT, agent: MEGAN }).conversationId(GROUP_CHAT))
    .map((a) => {
      try {
        return texts(cardOf(a));
      } catch {
        return [];
      }
    })
    .filter((lines) => lines.includes('File: new-users.csv'));
}

e2e(
  'outside Teams, light theme: keyboard and file picker, upload, confirmation; the preview is posted in the chat',
  async () => {
    const { context, page } = await newPage({ colorScheme: 'light' });
    try {
      await page.goto(await openDialogUrl());
      await page.getByRole('heading', { name: 'Import users \u2014 Contoso Ltd' }).waitFor();
      await waitUntilStandalone(page);
      expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(255, 255, 255)');

      // Keyboard: Tab reaches the labelled file input, then the button; Enter without a file says what is missing.
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('file');
      expect(await page.getByLabel('CSV file').count()).toBe(1);
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('upload');
      await page.keyboard.press('Enter');
      await page.getByRole('alert').getByText('Choose a CSV file first.').waitFor();

      // A file that is not a CSV is refused before anything is sent.
      await page.getByLabel('CSV file').setInputFiles({ name: 'users.xlsx', mimeType: 'application/octet-stream', buffer: Buffer.from('PK\u0003\u0004') });
      await page.getByRole('alert').getByText('This file is not a CSV (users.xlsx).', { exact: false }).waitFor();

      await page.getByLabel('CSV file').setInputFiles(FIXTURE);
      await page.getByText('Selected file: new-users.csv').waitFor();
      expect(await page.getByRole('alert').isHidden()).toBe(true);
      await page.screenshot({ path: join(OUTPUT, 'import-dialog-light.png') });

      await page.getByRole('button', { name: 'Upload and check' }).click();
      const done = page.locator('#done');
      await done.getByText('new-users.csv: 3 rows. The preview was posted in the Teams conversation where you clicked Import users.', { exact: false }).waitFor();
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('done');
      expect(await page.locator('#upload-form').isHidden()).toBe(true);
      await page.screenshot({ path: join(OUTPUT, 'import-dialog-light-done.png') });

      const previews = await previewsInGroupChat();
      expect(previews).toHaveLength(1);
      expect(previews[0]).toEqual(expect.arrayContaining(['Import users \u2014 Contoso Ltd', '3 rows in the file.', '2 rows are ready to import.']));
    } finally {
      await context.close();
    }
  },
  90_000,
);

e2e(
  'outside Teams, dark theme: the file dropped on the box, upload, confirmation',
  async () => {
    const { context, page } = await newPage({ colorScheme: 'dark' });
    try {
      await page.goto(await openDialogUrl());
      await waitUntilStandalone(page);
      expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(41, 41, 41)');

      const csv = readFileSync(FIXTURE, 'utf8');
      const dataTransfer = await page.evaluateHandle((text) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([text], 'new-users.csv', { type: 'text/csv' }));
        return transfer;
      }, csv);
      await page.dispatchEvent('#drop-zone', 'dragenter', { dataTransfer });
      await page.dispatchEvent('#drop-zone', 'dragover', { dataTransfer });
      expect(await page.locator('#drop-zone').getAttribute('class')).toContain('dragging');
      await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer });
      await page.getByText('Selected file: new-users.csv').waitFor();
      expect(await page.locator('#drop-zone').getAttribute('class')).not.toContain('dragging');
      await page.screenshot({ path: join(OUTPUT, 'import-dialog-dark.png') });

      await page.getByRole('button', { name: 'Upload and check' }).click();
      await page.locator('#done').getByText('Return to Teams to review it and click Import.', { exact: false }).waitFor();
      await page.screenshot({ path: join(OUTPUT, 'import-dialog-dark-done.png') });
      expect(await previewsInGroupChat()).toHaveLength(2);
    } finally {
      await context.close();
    }
  },
  90_000,
);

e2e(
  'forced colours (Windows high contrast): system colours, the controls keep visible borders',
  async () => {
    const { context, page } = await newPage({ colorScheme: 'dark', forcedColors: 'active' });
    try {
      await page.goto(await openDialogUrl());
      await waitUntilStandalone(page);
      await page.getByLabel('CSV file').setInputFiles(FIXTURE);
      await page.getByText('Selected file: new-users.csv').waitFor();
      expect(await page.evaluate(() => getComputedStyle(document.getElementById('drop-zone')!).borderTopStyle)).not.toBe('none');
      await page.screenshot({ path: join(OUTPUT, 'import-dialog-forced-colors.png') });
      // Nothing but the bot was asked for (teams-js's attempt at the Microsoft CDN is aborted and it falls back).
      expect(blocked.filter((u) => !u.startsWith('https://res.cdn.office.net/'))).toEqual([]);
      // No script error and no Content-Security-Policy violation on the page (the aborted CDN fetch aside).
      expect(consoleErrors.filter((e) => !/res\.cdn\.office\.net|Failed to load resource/.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  },
  90_000,
);

// ------------------------------------------------------------------------------------------ inside a Teams dialog

/** The dialog's URL as if the bot were published at PUBLISHED. */
const published = (dialogUrl: string): string => `${PUBLISHED}${new URL(dialogUrl).pathname}${new URL(dialogUrl).search}`;


e2e(
  'inside a Teams dialog: Teams\u2019 theme (dark, then high contrast), the upload id goes back with dialog.url.submit, and task/submit posts the preview',
  async () => {
    const { context, page } = await newPage({ colorScheme: 'light' });
    try {
      await publishBot(context, url);
      const dialogUrl = published(await openDialogUrl());
      await context.route('https://teams.microsoft.com/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: teamsHostPage(dialogUrl, { oid: MEGAN.aadObjectId as string, tid: TENANT }, { theme: 'dark' }, 'dialog') }));
      await page.goto('https://teams.microsoft.com/_#/dialog');
      const dialog = page.frameLocator('#dialog');
      const body = dialog.locator('body[data-host="teams"]');
      await body.waitFor();
      // Teams' theme wins over the browser's (light here): dark from the context, high contrast when Teams changes it.
      expect(await dialog.locator('html').getAttribute('data-theme')).toBe('dark');
      expect(await body.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(41, 41, 41)');
      expect(await dialog.locator('#host-status').isHidden()).toBe(true);

      await dialog.getByLabel('CSV file').setInputFiles(FIXTURE);
      await dialog.getByText('Selected file: new-users.csv').waitFor();
      await page.evaluate(() => (window as unknown as { changeTheme(theme: string): void }).changeTheme('contrast'));
      await dialog.locator('html[data-theme="contrast"]').waitFor();
      expect(await body.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(0, 0, 0)');
      await page.screenshot({ path: join(OUTPUT, 'import-dialog-teams-contrast.png') });

      const group = new BotClient({ endpoint: url, serviceUrl: connector.url, tenantId: TENANT, agent: MEGAN });
      const previewsBefore = (await previewsInGroupChat()).length;
      // By keyboard (a pointer click into a cross-origin frame is not what this test is about).
      await dialog.getByRole('button', { name: 'Upload and check' }).press('Enter');
      await dialog.locator('#done').getByText('new-users.csv: 3 rows. The preview is being posted in the conversation.').waitFor();
      await page.waitForFunction(() => (window as unknown as { submitted: unknown[] }).submitted.length === 1);
      const [[result]] = (await page.evaluate(() => (window as unknown as { submitted: unknown[][] }).submitted)) as Array<[{ uploadId: string }]>;
      // Only the upload id goes back to Teams; nothing is posted until Teams' task/submit reaches the bot.
      expect(Object.keys(result)).toEqual(['uploadId']);
      expect((await previewsInGroupChat()).length).toBe(previewsBefore);

      const submit = group.activity('invoke', GROUP_CHAT, { name: 'task/submit', value: { data: result, context: { theme: 'contrast' } } });
      expect(await group.post(submit)).toEqual({ status: 200, text: '' });
      expect((await previewsInGroupChat()).length).toBe(previewsBefore + 1);
      expect(await page.evaluate(() => (window as unknown as { messages: string[] }).messages)).toEqual(expect.arrayContaining(['initialize', 'getContext', 'tasks.completeTask']));
    } finally {
      await context.close();
    }
  },
  90_000,
);

e2e(
  'a page that is not one of Teams\u2019 hosts cannot frame the dialog (Content-Security-Policy frame-ancestors)',
  async () => {
    const { context, page } = await newPage({ colorScheme: 'light' });
    try {
      await publishBot(context, url);
      const dialogUrl = published(await openDialogUrl());
      await context.route('https://intruder.example/**', (route) =>
        route.fulfill({ status: 200, contentType: 'text/html', body: `<!doctype html><iframe id="dialog" src="${dialogUrl}"></iframe>` }),
      );
      const refused = page.waitForEvent('console', (m) => /frame-ancestors/.test(m.text()));
      await page.goto('https://intruder.example/');
      expect((await refused).text()).toContain(`Framing '${PUBLISHED}/' violates the following Content Security Policy directive: "frame-ancestors https://teams.microsoft.com `);
      expect(await page.frameLocator('#dialog').locator('#upload-form').count()).toBe(0);
    } finally {
      await context.close();
    }
  },
  90_000,
);
