/**
 * Duplicated and reordered delivery, over HTTP as Teams does it: every state-changing button delivered twice at once,
 * then once more 20 s later (Teams retries an activity it got no answer for; the injected clock moves 20 s) has one
 * effect and gets the same answer each time (a temporary password is shown once). Two agents pressing Delete or
 * Restore on the same user at once: one wins, the other gets a refreshed card that says what happened.
 */
import { checkStore, formatReport } from '../../services/storeCheck';
import { BotApp, errorLogs, LEE, MEGAN, startBotApp, STORY_CUSTOMER } from '../support/botApp';
import { Activity, Agent, BotClient, Card, cardOf, CHANNEL, choiceValue, InvokeAnswer, PERSONAL, submission, texts, visibleText, Where } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { dumpValues, SeededCustomer, TestDirectory } from '../support/testDirectory';

const TEAMS_RETRY_MS = 20_000;

let connector: FakeConnector;
let botApp: BotApp;
let t: TestDirectory;
let c: SeededCustomer;

beforeAll(async () => {
  connector = await startFakeConnector();
});
afterAll(async () => connector.stop());

beforeEach(async () => {
  botApp = await startBotApp(connector, {
    seed: { ...STORY_CUSTOMER, users: STORY_CUSTOMER.users?.slice(0, 3) }, // without Dave
  });
  ({ t, c } = botApp);
});

afterEach(async () => {
  const report = await checkStore(t.redis, t.keys);
  await botApp.stop();
  if (!report.ok) throw new Error(formatReport(report));
  expect(errorLogs(botApp.logLines)).toEqual([]);
});

const client = (agent?: Agent) => botApp.client(agent);
const say = async (bot: BotClient, text: string, where?: Where): Promise<Card> => (await botApp.say(bot, text, where)).card;

function expectCard(answer: InvokeAnswer): Card {
  expect(answer.status).toBe(200);
  expect(answer.body.statusCode).toBe(200);
  expect(answer.card.type).toBe('AdaptiveCard');
  return answer.card;
}

async function press(bot: BotClient, card: Card, title: string | RegExp, values: Record<string, string> = {}, where: Where = PERSONAL): Promise<Card> {
  return expectCard(await bot.click(card, title, values, where));
}

/** Everything stored, except the agents' remembered 1:1 chats (each turn refreshes the last activity id there). */
async function state(): Promise<string> {
  return JSON.stringify([...(await dumpValues(t)).entries()].filter(([k]) => !k.endsWith('agent-conversations')).sort());
}

const PASSWORD_LINE = /^Temporary password: /;
const passwordsOn = (card: Card) => texts(card).filter((s) => PASSWORD_LINE.test(s));
/** What the agent reads, without the password lines (a temporary password is shown once, by the first answer). */
const readable = (card: Card) => texts(card).filter((s) => !PASSWORD_LINE.test(s) && !/must change this password/.test(s));

/**
 * The same activity twice at once, then again after 20 s. Returns the three answers; the store after the first two
 * equals the store after the third (one effect).
 */
async function deliverThrice(bot: BotClient, activity: Activity): Promise<Card[]> {
  const [a, b] = await Promise.all([bot.sendInvoke(activity), bot.sendInvoke(activity)]);
  const after = await state();
  t.clock.advance(TEAMS_RETRY_MS);
  const later = await bot.sendInvoke(activity);
  expect(await state()).toBe(after);
  return [a, b, later].map(expectCard);
}

function expectSameAnswer(cards: Card[]): void {
  for (const card of cards.slice(1)) expect(readable(card)).toEqual(readable(cards[0]));
  expect(cards.flatMap(passwordsOn).length).toBeLessThanOrEqual(1);
}

const auditCount = async (action: string) => (await t.directory.audit('contoso', 1, 1000)).entries.filter((e) => e.action === action).length;

const NEW_USER = { firstName: 'Nina', lastName: 'Park', displayName: 'Nina Park', username: 'nina.park', domain: 'contoso.com', usageLocation: 'KR', role: 'user', licenses: 'O365_E3' };

