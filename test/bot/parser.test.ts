/**
 * SPEC §2: typed commands → Command (bot/commands/parse.ts), and card buttons (verb + data) → the same
 * Command (bot/commands/actions.ts). Pure functions, no I/O.
 */
import { actionToCommand } from '../../bot/commands/actions';
import { parseCommand, ParseProblem, tokenize } from '../../bot/commands/parse';
import { COMMANDS } from '../../bot/commands/table';
import type { Command } from '../../bot/commands/types';
import { VERBS } from '../../cards/verbs';

const ALL = { kind: 'all' } as const;

function parsed(text: string): Command {
  const result = parseCommand(text);
  if (!result.ok) throw new Error(`expected "${text}" to parse, got ${JSON.stringify(result.problem)}`);
  return result.command;
}

function problem(text: string): ParseProblem {
  const result = parseCommand(text);
  if (result.ok) throw new Error(`expected "${text}" to be refused, got ${JSON.stringify(result.command)}`);
  return result.problem;
}

const usageOf = (p: ParseProblem): string | undefined =>
  p.kind === 'unknownCommand' ? p.suggestion?.usage : p.kind === 'badArguments' || p.kind === 'badFlag' ? p.spec.usage : undefined;

const usage = (name: Command['name']): string => {
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) throw new Error(`no command ${name} in the table`);
  return spec.usage;
};

describe('typed commands: every command and flag of SPEC §2', () => {
  const cases: Array<[string, Command]> = [
    ['help', { name: 'help' }],
    ['whoami', { name: 'whoami' }],
    ['customers', { name: 'customers' }],
    ['customers contoso', { name: 'customers', text: 'contoso' }],
    ['customers contoso ltd', { name: 'customers', text: 'contoso ltd' }],
    ['users contoso', { name: 'users', customer: 'contoso', filter: ALL, page: 1 }],
    ['users contoso --unlicensed', { name: 'users', customer: 'contoso', filter: { kind: 'unlicensed' }, page: 1 }],
    ['users contoso --licensed', { name: 'users', customer: 'contoso', filter: { kind: 'licensed' }, page: 1 }],
    ['users contoso --license o365_e3', { name: 'users', customer: 'contoso', filter: { kind: 'license', skuId: 'O365_E3' }, page: 1 }],
    ['users contoso --role user-admin', { name: 'users', customer: 'contoso', filter: ALL, role: 'user-admin', page: 1 }],
    ['users contoso --search alice', { name: 'users', customer: 'contoso', filter: ALL, search: 'alice', page: 1 }],
    ['users contoso --search "Alice Smith"', { name: 'users', customer: 'contoso', filter: ALL, search: 'Alice Smith', page: 1 }],
    ['users contoso --page 3', { name: 'users', customer: 'contoso', filter: ALL, page: 3 }],
    [
      'users contoso --license M365_E5 --role global-admin --search wil --page 2',
      { name: 'users', customer: 'contoso', filter: { kind: 'license', skuId: 'M365_E5' }, role: 'global-admin', search: 'wil', page: 2 },
    ],
    ['users contoso --page 2 --unlicensed', { name: 'users', customer: 'contoso', filter: { kind: 'unlicensed' }, page: 2 }],
    ['licenses contoso', { name: 'licenses', customer: 'contoso' }],
    ['add user contoso', { name: 'addUser', customer: 'contoso' }],
    ['assign O365_E3 contoso alice', { name: 'assign', skuId: 'O365_E3', customer: 'contoso', users: ['alice'] }],
    ['assign o365_e3 contoso alice,bob', { name: 'assign', skuId: 'O365_E3', customer: 'contoso', users: ['alice', 'bob'] }],
    ['unassign O365_E3 contoso alice@contoso.com', { name: 'unassign', skuId: 'O365_E3', customer: 'contoso', users: ['alice@contoso.com'] }],
    ['reset password contoso alice', { name: 'resetPassword', customer: 'contoso', user: 'alice' }],
    ['delete user contoso alice', { name: 'deleteUsers', customer: 'contoso', users: ['alice'] }],
    ['delete user contoso alice,bob', { name: 'deleteUsers', customer: 'contoso', users: ['alice', 'bob'] }],
    ['deleted users contoso', { name: 'deletedUsers', customer: 'contoso' }],
    ['restore contoso alice', { name: 'restore', customer: 'contoso', users: ['alice'] }],
    ['restore contoso alice,bob', { name: 'restore', customer: 'contoso', users: ['alice', 'bob'] }],
    ['restore contoso alice --new-username alice2', { name: 'restore', customer: 'contoso', users: ['alice'], newUsername: 'alice2' }],
    ['audit contoso', { name: 'audit', customer: 'contoso', page: 1 }],
    ['audit contoso --page 4', { name: 'audit', customer: 'contoso', page: 4 }],
    ['grant admin 6f1a2b3c-0000-4000-8000-000000000001', { name: 'grant', role: 'admin', agent: '6f1a2b3c-0000-4000-8000-000000000001' }],
    ['import users contoso', { name: 'importUsers', customer: 'contoso' }],
    ['Import Users "Contoso Ltd"', { name: 'importUsers', customer: 'Contoso Ltd' }],
    ['replace o365_e3 spe_e5 contoso alice, bob', { name: 'replace', from: 'O365_E3', to: 'SPE_E5', customer: 'contoso', users: ['alice', 'bob'] }],
    ['grant helpdesk 6f1a2b3c-0000-4000-8000-000000000002', { name: 'grant', role: 'helpdesk', agent: '6f1a2b3c-0000-4000-8000-000000000002' }],
    ['revoke 6f1a2b3c-0000-4000-8000-000000000002', { name: 'revoke', agent: '6f1a2b3c-0000-4000-8000-000000000002' }],
    ['offboard contoso alice', { name: 'offboard', customer: 'contoso', user: 'alice' }],
    ['offboard contoso alice --to bob', { name: 'offboard', customer: 'contoso', user: 'alice', to: 'bob' }],
    ['approvals contoso on', { name: 'approvals', customer: 'contoso', enabled: true }],
    ['approvals contoso ON --expires 48', { name: 'approvals', customer: 'contoso', enabled: true, expiryHours: 48 }],
    ['approvals contoso on --import-over 500', { name: 'approvals', customer: 'contoso', enabled: true, importOver: 500 }],
    ['approvals contoso on --import-over 0', { name: 'approvals', customer: 'contoso', enabled: true, importOver: 0 }],
    ['approvals "Contoso Ltd" off', { name: 'approvals', customer: 'Contoso Ltd', enabled: false }],
    ['approvals channel here', { name: 'approvalsChannel' }],
  ];
  test.each(cases)('%s', (text, command) => {
    expect(parsed(text)).toEqual(command);
  });

  // SPEC §2 lists `import users <customer>` (CSV attached); the command table does not declare it yet.

  test('every command of the table is covered above', () => {
    const covered = new Set(cases.map(([, c]) => c.name));
    expect(COMMANDS.map((c) => c.name).filter((n) => !covered.has(n))).toEqual([]);
  });
});

