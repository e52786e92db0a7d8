/**
 * "Speak the agent's language", end to end: the add → license → delete → restore story played over HTTP as Teams
 * drives it (typed commands to /api/messages, buttons as `adaptiveCard/action` invokes), with the activities'
 * `locale` set as Teams sets it from the agent's Teams language.
 *
 *  - ko-KR: every card is Korean (Partner Center's words), no English word from the catalog, Korean plurals,
 *    days left and audit timestamps formatted for Korean;
 *  - en-US: the same story reads exactly as before;
 *  - a pseudo-locale: every text on every card of the story comes from the catalog (handlers included).
 */
import { COMMANDS } from '../../bot/commands/table';
import { translator } from '../../cards/i18n';
import { en } from '../../cards/i18n/en';
import { formatMessage, Message } from '../../cards/i18n/format';
import { BotApp, errorLogs, MEGAN, startBotApp, STORY_CUSTOMER } from '../support/botApp';
import { actions, BotClient, Card, choicesOf, choiceValue, inputs, texts, visibleText } from '../support/botClient';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { CLOCK_START } from '../support/testDirectory';
import { PSEUDO_LOCALE, pseudoDate, pseudoTranslator, untranslatedStrings, visibleStrings } from './pseudo';

const DAY = 86_400_000;

// Registered before any turn: the bot's translator('qps-ploc') finds it (same module instance).
pseudoTranslator();

let connector: FakeConnector;
let botApp: BotApp;

beforeAll(async () => {
  connector = await startFakeConnector();
});

afterAll(async () => {
  await connector.stop();
});

/** A fresh directory (seeded, clock at CLOCK_START) and a fresh bot; the afterEach checks hold for each. */
async function setUp(): Promise<void> {
  botApp = await startBotApp(connector, {
    seed: STORY_CUSTOMER,
    env: { ADMIN_AGENTS: MEGAN.aadObjectId },
  });
}

async function tearDown(): Promise<void> {
  await botApp.stop();
  expect(connector.unexpected()).toEqual([]);
  expect(errorLogs(botApp.logLines)).toEqual([]);
}

beforeEach(setUp);
afterEach(tearDown);

/** Plays the story in two languages, each on a fresh directory. */
async function twoStories(first: string, second: string) {
  const a = await story(first);
  await tearDown();
  await setUp();
  return [a, await story(second)] as const;
}

// ------------------------------------------------------------------------------------------ the story

interface Step {
  name: string;
  card: Card;
}

const NEW_USER = {
  firstName: 'Nina',
  lastName: 'Park',
  displayName: 'Nina Park',
  username: 'nina.park',
  domain: 'contoso.com',
  usageLocation: 'KR',
  role: 'user',
  licenses: 'O365_E3,SPE_E5',
};

/**
 * help → users → Add user (two licenses) → back → Manage licenses for three users → back → delete Bob and Carol →
 * 29 days later delete Dave (typed) → Deleted users (3) → restore Bob → audit → licenses. Buttons are found by
 * their title in the agent's language, as the agent would.
 */