describe('every state-changing button, delivered twice at once and again 20 s later: one effect, the same answer', () => {
  test('Add user → Save', async () => {
    const bot = client();
    const form = await press(bot, await say(bot, 'users contoso'), 'Add user');
    const { verb, data } = submission(form, 'Save', NEW_USER);
    const answers = await deliverThrice(bot, bot.invokeActivity(verb, data));
    expectSameAnswer(answers);
    expect(readable(answers[0])).toEqual(expect.arrayContaining(['User created', 'Nina Park \u2014 nina.park@contoso.com']));
    // The one password shown is the one that works.
    const [shown] = answers.flatMap(passwordsOn).map((s) => s.replace(PASSWORD_LINE, ''));
    const nina = await t.directory.findUser('contoso', 'nina.park@contoso.com');
    if (shown) expect(await t.directory.verifyUserPassword('contoso', nina.id, shown)).toBe(true);
    expect(await auditCount('create-user')).toBe(4);
  });

  test('Add user → Save and add another, twice in a series, then Finish: every password reaches the agent once', async () => {
    const bot = client();
    const form = await press(bot, await say(bot, 'users contoso'), 'Add user');
    let s = submission(form, 'Save and add another', NEW_USER);
    const firstAnswers = await deliverThrice(bot, bot.invokeActivity(s.verb, s.data));
    expectSameAnswer(firstAnswers);
    expect(texts(firstAnswers[0])).toContain('1 user added in this series.');

    s = submission(firstAnswers[2], 'Save and add another', { ...NEW_USER, firstName: 'Omar', displayName: 'Omar Park', username: 'omar.park' });
    const secondAnswers = await deliverThrice(bot, bot.invokeActivity(s.verb, s.data));
    expectSameAnswer(secondAnswers);
    expect(texts(secondAnswers[0])).toContain('2 users added in this series.');

    s = submission(secondAnswers[2], 'Finish and send passwords');
    const finished = await deliverThrice(bot, bot.invokeActivity(s.verb, s.data));
    for (const card of finished.slice(1)) expect(texts(card)).toEqual(texts(finished[0]));
    const passwords = passwordsOn(finished[2]).map((p) => p.replace(PASSWORD_LINE, ''));
    expect(passwords).toHaveLength(2);
    for (const [upn, pw] of [['nina.park@contoso.com', passwords[0]], ['omar.park@contoso.com', passwords[1]]]) {
      const u = await t.directory.findUser('contoso', upn);
      expect(await t.directory.verifyUserPassword('contoso', u.id, pw)).toBe(true);
    }
    expect(await auditCount('create-user')).toBe(5);
  });

  test('Finish in a channel: the passwords reach the 1:1 chat once, the download works once, every answer says so', async () => {
    const bot = client();
    const form = await press(bot, await say(bot, 'users contoso', CHANNEL), 'Add user', {}, CHANNEL);
    const added = await press(bot, form, 'Save and add another', NEW_USER, CHANNEL);
    const s = submission(added, 'Finish and send passwords');
    const answers = await deliverThrice(bot, bot.invokeActivity(s.verb, s.data, CHANNEL));
    for (const card of answers.slice(1)) expect(texts(card)).toEqual(texts(answers[0]));
    expect(visibleText(answers[0])).toContain('The temporary password was sent to you in a private chat.');
    expect(answers.flatMap(passwordsOn)).toEqual([]);
    const [chat] = connector.createdConversations();
    const dms = connector.activitiesIn(chat.id);
    expect(dms).toHaveLength(1);
    const [password] = passwordsOn(cardOf(dms[0])).map((p) => p.replace(PASSWORD_LINE, ''));
    const nina = await t.directory.findUser('contoso', 'nina.park@contoso.com');
    expect(await t.directory.verifyUserPassword('contoso', nina.id, password)).toBe(true);
    const link = (cardOf(dms[0]).actions as Array<{ url?: string }>).find((a) => a.url)?.url as string;
    const path = new URL(link).pathname;
    expect((await fetch(`${botApp.url}${path}`)).status).toBe(200);
    expect((await fetch(`${botApp.url}${path}`)).status).toBe(410);
  });

  test('Manage licenses → Save', async () => {
    const bot = client();
    const users = await say(bot, 'users contoso');
    const manage = await press(bot, users, 'Manage licenses', { userIds: [c.user('alice').id, c.user('carol').id].join(',') });
    const { verb, data } = submission(manage, 'Save', { lic_O365_E3: 'all', lic_SPE_E5: 'all' });
    const answers = await deliverThrice(bot, bot.invokeActivity(verb, data));
    expectSameAnswer(answers);
    expect(texts(answers[0])).toContain('Licenses updated \u2014 Contoso Ltd');
    expect((await t.directory.getSubscriptions('contoso')).map((x) => [x.skuId, x.assignedSeats])).toEqual([['O365_E3', 3], ['SPE_E5', 3]]);
    expect(await auditCount('change-licenses')).toBe(1);
  });

  test('Reset password → Reset (in a channel: the password goes to the 1:1 chat once)', async () => {
    const bot = client();
    const users = await say(bot, 'users contoso', CHANNEL);
    const confirm = await press(bot, users, 'Reset password', { userIds: c.user('alice').id }, CHANNEL);
    const { verb, data } = submission(confirm, /^Reset/);
    const answers = await deliverThrice(bot, bot.invokeActivity(verb, data, CHANNEL));
    expectSameAnswer(answers);
    expect(visibleText(answers[0])).toContain('The temporary password was sent to you in a private chat.');
    const [chat] = connector.createdConversations();
    const dms = connector.activitiesIn(chat.id);
    expect(dms).toHaveLength(1);
    const password = passwordsOn(cardOf(dms[0]))[0].replace(PASSWORD_LINE, '');
    expect(await t.directory.verifyUserPassword('contoso', c.user('alice').id, password)).toBe(true);
    expect(await auditCount('reset-password')).toBe(1);
  });

  test('Delete → Delete', async () => {
    const bot = client();
    const confirm = await press(bot, await say(bot, 'users contoso'), 'Delete', { userIds: c.user('bob').id });
    const { verb, data } = submission(confirm, 'Delete');
    const answers = await deliverThrice(bot, bot.invokeActivity(verb, data));
    expectSameAnswer(answers);
    expect(texts(answers[0])).toContain('1 user deleted. You can restore it from Deleted users within 30 days.');
    expect(await auditCount('delete-users')).toBe(1);
  });

  test('Deleted users → Restore', async () => {
    const bot = client();
    await t.directory.deleteUsers('contoso', [{ userId: c.user('bob').id }], { actor: t.actor });
    const deleted = await say(bot, 'deleted users contoso');
    const { verb, data } = submission(deleted, 'Restore', { userIds: c.user('bob').id });
    const answers = await deliverThrice(bot, bot.invokeActivity(verb, data));
    expectSameAnswer(answers);
    expect(texts(answers[0])).toEqual(expect.arrayContaining(['bob@contoso.onmicrosoft.com: restored.', 'Licenses given back: Office 365 E3, Microsoft 365 E5']));
    expect(await auditCount('restore-users')).toBe(1);
  });

  test('typed commands too: Teams redelivers a message with its activity id', async () => {
    const bot = client();
    const conversation = bot.conversationId(PERSONAL);
    const activity = bot.messageActivity(`assign SPE_E5 contoso alice,carol`);
    await Promise.all([bot.post(activity), bot.post(activity)]);
    t.clock.advance(TEAMS_RETRY_MS);
    await bot.post(activity);
    const replies = (await connector.waitForActivities(conversation, 3)).map(cardOf);
    expectSameAnswer(replies);
    expect(texts(replies[0])).toContain('Licenses updated \u2014 Contoso Ltd');
    expect((await t.directory.getSubscriptions('contoso')).find((x) => x.skuId === 'SPE_E5')?.assignedSeats).toBe(3);
    expect(await auditCount('change-licenses')).toBe(1);
  });
});

