/**
 * The dependency check (`npm run check:deps`, the first step of `npm test`): knip reports a package that is listed
 * but not used, or used but not listed. It runs twice: over everything (product, tests, scripts, bench, the dialog
 * page), and with --production --strict over the product alone (the `!` patterns), where an import of a devDependency
 * counts as unlisted: whatever `node dist/bot/index.js` loads must be in `dependencies`, which is all that
 * `npm ci --omit=dev` installs.
 */
import type { KnipConfig } from 'knip';

const production = process.argv.includes('--production') || process.argv.includes('--strict');

const config: KnipConfig = {
  entry: [
    'scripts/*.ts',
    'bench/*.ts',
    // Browser code, bundled by esbuild at build time (scripts/dialogBundle.ts): not loaded by the server.
    'web/import-dialog/main.ts',
  ],
  project: ['bot/**/*.ts!', 'cards/**/*.ts!', 'services/**/*.ts!', 'scripts/**/*.ts', 'bench/**/*.ts', 'web/**/*.ts', 'test/**/*.ts'],
  ignoreDependencies: [
    // @microsoft/app-manifest (npm run package, test/manifest.test.ts) requires fs-extra without declaring it.
    'fs-extra',
    // Not ours: two tests replace @microsoft/app-manifest's own dependency strip-bom (an ES module Jest cannot load)
    // with jest.mock('strip-bom', …); nothing of ours imports it.
    'strip-bom',
  ],
  ignoreBinaries: [
    // A system program the tests start (Debian's redis-server package), not an npm package.
    'redis-server',
    // Production run only: knip counts the `start` script as production, and `npm start` (the embedded demo, after
    // `npm ci`, which installs devDependencies) runs the sources with tsx, a devDependency on purpose. Production
    // starts from the build without it: `npm run start:prod` (node dist/bot/index.js), tested in
    // test/ops/builtStart.test.ts.
    ...(production ? ['tsx'] : []),
  ],
};

export default config;
