/**
 * End to end in a real browser: the bot (embedded store, demo data) and Microsoft 365 Agents Playground started as
 * `npm run playground` starts them (scripts/playground.ts), driven by headless Debian Chromium through
 * playwright-core. Every request the page makes to anything but localhost is aborted, and Chromium resolves no other
 * host name.
 *
 * Needs /usr/bin/chromium (Debian package `chromium`). Without it the test is skipped, except under CI (CI set),
 * where it fails so that a missing browser cannot go unnoticed.
 *
 * Screenshots: test-output/playground-*.png (gitignored).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrowserContext, chromium, Locator, Page } from 'playwright-core';
import { RunningPlayground, startPlayground } from '../../scripts/playground';
import { freePort } from '../support/redisServer';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = join(__dirname, '..', '..', 'test-output');
const haveChromium = existsSync(CHROMIUM);
const DEADLINE = 60_000;

if (!haveChromium && process.env.CI) {
  throw new Error(`${CHROMIUM} is missing: install the Debian package (apt-get install -y chromium) to run the end-to-end test`);
}
const e2e = haveChromium ? test : test.skip;

let running: RunningPlayground | undefined;
let context: BrowserContext | undefined;
let userDataDir: string | undefined;
const playgroundOutput: string[] = [];
const blocked: string[] = [];

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await running?.stop();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
}, 30_000);

/** The newest card whose text contains `text`. */
const cardWith = (page: Page, text: string): Locator => page.locator('.ac-adaptiveCard').filter({ hasText: text }).last();

async function openBrowser(url: string): Promise<Page> {
  userDataDir = mkdtempSync(join(tmpdir(), 'pab-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 1800 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-pings',
      '--disable-domain-reliability',
      '--disable-breakpad',
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost',
    ],
  });
  context.setDefaultTimeout(DEADLINE);
  const page = context.pages()[0] ?? (await context.newPage());
  // The UI asks a CDN for fonts and an animation; it works without them.
  await page.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === 'localhost' || host === '127.0.0.1') return route.continue();
    blocked.push(route.request().url());
    return route.abort();
  });
  await page.goto(url);
  return page;
}

async function send(page: Page, text: string): Promise<void> {
  const compose = page.locator('div[role="textbox"][contenteditable="true"][data-lexical-editor="true"]');
  await compose.click();
  await page.keyboard.type(text);
  await page.locator('button[aria-label="Send Message"]').click();
}

e2e(
  'in Agents Playground: "users contoso" shows the Users and licenses card; its buttons update it in place',
  async () => {
    mkdirSync(OUTPUT, { recursive: true });
    running = await startPlayground({
      botPort: 0,
      playgroundPort: await freePort(),
      logLevel: 'error',
      logFile: join(OUTPUT, 'playground.log'),
      onOutput: (line) => playgroundOutput.push(line),
      startTimeoutMs: DEADLINE,
    });
    const page = await openBrowser(running.playgroundUrl);
    await page.locator('button[role="treeitem"][aria-label="Personal Chat"]').click();

    await send(page, 'users contoso');
    const users = cardWith(page, 'Users and licenses \u2014 Contoso Ltd');
    await users.waitFor();
    await cardWith(page, 'Showing 1\u201320 of 300').waitFor();
    await users.locator('.ac-actionSet button[aria-label="Deleted users (0)"]').waitFor();
    await users.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: join(OUTPUT, 'playground-users.png') });

    // Next page: the same card, updated in place by the Action.Execute answer.
    const cardsBefore = await page.locator('.ac-adaptiveCard').count();
    await users.locator('.ac-actionSet button[aria-label="Next"]').click();
    await cardWith(page, 'Showing 21\u201340 of 300').waitFor();
    await page.locator('.ac-adaptiveCard').filter({ hasText: 'Showing 1\u201320 of 300' }).waitFor({ state: 'detached' });
    expect(await page.locator('.ac-adaptiveCard').count()).toBe(cardsBefore);

    // Licenses and seats
    await cardWith(page, 'Showing 21\u201340 of 300').locator('.ac-actionSet button[aria-label="Licenses and seats"]').click();
    const licenses = cardWith(page, 'Licenses \u2014 Contoso Ltd');
    await licenses.waitFor();
    await licenses.getByText('Office 365 E3 (O365_E3)').waitFor();
    await licenses.getByText(/Total 250 \u00b7 Assigned \d+ \u00b7 Available \d+/).waitFor();
    await page.screenshot({ path: join(OUTPUT, 'playground-licenses.png') });

    // Nothing but localhost was asked for successfully; the bot's log has no turn errors.
    expect(blocked.every((u) => !/^https?:\/\/(localhost|127\.0\.0\.1)[:/]/.test(u))).toBe(true);
    expect(playgroundOutput.join('\n')).not.toMatch(/ECONNREFUSED|Error:/);
  },
  180_000,
);
