/**
 * SPEC §11 (issue #15): the offboarding card is updated step by step, and the Offboard button takes a colleague. Over
 * HTTP as Teams drives it, once per directory (Redis, and Graph against its stand-in): the card the agent clicked is
 * the bot's own activity, updated through the connector (PUT …/activities/<id>) after every step and once more with
 * the final state — also after a crash and a resume at start-up, from where it stopped; a card update that fails
 * never stops or repeats the job; under four eyes the approval card in the channel shows the steps.
 */
import type { OffboardStep } from '../../services/offboarding';
import type { OffboardHooks } from '../../services/offboarding';
import { errorLogs, LEE, MEGAN } from '../support/botApp';
import { BotClient, Card, cardOf, CHANNEL, findAction, InvokeAnswer, PERSONAL, submission, texts, visibleText, Where } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { STORY_BACKENDS, startStoryWorld, StoryBackend, StoryWorld } from '../support/storyWorld';

let connector: FakeConnector;
let w: StoryWorld | undefined;

beforeAll(async () => {
  connector = await startFakeConnector();
});
afterAll(async () => {
  await connector.stop();
});
afterEach(async () => {
  await w?.stop();
  w = undefined;
});

const world = async (backend: StoryBackend, crashAfter?: OffboardStep): Promise<StoryWorld> => {
  const crash: Pick<OffboardHooks, 'afterStep'> = {
    afterStep: (step) => {
      if (step === crashAfter) throw new Error('killed');
    },
  };
  w = await startStoryWorld(backend, connector, crashAfter ? { app: { offboardTestHooks: crash } } : {});
  return w;
};

/** Presses a button of the card that is activity `cardId` (Teams sends the card's activity id as replyToId). */
async function press(bot: BotClient, card: Card, cardId: string, title: string, values: Record<string, string> = {}, where: Where = PERSONAL): Promise<InvokeAnswer> {
  const { verb, data } = submission(card, title, values);
  const answer = await bot.sendInvoke(bot.invokeActivity(verb, data, where, { replyToId: cardId }));
  expect(answer.status).toBe(200);
  expect(answer.body.statusCode).toBe(200);
  return answer;
}

/** The cards the bot drew over activity `cardId`, in the order they reached Teams. */
const updatesOf = (cardId: string): Card[] => connector.records().filter((r) => r.kind === 'update' && r.targetActivityId === cardId).map((r) => cardOf(r.activity));

/** The step lines of a card: ✓ done, ▶ running, ○ to do, ✗ stopped at. */
const stepLines = (card: Card): string[] => texts(card).filter((s) => /^[\u2713\u25B6\u25CB\u2717] /.test(s));

const COLLEAGUE = 'carol@contoso.onmicrosoft.com';
/** The step lines after `done` of the five steps (with a colleague), while the job runs. */
function progress(done: number): string[] {
  const lines = [
    ['\u2713 Sign-in blocked', '\u25B6 Blocking sign-in (in progress)', '\u25CB To do: block sign-in'],
    ['\u2713 Password reset (not sent to anyone)', '\u25B6 Resetting the password (in progress)', '\u25CB To do: reset the password'],
    ['\u2713 Licenses released and the user deleted (restorable for 30 days)', '\u25B6 Releasing the licenses and deleting the user (in progress)', '\u25CB To do: release the licenses and delete the user'],
    [`\u2713 Licenses moved to ${COLLEAGUE}`, `\u25B6 Moving the licenses to ${COLLEAGUE} (in progress)`, `\u25CB To do: move the licenses to ${COLLEAGUE}`],
    ['\u2713 Recorded in the audit log', '\u25B6 Recording in the audit log (in progress)', '\u25CB To do: record it in the audit log'],
  ];
  return lines.map(([ticked, running, todo], i) => (i < done ? ticked : i === done ? running : todo));
}

const audited = async (action: string) => (await w!.auditActions()).filter((a) => a === action).length;

