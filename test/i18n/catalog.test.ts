/**
 * SPEC §3 / the i18n issue: one message catalog, English (default) and Korean. Both catalogs have exactly the
 * same keys and, per key, the same placeholders; plurals, numbers and dates follow the caller's locale; any
 * other language falls back to English.
 */
import { en, MessageKey } from '../../cards/i18n/en';
import { ko } from '../../cards/i18n/ko';
import { formatMessage, Message, placeholders } from '../../cards/i18n/format';
import { supportedLanguages, translator } from '../../cards/i18n';

const enKeys = Object.keys(en).sort() as MessageKey[];
const koCatalog = ko as Record<string, Message>;
const FIXED = new Date(Date.UTC(2025, 2, 14, 15, 30, 0));

describe('the Korean catalog matches the English one', () => {
  test('Korean is registered at load and English is the default', () => {
    expect(supportedLanguages().sort()).toEqual(['en', 'ko']);
  });

  test('exactly the same keys', () => {
    expect(Object.keys(ko).sort()).toEqual(enKeys);
  });

  test.each(enKeys)('%s: same placeholders', (key) => {
    expect(placeholders(koCatalog[key])).toEqual(placeholders(en[key]));
  });

  test('every plural form of one message uses the same placeholders', () => {
    for (const [lang, catalog] of [['en', en], ['ko', koCatalog]] as const) {
      for (const [key, message] of Object.entries(catalog as Record<string, Message>)) {
        if (typeof message === 'string') continue;
        const forms = Object.values(message).map((form) => placeholders(form ?? ''));
        for (const form of forms) expect({ lang, key, placeholders: form }).toEqual({ lang, key, placeholders: forms[0] });
        expect({ lang, key, hasCount: forms[0].includes('count') }).toEqual({ lang, key, hasCount: true });
      }
    }
  });

  test('no Korean message is empty or left in English (Latin words only where they are names, codes or keywords)', () => {
    // Words that stay as they are in Korean: the product and Microsoft names, abbreviations, command keywords, and the
    // CSV column names people type in English (the import matches them in English).
    const allowed = new Set(['Partner', 'Admin', 'Bot', 'Entra', 'ID', 'UPN', 'GDAP', 'CSV', 'ISO', 'KR', 'help', 'admin', 'helpdesk',
      'import', 'users', 'Microsoft', 'Teams', 'Excel', 'UTF', 'MB', 'xlsx', 'Usage', 'location', 'Licenses', 'Role']);
    for (const key of enKeys) {
      const forms = typeof koCatalog[key] === 'string' ? [koCatalog[key] as string] : Object.values(koCatalog[key]);
      for (const form of forms) {
        const latin = (form ?? '').replace(/\{\w+\}/g, '').match(/[A-Za-z]+/g) ?? [];
        expect({ key, english: latin.filter((w) => !allowed.has(w)) }).toEqual({ key, english: [] });
        expect((form ?? '').trim().length).toBeGreaterThan(0);
      }
    }
  });

  test('Korean uses the vocabulary of Partner Center', () => {
    const { t } = translator('ko-KR');
    expect(t('users.title', { customer: 'Contoso' })).toContain('사용자 및 라이선스');
    expect(t('deleted.title', { customer: 'Contoso' })).toContain('삭제된 사용자');
    expect(t('deleted.restore')).toBe('복원');
    expect(t('users.resetPassword')).toBe('암호 재설정');
    expect(t('users.manageLicenses')).toBe('라이선스 관리');
    expect(t('field.usageLocation')).toBe('사용 위치');
    expect(t('field.displayName')).toBe('표시 이름');
    expect(t('field.username')).toBe('사용자 이름');
    expect(t('role.global-admin')).toBe('전역 관리자');
    expect(t('role.billing-admin')).toBe('청구 관리자');
    expect(t('role.user-admin')).toBe('사용자 관리자');
    expect(t('role.password-admin')).toBe('암호 관리자');
    expect(t('role.helpdesk-admin')).toBe('기술 지원 관리자');
    expect(t('role.service-admin')).toBe('서비스 지원 관리자');
  });
});

