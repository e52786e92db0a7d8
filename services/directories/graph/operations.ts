import { randomUUID } from 'node:crypto';
import { DirectoryError, DirectoryErrorCode, ErrorParams } from '../../errors';
import type { KeyLayout } from '../../store/keys';
import type { RedisClient } from '../../store/redis';
import type { OperationOptions } from '../../types';
import { OPERATION_TTL_MS } from '../constants';

/** A pending record older than this belongs to an attempt that died (crash, restart): the next one takes over. */
export const OPERATION_LEASE_MS = 60_000;
/** How long a second delivery of a running operation waits for the first one's result before answering "try again". */
const IN_PROGRESS_WAIT_MS = 8_000;

type Stored<T> = { done: T } | { error: { code: DirectoryErrorCode; params: ErrorParams } };

/** Another delivery of the same operation is running right now: answer "try again" (it replays once finished). */
export class OperationInProgress extends Error {
  readonly code = 'ETIMEDOUT';
  constructor() {
    super('the same operation is in progress');
    this.name = 'OperationInProgress';
  }
}

/**
 * What an operation id means on the Graph directory, kept in the bot's Redis under the same key as the Redis
 * directory's record (`{c:<tenant>}:op:<id>`, 48 h): the first delivery claims the id with SET NX ("pending"), runs,
 * and stores its result or its user error; a later delivery answers with that stored outcome. A delivery that finds a
 * pending claim older than the lease (its attempt died) takes over with `takeOver: true`, so the work first reads back
 * what the dead attempt may have written (e.g. looks the new UPN up) instead of writing twice.
 */
export class OperationLedger {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
    private readonly now: () => number,
  ) {}

  async once<T>(customerId: string, options: OperationOptions, work: (takeOver: boolean) => Promise<T>): Promise<{ result: T; replayed: boolean }> {
    const opId = options.operationId ?? randomUUID();
    if (opId === '-') return { result: await work(false), replayed: false };
    const key = this.keys.operation(customerId, opId);
    const claim = `pending ${this.now()} ${randomUUID()}`;
    let takeOver = false;
    if ((await this.redis.set(key, claim, 'PX', OPERATION_TTL_MS, 'NX')) !== 'OK') {
      const stored = await this.settled(key);
      if (stored && !stored.startsWith('pending ')) return { result: replay<T>(stored), replayed: true };
      const since = Number(stored?.split(' ')[1] ?? 0);
      if (stored && this.now() - since < OPERATION_LEASE_MS) throw new OperationInProgress();
      // The claim of a dead attempt (or one that just expired): take it over atomically, once.
      const script = "if redis.call('GET', KEYS[1]) == ARGV[1] or not redis.call('GET', KEYS[1]) then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";
      if (Number(await this.redis.eval(script, 1, key, stored ?? '', claim, OPERATION_TTL_MS)) !== 1) throw new OperationInProgress();
      takeOver = true;
    }
    let outcome: Stored<T>;
    try {
      outcome = { done: await work(takeOver) };
    } catch (err) {
      if (err instanceof DirectoryError && err.code === 'SIGN_IN_REQUIRED') {
        // Nothing was tried: the claim goes, and the same button runs again after sign-in.
        await this.release(key, claim);
        throw err;
      }
      if (!(err instanceof DirectoryError)) {
        // Graph went away mid-way: what was applied is unknown. The claim stays, marked as dead at once, so the next
        // delivery of the same operation takes over and reads back before writing.
        await this.abandon(key, claim);
        throw err;
      }
      outcome = { error: { code: err.code, params: err.params } };
    }
    await this.redis.set(key, JSON.stringify(outcome), 'PX', OPERATION_TTL_MS);
    if ('error' in outcome) throw new DirectoryError(outcome.error.code, outcome.error.params);
    return { result: outcome.done, replayed: false };
  }

  /**
   * The record once the delivery that holds a live claim has finished (Teams re-sends an unanswered invoke while the
   * first is still running): polled for a few seconds, so the second delivery answers with the first result.
   */
  private async settled(key: string): Promise<string | null> {
    const until = Date.now() + IN_PROGRESS_WAIT_MS;
    for (;;) {
      const stored = await this.redis.get(key);
      if (!stored || !stored.startsWith('pending ') || this.now() - Number(stored.split(' ')[1]) >= OPERATION_LEASE_MS || Date.now() > until) return stored;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  private async abandon(key: string, claim: string): Promise<void> {
    const dead = `pending 0 ${claim.split(' ')[2]}`;
    await this.redis
      .eval("if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end return 0", 1, key, claim, dead, OPERATION_TTL_MS)
      .catch(() => undefined);
  }

  private async release(key: string, claim: string): Promise<void> {
    await this.redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, key, claim).catch(() => undefined);
  }
}

/** A user error answered again from the record (audited once, when it happened). */
export const isReplayedError = (err: unknown): boolean => err instanceof DirectoryError && (err as DirectoryError & { replayed?: boolean }).replayed === true;

function replay<T>(stored: string): T {
  const outcome = JSON.parse(stored) as Stored<T>;
  if ('error' in outcome) throw Object.assign(new DirectoryError(outcome.error.code, outcome.error.params), { replayed: true });
  return outcome.done;
}
