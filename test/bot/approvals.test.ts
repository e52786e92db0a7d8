/**
 * Four eyes and offboarding over HTTP (Redis directory): the "done when" — a helpdesk agent requests deleting
 * three users; two admin agents approve from the channel card at the same moment; the users are deleted once, both
 * clickers see the outcome, the audit names both — and an offboarding from its confirmation card.
 */
import { Agent, BotClient, CHANNEL, Card, cardOf, findAction, visibleText } from '../support/botClient';
import { errorLogs, LEE, MEGAN, startBotApp, STORY_CUSTOMER, BotApp } from '../support/botApp';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { VERBS } from '../../cards/verbs';
import { FileServer, startFileServer, teamsFileAttachment } from '../support/fileServer';
import { partnerCenterCsv } from '../support/importCsv';
import { actionTitles, PERSONAL, submission, texts } from '../support/botClient';

const HELEN: Agent = { id: '29:1helen-helpdesk', aadObjectId: '6c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f', name: 'Helen Helpdesk' };
const NESTOR: Agent = { id: '29:1nestor-admin', aadObjectId: '8e7f6a5b-4c3d-4e2f-9a1b-0c9d8e7f6a5b', name: 'Nestor Admin' };

let connector: FakeConnector;
let files: FileServer;
let bot: BotApp;
beforeAll(async () => {
  connector = await startFakeConnector();
  files = await startFileServer();
});
afterAll(async () => {
  await files.stop();
  await connector.stop();
});
beforeEach(async () => {
  bot = await startBotApp(connector, { seed: STORY_CUSTOMER, env: { ADMIN_AGENTS: [MEGAN, LEE, NESTOR].map((a) => a.aadObjectId).join(','), HELPDESK_AGENTS: HELEN.aadObjectId } });
});
afterEach(async () => {
  await bot.stop();
  expect(errorLogs(bot.logLines)).toEqual([]);
});

/** The card as this agent's Teams client refreshes it (refresh.userIds, trigger automatic). */
async function refreshed(client: BotClient, card: Card): Promise<Card> {
  const refresh = card.refresh as { action: { verb: string; data: unknown }; userIds: string[] };
  expect(refresh.userIds).toContain(client.agent.id);
  const activity = client.invokeActivity(refresh.action.verb, refresh.action.data, CHANNEL);
  (activity.value as { trigger: string }).trigger = 'automatic';
  return (await client.sendInvoke(activity)).card;
}

