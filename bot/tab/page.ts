/**
 * The Users and licenses tab's HTML (content page and the configurable tab's configuration page). The texts come from
 * the bot's catalog in the agent's language (Teams fills `{locale}` in the tab's URL); the script formats them
 * (placeholders, plurals) as the catalog's formatter does. Same headers as the dialog page: CSP with frame-ancestors
 * limited to Teams' hosts, no inline script or style, no-store, no-referrer.
 */
import { catalogFor, type Translator } from '../../cards/i18n';
import type { Message } from '../../cards/i18n/format';
import { escapeHtml, htmlDocument, scriptJson } from '../dialogs/page';

/** Catalog keys the page shows (besides the ones the API answers with, already formatted). */
const PAGE_KEY_PREFIXES = ['tab.', 'users.filter', 'users.search', 'role.', 'agentRole.', 'deleted.daysLeft', 'deleted.restore', 'delete.done', 'users.empty', 'deleted.empty', 'error.internal', 'error.tryAgain'];


export function tabMessages(locale: string): Record<string, Message> {
  const catalog = catalogFor(locale) as Record<string, Message>;
  return Object.fromEntries(Object.entries(catalog).filter(([k]) => PAGE_KEY_PREFIXES.some((p) => k.startsWith(p))));
}

export interface TabPageModel {
  mode: 'content' | 'config';
  /** Where the configurable tab's content page is (PUBLIC_BASE_URL/tabs/users). */
  contentUrl: string;
}

export function tabPage(tr: Translator, model: TabPageModel): string {
  const { t, locale } = tr;
  const config = { mode: model.mode, locale, contentUrl: model.contentUrl, messages: tabMessages(locale) };
  const title = t('tab.title');
  return htmlDocument({
    locale,
    title,
    stylesheet: '/tabs/users.css',
    head: `<script type="application/json" id="tab-config">${scriptJson(config)}</script>
<script src="/tabs/users.js" defer></script>
`,
    mainAttributes: ' id="app" aria-busy="true"',
    body: `<h1 id="title">${escapeHtml(title)}</h1>
<p id="status" role="status">${escapeHtml(t('tab.loading'))}</p>`,
  });
}
