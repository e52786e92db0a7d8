/**
 * HTTP side of the Import users dialog (the bot's own page in a Teams dialog):
 *
 *   GET  /dialogs/import?t=<token>      the page, in the agent's language; 410 with a plain explanation when the
 *                                       token is unknown, used or expired
 *   POST /dialogs/import?t=<token>&customer=<id>&name=<file name>&mode=teams|standalone[&agent=<Entra id>]
 *                                       the CSV as application/octet-stream; JSON { ok, message, uploadId? }
 *   GET  /dialogs/import.js, import.css the page's script and stylesheet
 *
 * The upload is checked as a file sent in the 1:1 chat is (a .csv or .txt name, at most 5 MB, readable CSV with known
 * columns) before the token is used, so a wrong file can be replaced in the same dialog. A refused request stores
 * nothing. Inside Teams the page hands the upload id to Teams (task/submit); outside Teams (mode=standalone) the bot
 * posts the preview into the conversation itself, right here.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type * as restify from 'restify';
import { translator, Translator } from '../../cards/i18n';
import type { DirectoryService } from '../../services/directory';
import { MAX_FILE_BYTES } from '../../services/import/csvFile';
import { DialogBinding, DialogRefusal, ImportDialogs, inspectCsvFile } from '../../services/import/dialogs';
import { isCsvName } from '../fileDownload';
import { describeFileProblem } from '../handlers/errors';
import { IMPORT_DIALOG_PATH } from '../handlers/importDialog';
import { dialogAssets, dialogAssetsState, DIALOG_BUILD_DIR, DialogAssetsMissingError } from './assets';
import { gonePage, importPage, setDialogHeaders } from './page';

export interface ImportDialogRouteDeps {
  dialogs: ImportDialogs;
  directory: DirectoryService;
  logger: Logger;
  /** Posts the upload's preview in the conversation the dialog was opened from (the page runs outside Teams). */
  postPreview(uploadId: string, binding: DialogBinding): Promise<{ posted: boolean }>;
}

/** Reading stops here: a body this much larger than allowed is not an honest CSV (the page never sends one). */
const DRAIN_LIMIT = 4 * MAX_FILE_BYTES;
const REFUSAL_KEYS: Record<DialogRefusal, 'dialog.gone' | 'dialog.wrongCustomer' | 'dialog.wrongAgent'> = {
  gone: 'dialog.gone',
  wrongCustomer: 'dialog.wrongCustomer',
  wrongAgent: 'dialog.wrongAgent',
  wrongConversation: 'dialog.wrongAgent',
};

const queryOf = (req: IncomingMessage): URLSearchParams => new URL(req.url ?? '/', 'http://dialog.invalid').searchParams;

/** A browser request has no Teams locale: its first Accept-Language preference (as the download page does). */
function browserTranslator(req: IncomingMessage): Translator {
  const language = String(req.headers['accept-language'] ?? '').split(',')[0].split(';')[0].trim();
  return translator(language || undefined);
}

/** The body, up to one byte more than allowed (the rest is read and dropped, so the client sees the answer). */
function readBody(req: IncomingMessage, max: number): Promise<{ bytes: Buffer; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let total = 0;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > DRAIN_LIMIT) {
        req.destroy();
        return;
      }
      if (kept <= max) {
        chunks.push(chunk);
        kept += chunk.length;
      }
    });
    req.on('end', () => resolve({ bytes: Buffer.concat(chunks), tooLarge: total > max }));
    req.on('close', () => total > DRAIN_LIMIT && resolve({ bytes: Buffer.alloc(0), tooLarge: true }));
    req.on('error', reject);
  });
}

