import { MultiTenantTokenCredentialOptions, OnBehalfOfCredential, OnBehalfOfCredentialSecretOptions } from '@azure/identity';
import { decodeJwt } from 'jose';
import { currentCaller } from '../../caller';
import { DirectoryError } from '../../errors';

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
/** A token this close to its expiry is not used for a new request. */
const EXPIRY_MARGIN_MS = 60_000;
/** Tokens kept at most (agents × customers); the oldest goes first. */
const CACHE_LIMIT = 5000;

export interface TokenOptions {
  authorityHost: string;
  clientId: string;
  clientSecret: string;
  now: () => number;
}

interface CachedToken {
  token: string;
  expiresAt: number;
  /** Directory role template ids the agent holds in that tenant (the token's `wids` claim, GDAP roles included). */
  roles: string[];
}

/**
 * Graph tokens on behalf of the calling agent, one per agent and tenant (the partner's own for the GDAP customer list,
 * each customer's for its directory), obtained with the OAuth 2.0 on-behalf-of flow from the agent's Teams SSO token
 * and kept in this process's memory until shortly before they expire. Never stored, never logged, never shared
 * between agents: the cache key is the agent's id.
 */
export class AgentTokens {
  private readonly cache = new Map<string, CachedToken>();

  constructor(private readonly options: TokenOptions) {}

  async token(tenantId: string): Promise<string> {
    return (await this.entry(tenantId)).token;
  }

  /** Graph said the token no longer works (expired or revoked early): the next call exchanges the agent's token again. */
  forget(tenantId: string): void {
    const caller = currentCaller();
    if (caller) this.cache.delete(`${caller.actor.id.toLowerCase()}|${tenantId.toLowerCase()}`);
  }

  /** The directory roles (template ids) the calling agent holds in this tenant. */
  async roles(tenantId: string): Promise<string[]> {
    return (await this.entry(tenantId)).roles;
  }

  /** The calling agent's id (the cache and the operation records are per agent). */
  agentId(): string {
    const caller = currentCaller();
    if (!caller) throw new DirectoryError('SIGN_IN_REQUIRED');
    return caller.actor.id.toLowerCase();
  }

  private async entry(tenantId: string): Promise<CachedToken> {
    const caller = currentCaller();
    if (!caller) throw new DirectoryError('SIGN_IN_REQUIRED');
    const key = `${caller.actor.id.toLowerCase()}|${tenantId.toLowerCase()}`;
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt - EXPIRY_MARGIN_MS > this.options.now()) return cached;
    const assertion = await caller.userAssertion();
    if (!assertion) throw new DirectoryError('SIGN_IN_REQUIRED');
    // `disableInstanceDiscovery` is honoured by the OBO credential (it passes its options to MSAL) but not in its type.
    const credential = new OnBehalfOfCredential({
      tenantId,
      clientId: this.options.clientId,
      clientSecret: this.options.clientSecret,
      userAssertionToken: assertion,
      authorityHost: this.options.authorityHost,
      // A sovereign or local authority is not in Microsoft's instance list: do not ask the public endpoint about it.
      disableInstanceDiscovery: true,
    } as OnBehalfOfCredentialSecretOptions & MultiTenantTokenCredentialOptions);
    let access;
    try {
      access = await credential.getToken(GRAPH_SCOPE);
    } catch (err) {
      // An expired or revoked SSO token: the agent signs in again (no detail of the token reaches the message).
      if (/invalid_grant|AADSTS50013|AADSTS500133|interaction_required|AADSTS700082/i.test(String((err as Error).message))) throw new DirectoryError('SIGN_IN_REQUIRED');
      throw err;
    }
    const claims = decodeJwt(access.token);
    const roles = Array.isArray(claims.wids) ? (claims.wids as unknown[]).map((w) => String(w).toLowerCase()) : [];
    // The token's own expiry (`exp`), read on the injected clock; the library's timestamp is on the wall clock.
    const expiresAt = typeof claims.exp === 'number' ? claims.exp * 1000 : access.expiresOnTimestamp;
    const entry = { token: access.token, expiresAt, roles };
    this.cache.delete(key);
    this.cache.set(key, entry);
    if (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
    return entry;
  }
}
