/**
 * Child processes of the benchmark: the bot and the floor bot, each started as `npm start` starts the bot
 * (node with the tsx loader), on 127.0.0.1 and a free port, with its output in a log file. Every child is
 * registered so that it is stopped on any exit path.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../test/support/redisServer';
import { get } from './load';

export const ROOT = join(__dirname, '..', '..');

export interface Child {
  name: string;
  url: string;
  process: ChildProcess;
  logFile: string;
  stop(): Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** Stops every child still running (SIGTERM). Safe to call more than once. */
export function killAll(): void {
  for (const child of running) if (child.exitCode === null) child.kill('SIGTERM');
}

/** Only the variables a child needs, so that nothing from the caller's environment (a REDIS_URL, an app id) leaks in. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG'];
  return { ...Object.fromEntries(keep.filter((k) => process.env[k]).map((k) => [k, process.env[k]])), NODE_ENV: 'production', ...extra };
}

export async function startNodeServer(name: string, script: string, env: Record<string, string>, logFile: string, nodeArgs: string[] = []): Promise<Child> {
  const port = await freePort();
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
    cwd: ROOT,
    env: cleanEnv({ ...env, PORT: String(port), HOST: '127.0.0.1' }),
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  running.add(child);
  child.once('exit', () => running.delete(child));
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} while starting; see ${logFile}`);
    const ok = await get(`${url}/healthz`).then((a) => a.status === 200, () => false);
    if (ok) break;
    if (Date.now() > until) throw new Error(`${name} did not become ready within 30 s; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    name,
    url,
    process: child,
    logFile,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
        child.kill('SIGTERM');
      }),
  };
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux); NaN elsewhere. */
export function cpuTimeMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ": state is field 3, utime field 14, stime field 15 (1-based in proc(5)).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
const CLOCK_TICKS = 100;