test('a helpdesk request to delete three users, approved by two admins at once: deleted once, both see the outcome, audited with both names', async () => {
  const [megan, lee, helen, nestor] = [bot.client(MEGAN), bot.client(LEE), bot.client(HELEN), bot.client(NESTOR)];
  // Each agent has spoken to the bot in its 1:1 chat (that is where outcomes go).
  for (const c of [megan, lee, helen, nestor]) await bot.say(c, 'whoami');
  expect(visibleText((await bot.say(megan, 'approvals channel here', CHANNEL)).card)).toContain('posted in this channel');
  expect(visibleText((await bot.say(megan, 'approvals contoso on')).card)).toContain('Four-eyes approvals are on');
  // Without approvals a helpdesk agent may not delete; with them, it may ask.
  const { card: request } = await bot.say(helen, 'delete user contoso alice,bob,carol');
  expect(visibleText(request)).toContain('Delete 3 users');
  const sent = await helen.click(request, 'Request approval', { reason: 'left the company' });
  expect(visibleText(sent.card)).toContain('posted in the approvals channel');
  expect(visibleText(sent.card)).toContain('Withdraw');
  for (const u of ['alice', 'bob', 'carol']) expect((await bot.t.directory.findUser('contoso', u)).state).toBe('active');

  const channelId = megan.conversationId(CHANNEL);
  const posted = connector.records().filter((r) => r.conversationId === channelId && r.kind !== 'update');
  if (!posted.length) throw new Error(JSON.stringify(connector.records().map((r) => [r.kind, r.conversationId, visibleText(cardOf(r.activity)).slice(0, 80)])));
  const channelCard = cardOf(posted[posted.length - 1].activity);
  expect(visibleText(channelCard)).toContain('Helen Helpdesk');
  expect(visibleText(channelCard)).toContain('left the company');
  expect(() => findAction(channelCard, 'Approve')).toThrow();
  // The requester and a helpdesk agent see it read-only; admins other than the requester get Approve / Reject.
  const helenView = await refreshed(helen, channelCard);
  expect(() => findAction(helenView, 'Approve')).toThrow();
  const [meganView, leeView] = [await refreshed(megan, channelCard), await refreshed(lee, channelCard)];
  findAction(meganView, 'Reject');
  const [a, b] = await Promise.all([megan.click(meganView, 'Approve', {}, CHANNEL), lee.click(leeView, 'Approve', {}, CHANNEL)]);
  for (const answer of [a, b]) {
    expect(answer.status).toBe(200);
    expect(visibleText(answer.card)).toMatch(/Approved by (Megan Bowen|Lee Gu) and applied/);
    expect(visibleText(answer.card)).toContain('3 users deleted');
  }
  for (const u of ['alice', 'bob', 'carol']) expect((await bot.t.directory.findUser('contoso', u)).state).toBe('deleted');
  const { entries } = await bot.t.directory.audit('contoso');
  expect(entries.filter((e) => e.action === 'delete-users' && e.result === 'ok')).toHaveLength(1);
  expect(entries.filter((e) => e.action === 'approval-requested').map((e) => e.actorName)).toEqual(['Helen Helpdesk']);
  const approved = entries.filter((e) => e.action === 'approval-approved');
  expect(approved).toHaveLength(1);
  expect(approved[0].detail).toContain('requested by Helen Helpdesk');
  // The channel card now says so for everyone, and the requester got the outcome in its 1:1 chat.
  const updates = connector.records().filter((r) => r.conversationId === channelId && r.kind === 'update');
  expect(visibleText(cardOf(updates[updates.length - 1].activity))).toContain('3 users deleted');
  const helenChat = connector.activitiesIn(helen.conversationId());
  expect(visibleText(cardOf(helenChat[helenChat.length - 1]))).toContain('3 users deleted');
  // A third click later sees who approved it; nothing runs again.
  const late = await nestor.invoke(VERBS.decideApproval, { ...(findAction(meganView, 'Approve').data as object) }, CHANNEL);
  expect(visibleText(late.card)).toMatch(/Approved by (Megan Bowen|Lee Gu) and applied/);
  expect((await bot.t.directory.audit('contoso')).entries.filter((e) => e.action === 'delete-users')).toHaveLength(1);
});

test('a confirmation card drawn before approvals were turned on no longer deletes', async () => {
  const megan = bot.client(MEGAN);
  const { card } = await bot.say(megan, 'delete user contoso alice');
  await bot.say(megan, 'approvals contoso on');
  const answer = await megan.click(card, 'Delete');
  expect(visibleText(answer.card)).toContain('needs a second admin agent');
  expect((await bot.t.directory.findUser('contoso', 'alice')).state).toBe('active');
});

test('offboard --to: one confirmation, then blocked, deleted, the colleague holds the licenses; Restore brings the user back', async () => {
  const megan = bot.client(MEGAN);
  const { card } = await bot.say(megan, 'offboard contoso bob --to carol');
  const text = visibleText(card);
  expect(text).toContain('Block sign-in at once');
  expect(text).toContain('to Carol White');
  // The answer is the job's first state; the job runs once the answer has gone.
  const started = await megan.click(card, 'Offboard');
  expect(visibleText(started.card)).toContain('Offboarding Bob Jones');
  await bot.app.offboardRunner.idle();
  const bob = await bot.t.directory.findUser('contoso', 'bob');
  expect(bob).toMatchObject({ state: 'deleted', signInBlocked: true });
  expect((await bot.t.directory.findUser('contoso', 'carol')).licenses.sort()).toEqual(['O365_E3', 'SPE_E5']);
  // The same button again changes nothing, and answers with the finished job.
  const done = await megan.click(card, 'Offboard');
  expect(visibleText(done.card)).toContain('Bob Jones is offboarded');
  await bot.app.offboardRunner.idle();
  expect((await bot.t.directory.audit('contoso')).entries.filter((e) => e.action === 'offboard')).toHaveLength(1);
  const restored = await bot.say(megan, 'restore contoso bob');
  expect(visibleText(restored.card)).toContain('bob@contoso.onmicrosoft.com: restored');
});

