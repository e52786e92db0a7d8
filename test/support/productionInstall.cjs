/**
 * Preloaded (`node --require test/support/productionInstall.cjs …`) by test/ops/builtStart.test.ts. Makes the process
 * see the project's node_modules as `npm ci --omit=dev` installs it: a package that package-lock.json marks `dev`
 * (needed only by devDependencies) is not found, for CommonJS require() and ES module import() alike, exactly as if it
 * were absent; a hard dependency on one fails the start, an optional one (require in a try) is skipped.
 *
 * Environment: PRODUCTION_INSTALL_ROOT (the project folder, holding package-lock.json) and LOAD_RECORD_FILE, where the
 * files the process loaded and the dev-only packages it asked for are written, one a line, when it exits
 * (`loaded <file>`, `hidden <package> <requested by>`).
 */
'use strict';
const Module = require('node:module');
const { readFileSync, writeFileSync } = require('node:fs');
const { isAbsolute, join, relative, sep } = require('node:path');
const { pathToFileURL } = require('node:url');

const root = process.env.PRODUCTION_INSTALL_ROOT;
const out = process.env.LOAD_RECORD_FILE;
if (!root || !out) throw new Error('productionInstall: PRODUCTION_INSTALL_ROOT and LOAD_RECORD_FILE must be set');
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const devOnly = Object.keys(lock.packages).filter((key) => key && lock.packages[key].dev);

/** The package-lock.json key of the installed package a file belongs to (node_modules/@scope/name/…), if any. */
function lockKeyOf(file) {
  const parts = relative(root, file).split(sep);
  const last = parts.lastIndexOf('node_modules');
  if (last < 0 || parts[0] === '..') return undefined;
  return parts.slice(0, last + 2 + (parts[last + 1].startsWith('@') ? 1 : 0)).join('/');
}

const lines = new Set();
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const file = resolveFilename.call(this, request, parent, ...rest);
  if (!isAbsolute(file)) return file; // a built-in module
  const key = lockKeyOf(file);
  if (key && lock.packages[key]?.dev) {
    lines.add(`hidden ${key} ${parent?.filename ?? '?'}`);
    const err = new Error(`Cannot find module '${request}' (a dev-only package: npm ci --omit=dev does not install it)`);
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  }
  lines.add(`loaded ${file}`);
  return file;
};
// ES modules resolve on the loader's own thread; its hooks append to `${out}.esm`.
Module.register(pathToFileURL(join(__dirname, 'productionInstallHooks.mjs')), { data: { root, devOnly, file: `${out}.esm` } });
process.on('exit', () => writeFileSync(out, [...lines].join('\n') + '\n'));
