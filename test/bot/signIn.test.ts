/**
 * Teams SSO and the GDAP gate, over HTTP: the bot in graph mode (local mode, AZURE_CLIENT_ID/SECRET given) with a
 * fake directory backend that acts "on behalf of" the caller (it records currentCaller() and the assertion it gets,
 * refuses without one, and answers accessFor as the test says), a stand-in for the Bot Framework token service
 * (BOT_OAUTH_URL) and the fake connector.
 */
import { VERBS } from '../../cards/verbs';
import { callersNeeded, currentCaller, runAsCaller } from '../../services/caller';
import type { DirectoryAccess, DirectoryBackend } from '../../services/directories/port';
import { DirectoryError } from '../../services/errors';
import { BotApp, startBotApp, TENANT } from '../support/botApp';
import { actionTitles, Agent, BotClient, Card, cardOf, PERSONAL, visibleText } from '../support/botClient';
import { ConnectorActivity, FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { partnerCenterCsv } from '../support/importCsv';
import { dumpValues } from '../support/testDirectory';
import { startTokenService, TokenService } from '../support/tokenService';

const CONNECTION = 'graph-sso';
const CLIENT_SECRET = 'client~Secret.for-obo_1234567890';
const ADA: Agent = { id: '29:1ada', aadObjectId: 'a1000000-0000-4000-8000-000000000001', name: 'Ada Admin' };
const BEN: Agent = { id: '29:1ben', aadObjectId: 'b1000000-0000-4000-8000-000000000002', name: 'Ben Admin' };
const CAT: Agent = { id: '29:1cat', aadObjectId: 'c1000000-0000-4000-8000-000000000003', name: 'Cat Capped' };
const DAN: Agent = { id: '29:1dan', aadObjectId: 'd1000000-0000-4000-8000-000000000004', name: 'Dan Denied' };
const OAUTH_CARD = 'application/vnd.microsoft.card.oauth';

interface Seen {
  method: string;
  agent: string | undefined;
  assertion: string | undefined;
}

/** A directory that acts with the agent's rights: every call needs the agent's assertion; GDAP per agent. */
function onBehalfOfBackend() {
  // As every directory that acts with the agent's rights declares when it is made.
  callersNeeded();
  let inner: DirectoryBackend | undefined;
  const seen: Seen[] = [];
  const access = new Map<string, DirectoryAccess>();
  const refused = new Set<string>();
  const backend = new Proxy({} as DirectoryBackend, {
    get(_target, prop: string) {
      if (prop === 'kind') return 'graph';
      // Entra purges its own deleted users: nothing to do, and no agent behind the hourly purge.
      if (prop === 'purgeExpired') return async () => 0;
      return async (...args: unknown[]) => {
        const caller = currentCaller();
        const assertion = await caller?.userAssertion();
        seen.push({ method: prop, agent: caller?.actor.id, assertion });
        if (!assertion) throw new DirectoryError('SIGN_IN_REQUIRED');
        if (prop === 'accessFor') return access.get(caller!.actor.id) ?? { level: 'admin', missing: [] };
        if (refused.has(prop)) throw new DirectoryError('DIRECTORY_REFUSED');
        const target = inner as unknown as Record<string, (...a: unknown[]) => unknown>;
        return target[prop].apply(inner, args);
      };
    },
  });
  return { backend, seen, access, refused, use: (b: DirectoryBackend) => (inner = b) };
}

let connector: FakeConnector;
let tokens: TokenService;
let bot: BotApp;
let fake: ReturnType<typeof onBehalfOfBackend>;
const invokeAnswers: string[] = [];

beforeAll(async () => {
  connector = await startFakeConnector();
});
afterAll(async () => connector.stop());

beforeEach(async () => {
  // A token service per test: nobody is signed in at the start.
  tokens = await startTokenService(CONNECTION);
  fake = onBehalfOfBackend();
  invokeAnswers.length = 0;
  bot = await startBotApp(connector, {
    seed: {
      id: 'contoso',
      name: 'Contoso Ltd',
      subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 10 }],
      users: [
        { username: 'alice', displayName: 'Alice Smith', licenses: ['O365_E3'] },
        { username: 'bob', displayName: 'Bob Jones' },
      ],
    },
    app: { directoryBackend: fake.backend },
    env: {
      LOG_LEVEL: 'info',
      DIRECTORY_BACKEND: 'graph',
      OAUTH_CONNECTION_NAME: CONNECTION,
      AZURE_CLIENT_ID: '0b0b0b0b-1111-4222-8333-444444444444',
      AZURE_CLIENT_SECRET: CLIENT_SECRET,
      BOT_OAUTH_URL: tokens.url,
      ADMIN_AGENTS: [ADA, BEN, CAT, DAN].map((a) => a.aadObjectId).join(','),
    },
  });
  fake.use(bot.t.directory.backend);
});
afterEach(async () => {
  await bot.stop();
  await tokens.stop();
  expect(connector.unexpected()).toEqual([]);
});

