/**
 * End to end in a real browser: the bot (embedded store, demo data) and Microsoft 365 Agents Playground started as
 * `npm run playground` starts them (scripts/playground.ts), driven by headless Debian Chromium through
 * playwright-core. Every request the page makes to anything but localhost is aborted, and Chromium resolves no other
 * host name.
 *
 * Needs /usr/bin/chromium (Debian package `chromium`). Without it the test is skipped, except under CI (CI set),
 * where it fails so that a missing browser cannot go unnoticed.
 *
 * Screenshots: test-output/playground-*.png (gitignored); the walk through add, license, delete and restore writes
 * test-output/playground-walk-<n>-<step>.png, of which docs/playground-{add-user,manage-licenses,delete,restore}.png
 * are copies (copied by hand, so that running the test never changes a committed file).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrowserContext, chromium, Locator, Page } from 'playwright-core';
import { RunningPlayground, startPlayground } from '../../scripts/playground';
import { CHROMIUM, CHROMIUM_ARGS, e2eTest } from '../support/chromium';
import { freePort } from '../support/redisServer';

const OUTPUT = join(__dirname, '..', '..', 'test-output');
const DEADLINE = 60_000;
const e2e = e2eTest();

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
    args: CHROMIUM_ARGS,
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

let chat: Page | undefined;

/**
 * The bot and the playground, started once for the file (each test may run alone), and the browser on the
 * Personal Chat. The bot runs in this process (scripts/playground.ts); the playground is its child process.
 */
