/**
 * A DirectoryService for tests, on real Redis (TEST_REDIS_URL, started by the jest globalSetup; or the Redis Cluster
 * at TEST_REDIS_CLUSTER in the cluster run) or on the embedded store, isolated under its own random key root.
 *
 *   const t = await createTestDirectory();            // { directory, redis, keys, root, clock, actor }
 *   const c = await t.seed({ users: [{ username: 'alice', licenses: ['O365_E3'] }] });
 *   c.user('alice').id;  t.clock.advance(DAY_MS);
 *   await t.cleanup();                                 // deletes only keys under t.root, disconnects
 *
 * Options: `passwords: 'deterministic'` (Pw#Test-2…, each meets the policy) or a generator of your own
 * (default: the real CSPRNG generator); `embedded: true` for ioredis-mock; `start` for the clock.
 * `directoryErrorOf(promise)` returns the typed error a call rejects with; `t.scanKeys()` lists the keys
 * under the root and `dumpValues(t)` reads every stored value (for "this secret is nowhere" checks).
 * `seed` defaults: customer "contoso" (contoso.onmicrosoft.com, contoso.com) with O365_E3 (25 seats) and
 * SPE_E5 (5 seats); users default to usage location US, display name = username, no password.
 */
import { randomBytes } from 'node:crypto';
import { Clock, CustomerDefinition, DirectoryService } from '../../services/directory';
import { PasswordGenerator, PasswordHasher } from '../../services/passwords';
import { KeyLayout } from '../../services/store/keys';
import { DirectoryError } from '../../services/errors';
import { connectRedis, RedisClient } from '../../services/store/redis';
import { Cluster } from 'ioredis';
import { Actor, Customer, CustomerUser, NewUserInput } from '../../services/types';
import { scanKeys } from '../../services/storeCheck';
import { parseNodes } from './redisCluster';

export interface FakeClock extends Clock {
  /** Moves the clock forward (or back, with a negative value). */
  advance(ms: number): void;
  set(ms: number): void;
}

/** 2025-03-03T09:00:00Z: a fixed start so that tests are reproducible. */
export const CLOCK_START = Date.UTC(2025, 2, 3, 9, 0, 0);

export function fakeClock(start = CLOCK_START): FakeClock {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), set: (ms) => void (t = ms) };
}

/** Passwords Pw#Test-<n>-Kyzx with n written in the digits 2–9: distinct, policy-compliant, predictable. */
export function deterministicPasswords(): PasswordGenerator {
  let n = 0;
  return () => {
    let x = n++;
    let digits = '';
    do {
      digits = '23456789'[x % 8] + digits;
      x = Math.floor(x / 8);
    } while (x > 0);
    return `Pw#Test-${digits}-Kyzx`;
  };
}

export const TEST_ACTOR: Actor = { id: 'agent-test-1', name: 'Test Agent' };

export type SeedUser = Partial<NewUserInput> & { username: string };

export interface SeedCustomer {
  id?: string;
  name?: string;
  domains?: string[];
  subscriptions?: CustomerDefinition['subscriptions'];
  users?: SeedUser[];
}

export interface SeededCustomer {
  customer: Customer;
  users: CustomerUser[];
  /** A seeded user by username (throws when there is none). */
  user(username: string): CustomerUser;
}

export interface TestDirectory {
  directory: DirectoryService;
  redis: RedisClient;
  keys: KeyLayout;
  /** Every key this directory writes starts with it. */
  root: string;
  clock: FakeClock;
  actor: Actor;
  seed(def?: SeedCustomer): Promise<SeededCustomer>;
  /** Every key under the root (SCAN). */
  scanKeys(): Promise<string[]>;
  cleanup(): Promise<void>;
}

export interface TestDirectoryOptions {
  passwords?: 'real' | 'deterministic' | PasswordGenerator;
  /** How passwords are stored (default: the service's, scrypt). */
  passwordHasher?: PasswordHasher;
  embedded?: boolean;
  start?: number;
}

