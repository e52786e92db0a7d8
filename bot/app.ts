import { join } from 'node:path';
import { CloudAdapter, ConfigurationBotFrameworkAuthentication, TurnContext } from 'botbuilder';
import type { Logger } from 'pino';
import * as restify from 'restify';
import { CredentialVault } from '../services/credentials';
import { Clock, DirectoryService, systemClock } from '../services/directory';
import { provision, readProvisioningFile } from '../services/provisioning';
import { KeyLayout } from '../services/store/keys';
import { connectRedis, isEmbedded, RedisClient } from '../services/store/redis';
import { AdminBot } from './adminBot';
import { AgentRoles } from './agents';
import type { Settings } from './config';
import { createLogger } from './logger';
import { AgentConversations, PrivateChannel } from './privateChannel';

export const DEMO_DATA_FILE = join(__dirname, '..', 'data', 'demo.json');

export interface AppOptions {
  /** An existing connection (tests); otherwise one is opened from the settings. */
  redis?: RedisClient;
  keys?: KeyLayout;
  clock?: Clock;
  logger?: Logger;
  privateChannelFor?: (context: TurnContext) => PrivateChannel;
}

export interface App {
  server: restify.Server;
  directory: DirectoryService;
  redis: RedisClient;
  logger: Logger;
  /** Listens on the configured host and port (0 = any free port); resolves with the URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** Wires settings → store → service → bot → HTTP. Nothing here holds a business rule. */
export async function createApp(settings: Settings, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(settings.logLevel);
  const redis = options.redis ?? connectRedis({ url: settings.redisUrl });
  const keys = options.keys ?? new KeyLayout();
  const clock = options.clock ?? systemClock;
  const directory = new DirectoryService({ redis, keys, clock });
  const vault = new CredentialVault(redis, keys, clock);

  if (isEmbedded(redis)) {
    const summary = await provision(directory, await readProvisioningFile(DEMO_DATA_FILE));
    logger.info({ ...summary }, 'embedded store: no REDIS_URL, demo data loaded (data is lost when the process stops)');
  }
  if (settings.provisionFile) {
    const summary = await provision(directory, await readProvisioningFile(settings.provisionFile));
    logger.info({ file: settings.provisionFile, ...summary }, 'provisioning file loaded');
  }

  const auth = new ConfigurationBotFrameworkAuthentication({
    MicrosoftAppId: settings.microsoftAppId ?? '',
    MicrosoftAppPassword: settings.microsoftAppPassword ?? '',
    MicrosoftAppType: settings.microsoftAppType,
    MicrosoftAppTenantId: settings.microsoftAppTenantId ?? '',
  });
  const adapter = new CloudAdapter(auth);
  adapter.onTurnError = async (context, error) => {
    logger.error({ err: error, activityType: context.activity.type }, 'unhandled turn error');
  };
  if (settings.localMode) {
    logger.warn('local mode: MicrosoftAppId is not set, so requests are not authenticated (Agents Playground / Emulator only)');
  }

  const everyoneIsAdmin = settings.localMode && !settings.adminAgents.length && !settings.helpdeskAgents.length;
  if (everyoneIsAdmin) logger.warn('local mode without ADMIN_AGENTS or HELPDESK_AGENTS: every caller is an admin agent');
  const agents = new AgentRoles(redis, keys, { adminAgents: [...settings.adminAgents], helpdeskAgents: [...settings.helpdeskAgents], everyoneIsAdmin });

  const bot = new AdminBot({
    directory,
    agents,
    vault,
    publicBaseUrl: settings.publicBaseUrl,
    adapter,
    conversations: new AgentConversations(redis, keys),
    appId: settings.microsoftAppId ?? '',
    partnerTenantId: settings.partnerTenantId,
    logger,
    privateChannelFor: options.privateChannelFor,
  });

  const server = restify.createServer({ name: 'partner-admin-bot' });
  server.use(restify.plugins.bodyParser({ maxBodySize: 2 * 1024 * 1024 }));
  server.post('/api/messages', async (req, res) => {
    await adapter.process(req, res, (context) => bot.run(context));
  });
  // One-time credential downloads: no caching anywhere, 410 once used or expired.
  server.get('/downloads/:token', async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const result = await vault.redeemDownload(String(req.params.token ?? ''));
    if (!result.ok) {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.sendRaw(410, 'This download link has already been used or has expired. Reset the passwords to get new ones.');
      return;
    }
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${result.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
    res.sendRaw(200, result.content);
  });
  server.get('/healthz', async (_req, res) => {
    const started = Date.now();
    try {
      await redis.ping();
      res.json(200, { status: 'ok', redis: { reachable: true, latencyMs: Date.now() - started, embedded: isEmbedded(redis) } });
    } catch {
      res.json(503, { status: 'unavailable', redis: { reachable: false } });
    }
  });

  return {
    server,
    directory,
    redis,
    logger,
    listen: () =>
      new Promise((resolve) => {
        server.listen(settings.port, settings.host, () => {
          const address = server.address();
          resolve(`http://${settings.host}:${address.port}`);
        });
      }),
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!options.redis) redis.disconnect();
    },
  };
}
