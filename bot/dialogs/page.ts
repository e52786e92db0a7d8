import type { Translator } from '../../cards/i18n';
import { MAX_FILE_BYTES } from '../../services/import/csvFile';

/**
 * The Import users dialog's HTML, rendered with the agent's texts (the language of the Teams client that opened it),
 * and the response headers every dialog response carries.
 */

/**
 * Hosts allowed to frame the page: Teams (web, desktop, the cloud.microsoft domains Microsoft 365 is moving to), the
 * Microsoft 365 app and Outlook, as Microsoft's tab requirements list them. X-Frame-Options cannot express an
 * allow-list (ALLOW-FROM is obsolete), so the page sends no X-Frame-Options and relies on frame-ancestors.
 */
export const FRAME_ANCESTORS = [
  'https://teams.microsoft.com',
  'https://*.teams.microsoft.com',
  'https://teams.cloud.microsoft',
  'https://*.cloud.microsoft',
  'https://*.skype.com',
  'https://*.microsoft365.com',
  'https://*.office.com',
  'https://outlook.office.com',
  'https://outlook.office365.com',
] as const;

/**
 * Where @microsoft/teams-js fetches the current list of Microsoft hosts it accepts messages from (it falls back to the
 * list it ships with when the fetch fails): the one origin the page may contact besides the bot.
 */
export const TEAMS_JS_ORIGINS_CDN = 'https://res.cdn.office.net';

/** Only the page's own script, stylesheet and upload; no inline code, no other origin; framed only by Teams' hosts. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  `connect-src 'self' ${TEAMS_JS_ORIGINS_CDN}`,
  "form-action 'self'",
  "base-uri 'none'",
  `frame-ancestors ${FRAME_ANCESTORS.join(' ')}`,
].join('; ');

export interface HeaderTarget {
  setHeader(name: string, value: string): unknown;
}

/** Headers of the page and of the upload's answers. The token is in the URL: it must not leak to caches or referrers. */
export function setDialogHeaders(res: HeaderTarget): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);

/** JSON inside <script type="application/json">: nothing in it can close the element or start markup. */
export const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');

const htmlLang = (locale: string): string => (/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(locale) ? locale : 'en');

/** The bot's own pages (the Import users dialog, the Users and licenses tab): one document shape, no inline code. */
export function htmlDocument(page: { locale: string; title: string; stylesheet: string; body: string; head?: string; mainAttributes?: string }): string {
  return `<!doctype html>
<html lang="${escapeHtml(htmlLang(page.locale))}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(page.title)}</title>
<link rel="stylesheet" href="${escapeHtml(page.stylesheet)}">
${page.head ?? ''}</head>
<body>
<main${page.mainAttributes ?? ''}>
${page.body}
</main>
</body>
</html>
`;
}

const document = (locale: string, title: string, body: string, head = ''): string => htmlDocument({ locale, title, stylesheet: 'import.css', body, head });

export interface ImportPageModel {
  customer: { id: string; name: string };
}

/** The upload form. Every control is labelled; the script reads its texts from the JSON block (CSP allows no inline script). */
export function importPage({ t, locale }: Translator, model: ImportPageModel): string {
  const maxMb = MAX_FILE_BYTES / 1024 / 1024;
  const config = {
    customerId: model.customer.id,
    maxBytes: MAX_FILE_BYTES,
    texts: {
      selected: t('dialog.selected', { name: '{name}' }),
      chooseFile: t('dialog.chooseFile'),
      uploading: t('dialog.uploading'),
      notInTeams: t('dialog.notInTeams'),
      failed: t('dialog.failed'),
      fileType: t('import.fileType', { name: '{name}' }),
      tooLarge: t('import.problem.tooLarge', { max: maxMb }),
    },
  };
  const title = t('dialog.title', { customer: model.customer.name });
  const head = `<script type="application/json" id="dialog-config">${scriptJson(config)}</script>
<script src="import.js" defer></script>
`;
  const body = `<h1>${escapeHtml(title)}</h1>
<p class="intro">${escapeHtml(t('dialog.intro'))}</p>
<p id="host-status" class="status" role="status">${escapeHtml(t('dialog.connecting'))}</p>
<form id="upload-form" novalidate>
  <div id="drop-zone" class="drop-zone">
    <label for="file">${escapeHtml(t('dialog.file'))}</label>
    <input id="file" name="file" type="file" accept=".csv,.txt,text/csv" aria-describedby="file-hint file-name">
    <p id="file-hint" class="hint">${escapeHtml(t('dialog.fileHint', { max: maxMb }))}</p>
    <p id="file-name" class="file-name" aria-live="polite"></p>
  </div>
  <p id="error" class="error" role="alert" hidden></p>
  <div class="buttons">
    <button type="submit" id="upload" class="primary">${escapeHtml(t('dialog.upload'))}</button>
  </div>
</form>
<section id="done" class="done" tabindex="-1" aria-labelledby="done-title" hidden>
  <h2 id="done-title">${escapeHtml(t('dialog.done'))}</h2>
  <p id="done-text"></p>
</section>`;
  return document(locale, title, body, head);
}

/** The page for a token that is unknown, used or expired: what happened and what to do, nothing else. */
export function gonePage({ t, locale }: Translator): string {
  return document(locale, t('dialog.goneTitle'), `<h1>${escapeHtml(t('dialog.goneTitle'))}</h1>
<p class="error" role="alert">${escapeHtml(t('dialog.gone'))}</p>`);
}