describe('keywords and flags are case-insensitive; values keep their case', () => {
  test.each<[string, Command]>([
    ['HELP', { name: 'help' }],
    ['WhoAmI', { name: 'whoami' }],
    ['Users Contoso --Unlicensed', { name: 'users', customer: 'Contoso', filter: { kind: 'unlicensed' }, page: 1 }],
    ['USERS contoso --LICENSE o365_e3 --ROLE USER-ADMIN', { name: 'users', customer: 'contoso', filter: { kind: 'license', skuId: 'O365_E3' }, role: 'user-admin', page: 1 }],
    ['Add User contoso', { name: 'addUser', customer: 'contoso' }],
    ['RESET PASSWORD contoso Alice', { name: 'resetPassword', customer: 'contoso', user: 'Alice' }],
    ['Deleted Users contoso', { name: 'deletedUsers', customer: 'contoso' }],
    ['Restore contoso Alice --New-Username Alice2', { name: 'restore', customer: 'contoso', users: ['Alice'], newUsername: 'Alice2' }],
    ['GRANT Admin abc-123', { name: 'grant', role: 'admin', agent: 'abc-123' }],
  ])('%s', (text, command) => {
    expect(parsed(text)).toEqual(command);
  });

  test('surrounding and repeated white space (also non-breaking spaces from Teams) is ignored', () => {
    expect(parsed('   users\u00a0\u00a0contoso    --page\t2  ')).toEqual({ name: 'users', customer: 'contoso', filter: ALL, page: 2 });
  });

  test('a dash that Teams auto-formatted from "--" still works as a flag', () => {
    expect(parsed('users contoso \u2014unlicensed')).toMatchObject({ filter: { kind: 'unlicensed' } });
    expect(parsed('users contoso \u2013licensed')).toMatchObject({ filter: { kind: 'licensed' } });
  });
});