async function personalChat(): Promise<Page> {
  if (chat) return chat;
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
  chat = page;
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
    const page = await personalChat();

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

/** A button of a card, found by its title (the renderer sets aria-label to the title). */
const button = (card: Locator, title: string): Locator => card.locator(`.ac-actionSet button[aria-label="${title}"]`);

/**
 * The top of a card too tall for the window (a whole page of users): an element screenshot of it would show the
 * playground's toolbar over its upper part.
 */
async function screenshotTop(page: Page, card: Locator, path: string, height = 420): Promise<void> {
  await card.locator('.ac-richTextBlock').first().evaluate((el) => el.scrollIntoView({ block: 'center' }));
  const box = await card.boundingBox();
  if (!box) throw new Error('the card is not visible');
  await page.screenshot({ path, clip: { x: box.x, y: box.y, width: box.width, height: Math.min(height, box.height) } });
}

e2e(
  'in Agents Playground: help, then add, license, delete and restore a user with the cards\u2019 buttons only',
  async () => {
    const page = await personalChat();
    const directory = running!.app.directory;
    const upn = 'aaron.abbott@contoso.onmicrosoft.com';
    // "Aaron Abbott" sorts before every demo user, so the new user is on the first page of the users card.
    const newUser = /Aaron Abbott \u2014 aaron\.abbott@contoso\.onmicrosoft\.com \u2014 /;

    // 1. help
    await send(page, 'help');
    const help = cardWith(page, 'Manage the users and licenses of your customers.');
    await help.waitFor();
    await help.getByText('Your role: Admin agent').waitFor();
    await help.getByText('Open the Add user form.').waitFor();
    await help.screenshot({ path: join(OUTPUT, 'playground-walk-1-help.png') });

    // 2. The one typed command; everything after it is buttons and card inputs.
    await send(page, 'users contoso');
    let users = cardWith(page, 'Users and licenses \u2014 Contoso Ltd');
    await users.getByText('Showing 1\u201320 of 300').waitFor();
    await button(users, 'Deleted users (0)').waitFor();

    // Add user: the form replaces the users card.
    await button(users, 'Add user').click();
    const form = cardWith(page, 'Add user \u2014 Contoso Ltd');
    await form.waitFor();
    await form.getByLabel('First name').fill('Aaron');
    await form.getByLabel('Last name').fill('Abbott');
    await form.getByLabel('Display name').fill('Aaron Abbott');
    await form.getByLabel('Username').fill('aaron.abbott');
    await form.getByLabel('Usage location').fill('US');
    expect(await form.getByRole('combobox', { name: 'Domain' }).inputValue()).toBe('@contoso.onmicrosoft.com');
    await form.getByRole('checkbox', { name: /Office 365 E3 \u2014 50 of 250 available/ }).check();
    await form.screenshot({ path: join(OUTPUT, 'playground-walk-2-add-user-form.png') });
    await button(form, 'Save').click();

    // In the personal chat the confirmation shows the temporary password.
    const created = cardWith(page, 'User created');
    await created.getByText(`Aaron Abbott \u2014 ${upn}`).waitFor();
    await created.getByText('Licenses: Office 365 E3').waitFor();
    await created.getByText('The user must change this password at the next sign-in.').waitFor();
    const password = /Temporary password: (\S+)/.exec(await created.innerText())?.[1];
    expect(password).toBeDefined();
    await created.screenshot({ path: join(OUTPUT, 'playground-walk-3-user-created.png') });
    const stored = await directory.findUser('contoso', upn);
    expect(stored).toMatchObject({ displayName: 'Aaron Abbott', usageLocation: 'US', licenses: ['O365_E3'], state: 'active', mustChangePassword: true });
    expect(await directory.verifyUserPassword('contoso', stored.id, password!)).toBe(true);

    // Back to the users: 301 now, the new user first. Select it and manage its licenses.
    await button(created, 'Back to users').click();
    users = cardWith(page, 'Showing 1\u201320 of 301');
    await users.waitFor();
    await users.getByRole('checkbox', { name: newUser }).check();
    await button(users, 'Manage licenses').click();
    const manage = cardWith(page, 'Manage licenses \u2014 Contoso Ltd');
    await manage.getByText('Selected: Aaron Abbott').waitFor();
    const visio = manage.getByRole('combobox', { name: /Visio Plan 2 \u2014 10 available \u2014 held by 0 of 1/ });
    expect(await visio.inputValue()).toBe('None of the selected users have it');
    await visio.click();
    await page.getByRole('option', { name: 'All selected users have it' }).click();
    await page.getByRole('option', { name: 'All selected users have it' }).waitFor({ state: 'hidden' });
    expect(await visio.inputValue()).toBe('All selected users have it');
    await manage.screenshot({ path: join(OUTPUT, 'playground-walk-4-manage-licenses.png') });
    await button(manage, 'Save').click();

    const updated = cardWith(page, 'Licenses updated \u2014 Contoso Ltd');
    await updated.getByText(`Aaron Abbott \u2014 ${upn}`).waitFor();
    await updated.getByText('Added: Visio Plan 2. Removed: None.').waitFor();
    await updated.screenshot({ path: join(OUTPUT, 'playground-walk-5-licenses-updated.png') });
    expect((await directory.findUser('contoso', upn)).licenses).toEqual(['O365_E3', 'VISIO_P2']);

    // Delete: select, Delete, confirm.
    await button(updated, 'Back to users').click();
    users = cardWith(page, 'Showing 1\u201320 of 301');
    await users.getByRole('checkbox', { name: /Aaron Abbott \u2014 .* \u2014 Office 365 E3, Visio Plan 2/ }).check();
    await button(users, 'Delete').click();
    const confirm = cardWith(page, 'Delete 1 user? Their licenses are freed; you can restore them within 30 days.');
    await confirm.getByText(`Aaron Abbott \u2014 ${upn}`).waitFor();
    await confirm.screenshot({ path: join(OUTPUT, 'playground-walk-6-confirm-delete.png') });
    await button(confirm, 'Delete').click();

    users = cardWith(page, '1 user deleted. You can restore it from Deleted users within 30 days.');
    await users.getByText('Showing 1\u201320 of 300').waitFor();
    expect(await users.getByRole('checkbox', { name: newUser }).count()).toBe(0);
    await screenshotTop(page, users, join(OUTPUT, 'playground-walk-7-deleted.png'));
    expect((await directory.findUser('contoso', upn)).state).toBe('deleted');

    // Restore from Deleted users (1).
    await button(users, 'Deleted users (1)').click();
    const deleted = cardWith(page, 'Deleted users \u2014 Contoso Ltd');
    await deleted.getByRole('checkbox', { name: `Aaron Abbott \u2014 ${upn} \u2014 30 days left`, exact: false }).check();
    await deleted.screenshot({ path: join(OUTPUT, 'playground-walk-8-deleted-users.png') });
    await button(deleted, 'Restore').click();

    const restored = cardWith(page, 'Restore results \u2014 Contoso Ltd');
    await restored.getByText(`${upn}: restored.`).waitFor();
    await restored.getByText('Licenses given back: Office 365 E3, Visio Plan 2').waitFor();
    await restored.getByText('There are no deleted users to restore.').waitFor();
    await restored.screenshot({ path: join(OUTPUT, 'playground-walk-9-restored.png') });
    expect(await directory.findUser('contoso', upn)).toMatchObject({ state: 'active', licenses: ['O365_E3', 'VISIO_P2'] });

    // The users card has the user back, with both licenses, and no deleted user left.
    await button(restored, 'Back to users').click();
    users = cardWith(page, 'Showing 1\u201320 of 301');
    await users.getByRole('checkbox', { name: /Aaron Abbott \u2014 .* \u2014 Office 365 E3, Visio Plan 2/ }).waitFor();
    await button(users, 'Deleted users (0)').waitFor();

    expect(blocked.every((u) => !/^https?:\/\/(localhost|127\.0\.0\.1)[:/]/.test(u))).toBe(true);
    expect(playgroundOutput.join('\n')).not.toMatch(/ECONNREFUSED|Error:/);
  },
  180_000,
);
