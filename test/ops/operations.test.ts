/**
 * Operations (SPEC §8): health follows Redis, unsafe Redis settings stop start-up, SIGTERM lets a turn
 * in flight finish and exits 0.
 */
import { spawn } from 'node:child_process';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import pino from 'pino';
import { createApp } from '../../bot/app';
import { loadSettings } from '../../bot/config';
import { UnsafeRedisError } from '../../bot/redisChecks';
import { ProvisioningError } from '../../services/provisioning';
import { freePort, startThrowawayRedis, ThrowawayRedis } from '../support/redisServer';

const silent = pino({ level: 'silent' });

/** Validated settings, listening on any free port (PORT itself must be 1–65535). */
const settingsFor = (env: Record<string, string>) => ({ ...loadSettings({ PORT: '3978', ...env }), port: 0 });

async function pollUntil<T>(probe: () => Promise<T>, accept: (v: T) => boolean, deadlineMs: number): Promise<{ value: T; elapsedMs: number }> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (accept(value)) return { value, elapsedMs: Date.now() - started };
    if (Date.now() - started > deadlineMs) throw new Error(`condition not reached within ${deadlineMs} ms (last: ${JSON.stringify(value)})`);
    await new Promise<void>((r) => setImmediate(r));
  }
}

const health = async (url: string) => {
  const res = await fetch(`${url}/healthz`);
  return { status: res.status, body: (await res.json()) as { status: string; redis: { reachable: boolean } } };
};

describe('health follows Redis without restarting the bot', () => {
  let redis: ThrowawayRedis;
  afterAll(async () => redis && (await redis.stop()));

  it('answers 200, then 503 within 2 s of Redis stopping, then 200 again after it restarts', async () => {
    redis = await startThrowawayRedis();
    const settings = settingsFor({ REDIS_URL: redis.url, LOG_LEVEL: 'silent' });
    const app = await createApp(settings, { logger: silent });
    const url = await app.listen();
    try {
      expect((await health(url)).status).toBe(200);
      await redis.stop();
      const down = await pollUntil(() => health(url), (h) => h.status === 503, 2000);
      expect(down.value.body.redis.reachable).toBe(false);
      redis = await startThrowawayRedis([], redis.port);
      const up = await pollUntil(() => health(url), (h) => h.status === 200, 15_000);
      expect(up.value.body.status).toBe('ok');
    } finally {
      await app.close();
    }
  });
});

describe('production Redis checks', () => {
  it('refuses to start on a Redis that may evict keys, and says why', async () => {
    const redis = await startThrowawayRedis(['--maxmemory-policy', 'allkeys-lru']);
    try {
      const settings = settingsFor({ REDIS_URL: redis.url, LOG_LEVEL: 'silent' });
      const started = createApp(settings, { logger: silent });
      await expect(started).rejects.toBeInstanceOf(UnsafeRedisError);
      await expect(started).rejects.toThrow(/maxmemory-policy is "allkeys-lru".*noeviction/);
    } finally {
      await redis.stop();
    }
  });

  it('warns when persistence is off, and starts', async () => {
    const redis = await startThrowawayRedis();
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    try {
      const app = await createApp(settingsFor({ REDIS_URL: redis.url }), { logger });
      await app.close();
      expect(lines.join('')).toMatch(/persistence is off/);
    } finally {
      await redis.stop();
    }
  });
});

