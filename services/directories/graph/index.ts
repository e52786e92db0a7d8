import type { Logger } from 'pino';
import type { KeyLayout } from '../../store/keys';
import type { RedisClient } from '../../store/redis';
import type { DirectoryBackend } from '../port';

export interface GraphDirectoryOptions {
  /** e.g. https://graph.microsoft.com/v1.0 (GRAPH_BASE_URL) */
  graphBaseUrl: string;
  /** e.g. https://login.microsoftonline.com (AZURE_AUTHORITY_HOST) */
  authorityHost: string;
  /** The bot's app registration, which exchanges the agent's token on behalf of the agent. */
  clientId: string;
  clientSecret: string;
  /** The partner's own tenant: where the GDAP customer list is read. */
  partnerTenantId: string;
  /** The bot's own state: operation records, remembered licenses, short-lived read caches, audit. */
  redis: RedisClient;
  keys: KeyLayout;
  now: () => number;
  logger?: Logger;
}

/** The Microsoft Graph directory (being written): every call made on behalf of the calling agent. */
export function createGraphDirectory(options: GraphDirectoryOptions): DirectoryBackend {
  void options;
  throw new Error('the Graph directory is not available yet');
}
