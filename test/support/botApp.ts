/**
 * The bot over HTTP for a test, as story.test.ts starts it: a test directory (real Redis, own key root, fake clock),
 * the app on 127.0.0.1 and a free port, replies going to a fake connector.
 *
 *   const connector = await startFakeConnector();                        // once per file
 *   const bot = await startBotApp(connector, { seed: { users: [...] } });
 *   const card = await bot.say(bot.client(), 'import users contoso', PERSONAL, { attachments: [...] });
 *   const answer = await bot.client().sendInvoke(...);
 *   await bot.stop();                                                     // waits for imports and offboardings, closes, cleans up; the test checks
 *   expect(errorLogs(bot.logLines)).toEqual([]);                          // its logs and connector.unexpected() itself
 */
import type { Logger } from 'pino';
import { App, AppOptions, createApp } from '../../bot/app';
import { loadSettings } from '../../bot/config';
import { createLogger } from '../../bot/logger';
import { Activity, Agent, BotClient, Card, cardOf, PERSONAL, Where } from './botClient';
import type { FakeConnector } from './fakeConnector';
import { createTestDirectory, SeedCustomer, SeededCustomer, TestDirectory, TestDirectoryOptions } from './testDirectory';

export const TENANT = '7d0c9a4e-5b1f-4c3a-9e2d-1f0a2b3c4d5e';
export const MEGAN: Agent = { id: '29:1megan-bowen', aadObjectId: '3f6b2c1e-8a47-4d2b-9c1e-5a7b8c9d0e1f', name: 'Megan Bowen' };
export const LEE: Agent = { id: '29:1lee-gu', aadObjectId: 'b2c4e6f8-1a3c-4e5f-8a9b-0c1d2e3f4a5b', name: 'Lee Gu' };

/** The customer the story tests walk through (bot and Korean stories, delivery): few seats of E5, one unlicensed user. */
export const STORY_CUSTOMER: SeedCustomer = {
  id: 'contoso',
  name: 'Contoso Ltd',
  subscriptions: [
    { skuId: 'O365_E3', name: 'Office 365 E3', seats: 10 },
    { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 3 },
  ],
  users: [
    { username: 'alice', displayName: 'Alice Smith', licenses: ['O365_E3'] },
    { username: 'bob', displayName: 'Bob Jones', licenses: ['O365_E3', 'SPE_E5'] },
    { username: 'carol', displayName: 'Carol White' },
    { username: 'dave', displayName: 'Dave Brown', licenses: ['O365_E3'] },
  ],
};

export interface BotApp {
  t: TestDirectory;
  c: SeededCustomer;
  app: App;
  url: string;
  logLines: string[];
  client(agent?: Agent): BotClient;
  /** Sends a typed message (with extra activity fields, e.g. attachments); resolves with the card the bot replied with. */
  say(bot: BotClient, text: string, where?: Where, extra?: Partial<Activity>): Promise<{ card: Card; replyId: string }>;
  /** Another app on the same Redis and key root (a second instance); closed by stop(). */
  secondApp(options?: Partial<AppOptions>): Promise<App>;
  stop(): Promise<void>;
}

export interface BotAppOptions {
  seed?: SeedCustomer;
  directory?: TestDirectoryOptions;
  app?: Partial<AppOptions>;
  env?: Record<string, string>;
}

export async function startBotApp(connector: FakeConnector, options: BotAppOptions = {}): Promise<BotApp> {
  connector.reset();
  const t = await createTestDirectory(options.directory);
  const c = await t.seed(options.seed);
  const settings = loadSettings({
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    PARTNER_TENANT_ID: TENANT,
    ADMIN_AGENTS: `${MEGAN.aadObjectId},${LEE.aadObjectId}`,
    PUBLIC_BASE_URL: 'http://127.0.0.1:1',
    ...options.env,
  });
  const logLines: string[] = [];
  // At the settings' LOG_LEVEL (warn unless the test asks for info, e.g. to read the per-turn lines).
  const logger: Logger = createLogger(settings.logLevel, { write: (line: string) => void logLines.push(line) });
  const apps: App[] = [];
  const start = async (extra: Partial<AppOptions> = {}) => {
    // Port 0 (any free one); the settings' non-enumerable secrets (app password, Azure client secret) kept as they are.
    const onFreePort = Object.defineProperties({}, { ...Object.getOwnPropertyDescriptors(settings), port: { value: 0, enumerable: true } }) as typeof settings;
    const app = await createApp(onFreePort, { redis: t.redis, keys: t.keys, clock: t.clock, logger, ...options.app, ...extra });
    apps.push(app);
    return { app, url: await app.listen() };
  };
  const { app, url } = await start();
  const client = (agent: Agent = MEGAN) => new BotClient({ endpoint: url, serviceUrl: connector.url, tenantId: TENANT, agent });

  async function say(bot: BotClient, text: string, where: Where = PERSONAL, extra: Partial<Activity> = {}) {
    const conversationId = bot.conversationId(where);
    const before = connector.activitiesIn(conversationId).length;
    const { status } = await bot.post(bot.messageActivity(text, where, extra));
    if (status !== 200) throw new Error(`the bot answered ${status}`);
    const all = await connector.waitForActivities(conversationId, before + 1);
    const record = connector.records().filter((r) => r.conversationId === conversationId)[before];
    return { card: cardOf(all[before]), replyId: record.activityId };
  }

  return {
    t,
    c,
    app,
    url,
    logLines,
    client,
    say,
    secondApp: async (extra = {}) => (await start(extra)).app,
    async stop() {
      try {
        for (const a of apps) await a.importRunner.idle();
        for (const a of apps) await a.offboardRunner.idle();
        for (const a of apps) await a.close();
      } finally {
        await t.cleanup();
      }
    },
  };
}

/** Log lines at error level or above (a failed turn or job). */
export const errorLogs = (lines: string[]): string[] => lines.filter((l) => JSON.parse(l).level >= 50);