describe('two agents on the same user at once: one wins, the other is told what happened', () => {
  test('Delete', async () => {
    const [megan, lee] = [client(MEGAN), client(LEE)];
    const carol = c.user('carol').id;
    const confirms = await Promise.all([megan, lee].map(async (bot) => press(bot, await say(bot, 'users contoso'), 'Delete', { userIds: carol })));
    const [a, b] = await Promise.all([press(megan, confirms[0], 'Delete'), press(lee, confirms[1], 'Delete')]);
    const [winner, loser] = texts(a).includes('1 user deleted. You can restore it from Deleted users within 30 days.') ? [a, b] : [b, a];
    expect(texts(winner)).toContain('1 user deleted. You can restore it from Deleted users within 30 days.');
    // The other card is the current users list, saying why nothing happened.
    expect(texts(loser)).toContain('Users and licenses \u2014 Contoso Ltd');
    expect(visibleText(loser)).toMatch(/That user is deleted\. Restore it first\.|This card is out of date/);
    expect(visibleText(loser)).not.toContain('Carol White \u2014 carol@contoso.onmicrosoft.com');
    expect(visibleText(loser)).toContain('Deleted users (1)');
    expect(await auditCount('delete-users')).toBe(2); // one applied, one refused: both recorded
    expect((await t.directory.audit('contoso', 1, 1000)).entries.filter((e) => e.action === 'delete-users' && e.result === 'ok')).toHaveLength(1);
  });

  test('Restore', async () => {
    const [megan, lee] = [client(MEGAN), client(LEE)];
    const bob = c.user('bob').id;
    await t.directory.deleteUsers('contoso', [{ userId: bob }], { actor: t.actor });
    const lists = await Promise.all([megan, lee].map((bot) => say(bot, 'deleted users contoso')));
    expect(choiceValue(lists[0], 'userIds', 'bob@contoso.onmicrosoft.com')).toBe(bob);
    const [a, b] = await Promise.all([press(megan, lists[0], 'Restore', { userIds: bob }), press(lee, lists[1], 'Restore', { userIds: bob })]);
    const [winner, loser] = texts(a).includes('bob@contoso.onmicrosoft.com: restored.') ? [a, b] : [b, a];
    expect(texts(winner)).toEqual(expect.arrayContaining(['bob@contoso.onmicrosoft.com: restored.', 'Licenses given back: Office 365 E3, Microsoft 365 E5']));
    expect(texts(loser)).toContain('bob@contoso.onmicrosoft.com: not restored, it is not deleted (maybe someone restored it already).');
    expect(texts(loser)).toContain('There are no deleted users to restore.');
    expect((await t.directory.getSubscriptions('contoso')).map((x) => x.assignedSeats)).toEqual([2, 1]);
    expect((await t.directory.audit('contoso', 1, 1000)).entries.filter((e) => e.action === 'restore-users')).toHaveLength(2);
  });
});
