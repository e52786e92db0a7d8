/**
 * License changes for many users at once (SPEC §1, §3): typed `assign` / `unassign` with comma lists of up to 500
 * users, and the Manage licenses card for 100+ selected users. All or nothing: with too few seats nothing changes;
 * with enough, every selected user is changed exactly once (also when Teams delivers the same message twice).
 */
import { VERBS } from '../../cards/verbs';
import { scanKeys } from '../../services/storeCheck';
import { BotApp, errorLogs, startBotApp } from '../support/botApp';
import { Activity, BotClient, Card, cardOf, choicesOf, PERSONAL, submission, texts } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';

const USERS = 520;
const username = (i: number) => `user${String(i).padStart(3, '0')}`;

let connector: FakeConnector;
let bot: BotApp;
let client: BotClient;

beforeAll(async () => {
  connector = await startFakeConnector();
});
afterAll(async () => connector.stop());
beforeEach(async () => {
  bot = await startBotApp(connector, {
    seed: {
      subscriptions: [
        { skuId: 'O365_E3', name: 'Office 365 E3', seats: 400 },
        { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 600 },
      ],
      // Every tenth user already holds E3; every fifth holds E5.
      users: Array.from({ length: USERS }, (_, i) => ({
        username: username(i),
        displayName: `User ${i}`,
        licenses: [...(i % 10 === 0 ? ['O365_E3'] : []), ...(i % 5 === 0 ? ['SPE_E5'] : [])],
      })),
    },
  });
  client = bot.client();
});
afterEach(async () => {
  await bot.stop();
  expect(connector.unexpected()).toEqual([]);
  expect(errorLogs(bot.logLines)).toEqual([]);
});

/** Licenses and version of every user, and the seats: what must not move when a change is refused. */
async function snapshot() {
  const users = bot.c.users.map((u) => u.id);
  const read = await bot.t.directory.readUsers('contoso', users);
  const subscriptions = await bot.t.directory.getSubscriptions('contoso');
  return {
    users: Object.fromEntries(read.map((u) => [u!.username, { licenses: u!.licenses, version: u!.version }])),
    seats: Object.fromEntries(subscriptions.map((s) => [s.skuId, s.assignedSeats])),
  };
}

/** Seats assigned equal the users holding the license, and no user holds one twice. */
async function expectSeatsAddUp(): Promise<void> {
  const read = await bot.t.directory.readUsers('contoso', bot.c.users.map((u) => u.id));
  const holders: Record<string, number> = { O365_E3: 0, SPE_E5: 0 };
  for (const u of read) {
    expect(new Set(u!.licenses).size).toBe(u!.licenses.length);
    for (const l of u!.licenses) holders[l]++;
  }
  const subscriptions = await bot.t.directory.getSubscriptions('contoso');
  expect(Object.fromEntries(subscriptions.map((s) => [s.skuId, s.assignedSeats]))).toEqual(holders);
}

/** Someone else changes the selected user `changed` after `card` was drawn: Save is refused as stale, nothing moves. */
async function expectRefusedAsStale(card: Card, changed: number): Promise<void> {
  await bot.t.directory.changeLicenses('contoso', [{ userId: bot.c.users[changed].id }], { add: ['SPE_E5'] }, { actor: bot.t.actor });
  const before = await snapshot();
  const answer = await client.click(card, 'Save', { lic_O365_E3: 'all' });
  expect(texts(answer.card)).toContain('This card is out of date: the user changed since it was shown. Here is the current view.');
  expect(await snapshot()).toEqual(before);
}

async function setSeats(o365: number): Promise<void> {
  await bot.t.directory.upsertCustomer(
    {
      id: 'contoso',
      name: 'Contoso Ltd',
      domains: ['contoso.onmicrosoft.com', 'contoso.com'],
      subscriptions: [
        { skuId: 'O365_E3', name: 'Office 365 E3', seats: o365 },
        { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 600 },
      ],
    },
    { id: 'provisioning', name: 'Provisioning' },
  );
}

/** Sends a typed message (or the very same activity again) and returns the card replied with. */
async function type(activity: Activity): Promise<Card> {
  const conversationId = client.conversationId();
  const before = connector.activitiesIn(conversationId).length;
  expect((await client.post(activity)).status).toBe(200);
  return cardOf((await connector.waitForActivities(conversationId, before + 1))[before]);
}

const auditActions = async () => (await bot.t.directory.audit('contoso', 1, 100)).entries.filter((e) => e.action === 'change-licenses');
const auditedChanges = async () => (await auditActions()).filter((e) => e.result === 'ok');