const personal = (agent: Agent) => bot.client(agent).conversationId(PERSONAL);

/** Sends a typed message in the 1:1 chat; resolves with the activity the bot sent back. */
async function say(agent: Agent, text: string): Promise<ConnectorActivity> {
  const before = connector.activitiesIn(personal(agent)).length;
  const { status } = await bot.client(agent).post(bot.client(agent).messageActivity(text));
  expect(status).toBe(200);
  return (await connector.waitForActivities(personal(agent), before + 1))[before];
}

async function invoke(agent: Agent, name: string, value: unknown): Promise<{ status: number; text: string }> {
  const client = bot.client(agent);
  const answer = await client.post(client.activity('invoke', PERSONAL, { name, value }));
  invokeAnswers.push(answer.text);
  return answer;
}

const oauthCardOf = (activity: ConnectorActivity) => {
  const attachment = activity.attachments?.find((a) => a.contentType === OAUTH_CARD);
  if (!attachment) throw new Error(`expected an OAuthCard, got ${JSON.stringify(activity.attachments).slice(0, 300)}`);
  return attachment.content as { connectionName: string; tokenExchangeResource?: { id: string; uri: string }; buttons: Array<{ type: string; value: string }> };
};

const pendingKey = (agent: Agent) => bot.t.keys.pendingSignIn(agent.aadObjectId);