export async function createTestDirectory(options: TestDirectoryOptions = {}): Promise<TestDirectory> {
  const redis: RedisClient = options.embedded ? connectRedis({}) : connectTestRedis();
  const root = `pabtest:${randomBytes(6).toString('hex')}:`;
  const keys = new KeyLayout(root);
  const clock = fakeClock(options.start);
  const generatePassword =
    options.passwords === 'deterministic'
      ? deterministicPasswords()
      : typeof options.passwords === 'function'
        ? options.passwords
        : undefined;
  const directory = new DirectoryService({ redis, keys, clock, generatePassword, passwordHasher: options.passwordHasher });

  const scanKeys = () => scanAll(redis, `${root}*`);

  async function seed(def: SeedCustomer = {}): Promise<SeededCustomer> {
    const id = def.id ?? 'contoso';
    await directory.upsertCustomer(
      {
        id,
        name: def.name ?? 'Contoso Ltd',
        domains: def.domains ?? [`${id}.onmicrosoft.com`, `${id}.com`],
        subscriptions: def.subscriptions ?? [
          { skuId: 'O365_E3', name: 'Office 365 E3', seats: 25 },
          { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 5 },
        ],
      },
      { id: 'provisioning', name: 'Provisioning' },
    );
    const users: CustomerUser[] = [];
    const list = def.users ?? [];
    for (let i = 0; i < list.length; i += 100) {
      const created = await Promise.all(
        list.slice(i, i + 100).map((u) =>
          directory.createUser(
            id,
            { displayName: u.username, usageLocation: 'US', ...u },
            { actor: { id: 'provisioning', name: 'Provisioning' }, withoutPassword: true },
          ),
        ),
      );
      users.push(...created.map((c) => c.user));
    }
    const customer = await directory.getCustomer(id);
    return {
      customer,
      users,
      user(username: string) {
        const found = users.find((u) => u.username.toLowerCase() === username.toLowerCase());
        if (!found) throw new Error(`no seeded user ${username}`);
        return found;
      },
    };
  }

  async function cleanup(): Promise<void> {
    try {
      const all = await scanKeys();
      if (redis instanceof Cluster) {
        // One DEL per key: a multi-key DEL across slots is refused by a cluster (CROSSSLOT).
        for (let i = 0; i < all.length; i += 500) await Promise.all(all.slice(i, i + 500).map((k) => redis.del(k)));
      } else {
        for (let i = 0; i < all.length; i += 500) await redis.del(...all.slice(i, i + 500));
      }
    } finally {
      redis.disconnect();
    }
  }

  return { directory, redis, keys, root, clock, actor: TEST_ACTOR, seed, scanKeys, cleanup };
}

/**
 * A connection to the test Redis: the cluster at TEST_REDIS_CLUSTER (the cluster run, jest.cluster.config.js) or the
 * server at TEST_REDIS_URL (started by the jest globalSetup).
 */
export function connectTestRedis(): RedisClient {
  const cluster = process.env.TEST_REDIS_CLUSTER;
  if (cluster) return connectRedis({ clusterNodes: parseNodes(cluster) });
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: run the tests through jest (globalSetup starts a Redis)');
  return connectRedis({ url });
}

/** True in the cluster run. */
export const onCluster = (): boolean => !!process.env.TEST_REDIS_CLUSTER;

/** Every key matching the pattern (SCAN), on every master of a cluster. */
export const scanAll = scanKeys;

/**
 * Every value stored under the root, read according to its type (hash fields and values, strings,
 * list items, set and sorted-set members), keyed by key name. For "this secret is nowhere" checks.
 */
export async function dumpValues(t: Pick<TestDirectory, 'redis' | 'scanKeys'>): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const key of await t.scanKeys()) {
    const type = await t.redis.type(key);
    let values: string[];
    switch (type) {
      case 'hash':
        values = Object.entries(await t.redis.hgetall(key)).flat();
        break;
      case 'string':
        values = [(await t.redis.get(key)) ?? ''];
        break;
      case 'list':
        values = await t.redis.lrange(key, 0, -1);
        break;
      case 'set':
        values = await t.redis.smembers(key);
        break;
      case 'zset':
        values = await t.redis.zrange(key, 0, -1);
        break;
      case 'none':
        continue;
      default:
        throw new Error(`dumpValues: key ${key} has type ${type}, which it cannot read`);
    }
    out.set(key, [key, ...values]);
  }
  return out;
}

/** The DirectoryError a promise rejects with; fails the test when it resolves or throws something else. */
export async function directoryErrorOf(promise: Promise<unknown>): Promise<DirectoryError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DirectoryError) return err;
    throw err;
  }
  throw new Error('expected a DirectoryError, but the call succeeded');
}