test('removing licenses under four eyes: a helpdesk unassign and a Manage licenses save that removes become requests; another admin approves; adding alone runs', async () => {
  const [megan, lee, helen] = [bot.client(MEGAN), bot.client(LEE), bot.client(HELEN)];
  for (const c of [megan, lee, helen]) await bot.say(c, 'whoami');
  await bot.say(megan, 'approvals contoso on');
  // A helpdesk agent may ask; nothing changes until another admin approves.
  const { card: request } = await bot.say(helen, 'unassign O365_E3 contoso alice,bob');
  const text = visibleText(request);
  expect(text).toContain('Change the licenses of 2 users');
  expect(text).toContain('Remove: Office 365 E3.');
  expect(text).toContain('Office 365 E3: 2 seats freed.');
  const missingReason = await helen.click(request, 'Request approval', { reason: '' });
  expect(visibleText(missingReason.card)).toContain('Say why this change is needed.');
  const sent = await helen.click(request, 'Request approval', { reason: 'E3 budget cut' });
  expect((await bot.t.directory.findUser('contoso', 'alice')).licenses).toEqual(['O365_E3']);
  const ref = findAction(sent.card, 'Withdraw').data as { customerId: string; requestId: string };
  const own = await helen.invoke(VERBS.decideApproval, { ...ref, decision: 'approve' });
  expect(visibleText(own.card)).toContain('Only admin agents can approve');
  const approved = await lee.invoke(VERBS.decideApproval, { ...ref, decision: 'approve' });
  expect(visibleText(approved.card)).toContain('Approved by Lee Gu and applied');
  expect(visibleText(approved.card)).toContain('Licenses changed for 2 users.');
  expect((await bot.t.directory.findUser('contoso', 'alice')).licenses).toEqual([]);
  expect((await bot.t.directory.findUser('contoso', 'bob')).licenses).toEqual(['SPE_E5']);
  expect((await bot.t.directory.audit('contoso')).entries.filter((e) => e.action === 'approval-applied')).toHaveLength(1);

  // Manage licenses: a save that only adds runs at once; one that removes becomes a request.
  const dave = await bot.t.directory.findUser('contoso', 'dave');
  const carol = await bot.t.directory.findUser('contoso', 'carol');
  const users = (await bot.say(megan, 'users contoso')).card;
  const manage = (await megan.click(users, 'Manage licenses', { userIds: [dave.id, carol.id].join(',') })).card;
  const added = await megan.click(manage, 'Save', { lic_SPE_E5: 'all' });
  expect(visibleText(added.card)).toContain('Licenses updated');
  const manageAgain = (await megan.click((await bot.say(megan, 'users contoso')).card, 'Manage licenses', { userIds: dave.id })).card;
  const held = await megan.click(manageAgain, 'Save', { lic_O365_E3: 'none' });
  expect(visibleText(held.card)).toContain('Change the licenses of 1 user');
  expect(visibleText(held.card)).toContain('Office 365 E3: 1 seat freed.');
  expect((await bot.t.directory.findUser('contoso', 'dave')).licenses).toContain('O365_E3');
  // Helpdesk agents still cannot add licenses.
  expect(visibleText((await bot.say(helen, 'assign SPE_E5 contoso carol')).card)).not.toContain('Licenses updated');
});

test('the Offboard button on the users card: one selected user opens the offboard confirmation; helpdesk agents get it only under four eyes, as a request', async () => {
  const [megan, helen] = [bot.client(MEGAN), bot.client(HELEN)];
  const bob = await bot.t.directory.findUser('contoso', 'bob');
  const carol = await bot.t.directory.findUser('contoso', 'carol');
  const users = (await bot.say(megan, 'users contoso')).card;
  const titles = ((users.actions ?? []) as Array<{ title: string }>).map((a) => a.title);
  // The card's own actions stay the five hosts draw; Offboard is under the list of users.
  expect(titles).toEqual(['Add user', 'Manage licenses', 'Reset password', 'Delete', 'Deleted users (0)']);
  expect(findAction(users, 'Offboard')).toMatchObject({ verb: VERBS.offboard, style: 'destructive' });
  const confirm = await megan.click(users, 'Offboard', { userIds: bob.id });
  expect(visibleText(confirm.card)).toContain('Block sign-in at once');
  expect(visibleText(confirm.card)).toContain('Offboard Bob Jones');
  const two = await megan.click(users, 'Offboard', { userIds: [bob.id, carol.id].join(',') });
  expect(visibleText(two.card)).not.toContain('Block sign-in at once');
  expect((await bot.t.directory.findUser('contoso', 'bob')).state).toBe('active');
  // A helpdesk agent: no Offboard button until four eyes is on, then a request.
  const helpdeskTitles = (card: Card) => actionTitles(card);
  expect(helpdeskTitles((await bot.say(helen, 'users contoso')).card)).not.toContain('Offboard');
  await bot.say(megan, 'approvals contoso on');
  const helenUsers = (await bot.say(helen, 'users contoso')).card;
  expect(helpdeskTitles(helenUsers)).toContain('Offboard');
  const request = await helen.click(helenUsers, 'Offboard', { userIds: bob.id });
  expect(visibleText(request.card)).toContain('Request approval');
  expect(visibleText(request.card)).toContain('Offboard: block sign-in');
});