describe('names with spaces: straight and curly quotes', () => {
  test.each<[string, string]>([
    ['users "Contoso Ltd"', 'Contoso Ltd'],
    ["users 'Contoso Ltd'", 'Contoso Ltd'],
    ['users \u201cContoso Ltd\u201d', 'Contoso Ltd'],
    ['users \u2018Contoso Ltd\u2019', 'Contoso Ltd'],
    ['users \u201cContoso Ltd" --page 2', 'Contoso Ltd'],
    ['users \u201eContoso Ltd\u201c', 'Contoso Ltd'],
  ])('%s', (text, customer) => {
    expect(parsed(text)).toMatchObject({ name: 'users', customer });
  });

  test('quoted customer and quoted user in one command', () => {
    expect(parsed('reset password \u201cContoso Ltd\u201d "Alice Smith"')).toEqual({ name: 'resetPassword', customer: 'Contoso Ltd', user: 'Alice Smith' });
    expect(parsed('assign o365_e3 \u201cContoso Ltd\u201d alice')).toEqual({ name: 'assign', skuId: 'O365_E3', customer: 'Contoso Ltd', users: ['alice'] });
  });

  test('--import-over takes a row count, with on only', () => {
    for (const text of ['approvals contoso on --import-over', 'approvals contoso on --import-over many', 'approvals contoso off --import-over 10']) expect(parseCommand(text).ok).toBe(false);
  });

  test('a quoted search text keeps its spaces', () => {
    expect(parsed('users contoso --search \u201cAlex Wil\u201d')).toMatchObject({ search: 'Alex Wil' });
  });

  test('the tokenizer treats an unclosed quote as running to the end', () => {
    expect(tokenize('users "Contoso Ltd')).toEqual(['users', 'Contoso Ltd']);
  });
});

describe('comma-separated user lists', () => {
  test.each<[string, string[]]>([
    ['delete user contoso alice,bob,carol', ['alice', 'bob', 'carol']],
    ['delete user contoso alice, bob, carol', ['alice', 'bob', 'carol']],
    ['delete user contoso alice , bob ,carol', ['alice', 'bob', 'carol']],
    ['delete user contoso alice,,bob,', ['alice', 'bob']],
    ['delete user contoso "Alice Smith", bob', ['Alice Smith', 'bob']],
  ])('%s', (text, users) => {
    expect(parsed(text)).toMatchObject({ name: 'deleteUsers', users });
  });

  test('assign, unassign and restore take the same lists', () => {
    expect(parsed('assign O365_E3 contoso alice, bob ,carol')).toMatchObject({ users: ['alice', 'bob', 'carol'] });
    expect(parsed('unassign O365_E3 contoso alice ,bob')).toMatchObject({ users: ['alice', 'bob'] });
    expect(parsed('restore contoso alice, bob')).toMatchObject({ users: ['alice', 'bob'] });
  });
});

describe('aliases', () => {
  test('"delete users" is "delete user"', () => {
    expect(parsed('delete users contoso alice,bob')).toEqual(parsed('delete user contoso alice,bob'));
  });
  test('"add users" is "add user" and "deleted user" is "deleted users"', () => {
    expect(parsed('add users contoso')).toEqual({ name: 'addUser', customer: 'contoso' });
    expect(parsed('deleted user contoso')).toEqual({ name: 'deletedUsers', customer: 'contoso' });
  });
  test('"deleted users" is not mistaken for "delete user"', () => {
    expect(parsed('deleted users contoso')).toEqual({ name: 'deletedUsers', customer: 'contoso' });
  });
});

