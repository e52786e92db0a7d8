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

export function runAsCaller<T>(caller: Caller, work: () => Promise<T>): Promise<T> {
  return callers.run(caller, work);
}

export function currentCaller(): Caller | undefined {
  return callers.getStore();
}
