/**
 * The bot on a Redis Cluster, configured the way an operator does it: REDIS_CLUSTER_NODES for `npm run provision`,
 * the bot (its settings, its own connection and start-up checks) and `npm run check-store`. Driven over HTTP, including
 * a refused request (recorded in two slots) and a deletion and restore.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { App, createApp } from '../../bot/app';
import { loadSettings } from '../../bot/config';
import { VERBS } from '../../cards/verbs';
import { Agent, BotClient, Card, cardOf, choiceValue, PERSONAL, texts, visibleText } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { startThrowawayCluster, ThrowawayCluster } from '../support/redisCluster';

const TENANT = '7d0c9a4e-5b1f-4c3a-9e2d-1f0a2b3c4d5e';
const ADMIN: Agent = { id: '29:1ada', aadObjectId: 'a0000000-0000-4000-8000-000000000001', name: 'Ada Admin' };
const OTHER: Agent = { id: '29:1otto', aadObjectId: 'c0000000-0000-4000-8000-000000000003', name: 'Otto Other' };
const run = promisify(execFile);
const tsx = (script: string, args: string[], env: Record<string, string>) =>
  run(process.execPath, [join(__dirname, '../../node_modules/tsx/dist/cli.mjs'), join(__dirname, '../..', script), ...args], { env: { PATH: process.env.PATH, ...env } });

let cluster: ThrowawayCluster;
let connector: FakeConnector;
let dir: string;
let app: App;

beforeAll(async () => {
  cluster = await startThrowawayCluster();
  connector = await startFakeConnector();
  dir = mkdtempSync(join(tmpdir(), 'pab-cluster-provision-'));
}, 60_000);

afterAll(async () => {
  await app?.close();
  await connector?.stop();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('provision, serve and check a Redis Cluster through REDIS_CLUSTER_NODES', async () => {
  const file = join(dir, 'customers.json');
  const customers = ['contoso', 'fabrikam', 'tailspin', 'northwind'].map((id) => ({
    id,
    name: `${id[0].toUpperCase()}${id.slice(1)} Ltd`,
    domains: [`${id}.onmicrosoft.com`, `${id}.com`],
    subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 5 }],
    users: [
      { username: 'alice', displayName: 'Alice Smith', usageLocation: 'US', licenses: ['O365_E3'] },
      { username: 'bob', displayName: 'Bob Jones', usageLocation: 'US' },
    ],
  }));
  writeFileSync(file, JSON.stringify({ customers }));
  const env = { REDIS_CLUSTER_NODES: cluster.spec };
  const provisioned = await tsx('scripts/provision.ts', [file], env);
  expect(provisioned.stdout).toContain('Provisioned 4 customer(s): 8 user(s) created, 0 already existed.');

  const settings = loadSettings({ ...env, HOST: '127.0.0.1', PARTNER_TENANT_ID: TENANT, ADMIN_AGENTS: ADMIN.aadObjectId, LOG_LEVEL: 'silent' });
  expect(settings.redisClusterNodes).toEqual(cluster.nodes);
  app = await createApp({ ...settings, port: 0 }, { logger: pino({ level: 'silent' }) });
  const endpoint = await app.listen();
  const admin = new BotClient({ endpoint, serviceUrl: connector.url, tenantId: TENANT, agent: ADMIN });
  const say = async (bot: BotClient, text: string): Promise<Card> => {
    const conversation = bot.conversationId(PERSONAL);
    const before = connector.activitiesIn(conversation).length;
    await bot.message(text);
    return cardOf((await connector.waitForActivities(conversation, before + 1))[before]);
  };

  // Customers live in different slots: listing and naming them spans the cluster.
  expect(visibleText(await say(admin, 'customers'))).toMatch(/Contoso Ltd[\s\S]*Fabrikam Ltd[\s\S]*Northwind Ltd[\s\S]*Tailspin Ltd/);
  expect(texts(await say(admin, 'assign O365_E3 tailspin.com bob'))).toContain('Licenses updated \u2014 Tailspin Ltd');
  const users = await say(admin, 'users northwind');
  const bob = choiceValue(users, 'userIds', 'bob@northwind.onmicrosoft.com');
  const confirm = await admin.click(users, 'Delete', { userIds: bob });
  const deleted = await admin.click(confirm.card, 'Delete');
  expect(texts(deleted.card)).toContain('1 user deleted. You can restore it from Deleted users within 30 days.');
  const list = await admin.invoke(VERBS.deletedUsers, { customerId: 'northwind' });
  const restored = await admin.click(list.card, 'Restore', { userIds: bob });
  expect(texts(restored.card)).toContain('bob@northwind.onmicrosoft.com: restored.');
  // A refusal is recorded in the partner-wide log and in the customer's audit log: two slots.
  const refused = await say(new BotClient({ endpoint, serviceUrl: connector.url, tenantId: TENANT, agent: OTHER }), 'delete user fabrikam alice');
  expect(visibleText(refused)).toContain('You are not allowed to do that.');
  expect(texts(await say(admin, 'audit fabrikam')).join('\n')).toMatch(/Otto Other · Command deleteUsers · fabrikam · Refused \(No bot role\)/);

  const checked = await tsx('scripts/checkStore.ts', [], env);
  expect(checked.stdout).toMatch(/^4 customer\(s\), 8 active and 0 deleted user\(s\), \d+ audit entries, \d+ key\(s\) checked: every invariant holds\.$/m);
});
