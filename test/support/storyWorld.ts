/**
 * The bot's story tests run once per directory from one test body: a "world" is the bot over HTTP (startBotApp) with
 * the story's customer on the Redis directory, or on the Microsoft Graph directory pointed at the Graph / Entra
 * stand-in, its agents already signed in through the token service stand-in. The world answers the test's questions
 * about the store from the store itself (Redis through the service; Graph from the stand-in's own state), and makes
 * the changes "someone else" makes meanwhile.
 *
 *   describe.each(STORY_BACKENDS)('%s directory', (backend) => {
 *     beforeEach(async () => (w = await startStoryWorld(backend, connector)));
 *     ... w.botApp.client(MEGAN), w.E3, w.userId('alice'), await w.seats(), await w.verifyPassword(id, pw) ...
 *   });
 */
import { AuditLog } from '../../services/audit';
import { runAsCaller } from '../../services/caller';
import { DirectoryService } from '../../services/directory';
import { createGraphDirectory } from '../../services/directories/graph';
import type { Actor, UserRole } from '../../services/types';
import type { AppOptions } from '../../bot/app';
import { BotApp, LEE, MEGAN, startBotApp, STORY_CUSTOMER, TENANT } from './botApp';
import type { FakeConnector } from './fakeConnector';
import { GraphStandIn, ROLE, SeededTenant, startGraphStandIn } from './graph';
import { fakeClock } from './testDirectory';
import { startTokenService, TokenService } from './tokenService';

export const STORY_BACKENDS = ['redis', 'graph'] as const;
export type StoryBackend = (typeof STORY_BACKENDS)[number];

export interface StoryUser {
  id: string;
  displayName: string;
  usageLocation: string;
  role: UserRole;
  licenses: string[];
  mustChangePassword: boolean;
}

export interface StoryWorld {
  backend: StoryBackend;
  botApp: BotApp;
  customerId: string;
  /** The story's two licenses on this directory (Office 365 E3, Microsoft 365 E5). */
  E3: string;
  E5: string;
  userId(username: string): string;
  seats(): Promise<Record<string, { assigned: number; available: number }>>;
  licensesOf(userId: string): Promise<string[]>;
  activeUpns(): Promise<string[]>;
  userByUpn(upn: string): Promise<StoryUser>;
  deletedIds(): Promise<string[]>;
  verifyPassword(userId: string, password: string): Promise<boolean>;
  auditActions(): Promise<string[]>;
  /** Every field of every audit entry of the customer, as text. */
  auditText(): Promise<string>;
  /** Secrets of this world that must appear nowhere: the app's client secret, the agents' SSO and Graph tokens. */
  secrets(): string[];
  /** Graph only: the agent's Teams SSO token (by Entra object id), as Teams gives it to the bot and to the tab. */
  ssoTokenOf(aadObjectId: string): string;
  /** Changes made meanwhile by someone else (another admin, the admin center). */
  elsewhere: {
    addLicense(userId: string, sku: string): Promise<void>;
    deleteUser(userId: string): Promise<void>;
    createUser(username: string, displayName: string, role?: UserRole): Promise<void>;
    /** temp00, temp01, … */
    createUsers(count: number): Promise<void>;
  };
  stop(): Promise<void>;
}

const GRAPH_CLIENT = { id: '6a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d', secret: 'story-graph-secret~not-real' };
const CONNECTION = 'story-graph-sso';
const OTHER_ADMIN: Actor = { id: 'other-admin', name: 'Another Admin' };

export interface StoryWorldOptions {
  /** Graph only: the GDAP roles (template ids) of agents by Entra object id; default User + License Administrator. */
  gdap?: Record<string, string[]>;
  /** Graph only: the users tab's SSO check against the Entra stand-in's keys (its tokens are the agents' SSO tokens). */
  tab?: boolean;
  /** Options of the bot's app (e.g. a crash inside its offboarding jobs). */
  app?: Partial<AppOptions>;
}

export async function startStoryWorld(backend: StoryBackend, connector: FakeConnector, options: StoryWorldOptions = {}): Promise<StoryWorld> {
  return backend === 'redis' ? redisWorld(connector, options) : graphWorld(connector, options);
}

