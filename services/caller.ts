import { AsyncLocalStorage } from 'node:async_hooks';
import type { Actor } from './types';

/**
 * Who a directory call is made for. The bot sets it once per turn (and the import runner once per job), before any
 * service call; a directory that acts with the agent's own rights (Microsoft Graph, on behalf of the agent) reads it,
 * the Redis directory does not need it. Ambient rather than a parameter of every read, so that the service's API and
 * the handlers stay the same whichever directory is behind them.
 */
export interface Caller {
  actor: Actor;
  /**
   * The agent's token for the bot's own app registration (Teams SSO through the bot's OAuth connection), or undefined
   * when the agent has not signed in. Asked for only when a directory needs it.
   */
  userAssertion(): Promise<string | undefined>;
}

const callers = new AsyncLocalStorage<Caller>();
let needed = false;

/**
 * Called by a directory that acts with the agent's own rights (the Graph directory) when it is made. Until then
 * `runAsCaller` just runs its work: the first `AsyncLocalStorage.run` turns on Node's promise hooks for the whole
 * process, which cost every promise of every turn (measured on the write invoke: the hooks were a visible share of its
 * CPU), for a caller that the Redis directory never reads.
 */
export function callersNeeded(): void {
  needed = true;
}

export function runAsCaller<T>(caller: Caller, work: () => Promise<T>): Promise<T> {
  return needed ? callers.run(caller, work) : work();
}

export function currentCaller(): Caller | undefined {
  return callers.getStore();
}
