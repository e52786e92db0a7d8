/**
 * Three behaviours over HTTP, through the bot:
 *  1. naming a customer or a user that several match answers a card to choose, whose buttons run the command again
 *     for the one chosen; one match resolves; none is an error card that names what was typed (bot/handlers/resolve.ts);
 *  2. when Teams answers 404 (conversation gone) or 429 (throttled) to creating the agent's 1:1 chat or to sending in
 *     it, the agent is told in the shared conversation, the password is not shown there, and the bot does not retry
 *     (bot/privateChannel.ts); every call the bot makes to the connector is counted by a proxy in front of it;
 *  3. the per-turn log line (msg "turn", bot/adminBot.ts): one per turn, with command, customer, caller, outcome and
 *     duration, and never a temporary password.
 */
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectorActivity, FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { actions, Agent, BotClient, Card, cardOf, CHANNEL, GROUP_CHAT, PERSONAL, texts, visibleText, Where } from '../support/botClient';
import { BotApp, errorLogs, MEGAN, startBotApp } from '../support/botApp';

/** Someone of the partner's tenant who is no agent (not in ADMIN_AGENTS). */
const OUTSIDER: Agent = { id: '29:1otto-other', aadObjectId: 'c0000000-0000-4000-8000-000000000003', name: 'Otto Other' };

const NOT_SENT = 'I could not send you the password privately right now. Reset the password again in a moment, or from your 1:1 chat with the bot. The password is not shown here.';
const NOT_INSTALLED = /not installed for you/;
const SENT = 'The temporary password was sent to you in a private chat.';

// ------------------------------------------------------------------------------------------ a counting proxy

interface ConnectorCall {
  method: string;
  path: string;
  status: number;
  body: string;
}

/** Sits between the bot and the fake connector and records every request the bot makes (with the status it got). */
interface CountingProxy {
  url: string;
  calls: ConnectorCall[];
  stop(): Promise<void>;
}

async function startCountingProxy(target: string): Promise<CountingProxy> {
  const calls: ConnectorCall[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const method = req.method ?? 'GET';
      fetch(new URL(req.url ?? '/', target), { method, headers: { 'Content-Type': 'application/json' }, body: body || undefined })
        .then(async (upstream) => {
          const text = await upstream.text();
          calls.push({ method, path: decodeURIComponent((req.url ?? '/').split('?')[0]), status: upstream.status, body });
          res.writeHead(upstream.status, { 'Content-Type': upstream.headers.get('content-type') ?? 'application/json' });
          res.end(text);
        })
        .catch((err: Error) => {
          res.writeHead(502);
          res.end(err.message);
        });
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    calls,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ------------------------------------------------------------------------------------------ set-up

let connector: FakeConnector;
let proxy: CountingProxy;
let bot: BotApp;
/** Every log line at info level and above (the per-turn lines are info). */
let logLines: string[];

beforeAll(async () => {
  connector = await startFakeConnector();
  proxy = await startCountingProxy(connector.url);
});
afterAll(async () => {
  await proxy.stop();
  await connector.stop();
});

beforeEach(async () => {
  proxy.calls.length = 0;
  bot = await startBotApp(connector, {
    seed: {
      id: 'contoso',
      name: 'Contoso Ltd',
      subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 10 }],
      users: [
        { username: 'alice', displayName: 'Alice Smith', licenses: ['O365_E3'] },
        { username: 'bob', displayName: 'Bob Jones' },
        { username: 'alex.kim', displayName: 'Alex Kim' },
        { username: 'alex.kim2', displayName: 'Alex Kim' },
        { username: 'sam.lee', displayName: 'Sam Lee' },
      ],
    },
    env: { LOG_LEVEL: 'info' }, // the per-turn lines are info
  });
  logLines = bot.logLines;
  // Two customers whose names share "Northwind".
  await bot.t.seed({ id: 'northwind', name: 'Northwind Traders', users: [{ username: 'nancy', displayName: 'Nancy Davolio' }] });
  await bot.t.seed({ id: 'nwhealth', name: 'Northwind Health', users: [{ username: 'hugo', displayName: 'Hugo Health' }] });
});

afterEach(async () => {
  await bot.stop();
  expect(errorLogs(logLines)).toEqual([]);
});

/** An agent's client whose activities name the counting proxy as serviceUrl (replies still land in the fake connector). */
const agentClient = (agent: Agent = MEGAN) => new BotClient({ ...bot.client(agent).options, serviceUrl: proxy.url });

