/**
 * Build tool: bundles the Import users dialog's page (web/import-dialog/, with @microsoft/teams-js) with esbuild into
 * dist/dialogs/, where the server reads it (bot/dialogs/assets.ts). Used by `npm run build:dialog` (scripts/buildDialog.ts)
 * and by the tests' global set-up; never by the server.
 */
import { build } from 'esbuild';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DIALOG_BUILD_DIR, DIALOG_OUTPUTS, DIALOG_SOURCE_DIR, DialogAssets, TAB_OUTPUTS, TAB_SOURCE_DIR } from '../bot/dialogs/assets';

/** Bundles the page (minified, for the browsers Teams runs in) and returns the files; nothing is written. */
export async function bundleDialogAssets(): Promise<DialogAssets> {
  return bundlePage('import dialog', DIALOG_SOURCE_DIR, 'import-dialog');
}

/** The Users and licenses tab's page (web/users-tab), bundled the same way. */
export async function bundleTabAssets(): Promise<DialogAssets> {
  return bundlePage('users tab', TAB_SOURCE_DIR, 'users-tab');
}

async function bundlePage(what: string, dir: string, name: string): Promise<DialogAssets> {
  const result = await build({
    entryPoints: { [name]: path.join(dir, 'main.ts'), [`${name}-style`]: path.join(dir, 'style.css') },
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['chrome100', 'edge100', 'safari15', 'firefox100'],
    legalComments: 'eof',
    outdir: DIALOG_BUILD_DIR,
    write: false,
    logLevel: 'silent',
  });
  const file = (ext: string) => {
    const out = result.outputFiles.find((f) => f.path.endsWith(ext));
    if (!out) throw new Error(`esbuild produced no ${ext} file for the ${what}`);
    return Buffer.from(out.contents);
  };
  return { js: file('.js'), css: file('.css') };
}

/** Builds the page into dist/dialogs/ (`npm run build:dialog`). */
export async function writeDialogAssets(dir = DIALOG_BUILD_DIR): Promise<DialogAssets> {
  const [assets, tab] = await Promise.all([bundleDialogAssets(), bundleTabAssets()]);
  mkdirSync(dir, { recursive: true });
  for (const [files, outputs] of [[tab, TAB_OUTPUTS], [assets, DIALOG_OUTPUTS]] as const) {
    for (const [kind, name] of Object.entries(outputs) as Array<[keyof DialogAssets, string]>) {
      // Written aside and renamed: a server reading the folder never sees half a file.
      const target = path.join(dir, name);
      const temporary = `${target}.${process.pid}.tmp`;
      writeFileSync(temporary, files[kind]);
      renameSync(temporary, target);
    }
  }
  return assets;
}