async function story(locale: string): Promise<{ steps: Step[]; password?: string }> {
  const { t: tr } = translator(locale);
  const bot = new BotClient({ ...botApp.client(MEGAN).options, locale });
  const steps: Step[] = [];

  const say = async (name: string, text: string): Promise<Card> => {
    const { card } = await botApp.say(bot, text);
    steps.push({ name, card });
    return card;
  };
  const press = async (name: string, card: Card, title: string, values: Record<string, string> = {}): Promise<Card> => {
    const answer = await bot.click(card, title, values);
    expect([answer.status, answer.body.statusCode, answer.body.type]).toEqual([200, 200, 'application/vnd.microsoft.card.adaptive']);
    steps.push({ name, card: answer.card });
    return answer.card;
  };
  const upn = (username: string) => `${username}@contoso.onmicrosoft.com`;
  const bob = botApp.c.user('bob').id;
  const carol = botApp.c.user('carol').id;

  await say('help', 'help');
  let users = await say('users', 'users contoso');
  const form = await press('add user form', users, tr('users.addUser'));
  const created = await press('user created', form, tr('addUser.save'), NEW_USER);
  const prefix = `${tr('created.password')}: `;
  const password = texts(created).find((s) => s.startsWith(prefix))?.slice(prefix.length);
  users = await press('users after add', created, tr('common.back'));
  const nina = choiceValue(users, 'userIds', 'nina.park@contoso.com');
  const manage = await press('manage licenses', users, tr('users.manageLicenses'), {
    userIds: [choiceValue(users, 'userIds', upn('alice')), choiceValue(users, 'userIds', upn('carol')), nina].join(','),
  });
  const results = await press('license results', manage, tr('manage.save'), { lic_O365_E3: 'all', lic_SPE_E5: 'none' });
  users = await press('users after licenses', results, tr('common.back'));
  const confirm = await press('confirm delete (2)', users, tr('users.delete'), { userIds: `${bob},${carol}` });
  await press('users after delete (2)', confirm, tr('delete.button'));
  botApp.t.clock.advance(29 * DAY);
  const confirmOne = await say('confirm delete (1)', 'delete user contoso dave');
  users = await press('users after delete (1)', confirmOne, tr('delete.button'));
  const deleted = await press('deleted users', users, tr('users.deleted', { count: 3 }));
  await press('restore results', deleted, tr('deleted.restore'), { userIds: bob });
  await say('audit', 'audit contoso');
  await say('licenses', 'licenses contoso');
  return { steps, password };
}

const step = (steps: Step[], name: string): Card => {
  const found = steps.find((s) => s.name === name);
  if (!found) throw new Error(`no step ${name}`);
  return found.card;
};

/** Data the cards show as typed: the seeded customer, users, licenses, the new user, the agent and the seeding actor. */
function storyData(password?: string): string[] {
  return [
    'Contoso Ltd',
    'contoso.onmicrosoft.com',
    'contoso.com',
    'contoso',
    'Office 365 E3',
    'Microsoft 365 E5',
    'O365_E3',
    'SPE_E5',
    ...botApp.c.users.flatMap((u) => [u.displayName, u.userPrincipalName, u.id]),
    'Nina Park',
    'nina.park@contoso.com',
    'Megan Bowen',
    'Test Agent',
    ...(password ? [password] : []),
  ];
}

/** Command keywords and flags stay English on the help card (they are what agents type). */
const KEYWORDS = [
  ...new Set(COMMANDS.flatMap((cmd) => cmd.usage.replace(/<(customer|user|sku|role|text|n|name|agent id)>|\[text\]/g, ' ').match(/--?[a-z][a-z-]*|[a-z]+/g) ?? [])),
];

/** The English words of the English catalog (placeholders left out). */
const ENGLISH_WORDS = new Set(
  Object.values(en as Record<string, Message>)
    .flatMap((m) => (typeof m === 'string' ? [m] : Object.values(m)))
    .flatMap((s) => (s ?? '').replace(/\{\w+\}/g, ' ').match(/[A-Za-z]{2,}/g) ?? [])
    .map((w) => w.toLowerCase()),
);

/** Latin words left on a card once the data is taken out. */
function latinWords(card: Card, data: string[]): string[] {
  const sorted = [...data].sort((a, b) => b.length - a.length);
  return visibleStrings(card).flatMap(({ value }) => {
    let rest = value;
    for (const d of sorted) rest = rest.split(d).join(' ');
    return rest.match(/[A-Za-z]+/g) ?? [];
  });
}

const structure = (card: Card) => ({
  actions: actions(card).map((a) => `${a.type}:${a.verb ?? ''}`),
  inputs: inputs(card).map((i) => `${i.type}:${i.id}:${i.choices?.length ?? ''}`),
  blocks: visibleStrings(card).length,
});

// ------------------------------------------------------------------------------------------ Korean

