/** `npm start` with DIRECTORY_BACKEND=graph and no Azure settings stops at start-up with one line naming what is missing. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

it('fails at start-up with one line naming every missing Graph setting, and a non-zero exit', async () => {
  const child = spawn(process.execPath, [join(__dirname, '../../node_modules/tsx/dist/cli.mjs'), join(__dirname, '../../bot/index.ts')], {
    env: { PATH: process.env.PATH, DIRECTORY_BACKEND: 'graph' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  expect(code).not.toBe(0);
  expect(stdout).toBe('');
  expect(stderr.trim().split('\n')).toEqual([
    'Invalid setting DIRECTORY_BACKEND: graph requires AZURE_CLIENT_ID (or MicrosoftAppId), AZURE_CLIENT_SECRET (or MicrosoftAppPassword), PARTNER_TENANT_ID, OAUTH_CONNECTION_NAME, which are not set',
  ]);
});
