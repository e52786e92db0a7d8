import Redis, { ChainableCommander, Cluster } from 'ioredis';
import { scriptSources } from './scripts';

/** A connection to a single Redis, a Redis Cluster, or the embedded in-process store. */
export type RedisClient = Redis | Cluster;

/** Result of a script: strings and integers, flat. */
export type ScriptReply = Array<string | number>;

export interface ScriptCommands {
  runScript(name: keyof typeof scriptSources, keys: string[], args: Array<string | number>): Promise<ScriptReply>;
}

/** Registers every script on the client with defineCommand (EVALSHA with EVAL fallback). */
export function defineScripts(client: RedisClient): RedisClient {
  for (const [name, lua] of Object.entries(scriptSources)) {
    if (!(name in client)) client.defineCommand(name, { lua });
  }
  return client;
}

const embeddedClients = new WeakSet<RedisClient>();

export const isEmbedded = (client: RedisClient): boolean => embeddedClients.has(client);

export async function runScript(
  client: RedisClient,
  name: keyof typeof scriptSources,
  keys: string[],
  args: Array<string | number>,
): Promise<ScriptReply> {
  if (embeddedClients.has(client)) {
    // The emulator's defineCommand does not take the key count as an argument; EVAL does.
    return client.eval(scriptSources[name], keys.length, ...keys, ...args.map(String)) as Promise<ScriptReply>;
  }
  const command = (client as unknown as Record<string, (...a: unknown[]) => Promise<ScriptReply>>)[name];
  return command.call(client, keys.length, ...keys, ...args.map(String));
}

export interface ConnectOptions {
  /** Unset: the embedded in-process store (ioredis-mock running the same Lua scripts). */
  url?: string;
  /** Seed nodes of a Redis Cluster instead of a single server. */
  clusterNodes?: Array<{ host: string; port: number }>;
  /** How long one command may go unanswered before it fails (default REDIS_COMMAND_TIMEOUT_MS). */
  commandTimeoutMs?: number;
}

/**
 * A command Redis has not answered within this time fails ("Command timed out"), so a turn answers "try again" well
 * before Teams gives up on it (15 s). Without it, a command in flight when Redis goes away waits, unanswered, for as
 * long as Redis stays away (ioredis re-sends it after reconnecting). A re-sent change that lands later is harmless:
 * every change carries an operation id, so trying the same action again replays its first result.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 5000;

/**
 * "host:port,host:port" (REDIS_CLUSTER_NODES) → seed nodes; null when an entry is not host:port with a port
 * of 1–65535, or the list is empty.
 */
export function parseClusterNodes(spec: string): Array<{ host: string; port: number }> | null {
  const nodes = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s))
    .map((m) => (m && Number(m[2]) >= 1 && Number(m[2]) <= 65535 ? { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) } : null));
  return nodes.length && nodes.every((n) => n !== null) ? (nodes as Array<{ host: string; port: number }>) : null;
}

export function connectRedis(options: ConnectOptions): RedisClient {
  let client: RedisClient;
  if (options.clusterNodes) {
    client = new Cluster(options.clusterNodes, { redisOptions: { maxRetriesPerRequest: 2, commandTimeout: options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS } });
  } else if (options.url) {
    client = new Redis(options.url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, commandTimeout: options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS });
  } else {
    // Required lazily so a production process never loads the emulator.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const RedisMock = require('ioredis-mock') as typeof Redis;
    client = new RedisMock();
    embeddedClients.add(client);
    return client;
  }
  return defineScripts(client);
}

/**
 * The replies of a pipeline. ioredis resolves a pipeline even when its commands failed (e.g. the connection dropped),
 * with an error per command: that error is thrown here, so an outage never reads as an empty or missing value.
 */
export async function replies(pipeline: ChainableCommander): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  for (const [err] of results) if (err) throw err;
  return results.map(([, value]) => value);
}