describe('a typed command before sign-in', () => {
  it('answers with the sign-in card, then runs once Teams exchanged the token (SSO), once only', async () => {
    const signInCard = oauthCardOf(await say(ADA, 'users contoso'));
    expect(signInCard.connectionName).toBe(CONNECTION);
    expect(signInCard.tokenExchangeResource).toEqual(tokens.exchangeResource);
    expect(signInCard.buttons[0]).toMatchObject({ type: 'signin', value: tokens.signInLink });
    const pending = await bot.t.redis.get(pendingKey(ADA));
    expect(JSON.parse(pending!)).toMatchObject({ text: 'users contoso' });
    expect(await bot.t.redis.pttl(pendingKey(ADA))).toBeGreaterThan(9 * 60 * 1000);

    const exchange = { id: 'exchange-1', connectionName: CONNECTION, token: tokens.ssoTokenFor(ADA.id) };
    const answer = await invoke(ADA, 'signin/tokenExchange', exchange);
    expect(answer.status).toBe(200);
    const [, usersReply] = await connector.waitForActivities(personal(ADA), 2);
    expect(visibleText(cardOf(usersReply))).toContain('Alice Smith');
    expect(await bot.t.redis.exists(pendingKey(ADA))).toBe(0);
    // The directory acted with Ada's own token, as Ada.
    const acting = fake.seen.filter((s) => s.assertion);
    expect(acting.length).toBeGreaterThan(0);
    expect(acting.every((s) => s.agent === ADA.aadObjectId && s.assertion === tokens.tokenOf(ADA.id))).toBe(true);

    // Teams sends the same exchange again (another client, another instance): answered, nothing runs twice.
    expect((await invoke(ADA, 'signin/tokenExchange', exchange)).status).toBe(200);
    const next = await say(ADA, 'licenses contoso');
    expect(visibleText(cardOf(next))).toContain('Office 365 E3');
    expect(connector.activitiesIn(personal(ADA))).toHaveLength(3);
  });

  it('a failed exchange answers 412 (Teams then shows the sign-in button) and keeps the command waiting', async () => {
    oauthCardOf(await say(BEN, 'licenses contoso'));
    const answer = await invoke(BEN, 'signin/tokenExchange', { id: 'exchange-bad', connectionName: CONNECTION, token: 'not-an-exchangeable-token' });
    expect(answer.status).toBe(412);
    expect(JSON.parse(answer.text)).toMatchObject({ id: 'exchange-bad', connectionName: CONNECTION });
    expect(await bot.t.redis.exists(pendingKey(BEN))).toBe(1);
    expect(connector.activitiesIn(personal(BEN))).toHaveLength(1);
  });

  it('runs after the magic code: typed in the 1:1 chat, or from the sign-in page (signin/verifyState)', async () => {
    oauthCardOf(await say(BEN, 'licenses contoso'));
    // A wrong code: told so, the command still waits.
    const wrong = await say(BEN, tokens.magicCodeFor(BEN.id) === '123456' ? '654321' : '123456');
    expect(visibleText(cardOf(wrong))).toMatch(/did not sign you in/);
    const licenses = await say(BEN, tokens.magicCodeFor(BEN.id));
    expect(visibleText(cardOf(licenses))).toContain('Office 365 E3');
    expect(fake.seen.filter((s) => s.assertion).every((s) => s.assertion === tokens.tokenOf(BEN.id))).toBe(true);

    oauthCardOf(await say(CAT, 'users contoso'));
    expect((await invoke(CAT, 'signin/verifyState', { state: '000000' })).status).toBe(404);
    expect((await invoke(CAT, 'signin/verifyState', { state: tokens.magicCodeFor(CAT.id) })).status).toBe(200);
    const [, users] = await connector.waitForActivities(personal(CAT), 2);
    expect(visibleText(cardOf(users))).toContain('Bob Jones');
  });

  it("never gives one agent another's token", async () => {
    oauthCardOf(await say(ADA, 'users contoso'));
    await invoke(ADA, 'signin/tokenExchange', { id: 'ada-1', connectionName: CONNECTION, token: tokens.ssoTokenFor(ADA.id) });
    await connector.waitForActivities(personal(ADA), 2);
    // Dan has not signed in: he gets the sign-in card, not Ada's rights; Ada's token does not exchange for Dan.
    oauthCardOf(await say(DAN, 'users contoso'));
    expect((await invoke(DAN, 'signin/tokenExchange', { id: 'dan-1', connectionName: CONNECTION, token: tokens.ssoTokenFor(ADA.id) })).status).toBe(412);
    for (const s of fake.seen) {
      if (s.agent === DAN.aadObjectId) expect(s.assertion).toBeUndefined();
      if (s.agent === ADA.aadObjectId && s.assertion) expect(s.assertion).toBe(tokens.tokenOf(ADA.id));
    }
  });
});

describe('a card button before sign-in (Universal Actions)', () => {
  it('answers a loginRequest; the same invoke with the token Teams got runs the action', async () => {
    const client = bot.client(ADA);
    const activity = client.invokeActivity(VERBS.licenses, { customerId: 'contoso' });
    const first = await client.sendInvoke(activity);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      statusCode: 401,
      type: 'application/vnd.microsoft.activity.loginRequest',
      value: { connectionName: CONNECTION, tokenExchangeResource: tokens.exchangeResource, buttons: [{ type: 'signin', value: tokens.signInLink }] },
    });
    expect((first.body.value as unknown as { text: string }).text).toMatch(/Sign in first/);

    const withBadToken = await client.sendInvoke({ ...activity, value: { ...(activity.value as object), authentication: { id: 'x', connectionName: CONNECTION, token: 'garbage' } } });
    expect(withBadToken.body).toMatchObject({ statusCode: 412, type: 'application/vnd.microsoft.error.preconditionFailed' });

    const retried = await client.sendInvoke({ ...activity, value: { ...(activity.value as object), authentication: { id: 'x', connectionName: CONNECTION, token: tokens.ssoTokenFor(ADA.id) } } });
    expect(retried.body.statusCode).toBe(200);
    expect(visibleText(retried.card)).toContain('Office 365 E3');
    invokeAnswers.push(JSON.stringify([first.body, withBadToken.body, retried.body]));
  });

  it('accepts the magic code of the sign-in page in value.state', async () => {
    const client = bot.client(BEN);
    const activity = client.invokeActivity(VERBS.licenses, { customerId: 'contoso' });
    expect((await client.sendInvoke(activity)).body.statusCode).toBe(401);
    const retried = await client.sendInvoke({ ...activity, value: { ...(activity.value as object), state: tokens.magicCodeFor(BEN.id) } });
    expect(retried.body.statusCode).toBe(200);
    expect(visibleText(retried.card)).toContain('Office 365 E3');
  });
});