async function redisWorld(connector: FakeConnector, options: StoryWorldOptions): Promise<StoryWorld> {
  const botApp = await startBotApp(connector, { seed: STORY_CUSTOMER, env: { LOG_LEVEL: 'info' }, app: options.app });
  const { t, c } = botApp;
  const id = 'contoso';
  return {
    backend: 'redis',
    botApp,
    customerId: id,
    E3: 'O365_E3',
    E5: 'SPE_E5',
    userId: (username) => c.user(username).id,
    seats: async () => Object.fromEntries((await t.directory.getSubscriptions(id)).map((s) => [s.skuId, { assigned: s.assignedSeats, available: s.availableSeats }])),
    licensesOf: async (userId) => (await t.directory.getUser(id, userId)).licenses.sort(),
    activeUpns: async () => (await t.directory.listUsers(id, { pageSize: 100 })).users.map((u) => u.userPrincipalName).sort(),
    userByUpn: async (upn) => t.directory.findUser(id, upn),
    deletedIds: async () => (await t.directory.listDeletedUsers(id)).map((u) => u.id),
    verifyPassword: (userId, password) => t.directory.verifyUserPassword(id, userId, password),
    auditActions: async () => (await t.directory.audit(id, 1, 100)).entries.map((e) => e.action),
    auditText: async () => JSON.stringify((await t.directory.audit(id, 1, 1000)).entries),
    secrets: () => [],
    ssoTokenOf: () => {
      throw new Error('the Redis world has no SSO tokens');
    },
    elsewhere: {
      addLicense: async (userId, sku) => void (await t.directory.changeLicenses(id, [{ userId }], { add: [sku] }, { actor: t.actor })),
      deleteUser: async (userId) => void (await t.directory.deleteUsers(id, [{ userId }], { actor: t.actor })),
      createUser: async (username, displayName, role) => void (await t.directory.createUser(id, { username, displayName, usageLocation: 'US', role }, { actor: t.actor, withoutPassword: true })),
      createUsers: async (count) => {
        for (let i = 0; i < count; i++) {
          await t.directory.createUser(id, { username: `temp${String(i).padStart(2, '0')}`, displayName: `Temp ${String(i).padStart(2, '0')}`, usageLocation: 'US' }, { actor: t.actor, withoutPassword: true });
        }
      },
    },
    stop: () => botApp.stop(),
  };
}

