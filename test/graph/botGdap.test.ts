/**
 * The bot on the Microsoft Graph directory with an agent whose GDAP roles in the customer are Helpdesk Administrator
 * only: the bot's own role table makes Lee an admin agent, but the customer's directory decides. Lee can reset a
 * non-admin's password (the new one works in the tenant), and nothing else: the cards show only what helpdesk may do,
 * admin commands are refused naming the missing roles, and Graph's own 403 (an admin's password) is the final word.
 */
import { errorLogs, LEE, MEGAN } from '../support/botApp';
import { actionTitles, cardOf, texts } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { ROLE } from '../support/graph';
import { startStoryWorld, StoryWorld } from '../support/storyWorld';

let connector: FakeConnector;
let w: StoryWorld;

beforeAll(async () => {
  connector = await startFakeConnector();
});
afterAll(async () => connector.stop());
beforeEach(async () => {
  w = await startStoryWorld('graph', connector, { gdap: { [LEE.aadObjectId!]: [ROLE.helpdeskAdministrator] } });
  await w.elsewhere.createUser('gina', 'Gina Global', 'global-admin');
});
afterEach(async () => {
  await w.stop();
  expect(connector.unexpected()).toEqual([]);
  expect(errorLogs(w.botApp.logLines)).toEqual([]);
});

const say = async (text: string) => (await w.botApp.say(w.botApp.client(LEE), text)).card;

test('a helpdesk GDAP agent resets a non-admin’s password, and the new one works in the tenant', async () => {
  const confirm = await say('reset password contoso bob');
  const answer = await w.botApp.client(LEE).click(confirm, 'Reset password', {});
  const line = texts(answer.card).find((l) => l.startsWith('Temporary password: '));
  expect(line).toBeDefined();
  expect(await w.verifyPassword(w.userId('bob'), line!.slice('Temporary password: '.length))).toBe(true);
});

test('the users card shows a helpdesk agent only what helpdesk may do; an admin-GDAP agent sees everything', async () => {
  const lee = await say('users contoso');
  expect(actionTitles(lee)).toEqual(expect.arrayContaining(['Reset password']));
  expect(actionTitles(lee)).not.toEqual(expect.arrayContaining(['Add user']));
  expect(actionTitles(lee)).not.toEqual(expect.arrayContaining(['Delete']));
  const megan = (await w.botApp.say(w.botApp.client(MEGAN), 'users contoso')).card;
  expect(actionTitles(megan)).toEqual(expect.arrayContaining(['Add user', 'Manage licenses', 'Delete']));
});

test('admin commands are refused naming the missing GDAP roles; nothing changes in the tenant; the refusal is audited', async () => {
  const before = await w.activeUpns();
  const seats = await w.seats();
  for (const text of ['add user contoso', 'delete user contoso bob', `assign ${w.E3} contoso carol`]) {
    const card = await say(text);
    expect(texts(card)).toContain('Your admin relationship (GDAP) with this customer does not give you that: it lacks User Administrator, License Administrator.');
  }
  expect(await w.activeUpns()).toEqual(before);
  expect(await w.seats()).toEqual(seats);
  expect((await w.auditText())).toContain('refused');
});

test('an admin’s password: Graph’s 403 is the final word, though the bot’s own table would allow it', async () => {
  const confirm = await say('reset password contoso gina');
  const answer = await w.botApp.client(LEE).click(confirm, 'Reset password', {});
  expect(texts(answer.card)).toContain("The customer's directory refused this change: your admin roles there do not allow it.");
  expect(connector.records().map((r) => cardOf(r.activity)).flatMap((c) => texts(c)).some((l) => l.startsWith('Temporary password: '))).toBe(false);
});
