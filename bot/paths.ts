/**
 * Where the project's non-TypeScript files are, for code that runs from the sources (`tsx bot/index.ts`) and from the
 * built output (`node dist/bot/index.js`) alike: relative to `__dirname` they differ (`bot/` vs `dist/bot/`), so every
 * such path is resolved from the project root — the nearest folder above this file that holds `package.json`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${start}: cannot locate the project's files`);
  }
}

export const PROJECT_ROOT = findProjectRoot(__dirname);

/** The demo provisioning file the embedded store loads (`data/demo.json`). */
export const DEMO_DATA_FILE = path.join(PROJECT_ROOT, 'data', 'demo.json');

/** The Import users dialog's built script and stylesheet (`npm run build:dialog`, also part of `npm run build`). */
export const DIALOG_BUILD_DIR = path.join(PROJECT_ROOT, 'dist', 'dialogs');

/** The dialog page's sources (browser code, bundled at build time; absent from a production image). */
export const DIALOG_SOURCE_DIR = path.join(PROJECT_ROOT, 'web', 'import-dialog');

/** The Users and licenses tab's page sources (bundled into DIALOG_BUILD_DIR beside the dialog's). */
export const TAB_SOURCE_DIR = path.join(PROJECT_ROOT, 'web', 'users-tab');