/** Sends a typed message; resolves with the card the bot answered with in that conversation. */
const say = async (client: BotClient, text: string, where: Where = PERSONAL): Promise<Card> => (await bot.say(client, text, where)).card;

async function press(client: BotClient, card: Card, title: string | RegExp, where: Where = PERSONAL): Promise<Card> {
  const answer = await client.click(card, title, {}, where);
  expect(answer.status).toBe(200);
  expect(answer.body.statusCode).toBe(200);
  return answer.card;
}

const PASSWORD_PREFIX = 'Temporary password: ';
const passwordsOn = (card: Card): string[] => texts(card).filter((s) => s.startsWith(PASSWORD_PREFIX)).map((s) => s.slice(PASSWORD_PREFIX.length));

/** The buttons of a choice card: title and the command each one runs. */
const options = (card: Card) => actions(card).map((a) => ({ title: a.title, runs: (a.data as { text?: string } | undefined)?.text }));

// ------------------------------------------------------------------------------------------ 1. resolution

describe('a customer named by part of a name several share: a card to choose', () => {
  test('the choice card offers each customer with the command rewritten for it; choosing one runs it', async () => {
    const agent = agentClient();
    const choice = await say(agent, 'users north --unlicensed');
    expect(texts(choice)).toEqual(['Which customer?', '\u201cnorth\u201d matches several customers. Choose one:']);
    expect(options(choice)).toEqual([
      { title: 'Northwind Health (nwhealth.onmicrosoft.com)', runs: 'users nwhealth --unlicensed' },
      { title: 'Northwind Traders (northwind.onmicrosoft.com)', runs: 'users northwind --unlicensed' },
    ]);
    // Nothing of either customer is shown before the agent chooses.
    expect(visibleText(choice)).not.toMatch(/Nancy|Hugo/);

    const traders = await press(agent, choice, 'Northwind Traders (northwind.onmicrosoft.com)');
    expect(texts(traders)).toContain('Users and licenses \u2014 Northwind Traders');
    expect(visibleText(traders)).toContain('Nancy Davolio');
    expect(visibleText(traders)).not.toContain('Hugo Health');
  });

  test('the rewritten command keeps the other arguments: a user named after the ambiguous customer', async () => {
    const agent = agentClient();
    const choice = await say(agent, 'reset password north nancy');
    expect(options(choice).map((o) => o.runs)).toEqual(['reset password nwhealth nancy', 'reset password northwind nancy']);
    const confirm = await press(agent, choice, /Northwind Traders/);
    expect(texts(confirm)).toContain('Reset the password of Nancy Davolio (nancy@northwind.onmicrosoft.com)? The current password stops working at once.');
  });

  test('a verified domain or the exact name resolves, even where part of the name is ambiguous', async () => {
    const agent = agentClient();
    expect(texts(await say(agent, 'users contoso.com'))).toContain('Users and licenses \u2014 Contoso Ltd');
    expect(texts(await say(agent, 'users northwind.com'))).toContain('Users and licenses \u2014 Northwind Traders');
    expect(texts(await say(agent, 'users "Northwind Health"'))).toContain('Users and licenses \u2014 Northwind Health');
    expect(texts(await say(agent, 'users "northwind traders"'))).toContain('Users and licenses \u2014 Northwind Traders');
  });

  test('an unknown customer: the not-found error card names what was typed, and offers no choice', async () => {
    const agent = agentClient();
    const card = await say(agent, 'users fabrikam');
    expect(texts(card)).toEqual(['Something needs your attention', 'No customer matches \u201cfabrikam\u201d.', 'Type help to see the commands you may use.']);
    expect(actions(card)).toEqual([]);
  });
});

