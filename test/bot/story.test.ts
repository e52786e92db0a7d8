/**
 * The product, end to end over HTTP, as Teams drives it: typed commands to POST /api/messages (replies arrive at a
 * fake connector service), card buttons as `adaptiveCard/action` invokes (answered in the same HTTP response).
 * Real Redis (the jest globalSetup's), a random key root per test, a fake clock. Every test runs once per directory,
 * from the same body: the Redis directory, and the Microsoft Graph directory against the Graph / Entra stand-in with
 * the agents signed in (test/support/storyWorld.ts).
 */
import { VERBS } from '../../cards/verbs';
import { errorLogs, LEE, MEGAN, TENANT } from '../support/botApp';
import { parse } from 'csv-parse/sync';
import {
  actions,
  actionTitles,
  Agent,
  BotClient,
  Card,
  cardOf,
  CHANNEL,
  choicesOf,
  choiceValue,
  findAction,
  GROUP_CHAT,
  InvokeAnswer,
  PERSONAL,
  submission,
  texts,
  visibleText,
  Where,
} from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { FileServer, startFileServer, teamsFileAttachment } from '../support/fileServer';
import { partnerCenterCsv } from '../support/importCsv';
import { STORY_BACKENDS, startStoryWorld, StoryWorld } from '../support/storyWorld';
import { dumpValues } from '../support/testDirectory';

const STRANGER: Agent = { id: '29:1stranger', aadObjectId: '0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b', name: 'Not Staff' };

let connector: FakeConnector;
let files: FileServer;
let w: StoryWorld;

beforeAll(async () => {
  connector = await startFakeConnector();
  files = await startFileServer();
});

afterAll(async () => {
  await connector.stop();
  await files.stop();
});

// ------------------------------------------------------------------------------------------ helpers

const client = (agent?: Agent) => w.botApp.client(agent);
const seats = () => w.seats();
const licensesOf = (userId: string) => w.licensesOf(userId);
const activeUpns = () => w.activeUpns();
/** Seats of the story's two licenses, keyed by their ids on the directory in use. */
const bySku = (e3: { assigned: number; available: number }, e5: { assigned: number; available: number }) => ({ [w.E3]: e3, [w.E5]: e5 });

/**
 * Types a command and returns the card the bot replied with through the connector. Kept here rather than botApp's say:
 * it also checks that in a channel or chat the reply threads onto the typed message.
 */
async function say(bot: BotClient, text: string, where: Where = PERSONAL): Promise<Card> {
  const conversationId = bot.conversationId(where);
  const before = connector.activitiesIn(conversationId).length;
  const { status, activity } = await bot.message(text, where);
  expect(status).toBe(200);
  const all = await connector.waitForActivities(conversationId, before + 1);
  const reply = all[before];
  // In a channel or chat the bot answers in the thread, as a reply to the message.
  const record = connector.records().filter((r) => r.conversationId === conversationId)[before];
  expect(record.kind === 'reply' ? record.targetActivityId : activity.id).toBe(activity.id);
  return cardOf(reply);
}

/** Presses a button; the invoke must answer 200 with a card (SPEC §3), whatever happened. */
async function press(bot: BotClient, card: Card, title: string | RegExp, values: Record<string, string> = {}, where: Where = PERSONAL): Promise<Card> {
  const answer = await bot.click(card, title, values, where);
  expectCardAnswer(answer);
  return answer.card;
}

function expectCardAnswer(answer: InvokeAnswer): void {
  expect(answer.status).toBe(200);
  expect(answer.body.statusCode).toBe(200);
  expect(answer.body.type).toBe('application/vnd.microsoft.card.adaptive');
  expect(answer.card.type).toBe('AdaptiveCard');
}

const userChoice = (card: Card, username: string) => choiceValue(card, 'userIds', `${username}@contoso.onmicrosoft.com`);

/** "Temporary password: X" on a card → X. */
function passwordOn(card: Card): string | undefined {
  const line = texts(card).find((s) => s.startsWith('Temporary password: '));
  return line?.slice('Temporary password: '.length);
}

