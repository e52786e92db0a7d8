/**
 * `npm run playground`: the bot (embedded store with the demo data, local mode) and Microsoft 365 Agents Playground
 * (a local Teams emulator) pointed at it, both on this machine and offline. Open the printed URL in a browser;
 * Ctrl-C stops both.
 *
 * Environment: PORT (bot, default 3978), TEAMSAPPTESTER_PORT (playground, default 56150), LOG_LEVEL (default warn).
 * REDIS_URL, MicrosoftAppId and the agent lists are ignored on purpose: the playground talks to a bot in local mode,
 * where every caller is an admin agent, on throwaway demo data.
 *
 * The playground's telemetry stays on loopback: its bundled telemetry library starts even with --disable-telemetry and
 * probes a cloud metadata address unless APPLICATION_INSIGHTS_NO_STATSBEAT=1 is set, and a dead https proxy keeps
 * anything left over on loopback. It listens on all interfaces; it has no option to narrow that.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, createApp } from '../bot/app';
import { loadSettings, SettingsError } from '../bot/config';

export const DEFAULT_PLAYGROUND_PORT = 56150;
const PLAYGROUND_CLI = require.resolve('@microsoft/m365agentsplayground/cli.js');

export interface PlaygroundOptions {
  botPort?: number;
  playgroundPort?: number;
  logLevel?: string;
  /** Where the playground writes its log (default: a new temporary directory). */
  logFile?: string;
  /** Receives the playground's own output lines (default: printed with a prefix). */
  onOutput?: (line: string) => void;
  /** How long to wait for the playground to answer /_debug/ping. */
  startTimeoutMs?: number;
}

export interface RunningPlayground {
  app: App;
  botUrl: string;
  /** The URL to open in a browser (localhost, as the playground expects). */
  playgroundUrl: string;
  playground: ChildProcess;
  logFile: string;
  /** Resolves when the playground process has ended (by itself or through stop()). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** The playground's environment: no browser, no telemetry, nothing beyond loopback. */
export function playgroundEnv(botUrl: string, playgroundPort: number, logFile: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TEAMSAPPTESTER_BROWSER: 'none',
    APPLICATION_INSIGHTS_NO_STATSBEAT: '1',
    https_proxy: 'http://127.0.0.1:9',
    HTTPS_PROXY: 'http://127.0.0.1:9',
    http_proxy: 'http://127.0.0.1:9',
    HTTP_PROXY: 'http://127.0.0.1:9',
    no_proxy: '127.0.0.1,localhost',
    NO_PROXY: '127.0.0.1,localhost',
    BOT_ENDPOINT: `${botUrl}/api/messages`,
    TEAMSAPPTESTER_PORT: String(playgroundPort),
    M365_AGENTS_PLAYGROUND_LOGFILE: logFile,
  };
}

/** Polls the playground's ping endpoint until it answers `pong`, the process dies, or the deadline passes. */
async function waitForPing(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Agents Playground exited (${child.exitCode ?? child.signalCode}) before it answered on port ${port}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/_debug/ping`, { signal: AbortSignal.timeout(2000) });
      if ((await response.text()).trim() === 'pong') return;
      lastError = `status ${response.status}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`Agents Playground did not answer on port ${port} within ${timeoutMs} ms (${lastError})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function startPlayground(options: PlaygroundOptions = {}): Promise<RunningPlayground> {
  const settings = loadSettings({
    PORT: String(options.botPort || 3978),
    HOST: '127.0.0.1',
    LOG_LEVEL: options.logLevel ?? 'warn',
  });
  // Port 0 (tests) means any free port; the settings schema only accepts real ports.
  const app = await createApp(options.botPort === 0 ? { ...settings, port: 0 } : settings);
  const botUrl = await app.listen();
  const playgroundPort = options.playgroundPort ?? DEFAULT_PLAYGROUND_PORT;
  const logFile = options.logFile ?? join(mkdtempSync(join(tmpdir(), 'pab-playground-')), 'playground.log');
  const print = options.onOutput ?? ((line: string) => console.log(`[playground] ${line}`));

  const child = spawn(process.execPath, [PLAYGROUND_CLI, '--channel-id', 'msteams', '--disable-telemetry'], {
    env: playgroundEnv(botUrl, playgroundPort, logFile),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split(/\r?\n/);
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) print(line);
    });
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
      await app.close(2000);
    })());

  try {
    await waitForPing(playgroundPort, child, options.startTimeoutMs ?? 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { app, botUrl, playgroundUrl: `http://localhost:${playgroundPort}`, playground: child, logFile, exited, stop };
}

async function main(): Promise<void> {
  const port = (name: string, fallback: number): number => {
    const raw = process.env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new SettingsError([{ setting: name, reason: `must be an integer between 1 and 65535 (got ${JSON.stringify(raw)})` }]);
    return n;
  };
  const running = await startPlayground({
    botPort: port('PORT', 3978),
    playgroundPort: port('TEAMSAPPTESTER_PORT', DEFAULT_PLAYGROUND_PORT),
    logLevel: process.env.LOG_LEVEL?.trim() || 'warn',
  });
  console.log('');
  console.log(`  Partner Admin Bot   ${running.botUrl}/api/messages  (local mode, demo data, every caller is an admin agent)`);
  console.log(`  Agents Playground   ${running.playgroundUrl}   <- open this in your browser`);
  console.log(`  Playground log      ${running.logFile}`);
  console.log('');
  console.log('  Try: help · customers · users contoso · licenses contoso · deleted users contoso');
  console.log('  In a group chat or channel, @mention the bot first. Ctrl-C stops both.');
  console.log('');

  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await running.stop();
    process.exit(code);
  };
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));
  void running.exited.then((code) => {
    if (!stopping) {
      console.error(`Agents Playground stopped (exit code ${code}); stopping the bot.`);
      void shutdown(code ?? 1);
    }
  });
}

if (require.main === module) {
  main().catch((err) => {
    console.error('The playground could not start:', err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