describe('PROVISION_FILE at start-up (a real Redis)', () => {
  const file = (dir: string, customers: unknown[]) => {
    const path = join(dir, 'customers.json');
    writeFileSync(path, JSON.stringify({ customers }));
    return path;
  };
  const fabrikam = (seats: number) => ({
    id: 'fabrikam',
    name: 'Fabrikam Inc',
    domains: ['fabrikam.onmicrosoft.com'],
    subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats }],
    users: [
      { username: 'ann', firstName: 'Ann', lastName: 'Lee', displayName: 'Ann Lee', usageLocation: 'US', licenses: ['O365_E3'] },
      { username: 'bo', displayName: 'Bo', usageLocation: 'US' },
    ],
  });

  it('loads the customers and users of the file; starting again with a changed file updates seats and adds nothing twice', async () => {
    const redis = await startThrowawayRedis();
    const dir = mkdtempSync(join(tmpdir(), 'pab-provision-'));
    try {
      let app = await createApp(settingsFor({ REDIS_URL: redis.url, PROVISION_FILE: file(dir, [fabrikam(10)]) }), { logger: silent });
      const page = await app.directory.listUsers('fabrikam');
      expect(page.users.map((u) => [u.userPrincipalName, u.licenses])).toEqual([
        ['ann@fabrikam.onmicrosoft.com', ['O365_E3']],
        ['bo@fabrikam.onmicrosoft.com', []],
      ]);
      await app.close();

      app = await createApp(settingsFor({ REDIS_URL: redis.url, PROVISION_FILE: file(dir, [fabrikam(12)]) }), { logger: silent });
      expect((await app.directory.listUsers('fabrikam')).total).toBe(2);
      expect(await app.directory.getSubscriptions('fabrikam')).toEqual([{ skuId: 'O365_E3', name: 'Office 365 E3', totalSeats: 12, assignedSeats: 1, availableSeats: 11 }]);
      await app.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await redis.stop();
    }
  });

  it('a broken file stops start-up with a message naming the problem, and stores nothing', async () => {
    const redis = await startThrowawayRedis();
    const dir = mkdtempSync(join(tmpdir(), 'pab-provision-'));
    try {
      const broken = file(dir, [{ ...fabrikam(10), subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: -1 }] }]);
      await expect(createApp(settingsFor({ REDIS_URL: redis.url, PROVISION_FILE: broken }), { logger: silent })).rejects.toBeInstanceOf(ProvisioningError);
      await expect(createApp(settingsFor({ REDIS_URL: redis.url, PROVISION_FILE: broken }), { logger: silent })).rejects.toThrow(/customers\.0\.subscriptions\.0\.seats: Too small/);
      const probe = new Redis(redis.url);
      expect(await probe.dbsize()).toBe(0);
      probe.disconnect();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await redis.stop();
    }
  });
});

describe('SIGTERM', () => {
  it('stops taking requests, lets a slow turn finish, then exits 0', async () => {
    // A fake connector that holds the bot's reply until we have sent SIGTERM.
    let releaseReply: () => void = () => undefined;
    const replyHeld = new Promise<void>((resolve) => (releaseReply = resolve));
    let replyArrived: (body: string) => void = () => undefined;
    const replyReceived = new Promise<string>((resolve) => (replyArrived = resolve));
    let bodyOfReply = '';
    const connector: Server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', async () => {
        bodyOfReply = body;
        replyArrived(body);
        await replyHeld;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'reply-1' }));
      });
    });
    await new Promise<void>((r) => connector.listen(0, '127.0.0.1', r));
    const connectorUrl = `http://127.0.0.1:${(connector.address() as AddressInfo).port}`;

    const port = await freePort();
    const child = spawn(process.execPath, [join(__dirname, '../../node_modules/tsx/dist/cli.mjs'), join(__dirname, '../../bot/index.ts')], {
      env: { PATH: process.env.PATH, PORT: String(port), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const botUrl = `http://127.0.0.1:${port}`;
      await pollUntil(() => fetch(`${botUrl}/healthz`).then((r) => r.status).catch(() => 0), (s) => s === 200, 60_000);
      const turn = fetch(`${botUrl}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'message',
          id: 'slow-1',
          text: 'licenses contoso',
          from: { id: 'agent', name: 'Agent' },
          recipient: { id: 'bot', name: 'Partner Admin Bot' },
          conversation: { id: 'personal-1', conversationType: 'personal' },
          channelId: 'msteams',
          serviceUrl: connectorUrl,
        }),
      });
      await replyReceived; // the turn is now in flight, waiting on the connector
      child.kill('SIGTERM');
      await pollUntil(async () => output, (o) => o.includes('shutting down'), 10_000);
      // Stopping: a new request is not taken any more (the listener is closed, or a kept-alive connection gets 503),
      // while the turn in flight goes on.
      const late = await fetch(`${botUrl}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
        .then((r) => r.status)
        .catch(() => 'refused');
      expect(['refused', 503]).toContain(late);
      const health = await fetch(`${botUrl}/healthz`).then((r) => r.status).catch(() => 'refused');
      expect(['refused', 503]).toContain(health);
      releaseReply();
      const response = await turn;
      expect(response.status).toBe(200);
      expect(await exited).toBe(0);
      expect(bodyOfReply).toContain('Licenses');
    } finally {
      child.kill('SIGKILL');
      connector.close();
    }
  });
});