describe('malformed input: refused with the nearest valid usage', () => {
  test('empty input', () => {
    expect(problem('')).toEqual({ kind: 'empty' });
    expect(problem('   ')).toEqual({ kind: 'empty' });
  });

  test.each<[string, Command['name']]>([
    ['usres contoso', 'users'],
    ['usrs contoso', 'users'],
    ['licenes contoso', 'licenses'],
    ['custmers', 'customers'],
    ['restor contoso alice', 'restore'],
    ['audi contoso', 'audit'],
    ['delet user contoso alice', 'deleteUsers'],
    ['add contoso', 'addUser'],
    ['reset contoso alice', 'resetPassword'],
    ['delete contoso alice', 'deleteUsers'],
    ['whoam', 'whoami'],
  ])('unknown command %s suggests %s', (text, name) => {
    const p = problem(text);
    expect(p.kind).toBe('unknownCommand');
    expect(usageOf(p)).toBe(usage(name));
  });

  test('an unknown word far from every command names the word and suggests nothing', () => {
    const p = problem('frobnicate the widgets');
    expect(p).toMatchObject({ kind: 'unknownCommand', word: 'frobnicate' });
    expect(usageOf(p)).toBeUndefined();
  });

  test.each<[string, Command['name']]>([
    ['users', 'users'],
    ['users contoso fabrikam', 'users'],
    ['licenses', 'licenses'],
    ['add user', 'addUser'],
    ['assign O365_E3', 'assign'],
    ['assign O365_E3 contoso', 'assign'],
    ['assign O365_E3 contoso ,', 'assign'],
    ['unassign O365_E3 contoso', 'unassign'],
    ['reset password contoso', 'resetPassword'],
    ['reset password contoso alice bob', 'resetPassword'],
    ['delete user contoso', 'deleteUsers'],
    ['deleted users', 'deletedUsers'],
    ['deleted users contoso extra', 'deletedUsers'],
    ['restore contoso', 'restore'],
    ['restore contoso alice,bob --new-username x', 'restore'],
    ['audit', 'audit'],
    ['grant admin', 'grant'],
    ['grant boss someone', 'grant'],
    ['revoke', 'revoke'],
    ['revoke a b', 'revoke'],
    ['help me', 'help'],
    ['whoami now', 'whoami'],
  ])('missing or extra arguments: %s', (text, name) => {
    const p = problem(text);
    expect(p.kind).toBe('badArguments');
    expect(usageOf(p)).toBe(usage(name));
  });

  test.each<[string, string, Command['name']]>([
    ['users contoso --foo', '--foo', 'users'],
    ['users contoso --all', '--all', 'users'],
    ['users contoso --constructor x', '--constructor', 'users'],
    ['customers --page 2', '--page', 'customers'],
    ['audit contoso --search x', '--search', 'audit'],
    ['licenses contoso --licensed', '--licensed', 'licenses'],
    ['help --verbose', '--verbose', 'help'],
    ['delete user contoso alice --force', '--force', 'deleteUsers'],
  ])('unknown flag: %s', (text, flag, name) => {
    const p = problem(text);
    expect(p).toMatchObject({ kind: 'badFlag', flag });
    expect(usageOf(p)).toBe(usage(name));
  });

  test.each([
    'users contoso --licensed --unlicensed',
    'users contoso --unlicensed --license O365_E3',
    'users contoso --license O365_E3 --licensed',
  ])('two filter flags: %s', (text) => {
    const p = problem(text);
    expect(p.kind).toBe('badArguments');
    expect(usageOf(p)).toBe(usage('users'));
  });

  test.each([
    'users contoso --page 0',
    'users contoso --page -1',
    'users contoso --page x',
    'users contoso --page 1.5',
    'users contoso --page 1000000',
    'users contoso --page',
    'audit contoso --page 0',
    'audit contoso --page two',
    'audit contoso --page',
  ])('bad page: %s', (text) => {
    expect(problem(text).kind).toBe('badArguments');
  });

  test.each(['users contoso --role', 'users contoso --role nobody', 'users contoso --license', 'users contoso --search', 'restore contoso alice --new-username'])(
    'flag without a (valid) value: %s',
    (text) => {
      expect(problem(text).kind).toBe('badArguments');
    },
  );
});

// ------------------------------------------------------------------------------------------- card actions

const OP = 'op-0123456789';