describe('a user named by a display name: several → a card to choose, exactly one → resolved', () => {
  test('two users named "Alex Kim": the choice card names both by UPN and each button runs the command for that user', async () => {
    const agent = agentClient();
    const choice = await say(agent, 'reset password contoso "Alex Kim"');
    expect(texts(choice)).toEqual(['Which user?', '\u201cAlex Kim\u201d matches several users. Choose one:']);
    expect(options(choice)).toHaveLength(2);
    expect(options(choice)).toEqual(
      expect.arrayContaining([
        { title: 'Alex Kim (alex.kim@contoso.onmicrosoft.com)', runs: 'reset password contoso alex.kim@contoso.onmicrosoft.com' },
        { title: 'Alex Kim (alex.kim2@contoso.onmicrosoft.com)', runs: 'reset password contoso alex.kim2@contoso.onmicrosoft.com' },
      ]),
    );
    const confirm = await press(agent, choice, 'Alex Kim (alex.kim2@contoso.onmicrosoft.com)');
    expect(texts(confirm)).toContain('Reset the password of Alex Kim (alex.kim2@contoso.onmicrosoft.com)? The current password stops working at once.');
  });

  test('typed without quotes in a user list, the choice still leads to the chosen user (not to the same choice again)', async () => {
    const agent = agentClient();
    const choice = await say(agent, 'delete user contoso bob, Alex Kim');
    expect(texts(choice)).toEqual(['Which user?', '\u201cAlex Kim\u201d matches several users. Choose one:']);
    const confirm = await press(agent, choice, 'Alex Kim (alex.kim@contoso.onmicrosoft.com)');
    expect(texts(confirm)).toEqual(
      expect.arrayContaining(['Delete users', 'Bob Jones \u2014 bob@contoso.onmicrosoft.com', 'Alex Kim \u2014 alex.kim@contoso.onmicrosoft.com']),
    );
    expect(texts(confirm)).not.toContain('Alex Kim \u2014 alex.kim2@contoso.onmicrosoft.com');
  });

  test('exactly one user with that display name (any case) resolves straight to the confirmation', async () => {
    const agent = agentClient();
    for (const typed of ['"Sam Lee"', '"sam lee"']) {
      const confirm = await say(agent, `reset password contoso ${typed}`);
      expect(texts(confirm)).toContain('Reset the password of Sam Lee (sam.lee@contoso.onmicrosoft.com)? The current password stops working at once.');
    }
  });

  test('part of a display name is not a match: the not-found card names it', async () => {
    const card = await say(agentClient(), 'reset password contoso Alex');
    expect(texts(card)).toEqual(['Something needs your attention', 'No user matches \u201cAlex\u201d.']);
  });
});

// ------------------------------------------------------------------------------------------ 2. private channel failures

const callsTo = (pattern: RegExp, method = 'POST') => proxy.calls.filter((c) => c.method === method && pattern.test(c.path));
const CREATE = /^\/v3\/conversations\/?$/;
const personalActivities = (agent: BotClient) => new RegExp(`^/v3/conversations/${agent.conversationId(PERSONAL).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/activities`);

/** The password the bot tried to send privately (read from the request Teams refused), if it got that far. */
function attemptedPasswords(agent: BotClient): string[] {
  return callsTo(personalActivities(agent)).flatMap((c) => passwordsOn(cardOf(JSON.parse(c.body) as ConnectorActivity)));
}

/** Reset password of alice from a shared conversation; resolves with the answer card to the Reset button. */
async function resetFrom(agent: BotClient, where: Where): Promise<Card> {
  const confirm = await say(agent, 'reset password contoso alice', where);
  proxy.calls.length = 0; // count only what the button makes the bot do
  return press(agent, confirm, 'Reset password', where);
}

/** Nothing anywhere but in the agent's 1:1 chat carries a temporary password: no card line, not the given one. */
function expectNoPasswordOutside(agent: BotClient, answer: Card, known: string[] = []): void {
  expect(passwordsOn(answer)).toEqual([]);
  const shared = connector.records().filter((r) => r.conversationId !== agent.conversationId(PERSONAL));
  expect(shared.length).toBeGreaterThan(0);
  for (const r of shared) expect(JSON.stringify(r.activity)).not.toContain(PASSWORD_PREFIX);
  for (const password of known) {
    expect(JSON.stringify(answer)).not.toContain(password);
    for (const r of shared) expect(JSON.stringify(r.activity)).not.toContain(password);
    for (const line of logLines) expect(line).not.toContain(password);
  }
}