describe.each(STORY_BACKENDS)('on the %s directory', (backend) => {
  test('the Offboard button takes a colleague; the clicked card shows every step as it finishes, then the final state', async () => {
    const { botApp, userId } = await world(backend);
    const megan = botApp.client(MEGAN);
    const bob = userId('bob');
    const { card: users, replyId: cardId } = await botApp.say(megan, 'users contoso');
    let confirm = (await press(megan, users, cardId, 'Offboard', { userIds: bob })).card;
    expect(visibleText(confirm)).toContain('Offboard Bob Jones');
    expect(visibleText(confirm)).not.toContain('Carol White');

    // A colleague that is no user, or no name at all: the usual clear error; nothing changes.
    const unknown = await press(megan, confirm, cardId, 'Show the move', { colleague: 'nobody' });
    expect(visibleText(unknown.card)).toContain('No user matches \u201cnobody\u201d.');
    const invalid = await press(megan, confirm, cardId, 'Show the move', { colleague: 'carol\u202e' });
    expect(visibleText(invalid.card)).toContain('The colleague must be a username, a UPN or a display name');
    const itself = await press(megan, confirm, cardId, 'Show the move', { colleague: 'bob' });
    expect(visibleText(itself.card)).toContain('the colleague must be another user');

    // Naming Carol draws the confirmation again, with the move and the seats it needs.
    confirm = (await press(megan, confirm, cardId, 'Show the move', { colleague: 'carol' })).card;
    const text = visibleText(confirm);
    expect(text).toContain('Move Office 365 E3, Microsoft 365 E5 to Carol White.');
    expect(text).toContain('Licenses move to Carol White (carol@contoso.onmicrosoft.com).');
    expect(text).toContain('Microsoft 365 E5: fits; 3 seats are free once the user is deleted.');
    expect(text).toContain('Office 365 E3: fits; 8 seats are free once the user is deleted.');

    // A colleague typed but not shown yet is shown first, never used unseen.
    const unseen = await press(megan, confirm, cardId, 'Offboard', { colleague: 'Dave Brown' });
    expect(visibleText(unseen.card)).toContain('The colleague changed: check the move below');
    expect(visibleText(unseen.card)).toContain('Move Microsoft 365 E5 to Dave Brown.');
    expect(await w!.deletedIds()).toEqual([]);
    expect(await audited('block-sign-in')).toBe(0);
    expect(updatesOf(cardId)).toEqual([]);

    // Offboard: the answer is the first state (the first step running; the card refreshes itself for Megan) …
    const started = await press(megan, confirm, cardId, 'Offboard');
    expect(texts(started.card)[0]).toBe('Offboarding Bob Jones\u2026');
    expect(stepLines(started.card)).toEqual(progress(0));
    expect((started.card.refresh as { userIds: string[] }).userIds).toEqual([MEGAN.id]);
    // … and the job, once that answer has gone, draws each finished step on the same card, then the final state.
    await botApp.app.offboardRunner.idle();
    const updates = updatesOf(cardId);
    expect(updates.map(stepLines)).toEqual([progress(1), progress(2), progress(3), progress(4), progress(5), progress(5)]);
    expect(updates.slice(0, 5).every((c) => texts(c)[0] === 'Offboarding Bob Jones\u2026' && !!c.refresh)).toBe(true);
    const final = updates[updates.length - 1];
    expect(texts(final)[0]).toBe('Bob Jones is offboarded');
    expect(final.refresh).toBeUndefined();
    expect(connector.records().filter((r) => r.kind === 'update').every((r) => r.conversationId === megan.conversationId())).toBe(true);

    expect(await w!.deletedIds()).toEqual([bob]);
    expect(await w!.licensesOf(userId('carol'))).toEqual([w!.E3, w!.E5].sort());
    // The refresh of the running card (Universal Actions) and the same button again: the finished job, nothing twice.
    const refresh = started.card.refresh as { action: { verb: string; data: unknown } };
    expect(texts((await megan.invoke(refresh.action.verb, refresh.action.data)).card)[0]).toBe('Bob Jones is offboarded');
    expect(texts((await press(megan, confirm, cardId, 'Offboard')).card)[0]).toBe('Bob Jones is offboarded');
    await botApp.app.offboardRunner.idle();
    expect(await audited('offboard')).toBe(1);
    expect(await audited('block-sign-in')).toBe(1);
    expect(connector.unexpected()).toEqual([]);
    expect(errorLogs(botApp.logLines)).toEqual([]);
  });

  test('killed after the delete: at the next start the job resumes and the same card goes on from where it stopped', async () => {
    const { botApp, userId } = await world(backend, 'delete');
    const megan = botApp.client(MEGAN);
    const bob = userId('bob');
    const { card: confirm, replyId: cardId } = await botApp.say(megan, 'offboard contoso bob --to carol');
    await press(megan, confirm, cardId, 'Offboard');
    await botApp.app.offboardRunner.idle();
    // The instance died after recording the delete (and drawing it): the job is left running.
    expect(updatesOf(cardId).map(stepLines)).toEqual([progress(1), progress(2), progress(3)]);
    expect(await w!.deletedIds()).toEqual([bob]);
    expect(await w!.licensesOf(userId('carol'))).toEqual([]);

    // The next instance resumes it at start-up: first the state it found, then each remaining step, then the end.
    const next = await botApp.secondApp();
    await next.offboardRunner.idle();
    const updates = updatesOf(cardId);
    expect(updates.slice(3).map(stepLines)).toEqual([progress(3), progress(4), progress(5), progress(5)]);
    expect(texts(updates[updates.length - 1])[0]).toBe('Bob Jones is offboarded');
    expect(await w!.licensesOf(userId('carol'))).toEqual([w!.E3, w!.E5].sort());
    for (const action of ['block-sign-in', 'reset-password', 'delete-users', 'offboard']) expect([action, await audited(action)]).toEqual([action, 1]);
    expect(errorLogs(botApp.logLines).map((l) => JSON.parse(l).msg)).toEqual([expect.stringContaining('offboarding job stopped')]);
  });

  test('a card update that fails stops nothing and repeats nothing', async () => {
    const { botApp, userId } = await world(backend);
    const megan = botApp.client(MEGAN);
    const bob = userId('bob');
    const { card: confirm, replyId: cardId } = await botApp.say(megan, 'offboard contoso bob --to carol');
    // Teams refuses every update of Megan's chat (the app was removed from it): the job runs to its end anyway.
    connector.failSendsTo(megan.conversationId(), 403);
    await press(megan, confirm, cardId, 'Offboard');
    await botApp.app.offboardRunner.idle();
    connector.failSendsTo(megan.conversationId(), null);
    expect(updatesOf(cardId)).toEqual([]);
    expect(await w!.deletedIds()).toEqual([bob]);
    expect(await w!.licensesOf(userId('carol'))).toEqual([w!.E3, w!.E5].sort());
    expect(botApp.logLines.filter((l) => JSON.parse(l).msg === 'could not update an offboarding card').length).toBeGreaterThanOrEqual(1);
    // Pressed again once Teams answers: the final state, and every directory change still once.
    expect(texts((await press(megan, confirm, cardId, 'Offboard')).card)[0]).toBe('Bob Jones is offboarded');
    await botApp.app.offboardRunner.idle();
    for (const action of ['block-sign-in', 'reset-password', 'delete-users', 'offboard']) expect([action, await audited(action)]).toEqual([action, 1]);
    expect(errorLogs(botApp.logLines)).toEqual([]);
  });

  test('under four eyes: the approval card in the channel shows the steps as they finish, then the outcome', async () => {
    const { botApp, userId } = await world(backend);
    const [megan, lee] = [botApp.client(MEGAN), botApp.client(LEE)];
    const bob = userId('bob');
    for (const c of [megan, lee]) await botApp.say(c, 'whoami');
    await botApp.say(megan, 'approvals channel here', CHANNEL);
    await botApp.say(megan, 'approvals contoso on');
    // The request card takes the colleague as the confirmation does: shown first, never requested unseen.
    const { card: first, replyId } = await botApp.say(megan, 'offboard contoso bob');
    expect(visibleText(first)).toContain('Request approval');
    expect(visibleText(first)).not.toContain('Carol White');
    const unseen = (await press(megan, first, replyId, 'Request approval', { colleague: 'carol', reason: 'left the company' })).card;
    expect(visibleText(unseen)).toContain('The colleague changed: check the move below');
    expect(await audited('approval-requested')).toBe(0);
    const request = (await press(megan, unseen, replyId, 'Show the move', { colleague: 'carol' })).card;
    expect(visibleText(request)).toContain('Licenses move to Carol White (carol@contoso.onmicrosoft.com).');
    await press(megan, request, replyId, 'Request approval', { reason: 'left the company' });
    expect(await audited('approval-requested')).toBe(1);
    const channelId = lee.conversationId(CHANNEL);
    const posted = connector.records().filter((r) => r.conversationId === channelId && r.kind !== 'update');
    const channelCardId = posted[posted.length - 1].activityId;
    const channelCard = cardOf(posted[posted.length - 1].activity);
    // Lee's own view of the channel card (its refresh), then Approve on it.
    const refresh = channelCard.refresh as { action: { verb: string; data: unknown } };
    const leeView = (await lee.sendInvoke(lee.invokeActivity(refresh.action.verb, refresh.action.data, CHANNEL, { replyToId: channelCardId }))).card;
    findAction(leeView, 'Approve');
    const approved = await press(lee, leeView, channelCardId, 'Approve', {}, CHANNEL);
    expect(visibleText(approved.card)).toContain('Approved by Lee Gu; being applied.');
    expect(stepLines(approved.card)).toEqual(progress(0));
    await botApp.app.offboardRunner.idle();

    // The channel card: the approval with the first step running, then each step, then applied with the outcome.
    const updates = updatesOf(channelCardId);
    expect(updates.map(stepLines)).toEqual([progress(0), progress(1), progress(2), progress(3), progress(4), progress(5), progress(5)]);
    const final = visibleText(updates[updates.length - 1]);
    expect(final).toContain('Approved by Lee Gu and applied.');
    expect(final).toContain('Offboarded; restorable for 30 days with the licenses it held.');
    expect(updates.every((c) => findActionOrNull(c, 'Approve') === null)).toBe(true);
    // Requester and approver get the outcome in their 1:1 chats, once the job has ended.
    for (const agent of [megan, lee]) {
      const outcomes = connector.activitiesIn(agent.conversationId()).map((a) => cardOf(a)).filter((c) => visibleText(c).includes('Approved by Lee Gu and applied.'));
      expect(outcomes).toHaveLength(1);
    }
    expect(await w!.deletedIds()).toEqual([bob]);
    expect(await audited('approval-applied')).toBe(1);
    expect(await audited('offboard')).toBe(1);
    expect(errorLogs(botApp.logLines)).toEqual([]);
  });
});

function findActionOrNull(card: Card, title: string): unknown {
  try {
    return findAction(card, title);
  } catch {
    return null;
  }
}
