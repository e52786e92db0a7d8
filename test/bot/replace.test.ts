/** Replace mode: typed `replace` and the Manage licenses card move holders of one license to another. */
import pino from 'pino';
import { App, createApp } from '../../bot/app';
import { loadSettings } from '../../bot/config';
import { parseCommand } from '../../bot/commands/parse';
import { BotClient, cardOf, choiceValue, PERSONAL, texts, visibleText } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { createTestDirectory, SeededCustomer, TestDirectory } from '../support/testDirectory';

let t: TestDirectory;
let c: SeededCustomer;
let connector: FakeConnector;
let app: App;
let bot: BotClient;

beforeAll(async () => (connector = await startFakeConnector()));
afterAll(() => connector.stop());
beforeEach(async () => {
  connector.reset();
  t = await createTestDirectory();
  c = await t.seed({
    name: 'Contoso Ltd',
    subscriptions: [
      { skuId: 'O365_E3', name: 'Office 365 E3', seats: 10 },
      { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 5 },
    ],
    users: [
      { username: 'alice', displayName: 'Alice', licenses: ['O365_E3'] },
      { username: 'bob', displayName: 'Bob' },
    ],
  });
  app = await createApp({ ...loadSettings({}), port: 0 }, { redis: t.redis, keys: t.keys, clock: t.clock, logger: pino({ level: 'silent' }) });
  bot = new BotClient({ endpoint: await app.listen(), serviceUrl: connector.url, tenantId: 't1', agent: { id: '29:a', aadObjectId: 'a1', name: 'Ada' } });
});
afterEach(async () => {
  await app.close();
  await t.cleanup();
});

const licenses = async (name: string) => (await t.directory.getUser('contoso', c.user(name).id)).licenses;

it('parses replace <from> <to> <customer> <users>', () => {
  expect(parseCommand('replace o365_e3 SPE_E5 contoso alice, bob')).toEqual({
    ok: true,
    command: { name: 'replace', from: 'O365_E3', to: 'SPE_E5', customer: 'contoso', users: ['alice', 'bob'] },
  });
  expect(parseCommand('replace O365_E3 O365_E3 contoso alice').ok).toBe(false);
  expect(parseCommand('replace O365_E3 contoso alice').ok).toBe(false);
});

it('typed replace moves only the holders', async () => {
  await bot.message('replace O365_E3 SPE_E5 contoso alice,bob', PERSONAL);
  const [reply] = await connector.waitForActivities(bot.conversationId(PERSONAL), 1);
  expect(texts(cardOf(reply))).toEqual(expect.arrayContaining(['Added: Microsoft 365 E5. Removed: Office 365 E3.', 'No change.']));
  expect(await licenses('alice')).toEqual(['SPE_E5']);
  expect(await licenses('bob')).toEqual([]);
});

it('the Manage licenses card replaces one license with another', async () => {
  const users = (await bot.invoke('users', { customerId: 'contoso' })).card;
  const selected = [choiceValue(users, 'userIds', 'alice@'), choiceValue(users, 'userIds', 'bob@')].join(',');
  const manage = (await bot.click(users, 'Manage licenses', { userIds: selected })).card;
  expect(visibleText(manage)).toContain('Replace this license');
  const results = (await bot.click(manage, 'Save', { replaceFrom: 'O365_E3', replaceTo: 'SPE_E5' })).card;
  expect(texts(results)).toContain('Licenses updated \u2014 Contoso Ltd');
  expect(await licenses('alice')).toEqual(['SPE_E5']);
  expect(await licenses('bob')).toEqual([]);
});

it('a replace with only one side chosen is refused and changes nothing', async () => {
  const users = (await bot.invoke('users', { customerId: 'contoso' })).card;
  const manage = (await bot.click(users, 'Manage licenses', { userIds: choiceValue(users, 'userIds', 'alice@') })).card;
  const answer = await bot.click(manage, 'Save', { replaceFrom: 'O365_E3' });
  expect(answer.status).toBe(200);
  expect(visibleText(answer.card)).toMatch(/cannot use/);
  expect(await licenses('alice')).toEqual(['O365_E3']);
});