const NEW_USER = {
  firstName: 'Nina',
  lastName: 'Park',
  displayName: 'Nina Park',
  username: 'nina.park',
  domain: 'contoso.com',
  usageLocation: 'KR',
  role: 'user',
};
const newUser = () => ({ ...NEW_USER, licenses: `${w.E3},${w.E5}` });

// ------------------------------------------------------------------------------------------ the story

/**
 * Users and licenses → Add user (two licenses) → Manage licenses for three users → Delete two → Deleted users (2)
 * → Restore one. Returns the password the agent was shown for the new user.
 */
async function fullStory(bot: BotClient, where: Where): Promise<{ newUserId: string; shownPassword?: string }> {
  const alice = w.userId('alice');
  const bob = w.userId('bob');
  const carol = w.userId('carol');
  expect(await seats()).toEqual(bySku({ assigned: 3, available: 7 }, { assigned: 1, available: 2 }));

  // 1. users contoso
  let users = await say(bot, 'users contoso', where);
  expect(texts(users)).toContain('Users and licenses \u2014 Contoso Ltd');
  expect(texts(users)).toContain('Showing 1\u20134 of 4');
  expect(choicesOf(users, 'userIds').map((ch) => ch.title)).toEqual([
    'Alice Smith \u2014 alice@contoso.onmicrosoft.com \u2014 Office 365 E3',
    'Bob Jones \u2014 bob@contoso.onmicrosoft.com \u2014 Office 365 E3, Microsoft 365 E5',
    'Carol White \u2014 carol@contoso.onmicrosoft.com \u2014 Unlicensed',
    'Dave Brown \u2014 dave@contoso.onmicrosoft.com \u2014 Office 365 E3',
  ]);
  expect(actionTitles(users)).toEqual(expect.arrayContaining(['Add user', 'Manage licenses', 'Reset password', 'Delete', 'Deleted users (0)', 'Licenses and seats']));

  // 2. Add user with two licenses; the form shows the seats left
  const form = await press(bot, users, 'Add user', {}, where);
  expect(texts(form)).toContain('Add user \u2014 Contoso Ltd');
  expect(choicesOf(form, 'licenses').map((ch) => ch.title)).toEqual(['Office 365 E3 \u2014 7 of 10 available', 'Microsoft 365 E5 \u2014 2 of 3 available']);
  const created = await press(bot, form, 'Save', newUser(), where);
  expect(texts(created)).toEqual(expect.arrayContaining(['User created', 'Nina Park \u2014 nina.park@contoso.com', 'Licenses: Office 365 E3, Microsoft 365 E5']));
  const nina = await w.userByUpn('nina.park@contoso.com');
  expect(nina).toMatchObject({ displayName: 'Nina Park', usageLocation: 'KR', role: 'user', licenses: [w.E3, w.E5].sort(), mustChangePassword: true });
  expect(await seats()).toEqual(bySku({ assigned: 4, available: 6 }, { assigned: 2, available: 1 }));
  const shownPassword = passwordOn(created);

  // 3. Manage licenses for Alice, Carol and Nina: E3 for all of them, E5 for none
  users = await press(bot, created, 'Back to users', {}, where);
  expect(choiceValue(users, 'userIds', 'nina.park@contoso.com')).toBe(nina.id);
  const selected = [userChoice(users, 'alice'), userChoice(users, 'carol'), nina.id].join(',');
  const manage = await press(bot, users, 'Manage licenses', { userIds: selected }, where);
  expect(texts(manage)).toContain('Selected: Alice Smith, Carol White, Nina Park');
  expect(choicesOf(manage, `lic_${w.E3}`).map((ch) => ch.value)).toEqual(['all', 'some', 'none']);
  const results = await press(bot, manage, 'Save', { [`lic_${w.E3}`]: 'all', [`lic_${w.E5}`]: 'none' }, where);
  expect(texts(results)).toContain('Licenses updated \u2014 Contoso Ltd');
  expect(texts(results)).toEqual(expect.arrayContaining(['Carol White \u2014 carol@contoso.onmicrosoft.com', 'Added: Office 365 E3. Removed: None.', 'Added: None. Removed: Microsoft 365 E5.', 'No change.']));
  expect(await licensesOf(alice)).toEqual([w.E3]);
  expect(await licensesOf(carol)).toEqual([w.E3]);
  expect(await licensesOf(nina.id)).toEqual([w.E3]);
  expect(await seats()).toEqual(bySku({ assigned: 5, available: 5 }, { assigned: 1, available: 2 }));

  // 4. Delete Bob and Carol: confirmation, then the users card with "Deleted users (2)"
  users = await press(bot, results, 'Back to users', {}, where);
  const confirm = await press(bot, users, 'Delete', { userIds: `${bob},${carol}` }, where);
  expect(texts(confirm)).toEqual(expect.arrayContaining(['Delete users', 'Bob Jones \u2014 bob@contoso.onmicrosoft.com', 'Carol White \u2014 carol@contoso.onmicrosoft.com']));
  expect(await activeUpns()).toHaveLength(5); // nothing happens before the confirmation
  users = await press(bot, confirm, 'Delete', {}, where);
  expect(texts(users)).toContain('2 users deleted. You can restore them from Deleted users within 30 days.');
  expect(actionTitles(users)).toContain('Deleted users (2)');
  expect(choicesOf(users, 'userIds').map((ch) => ch.value)).toEqual([alice, userChoice(users, 'dave'), nina.id]);
  expect(await activeUpns()).toEqual(['alice@contoso.onmicrosoft.com', 'dave@contoso.onmicrosoft.com', 'nina.park@contoso.com']);
  expect(await seats()).toEqual(bySku({ assigned: 3, available: 7 }, { assigned: 0, available: 3 }));

  // 5. Deleted users (2) → restore Bob: he gets both licenses back; the card lists only Carol
  const deleted = await press(bot, users, 'Deleted users (2)', {}, where);
  expect(choicesOf(deleted, 'userIds').map((ch) => ch.title).sort()).toEqual([
    'Bob Jones \u2014 bob@contoso.onmicrosoft.com \u2014 30 days left',
    'Carol White \u2014 carol@contoso.onmicrosoft.com \u2014 30 days left',
  ]);
  const afterRestore = await press(bot, deleted, 'Restore', { userIds: bob }, where);
  expect(texts(afterRestore)).toEqual(expect.arrayContaining(['bob@contoso.onmicrosoft.com: restored.', 'Licenses given back: Office 365 E3, Microsoft 365 E5']));
  expect(choicesOf(afterRestore, 'userIds').map((ch) => ch.value)).toEqual([carol]);
  expect(visibleText(afterRestore)).not.toContain('Bob Jones \u2014 bob@contoso.onmicrosoft.com \u2014');
  expect(await licensesOf(bob)).toEqual([w.E3, w.E5].sort());
  expect(await seats()).toEqual(bySku({ assigned: 4, available: 6 }, { assigned: 1, available: 2 }));
  expect(await w.deletedIds()).toEqual([carol]);

  return { newUserId: nina.id, shownPassword };
}

