/**
 * The dialog page's script and stylesheet: web/import-dialog/{main.ts,style.css} bundled by esbuild (with
 * @microsoft/teams-js) into dist/dialogs/. `npm run build:dialog` writes them (npm runs it before `start`, `test`
 * and `playground`); the server reads them from there, and builds them itself (in memory, saved when it can) when they
 * are missing or older than their sources, so a server started any other way serves the current page too.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
export const DIALOG_SOURCE_DIR = path.join(ROOT, 'web', 'import-dialog');
export const DIALOG_BUILD_DIR = path.join(ROOT, 'dist', 'dialogs');
const SOURCES = ['main.ts', 'style.css'].map((f) => path.join(DIALOG_SOURCE_DIR, f));
const OUTPUTS = { js: 'import-dialog.js', css: 'import-dialog.css' } as const;

export interface DialogAssets {
  js: Buffer;
  css: Buffer;
}

/** Bundles the page (minified, for the browsers Teams runs in) and returns the files; nothing is written. */
export async function bundleDialogAssets(): Promise<DialogAssets> {
  // Loaded on demand: a server that finds the built files never starts esbuild.
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: { 'import-dialog': path.join(DIALOG_SOURCE_DIR, 'main.ts'), 'import-dialog-style': path.join(DIALOG_SOURCE_DIR, 'style.css') },
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
    if (!out) throw new Error(`esbuild produced no ${ext} file for the import dialog`);
    return Buffer.from(out.contents);
  };
  return { js: file('.js'), css: file('.css') };
}

/** Builds the page into dist/dialogs/ (`npm run build:dialog`). */
export async function writeDialogAssets(dir = DIALOG_BUILD_DIR): Promise<DialogAssets> {
  const assets = await bundleDialogAssets();
  mkdirSync(dir, { recursive: true });
  for (const [kind, name] of Object.entries(OUTPUTS) as Array<[keyof DialogAssets, string]>) {
    // Written aside and renamed: a server reading the folder never sees half a file.
    const target = path.join(dir, name);
    const temporary = `${target}.${process.pid}.tmp`;
    writeFileSync(temporary, assets[kind]);
    renameSync(temporary, target);
  }
  return assets;
}

function builtAndCurrent(dir: string): boolean {
  const outputs = Object.values(OUTPUTS).map((n) => path.join(dir, n));
  if (!outputs.every((f) => existsSync(f))) return false;
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  return SOURCES.every((f) => !existsSync(f) || statSync(f).mtimeMs <= built);
}

let loading: Promise<DialogAssets> | undefined;

/** The page's files for serving: read once from dist/dialogs/, or built when missing or stale. */
export function dialogAssets(): Promise<DialogAssets> {
  loading ??= (async () => {
    if (builtAndCurrent(DIALOG_BUILD_DIR)) {
      return { js: readFileSync(path.join(DIALOG_BUILD_DIR, OUTPUTS.js)), css: readFileSync(path.join(DIALOG_BUILD_DIR, OUTPUTS.css)) };
    }
    try {
      return await writeDialogAssets();
    } catch {
      return bundleDialogAssets(); // a read-only installation: serve from memory
    }
  })();
  loading.catch(() => (loading = undefined)); // a failed build is tried again at the next request
  return loading;
}