async function graphWorld(connector: FakeConnector, options: StoryWorldOptions): Promise<StoryWorld> {
  // The stand-in starts before the bot (its addresses are settings), on the clock the bot gets.
  const clock = fakeClock();
  const graph: GraphStandIn = await startGraphStandIn({ clientId: GRAPH_CLIENT.id, clientSecret: GRAPH_CLIENT.secret, partnerTenantId: TENANT, clock, restoreAcceptsNewUserPrincipalName: true });
  const tokens: TokenService = await startTokenService(CONNECTION);
  const tenant: SeededTenant = graph.addCustomerTenant({
    displayName: 'Contoso Ltd',
    domains: ['contoso.onmicrosoft.com', 'contoso.com'],
    skus: [
      { skuPartNumber: 'ENTERPRISEPACK', seats: 10 },
      { skuPartNumber: 'SPE_E5', seats: 3 },
    ],
    users: (STORY_CUSTOMER.users ?? []).map((u) => ({
      userPrincipalName: `${u.username}@contoso.onmicrosoft.com`,
      displayName: u.displayName,
      usageLocation: 'US',
      licenses: (u.licenses ?? []).map((l) => (l === 'O365_E3' ? 'ENTERPRISEPACK' : l)),
    })),
  });
  // Both story agents hold the admin GDAP roles in Contoso and signed in before the story starts.
  const agents = [MEGAN, LEE, { id: OTHER_ADMIN.id, aadObjectId: OTHER_ADMIN.id, name: OTHER_ADMIN.name }];
  const sso = new Map<string, string>();
  for (const agent of agents) {
    graph.grantGdap(agent.aadObjectId!, tenant.tenantId, options.gdap?.[agent.aadObjectId!] ?? [ROLE.userAdministrator, ROLE.licenseAdministrator]);
    const token = await graph.issueUserToken({ agentId: agent.aadObjectId!, name: agent.name, tenantId: TENANT, audience: GRAPH_CLIENT.id, expiresInSeconds: 365 * 24 * 3600 });
    sso.set(agent.aadObjectId!, token);
    tokens.signInAs(agent.id, token);
  }
  const botApp = await startBotApp(connector, {
    directory: { start: clock.now() },
    app: options.app,
    env: {
      LOG_LEVEL: 'info',
      DIRECTORY_BACKEND: 'graph',
      OAUTH_CONNECTION_NAME: CONNECTION,
      AZURE_CLIENT_ID: GRAPH_CLIENT.id,
      AZURE_CLIENT_SECRET: GRAPH_CLIENT.secret,
      GRAPH_BASE_URL: graph.graphBaseUrl,
      AZURE_AUTHORITY_HOST: graph.authorityHost,
      BOT_OAUTH_URL: tokens.url,
      ...(options.tab ? { TAB_SSO_JWKS_URL: graph.jwksUri(TENANT), TAB_SSO_AUDIENCE: GRAPH_CLIENT.id, TAB_SSO_ISSUER: `${graph.authorityHost}/{tid}/v2.0` } : {}),
    },
  });
  // One clock for the bot and the stand-in: the world's clock follows the test directory's.
  clock.set(botApp.t.clock.now());
  const realNow = botApp.t.clock.now.bind(botApp.t.clock);
  Object.assign(clock, { now: realNow });

  const id = tenant.tenantId;
  const state = () => graph.tenant(id);
  const partOf = (guid: string) => state().skus().find((s) => s.skuId === guid)?.skuPartNumber ?? guid;
  // Someone else: another admin agent, through a Graph directory of its own (another bot instance).
  const other = new DirectoryService({
    redis: botApp.t.redis,
    keys: botApp.t.keys,
    clock: botApp.t.clock,
    backend: createGraphDirectory({ graphBaseUrl: graph.graphBaseUrl, authorityHost: graph.authorityHost, clientId: GRAPH_CLIENT.id, clientSecret: GRAPH_CLIENT.secret, partnerTenantId: TENANT, redis: botApp.t.redis, keys: botApp.t.keys, now: () => botApp.t.clock.now() }),
  });
  const asOther = <T>(work: () => Promise<T>) => runAsCaller({ actor: OTHER_ADMIN, userAssertion: async () => sso.get(OTHER_ADMIN.id) }, work);
  const roleOf = (userId: string): UserRole => (state().roleOf(userId) === ROLE.globalAdministrator ? 'global-admin' : state().roleOf(userId) ? 'user-admin' : 'user');

  return {
    backend: 'graph',
    botApp,
    customerId: id,
    E3: 'ENTERPRISEPACK',
    E5: 'SPE_E5',
    userId: (username) => tenant.userId(`${username}@contoso.onmicrosoft.com`),
    seats: async () => Object.fromEntries(state().skus().map((s) => [s.skuPartNumber, { assigned: s.consumedUnits, available: s.seats - s.consumedUnits }])),
    licensesOf: async (userId) => (state().user(userId)?.assignedLicenses ?? []).map((l) => partOf(l.skuId)).sort(),
    activeUpns: async () => state().users().map((u) => u.userPrincipalName.toLowerCase()).sort(),
    userByUpn: async (upn) => {
      const u = state().user(upn);
      if (!u) throw new Error(`no user ${upn} in the tenant`);
      return { id: u.id, displayName: u.displayName, usageLocation: u.usageLocation ?? '', role: roleOf(u.id), licenses: u.assignedLicenses.map((l) => partOf(l.skuId)).sort(), mustChangePassword: u.forceChangePasswordNextSignIn };
    },
    deletedIds: async () => state().deletedUsers().map((u) => u.id),
    verifyPassword: async (userId, password) => graph.verifyPassword(id, userId, password),
    auditActions: async () => (await new AuditLog(botApp.t.redis, botApp.t.keys).page(id, 1, 100)).entries.map((e) => e.action),
    auditText: async () => JSON.stringify((await new AuditLog(botApp.t.redis, botApp.t.keys).page(id, 1, 1000)).entries),
    // A JWT's payload is what identifies it; the Graph access tokens the bot got are the stand-in's, all starting eyJ.
    ssoTokenOf: (aadObjectId) => sso.get(aadObjectId) as string,
    secrets: () => [GRAPH_CLIENT.secret, ...[...sso.values()].map((token) => token.split('.')[1]), ...tokens.issued(), 'eyJ'],
    elsewhere: {
      addLicense: async (userId, sku) => void (await asOther(() => other.changeLicenses(id, [{ userId }], { add: [sku] }, { actor: OTHER_ADMIN }))),
      deleteUser: async (userId) => void (await asOther(() => other.deleteUsers(id, [{ userId }], { actor: OTHER_ADMIN }))),
      createUser: async (username, displayName, role) => void (await asOther(() => other.createUser(id, { username, displayName, usageLocation: 'US', role }, { actor: OTHER_ADMIN }))),
      createUsers: async (count) => {
        for (let i = 0; i < count; i++) {
          await asOther(() => other.createUser(id, { username: `temp${String(i).padStart(2, '0')}`, displayName: `Temp ${String(i).padStart(2, '0')}`, usageLocation: 'US' }, { actor: OTHER_ADMIN }));
        }
      },
    },
    async stop() {
      try {
        await botApp.stop();
      } finally {
        await tokens.stop();
        await graph.close();
      }
    },
  };
}