describe('card actions: each verb becomes the same Command as its typed twin', () => {
  test('runCommand re-runs typed text', () => {
    expect(actionToCommand(VERBS.runCommand, { text: 'users contoso' })).toEqual({ ok: true, runText: 'users contoso' });
  });

  test('users with the card inputs (filter, search) and paging', () => {
    expect(actionToCommand(VERBS.users, { customerId: 'contoso' })).toEqual({ ok: true, command: parsed('users contoso') });
    expect(actionToCommand(VERBS.users, { customerId: 'contoso', filter: 'license:O365_E3', role: '', search: ' wil ', page: 2 })).toEqual({
      ok: true,
      command: { name: 'users', customer: 'contoso', filter: { kind: 'license', skuId: 'O365_E3' }, search: 'wil', page: 2 },
    });
    expect(actionToCommand(VERBS.users, { customerId: 'contoso', filter: 'unlicensed', role: 'global-admin', search: '', page: '3' })).toEqual({
      ok: true,
      command: { name: 'users', customer: 'contoso', filter: { kind: 'unlicensed' }, role: 'global-admin', page: 3 },
    });
    expect(actionToCommand(VERBS.users, { customerId: 'contoso', filter: 'licensed' })).toMatchObject({ command: { filter: { kind: 'licensed' } } });
  });

  test('licenses, addUser, deletedUsers, audit', () => {
    expect(actionToCommand(VERBS.licenses, { customerId: 'contoso' })).toEqual({ ok: true, command: parsed('licenses contoso') });
    expect(actionToCommand(VERBS.addUser, { customerId: 'contoso' })).toEqual({ ok: true, command: parsed('add user contoso') });
    expect(actionToCommand(VERBS.deletedUsers, { customerId: 'contoso' })).toEqual({ ok: true, command: parsed('deleted users contoso') });
    expect(actionToCommand(VERBS.audit, { customerId: 'contoso', page: 2 })).toEqual({ ok: true, command: parsed('audit contoso --page 2') });
    expect(actionToCommand(VERBS.audit, { customerId: 'contoso' })).toEqual({ ok: true, command: parsed('audit contoso') });
  });

  test('createUser: the Add user form (data + inputs, licenses as one comma-separated string)', () => {
    const data = {
      customerId: 'contoso',
      operationId: OP,
      addedSoFar: 0,
      addAnother: false,
      firstName: 'Nina',
      lastName: 'Park',
      displayName: 'Nina Park',
      username: 'nina.park',
      domain: 'contoso.com',
      usageLocation: 'KR',
      role: 'user-admin',
      licenses: 'O365_E3,POWER_BI_PRO',
    };
    expect(actionToCommand(VERBS.createUser, data)).toMatchObject({
      ok: true,
      command: {
        name: 'createUser',
        customer: 'contoso',
        operationId: OP,
        addAnother: false,
        addedSoFar: 0,
        fields: {
          firstName: 'Nina',
          lastName: 'Park',
          displayName: 'Nina Park',
          username: 'nina.park',
          domain: 'contoso.com',
          usageLocation: 'KR',
          role: 'user-admin',
          licenses: ['O365_E3', 'POWER_BI_PRO'],
        },
      },
    });
    const another = actionToCommand(VERBS.createUser, { ...data, addAnother: true, addedSoFar: '2', licenses: '' });
    expect(another).toMatchObject({ ok: true, command: { addAnother: true, addedSoFar: 2, fields: { licenses: [] } } });
  });

  test('manageLicenses and saveLicenses (lic_<sku> inputs, unchanged ones fall back to the initial state)', () => {
    expect(actionToCommand(VERBS.manageLicenses, { customerId: 'contoso', userIds: 'u1,u2,u3', versions: { u1: 1, u2: 4, u3: 2 }, filter: 'all', search: '' })).toEqual({
      ok: true,
      command: { name: 'manageLicenses', customer: 'contoso', userIds: ['u1', 'u2', 'u3'], versions: { u1: 1, u2: 4, u3: 2 } },
    });
    const save = {
      customerId: 'contoso',
      operationId: OP,
      userIds: ['u1', 'u2'],
      versions: { u1: 1, u2: 4 },
      initial: { O365_E3: 'some', M365_E5: 'none', VISIO_P2: 'all' },
      lic_O365_E3: 'all',
      lic_VISIO_P2: 'none',
    };
    expect(actionToCommand(VERBS.saveLicenses, save)).toEqual({
      ok: true,
      command: {
        name: 'saveLicenses',
        customer: 'contoso',
        operationId: OP,
        userIds: ['u1', 'u2'],
        versions: { u1: 1, u2: 4 },
        initial: save.initial,
        desired: { O365_E3: 'all', M365_E5: 'none', VISIO_P2: 'none' },
      },
    });
  });

  test('resetPassword (exactly one selected user) and confirmResetPassword', () => {
    expect(actionToCommand(VERBS.resetPassword, { customerId: 'contoso', userIds: 'u1', versions: { u1: 3, u2: 1 } })).toEqual({
      ok: true,
      command: { name: 'resetPassword', customer: 'contoso', user: 'u1', version: 3 },
    });
    expect(actionToCommand(VERBS.confirmResetPassword, { customerId: 'contoso', userId: 'u1', version: 3, operationId: OP })).toEqual({
      ok: true,
      command: { name: 'confirmResetPassword', customer: 'contoso', userId: 'u1', version: 3, operationId: OP },
    });
  });

  test('deleteUsers and confirmDeleteUsers', () => {
    expect(actionToCommand(VERBS.deleteUsers, { customerId: 'contoso', userIds: 'u1, u2', versions: { u1: 1, u2: 2, u3: 7 } })).toEqual({
      ok: true,
      command: { name: 'deleteUsers', customer: 'contoso', users: ['u1', 'u2'], versions: { u1: 1, u2: 2, u3: 7 } },
    });
    expect(actionToCommand(VERBS.confirmDeleteUsers, { customerId: 'contoso', userIds: ['u1', 'u2'], versions: { u1: 1, u2: 2 }, operationId: OP })).toEqual({
      ok: true,
      command: { name: 'confirmDeleteUsers', customer: 'contoso', userIds: ['u1', 'u2'], versions: { u1: 1, u2: 2 }, operationId: OP },
    });
  });

  test('restoreUsers (selection from the multi-select; empty new username means none)', () => {
    expect(actionToCommand(VERBS.restoreUsers, { customerId: 'contoso', operationId: OP, userIds: 'u1,u2', versions: { u1: 5, u2: 6 }, newUsername: '' })).toEqual({
      ok: true,
      command: { name: 'restore', customer: 'contoso', users: ['u1', 'u2'], versions: { u1: 5, u2: 6 }, operationId: OP, newUsername: undefined },
    });
    expect(actionToCommand(VERBS.restoreUsers, { customerId: 'contoso', operationId: OP, userIds: 'u1', newUsername: ' alice2 ' })).toMatchObject({
      command: { users: ['u1'], newUsername: 'alice2' },
    });
  });

  test('every verb the cards use is understood', () => {
    const minimal: Record<string, unknown> = {
      runCommand: { text: 'help' },
      users: { customerId: 'c' },
      licenses: { customerId: 'c' },
      addUser: { customerId: 'c' },
      createUser: { customerId: 'c', operationId: OP, addAnother: false },
      manageLicenses: { customerId: 'c', userIds: 'u1' },
      saveLicenses: { customerId: 'c', operationId: OP, userIds: ['u1'], versions: {}, initial: {} },
      resetPassword: { customerId: 'c', userIds: 'u1' },
      confirmResetPassword: { customerId: 'c', userId: 'u1', version: 0, operationId: OP },
      deleteUsers: { customerId: 'c', userIds: 'u1' },
      confirmDeleteUsers: { customerId: 'c', userIds: ['u1'], versions: {}, operationId: OP },
      deletedUsers: { customerId: 'c' },
      restoreUsers: { customerId: 'c', operationId: OP, userIds: 'u1' },
      audit: { customerId: 'c' },
      finishSeries: { customerId: 'c', seriesId: 'A'.repeat(22), seriesKey: 'b'.repeat(43) },
      importCheck: { customerId: 'c', jobId: 'J'.repeat(12) },
      importRun: { customerId: 'c', jobId: 'J'.repeat(12), operationId: OP },
      offboard: { customerId: 'c', userIds: 'u1' },
      confirmOffboard: { customerId: 'c', userId: 'u1', version: 0, operationId: OP },
      viewOffboard: { customerId: 'c', jobId: 'J'.repeat(16) },
      requestApproval: { customerId: 'c', kind: 'deleteUsers', userIds: ['u1'], operationId: OP, reason: 'why' },
      decideApproval: { customerId: 'c', requestId: 'R'.repeat(16), decision: 'approve' },
      viewApproval: { customerId: 'c', requestId: 'R'.repeat(16) },
      approvalAgain: { customerId: 'c', requestId: 'R'.repeat(16) },
    };
    for (const verb of Object.values(VERBS)) expect([verb, actionToCommand(verb, minimal[verb]).ok]).toEqual([verb, true]);
  });
});