describe.each(STORY_BACKENDS)('on the %s directory', (backend) => {
  beforeEach(async () => {
    w = await startStoryWorld(backend, connector);
  });

  afterEach(async () => {
    await w.stop();
    // Nothing unexpected reached the connector, and no turn failed inside the bot.
    expect(connector.unexpected()).toEqual([]);
    expect(errorLogs(w.botApp.logLines)).toEqual([]);
  });

  describe('the whole story', () => {
    test('in the personal chat', async () => {
      const bot = client(MEGAN);
      const { newUserId, shownPassword } = await fullStory(bot, PERSONAL);
      // In the 1:1 chat the new user's temporary password is on the card, and it is the real one.
      expect(shownPassword).toEqual(expect.any(String));
      expect(await w.verifyPassword(newUserId, shownPassword as string)).toBe(true);
      // Typed commands were answered in the chat; every button was answered in its HTTP response.
      expect(connector.activitiesIn(bot.conversationId(PERSONAL))).toHaveLength(1);
      expect(connector.createdConversations()).toEqual([]);
    });

    test('in a channel, @mentioning the bot; the password goes only to the agent\u2019s 1:1 chat', async () => {
      const bot = client(LEE);
      const { newUserId, shownPassword } = await fullStory(bot, CHANNEL);
      expect(shownPassword).toBeUndefined();

      // The 1:1 chat was created through POST /v3/conversations, for this agent, in the partner's tenant.
      const createdChats = connector.createdConversations();
      expect(createdChats).toHaveLength(1);
      expect(createdChats[0].parameters).toMatchObject({ isGroup: false, members: [{ id: LEE.id }], tenantId: TENANT, bot: { id: '28:partner-admin-bot' } });
      const [dm] = await connector.waitForActivities(createdChats[0].id, 1);
      const password = passwordOn(cardOf(dm));
      expect(password).toEqual(expect.any(String));
      expect(await w.verifyPassword(newUserId, password as string)).toBe(true);

      // Nowhere else: not in the channel thread, not in any other activity.
      const elsewhere = connector.records().filter((r) => r.conversationId !== createdChats[0].id);
      expect(elsewhere.length).toBeGreaterThan(0);
      expect(elsewhere.filter((r) => JSON.stringify(r.activity).includes(password as string))).toEqual([]);
      expect(connector.activitiesIn(createdChats[0].id)).toHaveLength(1);
    });

    test('the password of a user added in a channel never appears in the channel\u2019s answer', async () => {
      const bot = client(LEE);
      const users = await say(bot, 'users contoso', CHANNEL);
      const form = await press(bot, users, 'Add user', {}, CHANNEL);
      const answer = await bot.click(form, 'Save', newUser(), CHANNEL);
      expectCardAnswer(answer);
      expect(visibleText(answer.card)).toContain('The temporary password was sent to you in a private chat.');
      const [chat] = connector.createdConversations();
      const [dm] = await connector.waitForActivities(chat.id, 1);
      const password = passwordOn(cardOf(dm)) as string;
      expect(password.length).toBeGreaterThanOrEqual(14);
      expect(JSON.stringify(answer.body)).not.toContain(password);
      expect(connector.activitiesIn(bot.conversationId(CHANNEL)).map((a) => JSON.stringify(a)).join('')).not.toContain(password);
    });

    test('when the bot cannot reach the agent privately (not installed: 403), the channel answer says so and no password is shown anywhere', async () => {
      const bot = client(LEE);
      connector.failCreateConversation(403);
      const users = await say(bot, 'users contoso', CHANNEL);
      const form = await press(bot, users, 'Add user', {}, CHANNEL);
      const answer = await bot.click(form, 'Save', newUser(), CHANNEL);
      expectCardAnswer(answer);
      expect(visibleText(answer.card)).toContain('I could not send you the password privately because the bot is not installed for you.');
      expect(passwordOn(answer.card)).toBeUndefined();
      expect(connector.records().filter((r) => passwordOn(cardOf(r.activity)) !== undefined)).toEqual([]);
      expect(await activeUpns()).toContain('nina.park@contoso.com'); // the user exists; reset password makes a new one
    });

    test('in a group chat, after the bot\u2019s @mention', async () => {
      const bot = client(MEGAN);
      const card = await say(bot, 'licenses contoso', GROUP_CHAT);
      expect(texts(card)).toEqual(expect.arrayContaining(['Licenses \u2014 Contoso Ltd', `Office 365 E3 (${w.E3})`, 'Total 10 \u00b7 Assigned 3 \u00b7 Available 7']));
    });
  });

  // ------------------------------------------------------------------------------------------ the rest of the story

  describe('reset password, add another, restore with a taken name, import', () => {
    test('reset password: confirmation, then a new temporary password in the 1:1 chat that works (and the old one does not)', async () => {
      const bot = client();
      const users = await say(bot, 'users contoso');
      const form = await press(bot, users, 'Add user');
      const created = await press(bot, form, 'Save', newUser());
      const first = passwordOn(created) as string;
      const nina = await w.userByUpn('nina.park@contoso.com');
      const confirm = await say(bot, 'reset password contoso nina.park@contoso.com');
      expect(texts(confirm)).toContain('Reset the password of Nina Park (nina.park@contoso.com)? The current password stops working at once.');
      const done = await press(bot, confirm, 'Reset password');
      expect(texts(done)).toContain('The password of Nina Park (nina.park@contoso.com) was reset.');
      const second = passwordOn(done) as string;
      expect(second).toEqual(expect.any(String));
      expect(second).not.toBe(first);
      expect(await w.verifyPassword(nina.id, second)).toBe(true);
      expect(await w.verifyPassword(nina.id, first)).toBe(false);
      expect((await w.userByUpn('nina.park@contoso.com')).mustChangePassword).toBe(true);
    });

    test('Save and add another, twice, then Finish: both users exist and both passwords reach the agent and work', async () => {
      const bot = client();
      const form = await press(bot, await say(bot, 'users contoso'), 'Add user');
      const next = await press(bot, form, 'Save and add another', newUser());
      expect(texts(next)).toContain('1 user added in this series.');
      const last = await press(bot, next, 'Save and add another', { ...newUser(), firstName: 'Omar', displayName: 'Omar Park', username: 'omar.park' });
      expect(texts(last)).toContain('2 users added in this series.');
      const finished = await press(bot, last, 'Finish and send passwords');
      const shown = texts(finished).filter((line) => line.startsWith('Temporary password: ')).map((line) => line.slice('Temporary password: '.length));
      expect(shown).toHaveLength(2);
      for (const [upn, pw] of [['nina.park@contoso.com', shown[0]], ['omar.park@contoso.com', shown[1]]]) {
        expect(await w.verifyPassword((await w.userByUpn(upn)).id, pw)).toBe(true);
      }
      expect(await seats()).toEqual(bySku({ assigned: 5, available: 5 }, { assigned: 3, available: 0 }));
    });

    test('restore when the username was taken meanwhile: the card says so, and a new username restores it', async () => {
      const bot = client();
      const carol = w.userId('carol');
      const users = await say(bot, 'users contoso');
      const confirm = await press(bot, users, 'Delete', { userIds: carol });
      await press(bot, confirm, 'Delete');
      // Someone else creates a new Carol with the same username meanwhile.
      await w.elsewhere.createUser('carol', 'Carol Again');
      const deleted = await say(bot, 'deleted users contoso');
      const refused = await press(bot, deleted, 'Restore', { userIds: carol });
      expect(texts(refused)).toContain('carol@contoso.onmicrosoft.com: not restored, the username is now used by another user. Enter a new username and restore again.');
      expect(await w.deletedIds()).toEqual([carol]);
      const renamed = await press(bot, refused, 'Restore', { userIds: carol, newUsername: 'carol.white' });
      expect(texts(renamed)).toContain('carol.white@contoso.onmicrosoft.com: restored.');
      expect(await w.deletedIds()).toEqual([]);
      expect((await w.activeUpns()).filter((u) => u.startsWith('carol'))).toEqual(['carol.white@contoso.onmicrosoft.com', 'carol@contoso.onmicrosoft.com']);
    });

    test('import users with a CSV in the 1:1 chat: every row created once, with the chosen license, and every password works', async () => {
      const bot = client();
      const rows = 5;
      const csv = partnerCenterCsv(rows, { domain: 'contoso.onmicrosoft.com' });
      const attachment = teamsFileAttachment('users.csv', files.serve('/story/users.csv', csv));
      const { card: preview, replyId } = await w.botApp.say(bot, 'import users contoso', PERSONAL, { attachments: [attachment] });
      expect(texts(preview)).toContain(`${rows} rows in the file.`);
      const { verb, data } = submission(preview, 'Import', { usageLocation: 'US', licenses: w.E3 });
      const answer = await bot.sendInvoke(bot.invokeActivity(verb, data, PERSONAL, { replyToId: replyId }));
      expect(answer.status).toBe(200);
      await w.botApp.app.importRunner.idle();
      expect((await w.activeUpns()).filter((u) => u.startsWith('user'))).toHaveLength(rows);
      expect(await seats()).toEqual(bySku({ assigned: 3 + rows, available: 7 - rows }, { assigned: 1, available: 2 }));
      // One confirmation in the 1:1 chat; its one-time results file lists every new user with a password that works.
      const confirmation = connector
        .records()
        .filter((r) => r.conversationId === bot.conversationId() && r.kind !== 'update')
        .map((r) => cardOf(r.activity))
        .find((card) => texts(card)[0]?.startsWith('Import results'));
      const link = actions(confirmation!).find((a) => a.type === 'Action.OpenUrl')!.url!;
      const results = parse(await (await fetch(`${w.botApp.url}${new URL(link).pathname}`)).text(), { bom: true, columns: true }) as Array<Record<string, string>>;
      expect(results).toHaveLength(rows);
      for (const row of results) expect(await w.verifyPassword((await w.userByUpn(row.Email)).id, row['Temporary password'])).toBe(true);
    });
  });

  describe('secrets', () => {
    test('after creating, resetting and importing, no password, token or secret is in any log line, Redis value, audit entry or answer outside the 1:1 chat', async () => {
      const bot = client(LEE);
      const users = await say(bot, 'users contoso', CHANNEL);
      const form = await press(bot, users, 'Add user', {}, CHANNEL);
      await press(bot, form, 'Save', newUser(), CHANNEL);
      const confirm = await say(bot, 'reset password contoso alice', CHANNEL);
      await press(bot, confirm, 'Reset password', {}, CHANNEL);
      const [chat] = connector.createdConversations();
      const passwords = connector
        .activitiesIn(chat.id)
        .flatMap((a) => texts(cardOf(a)))
        .filter((line) => line.startsWith('Temporary password: '))
        .map((line) => line.slice('Temporary password: '.length));
      expect(passwords).toHaveLength(2);
      const secrets = [...passwords, ...w.secrets()];
      const redisValues = [...(await dumpValues(w.botApp.t)).values()].flat().join('\n');
      const outsideTheChat = connector.records().filter((r) => r.conversationId !== chat.id).map((r) => JSON.stringify(r.activity)).join('\n');
      const audit = await w.auditText();
      expect(audit).toContain('reset-password');
      for (const secret of secrets) {
        expect({ secret, inLogs: w.botApp.logLines.some((l) => l.includes(secret)) }).toEqual({ secret, inLogs: false });
        expect({ secret, inRedis: redisValues.includes(secret) }).toEqual({ secret, inRedis: false });
        expect({ secret, outsideTheChat: outsideTheChat.includes(secret), inAudit: audit.includes(secret) }).toEqual({ secret, outsideTheChat: false, inAudit: false });
      }
    });
  });

  // ------------------------------------------------------------------------------------------ stale and repeated

  describe('stale cards and repeated deliveries', () => {
    test('a confirmation drawn before the user changed is refused with a refreshed users card; nothing is deleted', async () => {
      const bot = client();
      const alice = w.userId('alice');
      const bob = w.userId('bob');
      const users = await say(bot, 'users contoso');
      const confirm = await press(bot, users, 'Delete', { userIds: `${alice},${bob}` });
      // Meanwhile someone gives Alice an E5 license.
      await w.elsewhere.addLicense(alice, w.E5);
      const before = await seats();

      const answer = await press(bot, confirm, 'Delete');
      expect(texts(answer)).toContain('This card is out of date: the user changed since it was shown. Here is the current view.');
      expect(texts(answer)).toContain('Users and licenses \u2014 Contoso Ltd');
      expect(choicesOf(answer, 'userIds').find((ch) => ch.value === alice)?.title).toBe('Alice Smith \u2014 alice@contoso.onmicrosoft.com \u2014 Office 365 E3, Microsoft 365 E5');
      expect(await activeUpns()).toHaveLength(4);
      expect(await w.deletedIds()).toHaveLength(0);
      expect(await seats()).toEqual(before);
    });

    test('the same confirmation delivered twice at once (Teams retry) deletes once and answers the same', async () => {
      const bot = client();
      const carol = w.userId('carol');
      const dave = w.userId('dave');
      const users = await say(bot, 'users contoso');
      const confirm = await press(bot, users, 'Delete', { userIds: `${carol},${dave}` });
      const { verb, data } = submission(confirm, 'Delete');
      const activity = bot.invokeActivity(verb, data);
      const [first, second] = await Promise.all([bot.sendInvoke(activity), bot.sendInvoke(activity)]);
      expectCardAnswer(first);
      expectCardAnswer(second);
      expect(visibleText(second.card)).toBe(visibleText(first.card));
      expect(texts(first.card)).toContain('2 users deleted. You can restore them from Deleted users within 30 days.');
      expect((await w.deletedIds()).sort()).toEqual([carol, dave].sort());
      expect(await seats()).toEqual(bySku({ assigned: 2, available: 8 }, { assigned: 1, available: 2 }));
      expect((await w.auditActions()).filter((action) => action === 'delete-users')).toHaveLength(1);
    });

    test('the same license change delivered twice in a row applies once and answers the same', async () => {
      const bot = client();
      const carol = w.userId('carol');
      const users = await say(bot, 'users contoso');
      const manage = await press(bot, users, 'Manage licenses', { userIds: carol });
      const { verb, data } = submission(manage, 'Save', { [`lic_${w.E3}`]: 'all', [`lic_${w.E5}`]: 'all' });
      const activity = bot.invokeActivity(verb, data);
      const first = await bot.sendInvoke(activity);
      const second = await bot.sendInvoke(activity);
      expectCardAnswer(first);
      expectCardAnswer(second);
      expect(texts(first.card)).toContain('Added: Office 365 E3, Microsoft 365 E5. Removed: None.');
      expect(visibleText(second.card)).toBe(visibleText(first.card));
      expect(await licensesOf(carol)).toEqual([w.E3, w.E5].sort());
      expect(await seats()).toEqual(bySku({ assigned: 4, available: 6 }, { assigned: 2, available: 1 }));
    });

    test('the same restore delivered twice in a row restores once and answers the same', async () => {
      const bot = client();
      const bob = w.userId('bob');
      await w.elsewhere.deleteUser(bob);
      const deleted = await say(bot, 'deleted users contoso');
      const { verb, data } = submission(deleted, 'Restore', { userIds: bob });
      const activity = bot.invokeActivity(verb, data);
      const first = await bot.sendInvoke(activity);
      const second = await bot.sendInvoke(activity);
      expect(texts(first.card)).toContain('bob@contoso.onmicrosoft.com: restored.');
      expect(visibleText(second.card)).toBe(visibleText(first.card));
      expect(await seats()).toEqual(bySku({ assigned: 3, available: 7 }, { assigned: 1, available: 2 }));
      expect((await w.auditActions()).filter((action) => action === 'restore-users')).toHaveLength(1);
    });

    test('the same Add user submit delivered twice creates one user and never shows a second, different password', async () => {
      const bot = client();
      const users = await say(bot, 'users contoso');
      const form = await press(bot, users, 'Add user');
      const { verb, data } = submission(form, 'Save', newUser());
      const activity = bot.invokeActivity(verb, data);
      const [first, second] = await Promise.all([bot.sendInvoke(activity), bot.sendInvoke(activity)]);
      expectCardAnswer(first);
      expectCardAnswer(second);
      expect((await activeUpns()).filter((u) => u === 'nina.park@contoso.com')).toHaveLength(1);
      const passwords = [passwordOn(first.card), passwordOn(second.card)].filter((p): p is string => !!p);
      expect(passwords.length).toBeLessThanOrEqual(1);
      const nina = await w.userByUpn('nina.park@contoso.com');
      for (const p of passwords) expect(await w.verifyPassword(nina.id, p)).toBe(true);
      expect(await seats()).toEqual(bySku({ assigned: 4, available: 6 }, { assigned: 2, available: 1 }));
    });
  });

  // ------------------------------------------------------------------------------------------ mistakes

  describe('mistakes get a card that says what went wrong', () => {
    test('a malformed invoke: 200 with an error card, nothing changes', async () => {
      const bot = client();
      const before = await seats();
      for (const [verb, data] of [
        [VERBS.confirmDeleteUsers, { customerId: w.customerId, userIds: 42, versions: {}, operationId: 'op-0123456789' }],
        [VERBS.deleteUsers, w.customerId],
        ['dropDatabase', { customerId: w.customerId }],
        ['constructor', {}],
      ] as Array<[string, unknown]>) {
        const answer = await bot.invoke(verb, data);
        expectCardAnswer(answer);
        expect(texts(answer.card)).toEqual(['Something needs your attention', 'This button sent data I cannot use. Open the card again with the command.']);
      }
      // An invoke that is not an Action.Execute at all
      const odd = await bot.sendInvoke(bot.activity('invoke', PERSONAL, { name: 'adaptiveCard/action', value: { action: { type: 'Action.Submit', data: {} } } }));
      expectCardAnswer(odd);
      expect(texts(odd.card)).toContain('This button sent data I cannot use. Open the card again with the command.');
      expect(await seats()).toEqual(before);
      expect(await activeUpns()).toHaveLength(4);
    });

    test('an unknown command: an error card with the nearest usage, in a chat and in a channel', async () => {
      const bot = client();
      const card = await say(bot, 'usres contoso');
      expect(texts(card)).toEqual([
        'Something needs your attention',
        'I don\u2019t know the command \u201cusres\u201d.',
        'Usage: users <customer> [--unlicensed|--licensed|--license <sku>] [--role <role>] [--search <text>] [--page <n>]',
        'Type help to see the commands you may use.',
      ]);
      const inChannel = await say(bot, 'delet user contoso alice', CHANNEL);
      expect(texts(inChannel)).toContain('Usage: delete user <customer> <user>[,<user>\u2026]');
      expect(await activeUpns()).toHaveLength(4);
    });

    test('a command with a missing argument or a bad flag names the usage', async () => {
      const bot = client();
      expect(texts(await say(bot, 'reset password contoso'))).toEqual(expect.arrayContaining(['Usage: reset password <customer> <user>']));
      expect(texts(await say(bot, 'users contoso --licensed --unlicensed'))).toEqual(expect.arrayContaining(['That command is missing something or has something extra.']));
      expect(texts(await say(bot, 'users contoso --everyone'))).toEqual(expect.arrayContaining(['Unknown option --everyone.']));
    });

    test('an unknown customer is named in the answer', async () => {
      const card = await say(client(), 'users northwind');
      expect(texts(card)).toContain('No customer matches \u201cnorthwind\u201d.');
    });

    test('someone outside the partner\u2019s staff gets help and whoami only', async () => {
      const bot = client(STRANGER);
      const refused = await say(bot, 'users contoso');
      expect(texts(refused)).toContain('You are not allowed to do that. Your role: No bot role.');
      const who = await say(bot, 'whoami');
      expect(texts(who)).toEqual(expect.arrayContaining(['Bot role: No bot role', `Tenant: ${TENANT}`]));
      const outsider = new BotClient({ endpoint: w.botApp.url, serviceUrl: connector.url, tenantId: '11111111-2222-4333-8444-555555555555', agent: MEGAN });
      expect(texts(await say(outsider, 'users contoso'))).toContain('This bot serves only its partner\u2019s staff.');
      const answer = await outsider.invoke(VERBS.deletedUsers, { customerId: w.customerId });
      expectCardAnswer(answer);
      expect(texts(answer.card)).toContain('This bot serves only its partner\u2019s staff.');
    });

    test('a button pressed on a card in a channel works like in the chat (Next page)', async () => {
      await w.elsewhere.createUsers(21);
      const bot = client(LEE);
      const page1 = await say(bot, 'users contoso', CHANNEL);
      expect(texts(page1)).toContain('Showing 1\u201320 of 25');
      const page2 = await press(bot, page1, 'Next', {}, CHANNEL);
      expect(texts(page2)).toContain('Showing 21\u201325 of 25');
      expect(findAction(page2, 'Previous').verb).toBe('users');
    });
  });
});