export function registerImportDialogRoutes(server: restify.Server, deps: ImportDialogRouteDeps): void {
  const { dialogs, directory, logger } = deps;
  const built = dialogAssetsState();
  if (built === 'missing') logger.warn({ dir: DIALOG_BUILD_DIR }, 'the Import users dialog page is not built: run npm run build (or npm run build:dialog)');
  if (built === 'stale') logger.warn({ dir: DIALOG_BUILD_DIR }, 'the Import users dialog page is older than its sources: run npm run build:dialog');

  server.get(IMPORT_DIALOG_PATH, async (req, res) => {
    setDialogHeaders(res);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    const checked = await dialogs.check(queryOf(req).get('t') ?? '');
    if (!checked.ok) {
      res.sendRaw(410, gonePage(browserTranslator(req)));
      return;
    }
    const customer = await directory.getCustomer(checked.binding.customerId).catch(() => null);
    if (!customer) {
      res.sendRaw(410, gonePage(translator(checked.binding.locale)));
      return;
    }
    res.sendRaw(200, importPage(translator(checked.binding.locale), { customer: { id: customer.id, name: customer.name } }));
  });

  server.post(IMPORT_DIALOG_PATH, async (req, res) => {
    setDialogHeaders(res);
    const query = queryOf(req);
    const token = query.get('t') ?? '';
    const customerId = query.get('customer') ?? '';
    const agentId = query.get('agent') || undefined;
    const name = (query.get('name') ?? '').slice(0, 255);
    const mode = query.get('mode');
    const answer = (status: number, body: Record<string, unknown>) => {
      if (!req.complete) req.resume(); // an early answer: drop the rest of the body so the client can read it
      res.json(status, body);
    };
    const valid = await dialogs.check(token);
    const t = valid.ok ? translator(valid.binding.locale).t : browserTranslator(req).t;
    const log = (outcome: string, extra: Record<string, unknown> = {}) =>
      logger.info({ dialog: 'importUsers', customer: customerId.slice(0, 64), caller: valid.ok ? valid.binding.agentId : undefined, outcome, ...extra }, 'dialog upload');
    const refuse = (reason: DialogRefusal) => {
      log('refused', { reason });
      return answer(reason === 'gone' ? 410 : 403, { ok: false, message: t(REFUSAL_KEYS[reason]) });
    };

    if (!valid.ok) return refuse(valid.reason);
    const contentType = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!customerId || !name || (mode !== 'teams' && mode !== 'standalone') || contentType !== 'application/octet-stream') {
      log('badRequest');
      return answer(400, { ok: false, message: t('dialog.badRequest') });
    }
    // Made for this customer, by this agent (the page inside Teams says whom it runs for)?
    const bound = await dialogs.check(token, { customerId, agentId });
    if (!bound.ok) return refuse(bound.reason);
    if (!isCsvName(name)) {
      log('fileType');
      return answer(415, { ok: false, message: t('import.fileType', { name }) });
    }
    if (Number(req.headers['content-length'] ?? 0) > DRAIN_LIMIT) {
      res.setHeader('Connection', 'close');
      log('tooLarge');
      return answer(413, { ok: false, message: t('import.problem.tooLarge', { max: MAX_FILE_BYTES / 1024 / 1024 }) });
    }
    const body = await readBody(req, MAX_FILE_BYTES);
    if (body.tooLarge) {
      log('tooLarge');
      return answer(413, { ok: false, message: t('import.problem.tooLarge', { max: MAX_FILE_BYTES / 1024 / 1024 }) });
    }
    const inspected = inspectCsvFile(body.bytes);
    if (!inspected.ok) {
      log('fileProblem', { problem: inspected.problem.kind });
      return answer(422, { ok: false, message: describeFileProblem(t, inspected.problem) });
    }
    // The token is used now, once (a second upload with it, even at the same moment, is refused).
    const redeemed = await dialogs.redeem(token, { customerId, agentId }, { name, bytes: body.bytes });
    if (!redeemed.ok) return refuse(redeemed.reason);
    const done = (key: 'dialog.done.teams' | 'dialog.done.standalone') => t(key, { name, count: inspected.rows });
    if (mode === 'teams') {
      log('uploaded', { rows: inspected.rows });
      return answer(200, { ok: true, uploadId: redeemed.uploadId, rows: inspected.rows, message: done('dialog.done.teams') });
    }
    const posted = await deps.postPreview(redeemed.uploadId, redeemed.binding).catch((err: Error) => {
      logger.warn({ err: err.message, customer: customerId }, 'could not post the import preview from the dialog');
      return { posted: false };
    });
    log(posted.posted ? 'posted' : 'postFailed', { rows: inspected.rows });
    if (!posted.posted) return answer(502, { ok: false, message: t('dialog.postFailed', { customer: customerId }) });
    return answer(200, { ok: true, rows: inspected.rows, message: done('dialog.done.standalone') });
  });

  const asset = (kind: 'js' | 'css', type: string) => async (_req: restify.Request, res: restify.Response) => {
    const assets = await dialogAssets().catch((err: Error) => {
      if (!(err instanceof DialogAssetsMissingError)) throw err;
      logger.error({ err: err.message }, 'import dialog asset requested but not built');
      return null;
    });
    if (!assets) {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.sendRaw(503, 'The Import users dialog page is not built on this server.');
      return;
    }
    res.setHeader('Content-Type', type);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.sendRaw(200, assets[kind]);
  };
  server.get(`${IMPORT_DIALOG_PATH}.js`, asset('js', 'text/javascript; charset=utf-8'));
  server.get(`${IMPORT_DIALOG_PATH}.css`, asset('css', 'text/css; charset=utf-8'));
}