describe('an agent whose Teams runs in Korean', () => {
  test('sees every card of the add → license → delete → restore story in Korean', async () => {
    const { steps, password } = await story('ko-KR');
    expect(steps.map((s) => s.name)).toHaveLength(16);
    expect(password).toEqual(expect.any(String));

    // No English word of the catalog anywhere; Latin letters only in data, codes and abbreviations.
    const allowed = new Set(['UTC', 'AM', 'PM', 'UPN', 'CSV', 'ID', 'ISO', 'KR', 'Entra', 'Partner', 'Admin', 'Bot']);
    for (const { name, card } of steps) {
      const data = [...storyData(password), ...(name === 'help' ? KEYWORDS : [])];
      const words = latinWords(card, data);
      expect({ name, englishFromCatalog: words.filter((w) => ENGLISH_WORDS.has(w.toLowerCase()) && !allowed.has(w)) }).toEqual({ name, englishFromCatalog: [] });
      expect({ name, latin: words.filter((w) => !allowed.has(w)) }).toEqual({ name, latin: [] });
      expect(Buffer.byteLength(JSON.stringify(card))).toBeLessThan(28 * 1024);
    }

    // help: descriptions and argument names in Korean, keywords as typed
    const help = step(steps, 'help');
    expect(texts(help)).toEqual(expect.arrayContaining(['Partner Admin Bot', '내 역할: 관리 에이전트', 'users <고객> [--unlicensed|--licensed|--license <라이선스 ID>] [--role <역할>] [--search <텍스트>] [--page <번호>]', '삭제된 사용자를 복원합니다. 남은 라이선스가 있으면 라이선스도 다시 할당됩니다.']));

    // users: 사용자 및 라이선스, the buttons of Partner Center
    const users = step(steps, 'users');
    expect(texts(users)).toEqual(expect.arrayContaining(['사용자 및 라이선스 — Contoso Ltd', '전체 4명 중 1–4번째 표시']));
    expect(choicesOf(users, 'userIds').map((ch) => ch.title)).toEqual([
      'Alice Smith — alice@contoso.onmicrosoft.com — Office 365 E3',
      'Bob Jones — bob@contoso.onmicrosoft.com — Office 365 E3, Microsoft 365 E5',
      'Carol White — carol@contoso.onmicrosoft.com — 라이선스 없음',
      'Dave Brown — dave@contoso.onmicrosoft.com — Office 365 E3',
    ]);
    expect(actions(users).map((a) => a.title)).toEqual(expect.arrayContaining(['라이선스 현황', '필터 적용', '사용자 추가', '라이선스 관리', '암호 재설정', '사용자 삭제', '삭제된 사용자(0)']));
    expect(inputs(users).map((i) => i.label)).toEqual(['필터', '이름 또는 UPN으로 검색', '사용자 선택']);

    // add user: the form of the admin center
    const form = step(steps, 'add user form');
    expect(texts(form)).toContain('사용자 추가 — Contoso Ltd');
    expect(inputs(form).map((i) => i.label)).toEqual(['이름', '성', '표시 이름', '사용자 이름', '도메인', '사용 위치(두 글자 국가 코드, 예: KR)', '관리자 역할', '라이선스']);
    expect(choicesOf(form, 'role').map((ch) => ch.title)).toEqual(['사용자(관리자 권한 없음)', '전역 관리자', '청구 관리자', '사용자 관리자', '암호 관리자', '기술 지원 관리자', '서비스 지원 관리자']);
    expect(choicesOf(form, 'licenses').map((ch) => ch.title)).toEqual(['Office 365 E3 — 10개 중 7개 사용 가능', 'Microsoft 365 E5 — 3개 중 2개 사용 가능']);
    expect(actions(form).map((a) => a.title)).toEqual(['저장', '저장 후 다른 사용자 추가', '취소']);
    expect(inputs(form).find((i) => i.id === 'displayName')).toMatchObject({ errorMessage: '필수 항목입니다.' });

    const created = step(steps, 'user created');
    expect(texts(created)).toEqual(
      expect.arrayContaining(['사용자를 추가했습니다', 'Nina Park — nina.park@contoso.com', '라이선스: Office 365 E3, Microsoft 365 E5', `임시 암호: ${password}`, '사용자는 다음에 로그인할 때 이 암호를 변경해야 합니다.']),
    );
    expect(actions(created).map((a) => a.title)).toEqual(['사용자 목록으로 돌아가기']);

    // 라이선스 관리
    const manage = step(steps, 'manage licenses');
    expect(texts(manage)).toEqual([
      '라이선스 관리 — Contoso Ltd',
      '선택한 사용자: Alice Smith, Carol White, Nina Park',
      '또는 선택한 사용자 중 해당 라이선스를 가진 사용자의 라이선스를 다른 라이선스로 바꿉니다(다른 라이선스는 유지):',
    ]);
    expect(inputs(manage).map((i) => i.label)).toEqual([
      'Office 365 E3 — 사용 가능 6개 — 선택한 3명 중 2명에게 할당됨',
      'Microsoft 365 E5 — 사용 가능 1개 — 선택한 3명 중 1명에게 할당됨',
      '바꿀 라이선스',
      '새 라이선스',
    ]);
    expect(choicesOf(manage, 'lic_O365_E3').map((ch) => ch.title)).toEqual(['선택한 모든 사용자에게 할당됨', '변경하지 않음(일부 사용자에게 할당됨)', '선택한 사용자 중 아무에게도 할당되지 않음']);
    expect(texts(step(steps, 'license results'))).toEqual(
      expect.arrayContaining(['라이선스 업데이트됨 — Contoso Ltd', '추가됨: Office 365 E3. 제거됨: 없음.', '추가됨: 없음. 제거됨: Microsoft 365 E5.', '변경 내용 없음.']),
    );

    // delete: Korean has one form; the number comes with its counter
    expect(texts(step(steps, 'confirm delete (2)'))).toEqual(
      expect.arrayContaining(['사용자 삭제', '사용자 2명을 삭제하시겠습니까? 할당된 라이선스는 해제되며, 30일 이내에 복원할 수 있습니다.']),
    );
    expect(actions(step(steps, 'confirm delete (2)')).map((a) => a.title)).toEqual(['삭제', '취소']);
    expect(texts(step(steps, 'users after delete (2)'))).toContain('사용자 2명을 삭제했습니다. 30일 이내에 [삭제된 사용자]에서 복원할 수 있습니다.');
    expect(texts(step(steps, 'confirm delete (1)'))).toContain('사용자 1명을 삭제하시겠습니까? 할당된 라이선스는 해제되며, 30일 이내에 복원할 수 있습니다.');
    expect(texts(step(steps, 'users after delete (1)'))).toContain('사용자 1명을 삭제했습니다. 30일 이내에 [삭제된 사용자]에서 복원할 수 있습니다.');
    expect(actions(step(steps, 'users after delete (1)')).map((a) => a.title)).toContain('삭제된 사용자(3)');

    // 삭제된 사용자: days left, 29 days after the first deletion
    const deleted = step(steps, 'deleted users');
    expect(texts(deleted)).toContain('삭제된 사용자 — Contoso Ltd');
    expect(choicesOf(deleted, 'userIds').map((ch) => ch.title).sort()).toEqual([
      'Bob Jones — bob@contoso.onmicrosoft.com — 1일 남음',
      'Carol White — carol@contoso.onmicrosoft.com — 1일 남음',
      'Dave Brown — dave@contoso.onmicrosoft.com — 30일 남음',
    ]);
    expect(inputs(deleted).map((i) => i.label)).toEqual(['사용자 선택', '새 사용자 이름(그사이 다른 사용자가 기존 사용자 이름을 사용하게 된 경우에만 입력)']);
    expect(actions(deleted).map((a) => a.title)).toEqual(['복원', '사용자 목록으로 돌아가기']);

    // 복원
    const restored = step(steps, 'restore results');
    expect(texts(restored)).toEqual(
      expect.arrayContaining(['복원 결과 — Contoso Ltd', 'bob@contoso.onmicrosoft.com: 복원했습니다.', '다시 할당된 라이선스: Office 365 E3, Microsoft 365 E5', '삭제된 사용자 — Contoso Ltd']),
    );
    expect(choicesOf(restored, 'userIds')).toHaveLength(2);

    // audit: timestamps written the Korean way, actions and results in Korean
    const restoreAt = formatMessage('ko-KR', '{d}', { d: new Date(CLOCK_START + 29 * DAY) });
    expect(restoreAt).toMatch(/^2025\. 4\. 1\. .*9:00 UTC$/);
    const audit = texts(step(steps, 'audit'));
    expect(audit[0]).toBe('감사 로그 — Contoso Ltd');
    expect(audit[1]).toBe(`${restoreAt} · Megan Bowen · 사용자 복원 · 사용자 1명 · 완료`);
    expect(audit[2]).toBe('bob@contoso.onmicrosoft.com: 복원됨');
    expect(audit).toContain(`${restoreAt} · Megan Bowen · 사용자 삭제 · 사용자 1명 · 완료`);
    expect(audit).toContain(`${formatMessage('ko-KR', '{d}', { d: new Date(CLOCK_START) })} · Megan Bowen · 라이선스 변경 · 사용자 3명 · 완료`);
    expect(audit).toContain('추가됨: O365_E3. 제거됨: SPE_E5. 변경된 사용자: 3명 중 2명.');

    // licenses: numbers grouped for Korean, seats counted
    expect(texts(step(steps, 'licenses'))).toEqual(['라이선스 — Contoso Ltd', 'Office 365 E3(O365_E3)', '전체 10개 · 할당됨 3개 · 사용 가능 7개', 'Microsoft 365 E5(SPE_E5)', '전체 3개 · 할당됨 1개 · 사용 가능 2개']);
  });
});