describe('Teams refuses the 1:1 chat: the agent is told, the password is not shown, the bot does not retry', () => {
  test.each([404, 429] as const)('creating the 1:1 chat answers %i (from a channel)', async (status) => {
    const agent = agentClient();
    connector.failCreateConversation(status);
    const answer = await resetFrom(agent, CHANNEL);

    expect(texts(answer)).toContain('The password of Alice Smith (alice@contoso.onmicrosoft.com) was reset.');
    expect(texts(answer)).toContain(NOT_SENT);
    expect(visibleText(answer)).not.toContain(SENT);
    expect(visibleText(answer)).not.toMatch(NOT_INSTALLED); // a 404 or 429 is not "install the app"
    expectNoPasswordOutside(agent, answer);

    // One attempt to create the chat, nothing sent to it, nothing else called.
    expect(callsTo(CREATE).map((c) => c.status)).toEqual([status]);
    expect(callsTo(personalActivities(agent))).toEqual([]);
    expect(proxy.calls).toHaveLength(1);
    expect(connector.unexpected()).toEqual([]);
  });

  test.each([404, 429] as const)('sending in the newly created 1:1 chat answers %i (from a group chat)', async (status) => {
    const agent = agentClient();
    connector.failSendsTo(agent.conversationId(PERSONAL), status);
    const answer = await resetFrom(agent, GROUP_CHAT);

    expect(texts(answer)).toContain(NOT_SENT);
    expect(visibleText(answer)).not.toContain(SENT);
    const attempted = attemptedPasswords(agent);
    expect(attempted).toHaveLength(1);
    expectNoPasswordOutside(agent, answer, attempted);

    // One create, one send into it, refused; no second try.
    expect(callsTo(CREATE).map((c) => c.status)).toEqual([200]);
    expect(callsTo(personalActivities(agent)).map((c) => c.status)).toEqual([status]);
    expect(proxy.calls).toHaveLength(2);
  });

  test('the same Reset button delivered again (Teams retries) answers as the first did: not sent, and nothing sent now', async () => {
    const agent = agentClient();
    connector.failCreateConversation(429);
    const confirm = await say(agent, 'reset password contoso alice', CHANNEL);
    const first = await press(agent, confirm, 'Reset password', CHANNEL);
    expect(texts(first)).toContain(NOT_SENT);
    connector.failCreateConversation(null); // Teams answers again by the time the retry comes
    proxy.calls.length = 0;
    const again = await press(agent, confirm, 'Reset password', CHANNEL);
    expect(texts(again)).toEqual(texts(first));
    expect(visibleText(again)).not.toContain(SENT);
    expect(proxy.calls).toEqual([]); // the replay sends nothing privately
    // A new reset (a new button) does reach the 1:1 chat.
    const next = await press(agent, await say(agent, 'reset password contoso alice', CHANNEL), 'Reset password', CHANNEL);
    expect(visibleText(next)).toContain(SENT);
  });

  test('the remembered 1:1 chat is gone (404): it is created anew once, and when that fails too the agent is told', async () => {
    const agent = agentClient();
    await say(agent, 'help', PERSONAL); // the agent's 1:1 chat is remembered from here
    connector.failSendsTo(agent.conversationId(PERSONAL), 404);
    const answer = await resetFrom(agent, CHANNEL);

    expect(texts(answer)).toContain(NOT_SENT);
    const attempted = attemptedPasswords(agent);
    expect(attempted).toHaveLength(2); // the same card, to the remembered chat and to the created one
    expect(new Set(attempted).size).toBe(1);
    expectNoPasswordOutside(agent, answer, attempted);
    // Remembered chat (404) → forgotten → created once → sent once (404). No loop.
    expect(proxy.calls.map((c) => `${c.path.startsWith('/v3/conversations/') ? 'send' : 'create'} ${c.status}`)).toEqual(['send 404', 'create 200', 'send 404']);
  });

  test('the remembered 1:1 chat is throttled (429): one attempt, no new chat created, the agent is told', async () => {
    const agent = agentClient();
    await say(agent, 'help', PERSONAL);
    connector.failSendsTo(agent.conversationId(PERSONAL), 429);
    const answer = await resetFrom(agent, CHANNEL);

    expect(texts(answer)).toContain(NOT_SENT);
    const attempted = attemptedPasswords(agent);
    expect(attempted).toHaveLength(1);
    expectNoPasswordOutside(agent, answer, attempted);
    expect(callsTo(CREATE)).toEqual([]);
    expect(callsTo(personalActivities(agent)).map((c) => c.status)).toEqual([429]);
    expect(proxy.calls).toHaveLength(1);
  });

  test('following the advice once Teams answers again: reset again, and the password arrives in the 1:1 chat and works', async () => {
    const agent = agentClient();
    connector.failCreateConversation(429);
    expect(texts(await resetFrom(agent, CHANNEL))).toContain(NOT_SENT);

    connector.failCreateConversation(null);
    const again = await resetFrom(agent, CHANNEL);
    expect(texts(again)).toContain(SENT);
    const [dm] = await connector.waitForActivities(agent.conversationId(PERSONAL), 1);
    const [password] = passwordsOn(cardOf(dm));
    expect(await bot.t.directory.verifyUserPassword('contoso', bot.c.user('alice').id, password)).toBe(true);
    expectNoPasswordOutside(agent, again, [password]);
  });
});

