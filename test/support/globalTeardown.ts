import type { ThrowawayRedis } from './redisServer';

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { __testRedis?: ThrowawayRedis }).__testRedis;
  if (server) await server.stop();
}
