import { startThrowawayRedis } from './redisServer';

/**
 * Tests use the Redis at REDIS_URL when it is set; otherwise they start their own throwaway
 * redis-server on a free port, so they never write to anybody else's Redis.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.REDIS_URL) {
    process.env.TEST_REDIS_URL = process.env.REDIS_URL;
    return;
  }
  const server = await startThrowawayRedis();
  process.env.TEST_REDIS_URL = server.url;
  (globalThis as { __testRedis?: unknown }).__testRedis = server;
}