// ------------------------------------------------------------------------------------------ English, and both side by side

describe('the same story in English', () => {
  test('reads as before; 1 day / 30 days, 1 user / 2 users; audit timestamps in en-US', async () => {
    const { steps, password } = await story('en-US');
    expect(password).toEqual(expect.any(String));
    const users = step(steps, 'users');
    expect(texts(users)).toEqual(expect.arrayContaining(['Users and licenses \u2014 Contoso Ltd', 'Showing 1\u20134 of 4']));
    expect(choicesOf(users, 'userIds').map((ch) => ch.title)).toContain('Carol White \u2014 carol@contoso.onmicrosoft.com \u2014 Unlicensed');
    expect(actions(users).map((a) => a.title)).toEqual(expect.arrayContaining(['Add user', 'Manage licenses', 'Reset password', 'Delete', 'Deleted users (0)', 'Licenses and seats']));
    expect(choicesOf(step(steps, 'add user form'), 'licenses').map((ch) => ch.title)).toEqual(['Office 365 E3 \u2014 7 of 10 available', 'Microsoft 365 E5 \u2014 2 of 3 available']);
    expect(texts(step(steps, 'user created'))).toContain('Licenses: Office 365 E3, Microsoft 365 E5');
    expect(texts(step(steps, 'manage licenses'))).toContain('Selected: Alice Smith, Carol White, Nina Park');
    expect(texts(step(steps, 'license results'))).toEqual(expect.arrayContaining(['Licenses updated \u2014 Contoso Ltd', 'Added: Office 365 E3. Removed: None.', 'Added: None. Removed: Microsoft 365 E5.', 'No change.']));
    expect(texts(step(steps, 'users after delete (2)'))).toContain('2 users deleted. You can restore them from Deleted users within 30 days.');
    expect(texts(step(steps, 'confirm delete (1)'))).toContain('Delete 1 user? Their licenses are freed; you can restore them within 30 days.');
    expect(texts(step(steps, 'users after delete (1)'))).toContain('1 user deleted. You can restore it from Deleted users within 30 days.');
    expect(choicesOf(step(steps, 'deleted users'), 'userIds').map((ch) => ch.title).sort()).toEqual([
      'Bob Jones \u2014 bob@contoso.onmicrosoft.com \u2014 1 day left',
      'Carol White \u2014 carol@contoso.onmicrosoft.com \u2014 1 day left',
      'Dave Brown \u2014 dave@contoso.onmicrosoft.com \u2014 30 days left',
    ]);
    expect(texts(step(steps, 'restore results'))).toEqual(expect.arrayContaining(['bob@contoso.onmicrosoft.com: restored.', 'Licenses given back: Office 365 E3, Microsoft 365 E5']));
    const audit = texts(step(steps, 'audit'));
    expect(audit.slice(0, 3)).toEqual(['Audit \u2014 Contoso Ltd', 'Apr 1, 2025, 9:00 AM UTC \u00b7 Megan Bowen \u00b7 Restore users \u00b7 1 user \u00b7 Done', 'bob@contoso.onmicrosoft.com: restored']);
    expect(audit).toContain('Mar 3, 2025, 9:00 AM UTC \u00b7 Megan Bowen \u00b7 Change licenses \u00b7 3 users \u00b7 Done');
    expect(texts(step(steps, 'licenses'))).toEqual(['Licenses \u2014 Contoso Ltd', 'Office 365 E3 (O365_E3)', 'Total 10 \u00b7 Assigned 3 \u00b7 Available 7', 'Microsoft 365 E5 (SPE_E5)', 'Total 3 \u00b7 Assigned 1 \u00b7 Available 2']);
    // No Korean on an English card.
    for (const { card } of steps) expect(visibleText(card)).not.toMatch(/[\uac00-\ud7a3]/);
  });

  test('a language the bot does not ship (fr-FR) gets the English cards', async () => {
    const { steps } = await story('fr-FR');
    expect(texts(step(steps, 'users'))).toContain('Users and licenses \u2014 Contoso Ltd');
    expect(texts(step(steps, 'audit'))[1]).toBe('Apr 1, 2025, 9:00 AM UTC \u00b7 Megan Bowen \u00b7 Restore users \u00b7 1 user \u00b7 Done');
  });
});