describe('typed assign / unassign for 500 users', () => {
  // Users 0–499, half named by UPN and half by user name.
  const list = Array.from({ length: 500 }, (_, i) => (i % 2 ? `${username(i)}@contoso.onmicrosoft.com` : username(i))).join(',');

  test('too few seats: nothing changes, and the card says how many are missing', async () => {
    const before = await snapshot();
    // 52 users already hold E3, so 450 of the 500 need a seat; 348 are left.
    const card = await type(client.messageActivity(`assign O365_E3 contoso ${list}`));
    expect(texts(card)).toContain('Not enough seats of O365_E3: 348 left, 450 needed.');
    expect(await snapshot()).toEqual(before);
    // The refusal is audited; no change is.
    expect(await auditActions()).toEqual([expect.objectContaining({ result: 'NO_SEATS', detail: 'O365_E3 348 450' })]);
  });

  test('enough seats: every one of the 500 users is changed once, also when the message is delivered twice', async () => {
    await setSeats(600);
    const before = await snapshot();
    const activity = client.messageActivity(`assign o365_e3 contoso ${list}`);
    const card = await type(activity);
    expect(texts(card)[0]).toBe('Licenses updated \u2014 Contoso Ltd');
    const after = await snapshot();
    for (let i = 0; i < USERS; i++) {
      const [b, a] = [before.users[username(i)], after.users[username(i)]];
      if (i >= 500) expect(a).toEqual(b);
      else if (b.licenses.includes('O365_E3')) expect(a).toEqual(b); // already held: untouched
      else expect(a).toEqual({ licenses: [...b.licenses, 'O365_E3'].sort(), version: b.version + 1 });
    }
    expect(after.seats.O365_E3).toBe(52 + 450);
    await expectSeatsAddUp();
    expect(await auditedChanges()).toHaveLength(1);

    // Teams retries the same delivery: it answers again and changes nothing.
    await type(activity);
    expect(await snapshot()).toEqual(after);
    expect(await auditedChanges()).toHaveLength(1);
  });

  test('unassign for 500 users frees every seat they held', async () => {
    await setSeats(600);
    await type(client.messageActivity(`assign O365_E3 contoso ${list}`));
    const card = await type(client.messageActivity(`unassign O365_E3 contoso ${list}`));
    expect(texts(card)[0]).toBe('Licenses updated \u2014 Contoso Ltd');
    const after = await snapshot();
    for (let i = 0; i < 500; i++) expect(after.users[username(i)].licenses).not.toContain('O365_E3');
    // Only users 500–519 that held E3 from the start still do (500 and 510).
    expect(after.seats.O365_E3).toBe(2);
    await expectSeatsAddUp();
  });

  test('501 users are refused, and nothing changes', async () => {
    await setSeats(600);
    const before = await snapshot();
    const card = await type(client.messageActivity(`assign O365_E3 contoso ${list},${username(500)}`));
    expect(texts(card)).toContain('Select at most 500 users at once.');
    expect(await snapshot()).toEqual(before);
  });
});

describe('the Manage licenses card for 150 users', () => {
  const selected = () => bot.c.users.slice(0, 150).map((u) => u.id);

  async function openManage(): Promise<Card> {
    const answer = await client.invoke(VERBS.manageLicenses, { customerId: 'contoso', userIds: selected().join(',') });
    expect(answer.status).toBe(200);
    return answer.card;
  }

  test('the card shows the selection and the state of each license for the 150', async () => {
    const card = await openManage();
    expect(texts(card)).toContainEqual(expect.stringMatching(/^Selected: User 0, User 1, .* \(\+140\)$/));
    expect(choicesOf(card, 'lic_O365_E3').map((c) => c.value)).toEqual(['all', 'some', 'none']);
  });

  test('too few seats for the 150: nothing changes', async () => {
    await setSeats(150); // 52 held, 98 left; 135 of the 150 need one
    const before = await snapshot();
    const card = await openManage();
    const answer = await client.click(card, 'Save', { lic_O365_E3: 'all' });
    expect(answer.status).toBe(200);
    expect(texts(answer.card)).toContain('Not enough seats of O365_E3: 98 left, 135 needed.');
    expect(await snapshot()).toEqual(before);
  });

  test('enough seats: E3 for all 150 and E5 for none, each user changed once', async () => {
    const before = await snapshot();
    const card = await openManage();
    const { verb, data } = submission(card, 'Save', { lic_O365_E3: 'all', lic_SPE_E5: 'none' });
    const activity = client.invokeActivity(verb, data, PERSONAL);
    const answer = await client.sendInvoke(activity);
    expect(texts(answer.card)[0]).toBe('Licenses updated \u2014 Contoso Ltd');
    const after = await snapshot();
    for (let i = 0; i < USERS; i++) {
      const [b, a] = [before.users[username(i)], after.users[username(i)]];
      if (i >= 150) {
        expect(a).toEqual(b);
        continue;
      }
      expect(a.licenses).toEqual(['O365_E3']);
      expect(a.version).toBe(b.licenses.join() === 'O365_E3' ? b.version : b.version + 1);
    }
    await expectSeatsAddUp();
    // The same click delivered again changes nothing more.
    await client.sendInvoke(activity);
    expect(await snapshot()).toEqual(after);
    expect(await auditedChanges()).toHaveLength(1);
  });

  test('one of the 150 changed by someone else after the card was drawn: the card is refused as stale, nothing changes', async () => {
    await expectRefusedAsStale(await openManage(), 77);
  });
});

