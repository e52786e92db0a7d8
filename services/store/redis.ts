import Redis, { Cluster } from 'ioredis';
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
}

export function connectRedis(options: ConnectOptions): RedisClient {
  let client: RedisClient;
  if (options.clusterNodes) {
    client = new Cluster(options.clusterNodes, { redisOptions: { maxRetriesPerRequest: 2 } });
  } else if (options.url) {
    client = new Redis(options.url, { maxRetriesPerRequest: 2, enableOfflineQueue: true });
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
