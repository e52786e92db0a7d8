import type { Logger } from 'pino';
import type { RedisClient } from '../services/store/redis';

export class UnsafeRedisError extends Error {}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/**
 * Production checks at start-up. An evicted key is a lost user, so any eviction policy other than
 * `noeviction` stops the bot; running without persistence only warns (a restart would lose data).
 * Uses INFO, which managed Redis services allow even where CONFIG is disabled.
 */
export async function checkProductionRedis(redis: RedisClient, logger: Logger): Promise<void> {
  const memory = await redis.info('memory');
  const policy = infoField(memory, 'maxmemory_policy');
  if (policy && policy !== 'noeviction') {
    throw new UnsafeRedisError(
      `Redis maxmemory-policy is "${policy}": Redis may evict keys under memory pressure, and an evicted key is a lost user or seat count. Set maxmemory-policy to noeviction (redis-cli CONFIG SET maxmemory-policy noeviction, or in redis.conf) and start again.`,
    );
  }
  const persistence = await redis.info('persistence');
  const aof = infoField(persistence, 'aof_enabled') === '1';
  let rdb = false;
  try {
    const save = (await redis.config('GET', 'save')) as unknown as string[];
    rdb = !!save?.[1];
  } catch {
    rdb = infoField(persistence, 'rdb_last_save_time') !== undefined && infoField(persistence, 'rdb_changes_since_last_save') !== undefined;
  }
  if (!aof && !rdb) {
    logger.warn('Redis persistence is off (no AOF, no RDB snapshots): a Redis restart loses every customer user. Enable appendonly yes with appendfsync everysec.');
  } else if (!aof) {
    logger.warn('Redis AOF is off: changes since the last RDB snapshot are lost if Redis stops. appendonly yes with appendfsync everysec is recommended.');
  }
}
