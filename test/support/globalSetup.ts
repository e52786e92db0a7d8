import { dialogAssetsState } from '../../bot/dialogs/assets';
import { writeDialogAssets } from '../../scripts/dialogBundle';
import { startThrowawayRedis } from './redisServer';

/**
 * Tests use the Redis at REDIS_URL when it is set; otherwise they start their own throwaway
 * redis-server on a free port, so they never write to anybody else's Redis.
 * The dialog page is bundled here when it is missing or older than its sources (`npm test` builds it first anyway;
 * this covers `npx jest …` run directly), since the server only serves the built files.
 */
export default async function globalSetup(): Promise<void> {
  if (dialogAssetsState() !== 'current') await writeDialogAssets();
  if (process.env.REDIS_URL) {
    process.env.TEST_REDIS_URL = process.env.REDIS_URL;
    return;
  }
  const server = await startThrowawayRedis();
  process.env.TEST_REDIS_URL = server.url;
  (globalThis as { __testRedis?: unknown }).__testRedis = server;
}