describe('the GDAP gate', () => {
  async function signedIn(agent: Agent): Promise<void> {
    await say(agent, 'licenses contoso');
    await invoke(agent, 'signin/tokenExchange', { id: `in-${agent.id}`, connectionName: CONNECTION, token: tokens.ssoTokenFor(agent.id) });
    await connector.waitForActivities(personal(agent), 2);
  }

  it('an admin agent with helpdesk GDAP acts as helpdesk: admin commands refused naming the missing role, audited, nothing changed', async () => {
    await signedIn(CAT);
    fake.access.set(CAT.aadObjectId, { level: 'helpdesk', missing: ['User Administrator', 'License Administrator'] });
    const before = JSON.stringify([...(await dumpValues(bot.t)).entries()].filter(([k]) => !/audit|refusals/.test(k)).sort());

    const refused = cardOf(await say(CAT, 'delete user contoso bob'));
    expect(visibleText(refused)).toMatch(/GDAP.*User Administrator, License Administrator/s);
    const assign = cardOf(await say(CAT, 'assign O365_E3 contoso bob'));
    expect(visibleText(assign)).toContain('License Administrator');
    const after = JSON.stringify([...(await dumpValues(bot.t)).entries()].filter(([k]) => !/audit|refusals/.test(k)).sort());
    expect(after).toBe(before);
    const refusals = await bot.t.directory.refusals();
    expect(refusals.map((r) => [r.action, r.actorId])).toEqual(
      expect.arrayContaining([
        ['deleteUsers', CAT.aadObjectId],
        ['assign', CAT.aadObjectId],
      ]),
    );
    expect(refusals.find((r) => r.action === 'deleteUsers')?.result).toMatch(/refused: directory role missing: User Administrator/);

    // The users card shows only what helpdesk may do.
    const users = cardOf(await say(CAT, 'users contoso'));
    const titles = actionTitles(users);
    expect(titles.some((t) => /Reset password/.test(t))).toBe(true);
    expect(titles.filter((t) => /^(Add user|Delete$|Manage licenses)/.test(t))).toEqual([]);
  });

  it('no GDAP role at all: even read commands are refused', async () => {
    await signedIn(DAN);
    fake.access.set(DAN.aadObjectId, { level: 'none', missing: ['Helpdesk Administrator'] });
    const card = cardOf(await say(DAN, 'users contoso'));
    expect(visibleText(card)).toContain('Helpdesk Administrator');
  });

  it("the directory's own refusal (Graph's 403) is the usual error card, audited, never a 500", async () => {
    await signedIn(ADA);
    fake.refused.add('changeLicenses');
    const card: Card = cardOf(await say(ADA, 'assign O365_E3 contoso bob'));
    expect(visibleText(card)).toMatch(/refused this change/);
    expect((await bot.t.directory.refusals()).find((r) => r.action === 'assign')?.result).toBe('refused: refused by the directory');
    expect(bot.logLines.some((l) => JSON.parse(l).outcome === 'refused' && JSON.parse(l).reason === 'DIRECTORY_REFUSED')).toBe(true);
  });
});

