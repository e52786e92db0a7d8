import { randomBytes } from 'node:crypto';
import type { RedisClient } from './redis';

/**
 * A job's lock in Redis (imports, offboardings, bulk changes): one runner at a time, for a lease the runner renews
 * while it works and that expires when the runner dies. Renewing and releasing act only on the holder's own lock, so a
 * runner that outlived its lease never extends or frees the next holder's.
 */
export interface JobLock {
  /** This holder's random token (also usable to name what only this run writes). */
  readonly token: string;
  renew(): Promise<void>;
  release(): Promise<void>;
}

const RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** The lock, or null when another runner holds it. */
export async function acquireJobLock(redis: RedisClient, key: string, leaseMs: number): Promise<JobLock | null> {
  const token = randomBytes(8).toString('hex');
  if ((await redis.set(key, token, 'PX', leaseMs, 'NX')) !== 'OK') return null;
  return {
    token,
    renew: async () => void (await redis.eval(RENEW, 1, key, token, String(leaseMs))),
    release: async () => void (await redis.eval(RELEASE, 1, key, token)),
  };
}
