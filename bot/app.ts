import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { CloudAdapter, ConfigurationBotFrameworkAuthentication, ConversationReference, TurnContext } from 'botbuilder';
import type { Logger } from 'pino';
import * as restify from 'restify';
import { CredentialVault } from '../services/credentials';
import { ImportService } from '../services/import/importer';
import { ImportDialogs } from '../services/import/dialogs';
import { registerImportDialogRoutes } from './dialogs/routes';
import { ImportRunner } from './importRunner';
import { Clock, DirectoryService, systemClock } from '../services/directory';
import type { DirectoryBackend } from '../services/directories/port';
import { createGraphDirectory } from '../services/directories/graph';
import { RedisDirectory } from '../services/directories/redis';
import { runAsCaller, type Caller } from '../services/caller';
import type { Actor } from '../services/types';
import { provision, readProvisioningFile } from '../services/provisioning';
import { KeyLayout } from '../services/store/keys';
import { connectRedis, isEmbedded, RedisClient } from '../services/store/redis';
import { keyedPasswordHasher, scryptPasswordHasher } from '../services/passwords';
import { translator } from '../cards/i18n';
import { AdminBot, AFTER_TURN } from './adminBot';
import { OffboardRunner } from './offboardRunner';
import type { OffboardHooks } from '../services/offboarding';
import { BulkChangeService } from '../services/bulkChanges';
import { ApprovalService } from '../services/approvals';
import { ApprovalChannel } from './approvalChannel';
import { malformedActivityField } from './incomingActivity';
import { AgentRoles } from './agents';
import type { Settings } from './config';
import { createLogger } from './logger';
import { checkProductionRedis } from './redisChecks';
import { AgentConversations, deliverToAgent, PrivateChannel } from './privateChannel';
import { TabAuthenticator } from './tab/auth';
import { registerTabRoutes } from './tab/routes';
import { DEMO_DATA_FILE } from './paths';
import { SignIn } from './signIn';

const HEALTH_TIMEOUT_MS = 1000;
const PURGE_INTERVAL_MS = 60 * 60 * 1000;

async function pingWithin(redis: RedisClient, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      redis.ping().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}


export interface AppOptions {
  /** An existing connection (tests); otherwise one is opened from the settings. */
  redis?: RedisClient;
  keys?: KeyLayout;
  clock?: Clock;
  logger?: Logger;
  privateChannelFor?: (context: TurnContext) => PrivateChannel;
  /** How long an attached file may take to download (tests shorten the 20 s default). */
  downloadTimeoutMs?: number;
  /** The directory behind the service (tests); otherwise the settings' DIRECTORY_BACKEND decides. */
  directoryBackend?: DirectoryBackend;
  /** Tests: a crash inside the offboarding jobs this app runs. */
  offboardTestHooks?: Pick<OffboardHooks, 'afterStep' | 'beforeRecord'>;
}

export interface App {
  server: restify.Server;
  directory: DirectoryService;
  importer: ImportService;
  importRunner: ImportRunner;
  offboardRunner: OffboardRunner;
  redis: RedisClient;
  logger: Logger;
  /** Listens on the configured host and port (0 = any free port); resolves with the URL. */
  listen(): Promise<string>;
  close(graceMs?: number): Promise<void>;
  inFlight(): number;
}

