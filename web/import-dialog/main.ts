/**
 * The Import users dialog's page, bundled by esbuild (scripts/dialogBundle.ts) into dist/dialogs/import-dialog.js, which bot/dialogs/assets.ts serves.
 * No framework: the server renders the HTML with the agent's texts (bot/dialogs/page.ts); this script connects to
 * Teams, follows its theme, checks the chosen file, uploads it and hands the upload id back to Teams.
 *
 * Inside Teams: `app.initialize()`, the theme from `app.getContext()` and `registerOnThemeChangeHandler`, and after the
 * upload `dialog.url.submit({ uploadId })`: the bot's task/submit posts the preview where the button was clicked.
 * Outside Teams (a plain browser, or initialize() not done within 2 s): the same form; the bot posts the preview into
 * the conversation itself (mode=standalone) and the page says so.
 */
import { app, dialog } from '@microsoft/teams-js';

interface Texts {
  selected: string;
  chooseFile: string;
  uploading: string;
  notInTeams: string;
  failed: string;
  fileType: string;
  tooLarge: string;
}

interface Config {
  customerId: string;
  maxBytes: number;
  texts: Texts;
}

type Host = { kind: 'teams'; userId?: string; canSubmit: boolean } | { kind: 'standalone' };

export const INIT_TIMEOUT_MS = 2000;

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
};

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** Teams themes: default, dark, contrast. Without Teams the page follows the browser (prefers-color-scheme, forced colors). */
function applyTheme(theme: string | undefined): void {
  document.documentElement.dataset.theme = theme === 'dark' ? 'dark' : theme === 'contrast' ? 'contrast' : 'light';
}

async function connect(): Promise<Host> {
  try {
    await withTimeout(app.initialize(), INIT_TIMEOUT_MS);
  } catch {
    return { kind: 'standalone' };
  }
  let userId: string | undefined;
  try {
    const context = await withTimeout(app.getContext(), INIT_TIMEOUT_MS);
    applyTheme(context.app.theme);
    userId = context.user?.id;
  } catch {
    // The page still works with the default theme.
  }
  app.registerOnThemeChangeHandler(applyTheme);
  app.notifySuccess();
  return { kind: 'teams', userId, canSubmit: dialog.url.isSupported() };
}

interface UploadResult {
  ok: boolean;
  message?: string;
  uploadId?: string;
}

/** POSTs the file as it is (no form encoding); any failure, including the network's, is a result with ok: false. */
async function send(params: URLSearchParams, file: File): Promise<UploadResult> {
  try {
    const response = await fetch(`import?${params.toString()}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: file,
      credentials: 'omit',
      cache: 'no-store',
    });
    const body = (await response.json().catch(() => null)) as UploadResult | null;
    return { ok: response.ok && body?.ok === true, message: body?.message, uploadId: body?.uploadId };
  } catch {
    return { ok: false };
  }
}

const isCsvName = (name: string): boolean => /\.(csv|txt)$/i.test(name.trim());

function start(): void {
  const config = JSON.parse($('dialog-config').textContent ?? '{}') as Config;
  const { texts } = config;
  const token = new URLSearchParams(location.search).get('t') ?? '';
  const form = $<HTMLFormElement>('upload-form');
  const input = $<HTMLInputElement>('file');
  const drop = $('drop-zone');
  const chosenName = $('file-name');
  const error = $('error');
  const status = $('host-status');
  const button = $<HTMLButtonElement>('upload');
  const done = $('done');
  const doneText = $('done-text');
  let chosen: File | undefined;

  const hostReady = connect().then((host) => {
    document.body.dataset.host = host.kind;
    status.textContent = host.kind === 'teams' ? '' : texts.notInTeams;
    status.hidden = host.kind === 'teams';
    return host;
  });

  const showError = (message: string): void => {
    error.textContent = message;
    error.hidden = false;
  };
  const clearError = (): void => {
    error.textContent = '';
    error.hidden = true;
  };
  const choose = (file: File | undefined): void => {
    chosen = file;
    clearError();
    chosenName.textContent = file ? texts.selected.replace('{name}', file.name) : '';
    if (file && !isCsvName(file.name)) showError(texts.fileType.replace('{name}', file.name));
    else if (file && file.size > config.maxBytes) showError(texts.tooLarge);
  };

  input.addEventListener('change', () => choose(input.files?.[0]));

  // Drag and drop onto the box; a file dropped elsewhere must not make the browser leave the page.
  for (const type of ['dragover', 'drop']) document.addEventListener(type, (e) => e.preventDefault());
  drop.addEventListener('dragenter', () => drop.classList.add('dragging'));
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    drop.classList.add('dragging');
  });
  drop.addEventListener('dragleave', (e) => {
    if (!drop.contains(e.relatedTarget as Node | null)) drop.classList.remove('dragging');
  });
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('dragging');
    const files = e.dataTransfer?.files;
    if (!files?.length) return;
    try {
      input.files = files; // the input shows the dropped file's name, as if it had been picked
    } catch {
      // Older browsers cannot set files; the page still uploads the dropped one.
    }
    choose(files[0]);
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void upload();
  });

  async function upload(): Promise<void> {
    const file = chosen ?? input.files?.[0];
    if (!file) {
      showError(texts.chooseFile);
      input.focus();
      return;
    }
    if (!isCsvName(file.name)) return showError(texts.fileType.replace('{name}', file.name));
    if (file.size > config.maxBytes) return showError(texts.tooLarge);
    clearError();
    button.disabled = true;
    form.setAttribute('aria-busy', 'true');
    const previousLabel = button.textContent;
    button.textContent = texts.uploading;
    try {
      const host = await hostReady;
      const mode = host.kind === 'teams' && host.canSubmit ? 'teams' : 'standalone';
      const params = new URLSearchParams({ t: token, customer: config.customerId, name: file.name, mode });
      if (host.kind === 'teams' && host.userId) params.set('agent', host.userId);
      const result = await send(params, file);
      if (!result.ok) return showError(result.message ?? texts.failed);
      form.hidden = true;
      status.hidden = true;
      doneText.textContent = result.message ?? '';
      done.hidden = false;
      done.focus();
      // Inside Teams: only the upload id goes back; the bot's task/submit posts the preview and the dialog closes.
      if (mode === 'teams' && result.uploadId) dialog.url.submit({ uploadId: result.uploadId });
    } finally {
      button.disabled = false;
      form.removeAttribute('aria-busy');
      button.textContent = previousLabel;
    }
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
