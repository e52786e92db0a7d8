/**
 * The dialog page's script and stylesheet, as the server serves them: web/import-dialog/{main.ts,style.css} bundled
 * (with @microsoft/teams-js) into dist/dialogs/ at build time by `npm run build:dialog` (part of `npm run build`; npm
 * runs it before `start`, `test` and `playground`; the bundler is scripts/dialogBundle.ts). The server only reads the
 * built files, so a production installation needs neither esbuild nor the page's sources.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { DIALOG_BUILD_DIR, DIALOG_SOURCE_DIR, TAB_SOURCE_DIR } from '../paths';

export { DIALOG_BUILD_DIR, DIALOG_SOURCE_DIR, TAB_SOURCE_DIR };
export const DIALOG_SOURCES = ['main.ts', 'style.css'].map((f) => path.join(DIALOG_SOURCE_DIR, f));
export const DIALOG_OUTPUTS = { js: 'import-dialog.js', css: 'import-dialog.css' } as const;
/** The Users and licenses tab's page (web/users-tab), built by the same step into the same folder. */
export const TAB_SOURCES = ['main.ts', 'table.ts', 'api.ts', 'style.css'].map((f) => path.join(TAB_SOURCE_DIR, f));
export const TAB_OUTPUTS = { js: 'users-tab.js', css: 'users-tab.css' } as const;
/** Bundled into both pages' stylesheets. */
const SHARED_SOURCES = [path.join(DIALOG_SOURCE_DIR, '..', 'shared', 'teams-theme.css')];

export interface DialogAssets {
  js: Buffer;
  css: Buffer;
}

export class DialogAssetsMissingError extends Error {
  constructor(dir: string) {
    super(`the Import users dialog page is not built (no ${Object.values(DIALOG_OUTPUTS).join(' / ')} in ${dir}): run npm run build (or npm run build:dialog)`);
    this.name = 'DialogAssetsMissingError';
  }
}

/**
 * `missing`: not built; `stale`: built, but the sources beside it (a checkout, not a production image) are newer;
 * `current` otherwise.
 */
export function dialogAssetsState(dir = DIALOG_BUILD_DIR): 'missing' | 'stale' | 'current' {
  const outputs = [...Object.values(DIALOG_OUTPUTS), ...Object.values(TAB_OUTPUTS)].map((n) => path.join(dir, n));
  if (!outputs.every((f) => existsSync(f))) return 'missing';
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  return [...DIALOG_SOURCES, ...TAB_SOURCES, ...SHARED_SOURCES].every((f) => !existsSync(f) || statSync(f).mtimeMs <= built) ? 'current' : 'stale';
}

let loaded: DialogAssets | undefined;

/** The page's files for serving, read once from dist/dialogs/; a DialogAssetsMissingError when they are not built. */
export async function dialogAssets(): Promise<DialogAssets> {
  if (loaded) return loaded;
  const file = (name: string) => path.join(DIALOG_BUILD_DIR, name);
  if (dialogAssetsState() === 'missing') throw new DialogAssetsMissingError(DIALOG_BUILD_DIR);
  loaded = { js: readFileSync(file(DIALOG_OUTPUTS.js)), css: readFileSync(file(DIALOG_OUTPUTS.css)) };
  return loaded;
}

let tabLoaded: DialogAssets | undefined;

/** The tab page's files for serving, read once from dist/dialogs/; a DialogAssetsMissingError when they are not built. */
export async function tabAssets(): Promise<DialogAssets> {
  if (tabLoaded) return tabLoaded;
  const file = (name: string) => path.join(DIALOG_BUILD_DIR, name);
  if (!Object.values(TAB_OUTPUTS).every((n) => existsSync(file(n)))) throw new DialogAssetsMissingError(DIALOG_BUILD_DIR);
  tabLoaded = { js: readFileSync(file(TAB_OUTPUTS.js)), css: readFileSync(file(TAB_OUTPUTS.css)) };
  return tabLoaded;
}