/** Wires settings → store → service → bot → HTTP. Nothing here holds a business rule. */
export async function createApp(settings: Settings, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(settings.logLevel);
  const redis = options.redis ?? connectRedis(settings.redisClusterNodes ? { clusterNodes: settings.redisClusterNodes.map((n) => ({ ...n })) } : { url: settings.redisUrl });
  const keys = options.keys ?? new KeyLayout();
  let lastRedisError = '';
  redis.on('error', (err: Error) => {
    // ioredis reconnects by itself; log each distinct failure once instead of every retry.
    if (err.message !== lastRedisError) logger.warn({ err: err.message }, 'redis connection problem');
    lastRedisError = err.message;
  });
  redis.on('ready', () => (lastRedisError = ''));
  const clock = options.clock ?? systemClock;
  // DIRECTORY_BACKEND=graph: each customer's own Entra ID, on behalf of the calling agent (config.ts checked its settings).
  const backend =
    options.directoryBackend ??
    (settings.directoryBackend === 'graph'
      ? createGraphDirectory({
          graphBaseUrl: settings.graphBaseUrl,
          authorityHost: settings.azureAuthorityHost,
          clientId: settings.azureClientId ?? '',
          clientSecret: settings.azureClientSecret ?? '',
          partnerTenantId: settings.partnerTenantId ?? '',
          redis,
          keys,
          now: () => clock.now(),
          logger,
        })
      : undefined);
  // Temporary passwords: HMAC-SHA-256 under PASSWORD_HASH_KEY; without it, a key drawn now for the embedded store
  // (nothing it holds outlives the process), scrypt for a real Redis (a key that changed at each restart would make
  // the stored hashes unverifiable). README, Security model.
  const embedded = isEmbedded(redis);
  const passwordHasher = settings.passwordHashKey
    ? keyedPasswordHasher(settings.passwordHashKey)
    : embedded
      ? keyedPasswordHasher(randomBytes(32))
      : scryptPasswordHasher;
  if (!settings.passwordHashKey && !embedded && !options.redis) {
    logger.warn('PASSWORD_HASH_KEY is not set: temporary passwords are hashed with scrypt (slow: about 400 per second per core); set it for the keyed hash');
  }
  const directory = new DirectoryService({ redis, keys, clock, backend, passwordHasher });
  const vault = new CredentialVault(redis, keys, clock);

  if (!isEmbedded(redis) && !options.redis) {
    await checkProductionRedis(redis, logger).catch((err) => {
      redis.disconnect();
      throw err;
    });
  }
  // Index entries in the form before layout 3 are rewritten before the first request (once; later starts find none).
  // A start during a Redis outage must not end the process: then the migration runs as soon as Redis is back.
  if (directory.backend instanceof RedisDirectory) {
    const backend = directory.backend;
    const migrate = () =>
      backend.migrateLayout().then((moved) => {
        if (moved) logger.info({ entries: moved }, 'index entries migrated to layout 3 (no UPN in them)');
      });
    await migrate().catch((err: Error) => {
      logger.warn({ err: err.message }, 'could not migrate the index entries now; they are migrated once Redis is back');
      redis.once('ready', () => void migrate().catch((e: Error) => logger.warn({ err: e.message }, 'index migration failed; it runs at the next start')));
    });
  }
  // Demo data only for the bot's own directory: a Graph directory's customers are the partner's GDAP customers.
  if (isEmbedded(redis) && directory.backend.kind === 'redis') {
    const summary = await provision(directory, await readProvisioningFile(DEMO_DATA_FILE));
    logger.info({ ...summary }, 'embedded store: no REDIS_URL, demo data loaded (data is lost when the process stops)');
  }
  if (settings.provisionFile) {
    const file = await readProvisioningFile(settings.provisionFile).catch((err) => {
      // Start-up stops here: the connection this app opened must not keep the process alive.
      if (!options.redis) redis.disconnect();
      throw err;
    });
    const summary = await provision(directory, file);
    logger.info({ file: settings.provisionFile, ...summary }, 'provisioning file loaded');
  }

  const auth = new ConfigurationBotFrameworkAuthentication({
    MicrosoftAppId: settings.microsoftAppId ?? '',
    MicrosoftAppPassword: settings.microsoftAppPassword ?? '',
    MicrosoftAppType: settings.microsoftAppType,
    MicrosoftAppTenantId: settings.microsoftAppTenantId ?? '',
    // The Bot Framework token service (agents' sign-in tokens); unset: botbuilder's default.
    ...(settings.botOAuthUrl ? { OAuthUrl: settings.botOAuthUrl } : {}),
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

  const conversations = new AgentConversations(redis, keys, () => clock.now());
  const importer = new ImportService(directory, vault);
  const dialogs = new ImportDialogs(redis, keys, clock);
  // Sign-in is for a directory that acts on the agent's behalf; the Redis directory never asks for a token.
  const signIn = new SignIn({
    redis,
    keys,
    connectionName: directory.backend.kind === 'graph' ? settings.oauthConnectionName : undefined,
    botAppId: settings.microsoftAppId ?? settings.azureClientId,
    logger,
  });
  const appId = settings.microsoftAppId ?? '';
  /**
   * The caller of a background job: its owner, with the token the token service keeps for them, read through a
   * proactive turn in the agent's remembered 1:1 chat (the UserTokenClient is per turn). null when none can be had.
   */
  const callerFor = async (owner: Actor): Promise<Caller | null> => {
    if (!signIn.enabled) return { actor: owner, userAssertion: async () => undefined };
    const reference = await conversations.find(owner.id);
    if (!reference?.user?.id) return null;
    let caller: Caller | null = null;
    await adapter.continueConversationAsync(appId, reference, async (context) => {
      caller = signIn.callerFor(context, owner, { askEveryTime: true });
    });
    const found = caller as Caller | null;
    const token = await found?.userAssertion().catch((err: Error) => {
      logger.warn({ err: err.message }, 'the token service did not answer for a background job');
      return undefined;
    });
    return token ? found : null;
  };
  const importRunner = new ImportRunner({ importer, directory, adapter, appId, conversations, logger, clock, publicBaseUrl: settings.publicBaseUrl, callerFor });
  const approvals = new ApprovalService(directory, undefined, importer);
  const approvalChannel = new ApprovalChannel(redis, keys, adapter, appId, conversations, logger);
  const offboardRunner = new OffboardRunner({ approvals, directory, adapter, appId, approvalChannel, logger, callerFor, testHooks: options.offboardTestHooks });
  const bot = new AdminBot({
    directory,
    agents,
    approvals,
    approvalChannel,
    vault,
    publicBaseUrl: settings.publicBaseUrl,
    adapter,
    conversations,
    importer,
    importRunner,
    offboardRunner,
    dialogs,
    appId: settings.microsoftAppId ?? '',
    partnerTenantId: settings.partnerTenantId,
    logger,
    signIn,
    onSignedIn: (agentId) =>
      void importRunner.resumeOwnedBy(agentId).catch((err: Error) => logger.warn({ err: err.message }, 'could not resume the imports waiting for a sign-in')),
    privateChannelFor: options.privateChannelFor,
    downloadTimeoutMs: options.downloadTimeoutMs,
  });

  const server = restify.createServer({ name: 'partner-admin-bot' });
  server.use(restify.plugins.bodyParser({ maxBodySize: 2 * 1024 * 1024 }));
  let ready = false;
  let purgeTimer: NodeJS.Timeout | undefined;
  const purge = () =>
    void directory
      .purgeExpired()
      .then((n) => n && logger.info({ purged: n }, 'purged users deleted more than 30 days ago'))
      .catch((err: Error) => logger.warn({ err: err.message }, 'purge failed; it runs again within the hour'));
  let stopping = false;
  let inFlight = 0;
  let drained: (() => void) | null = null;
  server.post('/api/messages', async (req, res) => {
    if (!ready) {
      res.setHeader('Retry-After', '1');
      res.sendRaw(503, 'not ready');
      return;
    }
    const malformed = malformedActivityField(req.body);
    if (malformed) {
      logger.warn({ field: malformed }, 'malformed activity refused');
      res.send(400, { error: 'malformed activity', field: malformed });
      return;
    }
    inFlight++;
    // Work a turn leaves for after its answer (a background job that updates the card this answer carries).
    const afterTurn: Array<() => void> = [];
    try {
      await adapter.process(req, res, (context) => {
        context.turnState.set(AFTER_TURN, afterTurn);
        return bot.run(context);
      });
    } finally {
      inFlight--;
      if (inFlight === 0) drained?.();
      for (const task of afterTurn) task();
    }
  });
  // One-time credential downloads: no caching anywhere, 410 once used or expired.
  server.get('/downloads/:token', async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const result = await vault.openDownload(String(req.params.token ?? ''));
    if (!result.ok) {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      // A browser, not a Teams turn: the language comes from its first Accept-Language preference.
      const language = String(req.headers['accept-language'] ?? '').split(',')[0].split(';')[0].trim();
      res.sendRaw(410, translator(language || undefined).t('download.gone'));
      return;
    }
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${result.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
    // Sent part by part as it is read (a large import's results are never held whole); a part that cannot be read
    // after the answer began cuts the connection, so that the browser reports a failed download, not a short file.
    res.writeHead(200);
    try {
      for await (const part of result.parts) if (!res.write(part)) await once(res, 'drain');
      res.end();
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'a download stopped before its end');
      res.destroy();
    }
  });
  // The Import users dialog's page and upload (a Teams dialog, so that a CSV can be imported from any chat).
  registerImportDialogRoutes(server, {
    dialogs,
    directory,
    logger,
    // The page ran outside Teams: no task/submit will come, so the preview goes to the conversation proactively.
    postPreview: async (uploadId, binding) => {
      let outcome = { posted: false };
      const reference = JSON.parse(binding.reference) as Partial<ConversationReference>;
      await adapter.continueConversationAsync(settings.microsoftAppId ?? '', reference, async (context) => {
        outcome = await bot.postDialogUpload(context, uploadId);
      });
      return outcome;
    },
  });
  // The Users and licenses tab (Teams SSO only) and its JSON API: the same service calls and roles as the bot's.
  const bulk = new BulkChangeService(directory);
  registerTabRoutes(server, {
    directory,
    bulk,
    approvals,
    agents,
    vault,
    logger,
    publicBaseUrl: settings.publicBaseUrl,
    auth: new TabAuthenticator({ sso: settings.tabSso, partnerTenantId: settings.partnerTenantId, now: () => clock.now() }),
    deliverPrivately: (agentId, card) => deliverToAgent(adapter, settings.microsoftAppId ?? '', conversations, agentId, undefined, card),
  });
  // Liveness plus Redis reachability; 503 while starting, stopping or when Redis does not answer within 1 s.
  server.get('/healthz', async (_req, res) => {
    const started = Date.now();
    const reachable = await pingWithin(redis, HEALTH_TIMEOUT_MS);
    const status = !ready ? (stopping ? 'stopping' : 'starting') : reachable ? 'ok' : 'redis-unavailable';
    res.json(status === 'ok' ? 200 : 503, {
      status,
      ready,
      redis: { reachable, latencyMs: reachable ? Date.now() - started : null, embedded: isEmbedded(redis) },
    });
  });

  return {
    server,
    directory,
    importer,
    importRunner,
    offboardRunner,
    redis,
    logger,
    listen: () =>
      new Promise((resolve) => {
        server.listen(settings.port, settings.host, () => {
          ready = true;
          // Users deleted more than 30 days ago are purged now and every hour; safe with several instances.
          purge();
          purgeTimer = setInterval(purge, PURGE_INTERVAL_MS).unref();
          // Imports left running by a stopped instance continue here (a lock keeps one runner per job).
          // Redis may be away right now: a failure is logged, never left unhandled (that would end the process).
          void importRunner
            .resumeAll()
            .then((n) => n && logger.info({ jobs: n }, 'resuming import jobs'))
            .catch((err: Error) => logger.warn({ err: err.message }, 'could not resume import jobs now; they resume at the next start'));
          // Offboardings left running by a stopped instance finish their remaining steps (a lock keeps one runner) and
          // go on updating their cards from the step they stopped at.
          void offboardRunner
            .resumeAll()
            .then((n) => n && logger.info({ jobs: n }, 'resuming offboarding jobs'))
            .catch((err: Error) => logger.warn({ err: err.message }, 'could not resume offboarding jobs now; they resume at the next start'));
          // Bulk changes of the users tab likewise, as their owner (a directory that needs the owner's sign-in and cannot
          // have it now resumes when the owner's page asks for the job or opens the customer).
          const resumeBulk = async (customerId: string, jobId: string) => {
            const caller = await callerFor((await bulk.job(customerId, jobId)).owner);
            if (!caller) return logger.warn({ job: jobId, customer: customerId }, 'bulk change waits: no token for its owner now');
            await runAsCaller(caller, () => bulk.run(customerId, jobId));
          };
          void bulk
            .runningJobs()
            .then((jobs) => Promise.all(jobs.map((j) => resumeBulk(j.customerId, j.jobId).catch((err: Error) => logger.warn({ err: err.message, job: j.jobId }, 'bulk change not resumed now')))))
            .then((done) => done.length && logger.info({ jobs: done.length }, 'resumed bulk changes'))
            .catch((err: Error) => logger.warn({ err: err.message }, 'could not resume bulk changes now; they resume at the next start'));
          const address = server.address();
          resolve(`http://${settings.host}:${address.port}`);
        });
      }),
    /** Stops accepting requests, lets turns in flight finish (bounded), then closes Redis. */
    close: async (graceMs = 10_000) => {
      ready = false;
      stopping = true;
      clearInterval(purgeTimer);
      importRunner.stop();
      offboardRunner.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.server.closeIdleConnections?.();
      if (inFlight > 0) {
        await Promise.race([new Promise<void>((resolve) => (drained = resolve)), new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref())]);
      }
      server.server.closeAllConnections?.();
      await closed;
      if (!options.redis) await redis.quit().catch(() => redis.disconnect());
    },
    inFlight: () => inFlight,
  };
}