test('an import over --import-over rows: Import answers with a request; another admin approves; it runs as the requester’s job and the passwords go to the requester only', async () => {
  const [megan, lee] = [bot.client(MEGAN), bot.client(LEE)];
  for (const c of [megan, lee]) await bot.say(c, 'whoami');
  expect(texts((await bot.say(megan, 'approvals contoso on')).card)).toContain('Imports are not held back (add --import-over <rows> to hold back larger ones).');
  expect(texts((await bot.say(megan, 'approvals contoso on --import-over 2')).card)).toContain('Imports of more than 2 ready rows need approval too.');
  const attachment = teamsFileAttachment('hires.csv', files.serve('/approvals/hires.csv', partnerCenterCsv(3)));
  const { card: preview, replyId } = await bot.say(megan, 'import users contoso', PERSONAL, { attachments: [attachment] });
  const click = async (card: Card, title: string, values: Record<string, string>) => {
    const { verb, data } = submission(card, title, values);
    return megan.sendInvoke(megan.invokeActivity(verb, data, PERSONAL, { replyToId: replyId }));
  };
  const request = (await click(preview, 'Import', { usageLocation: 'US' })).card;
  expect(visibleText(request)).toContain('Import 3 users from hires.csv');
  expect(visibleText(request)).toContain('the new passwords go to the requester');
  expect(await bot.t.directory.findUser('contoso', 'user00000').catch(() => null)).toBeNull();
  const sent = await click(request, 'Request approval', { reason: 'new starters' });
  const ref = findAction(sent.card, 'Withdraw').data as { customerId: string; requestId: string };
  expect(visibleText((await megan.invoke(VERBS.decideApproval, { ...ref, decision: 'approve' })).card)).toContain('another admin agent must approve');
  const approved = await lee.invoke(VERBS.decideApproval, { ...ref, decision: 'approve' }, CHANNEL);
  expect(visibleText(approved.card)).toContain('Import started as Megan Bowen\u2019s job');
  await bot.app.importRunner.idle();
  for (const u of ['user00000', 'user00001', 'user00002']) expect((await bot.t.directory.findUser('contoso', u)).state).toBe('active');
  // The results (with the passwords) reach Megan's 1:1 chat; Lee, who approved, gets the outcome only.
  const resultsIn = (c: BotClient) => connector.activitiesIn(c.conversationId()).map((a) => cardOf(a)).filter((card) => texts(card)[0]?.startsWith('Import results'));
  expect(resultsIn(megan)).toHaveLength(1);
  // The progress card is the request card that replaced the preview in Megan's chat.
  const updates = connector.records().filter((r) => r.kind === 'update' && r.targetActivityId === replyId);
  expect(updates.length).toBeGreaterThanOrEqual(1);
  expect(updates.every((u) => u.conversationId === megan.conversationId())).toBe(true);
  expect(texts(cardOf(updates[updates.length - 1].activity))[0]).toBe('Import finished \u2014 Contoso Ltd');
  expect(resultsIn(lee)).toEqual([]);
  expect(JSON.stringify(connector.activitiesIn(lee.conversationId()))).not.toContain('/downloads/');
  expect((await bot.t.directory.audit('contoso')).entries.filter((e) => e.action === 'approval-applied')).toHaveLength(1);
});