describe('Manage licenses for all users in a view (every page of it, up to 500)', () => {
  // Every fifth user holds E5 (every tenth E3 too): the unlicensed view has the other 416, over 21 pages.
  const UNLICENSED = USERS - USERS / 5;

  async function unlicensedView(): Promise<Card> {
    const answer = await client.invoke(VERBS.users, { customerId: 'contoso', filter: 'unlicensed' });
    expect(texts(answer.card)).toContain(`Showing 1–20 of ${UNLICENSED}`);
    return answer.card;
  }

  async function openManageAll(): Promise<Card> {
    const answer = await client.click(await unlicensedView(), `Manage licenses for all ${UNLICENSED} users in this view`);
    expect(answer.status).toBe(200);
    return answer.card;
  }

  const selectionKeys = () => scanKeys(bot.t.redis, `${bot.t.keys.selection('contoso', '')}*`);

  test('the card covers the whole view, not the page, and stays under Teams’ 28 kB', async () => {
    const card = await openManageAll();
    expect(texts(card)).toContainEqual(expect.stringMatching(new RegExp(`\\(\\+${UNLICENSED - 10}\\)$`)));
    // Nobody in the view holds a license: one choice each, "none" drawn.
    expect(choicesOf(card, 'lic_O365_E3').map((c) => c.value)).toEqual(['all', 'none']);
    expect(Buffer.byteLength(JSON.stringify(card))).toBeLessThan(28 * 1024);
    // The users travel in the store, with an expiry, not in the card's data.
    const [key] = await selectionKeys();
    expect(await bot.t.redis.hlen(key)).toBe(UNLICENSED);
    expect(await bot.t.redis.pttl(key)).toBeGreaterThan(0);
  });

  test('a view of more than 500 users is refused with how to narrow it; nothing is saved', async () => {
    const all = await client.invoke(VERBS.users, { customerId: 'contoso' });
    const answer = await client.click(all.card, `Manage licenses for all ${USERS} users in this view`);
    expect(texts(answer.card)).toContain(`This view has ${USERS} users; licenses can be changed for at most 500 at once. Narrow it with a filter or a search.`);
    expect(await selectionKeys()).toEqual([]);
  });

  test('too few seats for the view: nothing changes; enough: every user of the view changed once, the rest untouched', async () => {
    await setSeats(400); // 52 held, 348 left; 416 needed
    const before = await snapshot();
    const refused = await client.click(await openManageAll(), 'Save', { lic_O365_E3: 'all' });
    expect(texts(refused.card)).toContain(`Not enough seats of O365_E3: 348 left, ${UNLICENSED} needed.`);
    expect(await snapshot()).toEqual(before);

    await setSeats(500);
    const { verb, data } = submission(await openManageAll(), 'Save', { lic_O365_E3: 'all' });
    const activity = client.invokeActivity(verb, data, PERSONAL);
    const answer = await client.sendInvoke(activity);
    expect(texts(answer.card)[0]).toBe('Licenses updated \u2014 Contoso Ltd');
    const after = await snapshot();
    for (let i = 0; i < USERS; i++) {
      const [b, a] = [before.users[username(i)], after.users[username(i)]];
      if (i % 5 === 0) expect(a).toEqual(b);
      else expect(a).toEqual({ licenses: ['O365_E3'], version: b.version + 1 });
    }
    await expectSeatsAddUp();
    await client.sendInvoke(activity); // delivered again
    expect(await snapshot()).toEqual(after);
    expect(await auditedChanges()).toHaveLength(1);
  });

  test('a user of the view changed after the card was drawn: refused as stale, nothing changes', async () => {
    await expectRefusedAsStale(await openManageAll(), 1);
  });

  test('after the saved selection expires, Save says the card has expired and changes nothing', async () => {
    const card = await openManageAll();
    for (const key of await selectionKeys()) await bot.t.redis.del(key); // what its 24 h expiry does
    const before = await snapshot();
    const answer = await client.click(card, 'Save', { lic_O365_E3: 'all' });
    expect(texts(answer.card)).toContain('This card has expired. Open the users again to change their licenses.');
    expect(await snapshot()).toEqual(before);
  });
});