// ------------------------------------------------------------------------------------------ 3. the per-turn log line

interface TurnLine {
  level: number;
  msg: string;
  command: string;
  customer?: string;
  caller: string;
  outcome: string;
  ms: number;
  [key: string]: unknown;
}

const turnLines = (): TurnLine[] => logLines.map((l) => JSON.parse(l) as TurnLine).filter((l) => l.msg === 'turn');

describe('the per-turn log line', () => {
  test('one line per turn, typed or clicked, with command, customer, caller, outcome and duration', async () => {
    const agent = agentClient();
    const outsider = agentClient(OUTSIDER);

    await say(agent, 'users contoso'); // ok
    const choice = await say(agent, 'users north'); // a choice card
    await press(agent, choice, /Northwind Traders/); // the choice runs "users northwind"
    await say(agent, 'users fabrikam'); // not found
    await say(agent, 'assign NOPE_SKU contoso alice'); // a directory error
    await say(outsider, 'users contoso'); // refused: not an agent
    const confirm = await say(agent, 'reset password contoso alice', CHANNEL);
    await press(agent, confirm, 'Reset password', CHANNEL);

    const lines = turnLines();
    expect(lines.map(({ command, customer, caller, outcome }) => ({ command, customer, caller, outcome }))).toEqual([
      { command: 'users', customer: 'contoso', caller: MEGAN.aadObjectId, outcome: 'ok' },
      { command: 'users', customer: 'north', caller: MEGAN.aadObjectId, outcome: 'answered' },
      { command: 'users', customer: 'northwind', caller: MEGAN.aadObjectId, outcome: 'ok' },
      { command: 'users', customer: 'fabrikam', caller: MEGAN.aadObjectId, outcome: 'answered' },
      { command: 'assign', customer: 'contoso', caller: MEGAN.aadObjectId, outcome: 'userError' },
      { command: 'users', customer: 'contoso', caller: OUTSIDER.aadObjectId, outcome: 'refused' },
      { command: 'resetPassword', customer: 'contoso', caller: MEGAN.aadObjectId, outcome: 'ok' },
      { command: 'confirmResetPassword', customer: 'contoso', caller: MEGAN.aadObjectId, outcome: 'ok' },
    ]);
    for (const line of lines) {
      expect(line.level).toBe(30); // info
      expect(typeof line.ms).toBe('number');
      expect(line.ms).toBeGreaterThanOrEqual(0);
    }
    expect(lines[4].code).toEqual(expect.any(String)); // why the directory refused
    expect(lines[5].reason).toBe('role');
    // Beside what the agent typed, the customer the turn acted on, once resolved ("north" was ambiguous: none).
    expect(lines.map((l) => l.customerId)).toEqual(['contoso', undefined, 'northwind', undefined, 'contoso', undefined, 'contoso', 'contoso']);
  });

  test('a message that is not a command, and a button with unusable data, get their turn line too', async () => {
    const agent = agentClient();
    await say(agent, 'frobnicate contoso');
    const answer = await agent.invoke('deleteUsers', { customerId: 'contoso', userIds: 42 });
    expect(answer.status).toBe(200);
    expect(turnLines().map(({ command, caller, outcome, problem, reason }) => ({ command, caller, outcome, problem, reason }))).toEqual([
      { command: null, caller: MEGAN.aadObjectId, outcome: 'badCommand', problem: 'unknownCommand', reason: undefined },
      { command: null, caller: MEGAN.aadObjectId, outcome: 'badAction', problem: undefined, reason: 'invalidData' },
    ]);
  });

  test.each([
    ['personal chat', PERSONAL],
    ['channel', CHANNEL],
  ] as Array<[string, Where]>)('a password reset in a %s: the password shown in the 1:1 chat is in no log line', async (_name, where) => {
    const agent = agentClient();
    const answer = await resetFrom(agent, where);
    const shown = where.kind === 'personal' ? answer : cardOf((await connector.waitForActivities(agent.conversationId(PERSONAL), 1))[0]);
    const [password] = passwordsOn(shown);
    expect(await bot.t.directory.verifyUserPassword('contoso', bot.c.user('alice').id, password)).toBe(true);

    expect(turnLines().map((l) => l.command)).toEqual(['resetPassword', 'confirmResetPassword']);
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.filter((l) => l.includes(password))).toEqual([]);
  });
});
