// The ES module side of test/support/productionInstall.cjs: dev-only packages are not found; loads are recorded.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

let hidden = [];
let file;
export function initialize(data) {
  hidden = data.devOnly.map((key) => join(data.root, key) + '/');
  file = data.file;
}
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (!result.url.startsWith('file:')) return result;
  const path = fileURLToPath(result.url);
  const devPackage = hidden.find((dir) => path.startsWith(dir));
  if (devPackage) {
    appendFileSync(file, `hidden ${devPackage} ${context.parentURL ?? '?'}\n`);
    const err = new Error(`Cannot find package '${specifier}' (a dev-only package: npm ci --omit=dev does not install it)`);
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  appendFileSync(file, `loaded ${path}\n`);
  return result;
}