describe('the one-time download page (a browser, not a Teams turn)', () => {
  test('says that a used link is gone in the browser\u2019s language, English by default', async () => {
    const gone = async (headers: Record<string, string>) => {
      const response = await fetch(`${botApp.url}/downloads/${'x'.repeat(43)}`, { headers });
      return [response.status, await response.text()];
    };
    expect(await gone({ 'Accept-Language': 'ko-KR,ko;q=0.9,en-US;q=0.8' })).toEqual([410, '이 다운로드 링크는 이미 사용되었거나 만료되었습니다. 새 암호를 받으려면 암호를 다시 재설정하세요.']);
    expect(await gone({ 'Accept-Language': 'fr-FR,fr;q=0.9' })).toEqual([410, 'This download link has already been used or has expired. Reset the passwords to get new ones.']);
    expect(await gone({})).toEqual([410, 'This download link has already been used or has expired. Reset the passwords to get new ones.']);
  });
});

describe('every text of the story comes from the catalog', () => {
  test('played in a pseudo-locale, each card shows only catalog messages and data; Korean cards have the English cards’ structure', async () => {
    const [pseudo, english] = await twoStories(PSEUDO_LOCALE, 'en-US');
    // Audit timestamps as the formatter writes them: dates are data, not text.
    const data = [...storyData(pseudo.password), pseudoDate(CLOCK_START), pseudoDate(CLOCK_START + 29 * DAY)];
    for (const { name, card } of pseudo.steps) {
      expect({ name, untranslated: untranslatedStrings(card, [...data, ...(name === 'help' ? KEYWORDS : [])]) }).toEqual({ name, untranslated: [] });
    }
    expect(pseudo.steps.map((s) => [s.name, structure(s.card)])).toEqual(english.steps.map((s) => [s.name, structure(s.card)]));
  });

  test('the Korean story has the same cards, buttons and inputs as the English one', async () => {
    const [korean, english] = await twoStories('ko-KR', 'en-US');
    expect(korean.steps.map((s) => [s.name, structure(s.card)])).toEqual(english.steps.map((s) => [s.name, structure(s.card)]));
  });
});
