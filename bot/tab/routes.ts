/**
 * HTTP side of the Users and licenses tab:
 *
 *   GET /tabs/users?locale=<Teams locale>          the page (personal tab, and the content of a channel/chat tab)
 *   GET /tabs/users/config?locale=<Teams locale>   the configurable tab's configuration page
 *   GET /tabs/users.js, /tabs/users.css            its script and stylesheet (web/users-tab, bundled into dist/dialogs/)
 *   /api/tab/…                                     its JSON API (./api.ts)
 *
 * The page itself holds nothing secret: every datum comes from the API, which answers only to a verified Teams SSO token.
 */
import type { Logger } from 'pino';
import type * as restify from 'restify';
import { translator } from '../../cards/i18n';
import { DialogAssetsMissingError, tabAssets } from '../dialogs/assets';
import { setDialogHeaders } from '../dialogs/page';
import { registerTabApi, TabApiDeps } from './api';
import { tabPage } from './page';

export const TAB_PATH = '/tabs/users';

export interface TabRouteDeps extends TabApiDeps {
  logger: Logger;
  publicBaseUrl: string;
}

export function registerTabRoutes(server: restify.Server, deps: TabRouteDeps): void {
  const locale = (req: restify.Request): string | undefined => {
    const fromTeams = new URL(req.url ?? '/', 'http://tab.invalid').searchParams.get('locale');
    const browser = String(req.headers['accept-language'] ?? '').split(',')[0].split(';')[0].trim();
    return (fromTeams && /^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$/.test(fromTeams) ? fromTeams : browser) || undefined;
  };
  const page = (mode: 'content' | 'config') => async (req: restify.Request, res: restify.Response) => {
    setDialogHeaders(res);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.sendRaw(200, tabPage(translator(locale(req)), { mode, contentUrl: `${deps.publicBaseUrl}${TAB_PATH}` }));
  };
  server.get(TAB_PATH, page('content'));
  server.get(`${TAB_PATH}/config`, page('config'));

  const asset = (kind: 'js' | 'css', type: string) => async (_req: restify.Request, res: restify.Response) => {
    const assets = await tabAssets().catch((err: Error) => {
      if (!(err instanceof DialogAssetsMissingError)) throw err;
      deps.logger.error({ err: err.message }, 'users tab asset requested but not built');
      return null;
    });
    if (!assets) {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.sendRaw(503, 'The Users and licenses tab is not built on this server.');
      return;
    }
    res.setHeader('Content-Type', type);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.sendRaw(200, assets[kind]);
  };
  server.get(`${TAB_PATH}.js`, asset('js', 'text/javascript; charset=utf-8'));
  server.get(`${TAB_PATH}.css`, asset('css', 'text/css; charset=utf-8'));

  registerTabApi(server, deps);
}
