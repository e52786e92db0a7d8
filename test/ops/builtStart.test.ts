/**
 * The production path (README, Deploying): `npm run build` compiles once into dist/, and `node dist/bot/index.js`
 * starts from the built output with no TypeScript toolchain at run time. This runs exactly that: the build, then the
 * built entry point as a child process (embedded store, local mode, 127.0.0.1 and a free port), started from another
 * working directory so that nothing depends on where it is started from. It answers the health check, a typed command
 * (through a fake connector) and the dialog page's script from dist/dialogs; SIGTERM stops it with exit code 0.
 *
 * The process sees node_modules as `npm ci --omit=dev` installs it (test/support/productionInstall.cjs): every package
 * that package-lock.json marks dev-only — typescript, tsx, esbuild, ts-jest, adaptivecards, … — is not found. The files
 * it loaded are recorded and checked: the project's own are all compiled JavaScript under dist/, and it never even
 * asked for a TypeScript toolchain or a bundler.
 */
import { ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { Agent, BotClient, cardOf, visibleText } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { freePort } from '../support/redisServer';

const ROOT = join(__dirname, '..', '..');
const ENTRY = join(ROOT, 'dist', 'bot', 'index.js');
const PRODUCTION_INSTALL = join(__dirname, '..', 'support', 'productionInstall.cjs');
const AGENT: Agent = { id: '29:1built-start', aadObjectId: '7d4c3b2a-1f0e-4d9c-8b7a-6e5f4d3c2b1a', name: 'Built Start' };

/** Polls (no fixed wait) until `accept` holds; fails early when the child has exited. */
async function pollUntil<T>(probe: () => Promise<T>, accept: (v: T) => boolean, deadlineMs: number, child: ChildProcessWithoutNullStreams, output: () => string): Promise<T> {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the built bot exited with ${child.exitCode} while starting:\n${output()}`);
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() - started > deadlineMs) throw new Error(`condition not reached within ${deadlineMs} ms (last: ${JSON.stringify(value)}):\n${output()}`);
    await new Promise<void>((r) => setTimeout(r, 25)); // the polling interval
  }
}

/** The package-lock.json key of the installed package a file belongs to, e.g. node_modules/@azure/identity. */
function lockKeyOf(file: string): string {
  const parts = relative(ROOT, file).split(sep);
  const last = parts.lastIndexOf('node_modules');
  const nameParts = parts[last + 1].startsWith('@') ? 2 : 1;
  return parts.slice(0, last + 1 + nameParts).join('/');
}

const TOOLCHAIN = ['typescript', 'tsx', 'ts-node', 'esbuild', 'ts-jest'];

describe('the built output starts without a TypeScript toolchain: npm run build, then node dist/bot/index.js', () => {
  let workDir: string;
  let connector: FakeConnector;
  let child: ChildProcessWithoutNullStreams;
  let output = '';
  let exited: Promise<number | null>;
  let botUrl: string;

  beforeAll(async () => {
    await promisify(execFile)('npm', ['run', 'build'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    expect(existsSync(ENTRY)).toBe(true);
    workDir = mkdtempSync(join(tmpdir(), 'pab-built-'));
    connector = await startFakeConnector();
    const port = await freePort();
    // Only what the process needs: no REDIS_URL (the embedded store with the demo data), no app id (local mode).
    child = spawn(process.execPath, ['--require', PRODUCTION_INSTALL, ENTRY], {
      cwd: workDir,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        PRODUCTION_INSTALL_ROOT: ROOT,
        LOAD_RECORD_FILE: join(workDir, 'loaded.txt'),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    botUrl = `http://127.0.0.1:${port}`;
  }, 180_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await connector?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('answers the health check once ready, with the embedded store and the demo data loaded from data/', async () => {
    const health = await pollUntil(
      () => fetch(`${botUrl}/healthz`).then(async (r) => ({ status: r.status, body: (await r.json()) as { status: string; ready: boolean; redis: { reachable: boolean; embedded?: boolean } } }), () => ({ status: 0, body: null })),
      (h) => h.status === 200,
      60_000,
      child,
      () => output,
    );
    expect(health.body).toMatchObject({ status: 'ok', ready: true, redis: { reachable: true, embedded: true } });
    // The log line is written before the server listens, but reaches this process's pipe on its own schedule (pino
    // writes asynchronously): wait for it rather than race the health answer.
    const logged = await pollUntil(async () => output, (o) => /embedded store: no REDIS_URL, demo data loaded/.test(o), 10_000, child, () => output);
    expect(logged).toMatch(/"customers":3.*embedded store: no REDIS_URL, demo data loaded/);
  });

  it('answers a typed command through the connector', async () => {
    const client = new BotClient({ endpoint: botUrl, serviceUrl: connector.url, tenantId: 'partner-tenant', agent: AGENT });
    const { status } = await client.message('licenses contoso');
    expect(status).toBe(200);
    const [reply] = await connector.waitForActivities(client.conversationId(), 1, 30_000);
    const text = visibleText(cardOf(reply));
    expect(text).toContain('Office 365 E3');
    expect(text).toContain('Visio Plan 2');
    expect(connector.unexpected()).toEqual([]);
  });

  it('serves the dialog page built into dist/dialogs', async () => {
    const res = await fetch(`${botUrl}/dialogs/import.js`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(ROOT, 'dist', 'dialogs', 'import-dialog.js')))).toBe(true);
    expect(output).not.toMatch(/dialog page is (not built|older than its sources)/);
  });

  it('stops on SIGTERM with exit code 0, having loaded only compiled code of its own and production packages', async () => {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const record = join(workDir, 'loaded.txt');
    const lines = [record, `${record}.esm`].filter((f) => existsSync(f)).flatMap((f) => readFileSync(f, 'utf8').split('\n')).filter(Boolean);
    const files = lines.filter((l) => l.startsWith('loaded ')).map((l) => l.slice('loaded '.length));
    const hidden = lines.filter((l) => l.startsWith('hidden ')).map((l) => l.split(' ')[1].replace(/\/$/, '').split('/node_modules/').pop()!);
    const ours = files.filter((f) => f.startsWith(ROOT + sep) && !relative(ROOT, f).split(sep).includes('node_modules'));
    const packages = [...new Set(files.filter((f) => relative(ROOT, f).split(sep).includes('node_modules')).map(lockKeyOf))];
    expect(ours.length).toBeGreaterThan(10);
    expect(ours.filter((f) => !f.startsWith(join(ROOT, 'dist') + sep) || !f.endsWith('.js'))).toEqual([]);
    expect(packages).toEqual(expect.arrayContaining(['node_modules/botbuilder', 'node_modules/restify', 'node_modules/ioredis-mock']));
    // Asked for and not found (as in production): at most optional extras of dependencies, never a toolchain.
    expect(hidden.map((p) => p.replace(/^node_modules\//, '')).filter((p) => TOOLCHAIN.includes(p) || p.startsWith('@esbuild/'))).toEqual([]);
  });
});
