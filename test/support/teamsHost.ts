/**
 * A stand-in for the Teams web client at https://teams.microsoft.com (served by Playwright, never fetched) that frames
 * the users tab and answers @microsoft/teams-js over postMessage as Teams does for a personal tab: initialize (content
 * frame), getContext (locale, theme, the deep link's subEntityId), authentication.getAuthToken and theme changes. The
 * bot is "published" at https://bot.contoso.test and answered from localhost; every other request is aborted.
 * Used by the browser test (test/e2e/usersTab.test.ts) and the benchmark's first-render row (bench/tabBrowser.ts).
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

/** The stand-in Teams web client's page. */
function teamsHostPage(tabUrl: string, who: HostIdentity, o: HostOptions): string {
  const context = {
    locale: o.locale ?? 'en-us',
    theme: o.theme ?? 'default',
    userObjectId: who.oid,
    tid: who.tid,
    entityId: 'users',
    subEntityId: o.subEntityId ?? '',
    hostClientType: 'web',
    frameContext: 'content',
    hostName: 'Teams',
    appSessionId: 'app-session',
    sessionId: 'session',
  };
  const runtime = { apiVersion: 4, supports: { app: {}, appInitialization: {}, authentication: {}, pages: { config: {}, tabs: {} }, teamsCore: {} } };
  const token = o.token === undefined ? null : o.token;
  return `<!doctype html><html><head><title>Teams (stand-in)</title></head><body style="margin:0">
<iframe id="tab" title="Users and licenses" src="${tabUrl}" style="border:0;width:1100px;height:760px"></iframe>
<script>
  const frame = document.getElementById('tab');
  window.messages = [];
  window.addEventListener('message', (event) => {
    if (event.source !== frame.contentWindow) return;
    const m = typeof event.data === 'string' ? JSON.parse(event.data) : event.data;
    if (!m || typeof m.func !== 'string') return;
    window.messages.push(m.func);
    const reply = (args) => frame.contentWindow.postMessage({ id: m.id, uuid: m.uuid, args }, '*');
    if (m.func === 'initialize') reply(['content', 'web', ${JSON.stringify(JSON.stringify(runtime))}, '2.58.0']);
    else if (m.func === 'getContext') reply([${JSON.stringify(context)}]);
    else if (m.func === 'authentication.getAuthToken') reply(${JSON.stringify(token)} ? [true, ${JSON.stringify(token)}] : [false, 'resourceDisabled']);
    else reply([]);
  });
  window.changeTheme = (theme) => frame.contentWindow.postMessage({ func: 'themeChange', args: [theme] }, '*');
</script></body></html>`;
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
  await context.route(`${PUBLISHED}/**`, async (route) => {
    const response = await route.fetch({ url: route.request().url().replace(PUBLISHED, botUrl) });
    await route.fulfill({ response });
  });
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
