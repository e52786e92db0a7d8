/**
 * A stand-in for the Teams web client at https://teams.microsoft.com (served by Playwright, never fetched) that frames
 * the users tab or the import dialog and answers @microsoft/teams-js over postMessage as Teams does for a personal tab
 * or a URL dialog: initialize (content or task frame), getContext (locale, theme, the deep link's subEntityId),
 * authentication.getAuthToken, tasks.completeTask and theme changes. The bot is "published" at
 * https://bot.contoso.test and answered from localhost; every other request is aborted. Used by the browser tests
 * (test/e2e/) and the benchmark's tab row (bench/tabBrowser.ts).
 */
import type { Browser, BrowserContext, FrameLocator, Page } from 'playwright-core';

export const PUBLISHED = 'https://bot.contoso.test';

export interface HostOptions {
  token?: string;
  locale?: string;
  theme?: string;
  subEntityId?: string;
}

export interface HostIdentity {
  /** The agent's object id and tenant as Teams' context names them. */
  oid: string;
  tid: string;
}

/** What the stand-in frames: the users tab (a personal tab's content frame) or the import dialog (a URL dialog). */
export type HostedFrame = 'tab' | 'dialog';

const FRAMES = {
  tab: { id: 'tab', title: 'Users and licenses', style: 'width:1100px;height:760px', frameContext: 'content', supports: { app: {}, appInitialization: {}, authentication: {}, pages: { config: {}, tabs: {} }, teamsCore: {} } },
  dialog: { id: 'dialog', title: 'Import users', style: 'width:600px;height:540px', frameContext: 'task', supports: { app: {}, appInitialization: {}, dialog: { url: {}, update: {} }, pages: {} } },
} as const;

/**
 * The stand-in Teams web client's page: frames `src` and answers teams-js; `window.submitted` records what a dialog
 * submits (tasks.completeTask), `window.changeTheme(theme)` sends a theme change.
 */
export function teamsHostPage(src: string, who: HostIdentity, o: HostOptions, hosted: HostedFrame = 'tab'): string {
  const frame = FRAMES[hosted];
  const context = {
    locale: o.locale ?? 'en-us',
    theme: o.theme ?? 'default',
    userObjectId: who.oid,
    tid: who.tid,
    ...(hosted === 'tab' ? { entityId: 'users', subEntityId: o.subEntityId ?? '' } : {}),
    hostClientType: 'web',
    frameContext: frame.frameContext,
    hostName: 'Teams',
    appSessionId: 'app-session',
    sessionId: 'session',
  };
  const runtime = { apiVersion: 4, supports: frame.supports };
  const token = o.token === undefined ? null : o.token;
  return `<!doctype html><html><head><title>Teams (stand-in)</title></head><body style="margin:0">
<iframe id="${frame.id}" title="${frame.title}" src="${src}" style="border:0;${frame.style}"></iframe>
<script>
  const frame = document.getElementById('${frame.id}');
  window.messages = [];
  window.submitted = [];
  window.addEventListener('message', (event) => {
    if (event.source !== frame.contentWindow) return;
    const m = typeof event.data === 'string' ? JSON.parse(event.data) : event.data;
    if (!m || typeof m.func !== 'string') return;
    window.messages.push(m.func);
    const reply = (args) => frame.contentWindow.postMessage({ id: m.id, uuid: m.uuid, args }, '*');
    if (m.func === 'initialize') reply(['${frame.frameContext}', 'web', ${JSON.stringify(JSON.stringify(runtime))}, '2.58.0']);
    else if (m.func === 'getContext') reply([${JSON.stringify(context)}]);
    else if (m.func === 'authentication.getAuthToken') reply(${JSON.stringify(token)} ? [true, ${JSON.stringify(token)}] : [false, 'resourceDisabled']);
    else if (m.func === 'tasks.completeTask') { window.submitted.push(m.args); reply([]); }
    else reply([]);
  });
  window.changeTheme = (theme) => frame.contentWindow.postMessage({ func: 'themeChange', args: [theme] }, '*');
</script></body></html>`;
}

/** Requests to the published bot (page, script, API with its headers and body) go to the bot at `botUrl`. */
export async function publishBot(context: BrowserContext, botUrl: string): Promise<void> {
  await context.route(`${PUBLISHED}/**`, async (route) => {
    const response = await route.fetch({ url: route.request().url().replace(PUBLISHED, botUrl) });
    await route.fulfill({ response });
  });
}

/**
 * A fresh browser context whose requests to the published bot go to `botUrl` (page, script, API with its headers and
 * body); every other non-localhost request is aborted and recorded in `blocked`.
 */
export async function teamsContext(browser: Browser, botUrl: string, record: { blocked: string[]; consoleErrors: string[] }, timeoutMs: number): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1120, height: 780 }, colorScheme: 'light', locale: 'en-US' });
  context.setDefaultTimeout(timeoutMs);
  await context.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === 'localhost' || host === '127.0.0.1') return route.continue();
    record.blocked.push(route.request().url());
    return route.abort();
  });
  await publishBot(context, botUrl);
  const page = await context.newPage();
  page.on('console', (m) => m.type() === 'error' && record.consoleErrors.push(m.text()));
  page.on('pageerror', (e) => record.consoleErrors.push(e.message));
  return { context, page };
}

/** Opens the stand-in Teams client with the tab in its frame; the tab's frame. */
export async function openInTeams(page: Page, who: HostIdentity, o: HostOptions, path = '/tabs/users?locale=en-US'): Promise<FrameLocator> {
  await page.context().route('https://teams.microsoft.com/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: teamsHostPage(`${PUBLISHED}${path}`, who, o) }));
  await page.goto('https://teams.microsoft.com/_#/apps/users');
  return page.frameLocator('#tab');
}