test('the offboarding colleague field: trimmed, empty means none; the confirmation carries what it was drawn for', () => {
  expect(actionToCommand(VERBS.offboard, { customerId: 'contoso', userIds: 'u1', colleague: '  Carol White ' })).toEqual({ ok: true, command: { name: 'offboard', customer: 'contoso', user: 'u1', to: 'Carol White', version: undefined } });
  expect(actionToCommand(VERBS.offboard, { customerId: 'contoso', userIds: 'u1', colleague: '   ' })).toMatchObject({ ok: true, command: { to: undefined } });
  expect(actionToCommand(VERBS.confirmOffboard, { customerId: 'contoso', userId: 'u1', version: 3, operationId: OP, colleague: ' carol ', drawnColleague: '' })).toMatchObject({
    ok: true,
    command: { name: 'confirmOffboard', colleague: 'carol', drawnColleague: '' },
  });
});

describe('card actions: malformed payloads are refused, never guessed', () => {
  /** The refusal, with `field` cut to the top-level input or data field it names (e.g. userIds.3 → userIds). */
  const refused = (verb: unknown, data: unknown) => {
    const result = actionToCommand(verb, data);
    expect(result.ok).toBe(false);
    const r = result as { ok: false; reason: string; field?: string };
    return { ...r, field: r.field?.split('.')[0] };
  };

  test.each([['nope'], ['DELETEUSERS'], [''], [42], [null], [undefined], [{}], ['toString'], ['constructor'], ['__proto__'], ['hasOwnProperty']])(
    'unknown verb %p',
    (verb) => {
      expect(refused(verb, { customerId: 'contoso' }).reason).toBe('unknownVerb');
    },
  );

  test.each<[string, unknown, string]>([
    ['users', {}, 'customerId'],
    ['users', null, 'customerId'],
    ['licenses', { customerId: '' }, 'customerId'],
    ['createUser', { customerId: 'contoso', addAnother: false }, 'operationId'],
    ['createUser', { customerId: 'contoso', operationId: OP }, 'addAnother'],
    ['saveLicenses', { customerId: 'contoso', operationId: OP, versions: {}, initial: {} }, 'userIds'],
    ['saveLicenses', { customerId: 'contoso', operationId: OP, userIds: ['u1'], versions: {} }, 'initial'],
    ['confirmResetPassword', { customerId: 'contoso', userId: 'u1', operationId: OP }, 'version'],
    // The offboarding confirmation's colleague field: text from the agent, a name or username at most.
    ['offboard', { customerId: 'contoso', userIds: 'u1', colleague: 'carol\u202e' }, 'colleague'],
    ['offboard', { customerId: 'contoso', userIds: 'u1', colleague: 'c'.repeat(257) }, 'colleague'],
    ['offboard', { customerId: 'contoso', userIds: 'u1', colleague: 42 }, 'colleague'],
    ['confirmOffboard', { customerId: 'contoso', userId: 'u1', version: 0, operationId: OP, colleague: 'carol\nwhite' }, 'colleague'],
    ['viewOffboard', { customerId: 'contoso', jobId: 'short' }, 'jobId'],
    ['confirmDeleteUsers', { customerId: 'contoso', userIds: ['u1'], operationId: OP }, 'versions'],
    ['confirmDeleteUsers', { customerId: 'contoso', userIds: [], versions: {}, operationId: OP }, 'userIds'],
    ['restoreUsers', { customerId: 'contoso', userIds: 'u1' }, 'operationId'],
    ['runCommand', {}, 'text'],
    ['runCommand', { text: '' }, 'text'],
  ])('missing field: %s %j', (verb, data, field) => {
    expect(refused(verb, data)).toMatchObject({ reason: 'invalidData', field });
  });

  test.each<[string, unknown, string]>([
    ['users', 'contoso', ''],
    ['users', ['contoso'], ''],
    ['users', { customerId: 42 }, 'customerId'],
    ['users', { customerId: 'Contoso Ltd' }, 'customerId'],
    ['users', { customerId: 'contoso', page: 'two' }, 'page'],
    ['users', { customerId: 'contoso', page: 0 }, 'page'],
    ['users', { customerId: 'contoso', page: 1.5 }, 'page'],
    ['users', { customerId: 'contoso', role: 'boss' }, 'role'],
    ['users', { customerId: 'contoso', search: { $ne: '' } }, 'search'],
    ['createUser', { customerId: 'contoso', operationId: OP, addAnother: 'false' }, 'addAnother'],
    ['createUser', { customerId: 'contoso', operationId: OP, addAnother: false, displayName: ['a'] }, 'displayName'],
    ['createUser', { customerId: 'contoso', operationId: OP, addAnother: false, licenses: 'O365_E3,bad sku' }, 'licenses'],
    ['createUser', { customerId: 'contoso', operationId: 'short', addAnother: false }, 'operationId'],
    ['createUser', { customerId: 'contoso', operationId: 'op id with spaces', addAnother: false }, 'operationId'],
    ['manageLicenses', { customerId: 'contoso', userIds: 'u1', versions: { u1: 'one' } }, 'versions'],
    ['manageLicenses', { customerId: 'contoso', userIds: 'u1', versions: { u1: -1 } }, 'versions'],
    ['manageLicenses', { customerId: 'contoso', userIds: 'u1;DROP' }, 'userIds'],
    ['saveLicenses', { customerId: 'contoso', operationId: OP, userIds: 'u1', versions: {}, initial: {} }, 'userIds'],
    ['saveLicenses', { customerId: 'contoso', operationId: OP, userIds: ['u1'], versions: {}, initial: { O365_E3: 'half' } }, 'initial'],
    ['saveLicenses', { customerId: 'contoso', operationId: OP, userIds: ['u1'], versions: {}, initial: { O365_E3: 'none' }, lic_O365_E3: 'maybe' }, 'lic_O365_E3'],
    ['saveLicenses', { customerId: 'contoso', operationId: OP, userIds: ['u1'], versions: {}, initial: { O365_E3: 'none' }, lic_O365_E3: 1 }, 'lic_O365_E3'],
    ['confirmResetPassword', { customerId: 'contoso', userId: 'u1', version: '3', operationId: OP }, 'version'],
    ['confirmDeleteUsers', { customerId: 'contoso', userIds: 'u1,u2', versions: {}, operationId: OP }, 'userIds'],
    ['restoreUsers', { customerId: 'contoso', operationId: OP, userIds: 42 }, 'userIds'],
  ])('wrong type or shape: %s %j', (verb, data, field) => {
    expect(refused(verb, data)).toMatchObject({ reason: 'invalidData', field });
  });

  test('extra selections: a password reset takes exactly one user', () => {
    expect(refused(VERBS.resetPassword, { customerId: 'contoso', userIds: 'u1,u2' })).toMatchObject({ field: 'userIds' });
    expect(refused(VERBS.resetPassword, { customerId: 'contoso', userIds: '' })).toMatchObject({ field: 'userIds' });
  });

  test('extra fields cannot change what the command does', () => {
    const result = actionToCommand(VERBS.licenses, { customerId: 'contoso', name: 'deleteUsers', users: ['u1'], userIds: 'u1', operationId: OP });
    expect(result).toEqual({ ok: true, command: { name: 'licenses', customer: 'contoso' } });
    const polluted = JSON.parse('{"customerId":"contoso","__proto__":{"isAdmin":true},"constructor":{"prototype":{"x":1}}}');
    expect(actionToCommand(VERBS.deletedUsers, polluted)).toEqual({ ok: true, command: { name: 'deletedUsers', customer: 'contoso' } });
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    // inputs of other licenses than the card's initial ones are ignored, not applied
    const save = actionToCommand(VERBS.saveLicenses, { customerId: 'contoso', operationId: OP, userIds: ['u1'], versions: {}, initial: { O365_E3: 'none' }, lic_M365_E5: 'all' });
    expect(save).toMatchObject({ ok: true, command: { desired: { O365_E3: 'none' } } });
    expect((save as { command: { desired: object } }).command.desired).not.toHaveProperty('M365_E5');
  });

  test.each<[string, unknown, string]>([
    ['runCommand', { text: 'x'.repeat(1001) }, 'text'],
    ['users', { customerId: 'c'.repeat(65) }, 'customerId'],
    ['users', { customerId: 'contoso', search: 's'.repeat(101) }, 'search'],
    ['createUser', { customerId: 'contoso', operationId: OP, addAnother: false, displayName: 'd'.repeat(1001) }, 'displayName'],
    ['createUser', { customerId: 'contoso', operationId: 'o'.repeat(101), addAnother: false }, 'operationId'],
    ['deleteUsers', { customerId: 'contoso', userIds: Array.from({ length: 501 }, (_, i) => `u${i}`).join(',') }, 'userIds'],
    ['deleteUsers', { customerId: 'contoso', userIds: 'u'.repeat(40_001) }, 'userIds'],
    ['deleteUsers', { customerId: 'contoso', userIds: `u1,${'x'.repeat(65)}` }, 'userIds'],
    ['confirmDeleteUsers', { customerId: 'contoso', userIds: Array.from({ length: 501 }, (_, i) => `u${i}`), versions: {}, operationId: OP }, 'userIds'],
    ['manageLicenses', { customerId: 'contoso', userIds: 'u1', versions: Object.fromEntries(Array.from({ length: 501 }, (_, i) => [`u${i}`, 1])) }, 'versions'],
    ['audit', { customerId: 'contoso', page: 100_001 }, 'page'],
  ])('oversized: %s', (verb, data, field) => {
    expect(refused(verb, data)).toMatchObject({ reason: 'invalidData', field });
  });
});