describe('plurals, numbers and dates follow the locale', () => {
  const en_ = translator('en-US').t;
  const ko_ = translator('ko-KR').t;

  test('English plurals: 1 user / 2 users, and the other plural messages', () => {
    expect(en_('common.users', { count: 1 })).toBe('1 user');
    expect(en_('common.users', { count: 2 })).toBe('2 users');
    expect(en_('common.users', { count: 0 })).toBe('0 users');
    expect(en_('deleted.daysLeft', { count: 1 })).toBe('1 day left');
    expect(en_('deleted.daysLeft', { count: 30 })).toBe('30 days left');
    expect(en_('delete.confirm', { count: 1 })).toMatch(/^Delete 1 user\?/);
    expect(en_('delete.confirm', { count: 3 })).toMatch(/^Delete 3 users\?/);
    expect(en_('delete.done', { count: 1 })).toMatch(/^1 user deleted\./);
    expect(en_('delete.done', { count: 2 })).toMatch(/^2 users deleted\./);
    expect(en_('users.summary', { count: 1 })).toBe('1 active user');
  });

  test('Korean has one form, with the counter 명 / 일 after the number', () => {
    expect(ko_('common.users', { count: 1 })).toBe('사용자 1명');
    expect(ko_('common.users', { count: 2 })).toBe('사용자 2명');
    expect(ko_('deleted.daysLeft', { count: 1 })).toBe('1일 남음');
    expect(ko_('deleted.daysLeft', { count: 29 })).toBe('29일 남음');
    expect(ko_('delete.confirm', { count: 3 })).toMatch(/^사용자 3명을 삭제하시겠습니까\?/);
    expect(ko_('delete.done', { count: 1 })).toMatch(/^사용자 1명을 삭제했습니다\./);
    expect(ko_('addUser.addedSoFar', { count: 2 })).toBe('이번 작업에서 사용자 2명을 추가했습니다.');
  });

  test('numbers are grouped for the locale', () => {
    expect(en_('common.users', { count: 1234 })).toBe('1,234 users');
    expect(ko_('common.users', { count: 1234 })).toBe('사용자 1,234명');
    expect(en_('licenses.seats', { total: 12500, assigned: 12034, available: 466 })).toBe('Total 12,500 \u00b7 Assigned 12,034 \u00b7 Available 466');
    expect(ko_('licenses.seats', { total: 12500, assigned: 12034, available: 466 })).toBe('전체 12,500개 · 할당됨 12,034개 · 사용 가능 466개');
    expect(formatMessage('de-DE', '{n}', { n: 1234.5 })).toBe('1.234,5');
  });

  test('a fixed date renders in en-US and ko-KR (UTC, medium date, short time)', () => {
    const enDate = en_('deleted.deletedOn', { date: FIXED });
    const koDate = ko_('deleted.deletedOn', { date: FIXED });
    expect(enDate).toBe('deleted Mar 14, 2025, 3:30 PM UTC');
    // Korean: year. month. day. then the time as the platform's Korean locale data writes it.
    const koTime = new Intl.DateTimeFormat('ko-KR', { timeStyle: 'short', timeZone: 'UTC' }).format(FIXED);
    expect(koDate).toBe(`2025. 3. 14. ${koTime} UTC에 삭제됨`);
    expect(koTime).toMatch(/3:30/);
    expect(ko_('audit.entry', { when: FIXED, actor: 'Megan Bowen', action: ko_('audit.action.create-user'), target: 'nina@contoso.com', result: ko_('audit.result.ok') })).toBe(
      `2025. 3. 14. ${koTime} UTC · Megan Bowen · 사용자 추가 · nina@contoso.com · 완료`,
    );
  });

  test('user data in placeholders is kept as typed (no number or date formatting of strings)', () => {
    expect(ko_('addUser.added', { name: 'Ji-ho {Kim}', upn: 'ji.ho@contoso.com' })).toBe('Ji-ho {Kim}(ji.ho@contoso.com) 사용자를 추가했습니다.');
    expect(ko_('users.title', { customer: '1234' })).toBe('사용자 및 라이선스 — 1234');
  });
});

describe('the locale is chosen from activity.locale, English as fallback', () => {
  test('ko-KR, ko and ko_KR are Korean', () => {
    for (const locale of ['ko-KR', 'ko', 'ko_KR', 'KO-kr']) expect(translator(locale).t('deleted.restore')).toBe('복원');
    expect(translator('ko-KR').locale).toBe('ko-KR');
  });

  test('a language that is not shipped falls back to English (and formats as en-US)', () => {
    const fr = translator('fr-FR');
    expect(fr.locale).toBe('en-US');
    expect(fr.t('deleted.restore')).toBe('Restore');
    expect(fr.t('common.users', { count: 1234 })).toBe('1,234 users');
    expect(fr.t('deleted.deletedOn', { date: FIXED })).toBe('deleted Mar 14, 2025, 3:30 PM UTC');
  });

  test('no locale at all is English', () => {
    expect(translator(undefined).t('deleted.restore')).toBe('Restore');
    expect(translator(undefined).t('common.users', { count: 2 })).toBe('2 users');
    expect(translator('').t('deleted.restore')).toBe('Restore');
    expect(translator('en-GB').t('deleted.restore')).toBe('Restore');
  });
});