describe('import jobs run as their owner, outside any turn', () => {
  /** A started import of two users owned by `owner` (previewed as `owner` with their token). */
  async function startedImport(owner: Agent): Promise<string> {
    const actor = { id: owner.aadObjectId, name: owner.name };
    return runAsCaller({ actor, userAssertion: async () => tokens.tokenOf(owner.id) }, async () => {
      const p = await bot.app.importer.preview('contoso', partnerCenterCsv(2, { usageLocation: () => 'US' }), 'users.csv', actor);
      if (!p.ok) throw new Error(JSON.stringify(p.problem));
      const { started } = await bot.app.importer.start('contoso', p.preview.jobId, actor, { mode: 'validRows' });
      expect(started).toBe(true);
      return p.preview.jobId;
    });
  }

  it("uses the owner's token from the token service (through the owner's 1:1 chat)", async () => {
    oauthCardOf(await say(ADA, 'licenses contoso'));
    await invoke(ADA, 'signin/tokenExchange', { id: 'imp', connectionName: CONNECTION, token: tokens.ssoTokenFor(ADA.id) });
    await connector.waitForActivities(personal(ADA), 2);
    const jobId = await startedImport(ADA);
    fake.seen.length = 0;
    await bot.app.importRunner.launch('contoso', jobId);
    expect((await bot.app.importer.progress('contoso', jobId)).state).toBe('done');
    const creates = fake.seen.filter((s) => s.method === 'createUser');
    expect(creates).toHaveLength(2);
    expect(creates.every((s) => s.agent === ADA.aadObjectId && s.assertion === tokens.tokenOf(ADA.id))).toBe(true);
  });

  it('without a token the job waits untouched and the agent is told; it goes on once the agent signs in', async () => {
    oauthCardOf(await say(BEN, 'licenses contoso'));
    const jobId = await startedImport(BEN);
    fake.seen.length = 0;
    await bot.app.importRunner.launch('contoso', jobId);
    expect((await bot.app.importer.progress('contoso', jobId)).state).toBe('running');
    expect(fake.seen.filter((s) => s.method === 'createUser')).toEqual([]);
    const [, told] = await connector.waitForActivities(personal(BEN), 2);
    expect(visibleText(cardOf(told))).toMatch(/waiting for you to sign in/);

    // Signing in (the magic code) runs the pending command and resumes the job.
    await say(BEN, tokens.magicCodeFor(BEN.id));
    // The resume is launched in the background of that turn: poll for the job's end (bounded).
    const deadline = Date.now() + 15_000;
    while ((await bot.app.importer.progress('contoso', jobId)).state === 'running' && Date.now() < deadline) {
      await bot.app.importRunner.idle();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await bot.app.importer.progress('contoso', jobId)).state).toBe('done');
    expect(fake.seen.filter((s) => s.method === 'createUser').every((s) => s.assertion === tokens.tokenOf(BEN.id))).toBe(true);
  });
});

describe('secrets', () => {
  it('no token or client secret in a log line, a Redis value, a card or an audit entry', async () => {
    oauthCardOf(await say(ADA, 'users contoso'));
    await invoke(ADA, 'signin/tokenExchange', { id: 'e', connectionName: CONNECTION, token: tokens.ssoTokenFor(ADA.id) });
    await connector.waitForActivities(personal(ADA), 2);
    await say(BEN, 'licenses contoso');
    await say(BEN, tokens.magicCodeFor(BEN.id));
    await connector.waitForActivities(personal(BEN), 2);
    await say(ADA, 'reset password contoso alice');

    const secrets = [...tokens.issued(), CLIENT_SECRET];
    const redisValues = JSON.stringify([...(await dumpValues(bot.t)).entries()]);
    const cards = JSON.stringify(connector.records());
    const audit = JSON.stringify([await bot.t.directory.refusals(), await bot.t.directory.audit('contoso', 1, 100)]);
    const logs = bot.logLines.join('\n');
    for (const s of secrets) {
      expect(logs).not.toContain(s);
      expect(redisValues).not.toContain(s);
      expect(cards).not.toContain(s);
      expect(audit).not.toContain(s);
      expect(invokeAnswers.join('\n')).not.toContain(s);
    }
    expect(bot.logLines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
  });
});

void TENANT;
void BotClient;
