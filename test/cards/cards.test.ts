/**
 * SPEC §3: every card the bot draws parses without errors or warnings in the `adaptivecards` SDK, stays under
 * 28 KB, and shows text that came from users as plain text (TextRun, choice titles), never as markdown.
 *
 * The view models are built from the demo data the bot ships (data/demo.json): the largest customer,
 * `contoso`, has 300 users.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { choiceCard, errorCard, messageCard, whoAmICard } from '../../cards/common';
import {
  addUserCard,
  auditCard,
  confirmDeleteCard,
  confirmResetCard,
  credentialsCard,
  customersCard,
  deletedUsersCard,
  licenseResultsCard,
  licensesCard,
  keptUsersCard,
  manageLicensesCard,
  usersCard,
} from '../../cards/directoryCards';
import type { AdaptiveCard } from '../../cards/elements';
import { helpCard } from '../../cards/help';
import { approvalCard, offboardConfirmCard, offboardResultCard, requestApprovalCard } from '../../cards/approvalCards';
import type { OffboardJob } from '../../services/offboarding';
import { importCustomerChoiceCard, importHowToCard } from '../../cards/importCards';
import { translator } from '../../cards/i18n';
import { COMMANDS } from '../../bot/commands/table';
import type { DeletedUser } from '../../services/directory';
import type { AuditEntry, Customer, CustomerUser, RestoreOutcome, Subscription, UserPage, UserRole } from '../../services/types';

// `require('adaptivecards')` resolves to an ES module whose imports lack extensions; the UMD bundle loads in
// Node and parses cards without a DOM (parsing and validation never render).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const AC = require('adaptivecards/dist/adaptivecards.js') as typeof import('adaptivecards');

const MAX_CARD_BYTES = 28 * 1024;
const TAB_APP_ID = '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
const { t } = translator('en-US');
const FULL_PERMISSIONS = { manageUsers: true, resetPassword: true, restore: true };
const NOW = Date.UTC(2025, 2, 3, 9, 0, 0);
const DAY = 24 * 60 * 60 * 1000;

// ------------------------------------------------------------------------------------------ validation

interface CardProblem {
  phase: 'parse' | 'validate';
  event: string;
  message: string;
}

/** Every parse event and validation failure the SDK reports for a card (warnings included). */
function sdkProblems(json: unknown): CardProblem[] {
  const context = new AC.SerializationContext();
  const card = new AC.AdaptiveCard();
  card.parse(json, context);
  const problems: CardProblem[] = [];
  for (let i = 0; i < context.eventCount; i++) {
    const e = context.getEventAt(i);
    problems.push({ phase: 'parse', event: AC.ValidationEvent[e.event], message: e.message });
  }
  for (const e of card.validateProperties().validationEvents) {
    problems.push({ phase: 'validate', event: AC.ValidationEvent[e.event], message: e.message });
  }
  return problems;
}

const byteSize = (card: unknown): number => Buffer.byteLength(JSON.stringify(card), 'utf8');

// ------------------------------------------------------------------------------------------ demo data

interface DemoFile {
  customers: Array<{
    id: string;
    name: string;
    domains: string[];
    subscriptions: Array<{ skuId: string; name: string; seats: number }>;
    users?: Array<{ username: string; firstName?: string; lastName?: string; displayName: string; usageLocation: string; role?: string; licenses?: string[] }>;
  }>;
}

interface DemoCustomer {
  customer: Customer;
  subscriptions: Subscription[];
  users: CustomerUser[];
}

const demo = JSON.parse(readFileSync(join(__dirname, '..', '..', 'data', 'demo.json'), 'utf8')) as DemoFile;

/** The demo customer as the service would return it: users sorted by display name, seats counted. */
function demoCustomer(id: string): DemoCustomer {
  const def = demo.customers.find((c) => c.id === id);
  if (!def) throw new Error(`no demo customer ${id}`);
  const users: CustomerUser[] = (def.users ?? []).map((u, i) => ({
    id: `8d3f${String(i).padStart(4, '0')}-5b1c-4c7e-9a51-0c2d${String(i).padStart(8, '0')}`,
    customerId: def.id,
    userPrincipalName: `${u.username}@${def.domains[0]}`,
    username: u.username,
    domain: def.domains[0],
    displayName: u.displayName,
    firstName: u.firstName ?? '',
    lastName: u.lastName ?? '',
    usageLocation: u.usageLocation,
    role: (u.role ?? 'user') as UserRole,
    licenses: u.licenses ?? [],
    state: 'active',
    createdAt: NOW - 90 * DAY,
    deletedAt: null,
    rememberedLicenses: [],
    version: 1 + (i % 7),
    mustChangePassword: false,
    hasPassword: false,
  }));
  users.sort((a, b) => a.displayName.localeCompare(b.displayName));
  const subscriptions = def.subscriptions.map((s) => {
    const assigned = users.filter((u) => u.licenses.includes(s.skuId)).length;
    return { skuId: s.skuId, name: s.name, totalSeats: s.seats, assignedSeats: assigned, availableSeats: s.seats - assigned };
  });
  return { customer: { id: def.id, name: def.name, domains: def.domains }, subscriptions, users };
}

function pageOf(users: CustomerUser[], page: number, pageSize = 20): UserPage {
  return {
    users: users.slice((page - 1) * pageSize, page * pageSize),
    total: users.length,
    page,
    pageSize,
    pageCount: Math.max(1, Math.ceil(users.length / pageSize)),
  };
}

function deleted(users: CustomerUser[]): DeletedUser[] {
  return users.map((u, i) => ({
    ...u,
    state: 'deleted',
    deletedAt: NOW - (i % 30) * DAY,
    daysLeft: 30 - (i % 30),
    rememberedLicenses: u.licenses,
    licenses: [],
  }));
}

function auditEntries(c: DemoCustomer, count: number): AuditEntry[] {
  const actions = ['createUser', 'changeLicenses', 'resetPassword', 'deleteUsers', 'restoreUsers'];
  return Array.from({ length: count }, (_, i) => {
    const u = c.users[i % c.users.length];
    return {
      at: NOW - i * 3_600_000,
      actorId: '6f1a2b3c-0000-4000-8000-000000000001',
      actorName: 'Megan Bowen',
      action: actions[i % actions.length],
      target: u.userPrincipalName,
      result: i % 9 === 8 ? 'refused: role none' : 'ok',
      detail: i % 2 ? `licenses +O365_E3 -VISIO_P2 (${u.displayName})` : '',
    };
  });
}

const contoso = demoCustomer('contoso');
const fabrikam = demoCustomer('fabrikam');

const [leaver, colleague] = [contoso.users.find((u) => u.licenses.length > 1) ?? contoso.users[0], contoso.users[1]];
const offboardJob = (done: OffboardJob['done'], state: OffboardJob['state']): OffboardJob => ({
  jobId: 'AbCdEfGhIjKlMnOp',
  customerId: contoso.customer.id,
  userId: leaver.id,
  userPrincipalName: leaver.userPrincipalName,
  displayName: leaver.displayName,
  colleagueId: colleague.id,
  colleagueUpn: colleague.userPrincipalName,
  licenses: leaver.licenses,
  moved: leaver.licenses,
  owner: { id: 'a', name: 'Megan Bowen' },
  state,
  done,
  cards: [],
});

// ------------------------------------------------------------------------------------------ every card

const cases: Array<[string, () => AdaptiveCard]> = [
  ['help (admin: every command)', () => helpCard(t, { roleLabel: t('agentRole.admin'), commands: COMMANDS.map((c) => ({ usage: c.usage, descriptionKey: c.descriptionKey })) })],
  ['help (admin, with the Import users dialog button)', () =>
    helpCard(t, { roleLabel: t('agentRole.admin'), commands: COMMANDS.map((c) => ({ usage: c.usage, descriptionKey: c.descriptionKey })), importDialog: true })],
  ['import users: how, with the dialog button', () => importHowToCard(t, { customer: contoso.customer, message: t('import.attach', { customer: contoso.customer.id }) })],
  ['import users dialog: choose one of the demo customers', () => importCustomerChoiceCard(t, demo.customers.map((c) => demoCustomer(c.id).customer))],
  ['import users dialog: choose one of 500 customers (as many as fit are offered)', () =>
    importCustomerChoiceCard(t, Array.from({ length: 500 }, (_, i) => ({ id: `customer-${i}`, name: `${'Customer with a long name '.repeat(3)}${i}`, domains: [`customer${i}-with-a-long-domain-name.onmicrosoft.com`] })))],
  ['import users dialog: no customer', () => importCustomerChoiceCard(t, [])],
  ['whoami', () => whoAmICard(t, { name: 'Alex Wilber', id: '00000000-0000-0000-0000-0000000000020', tenantId: '00000000-0000-0000-0000-0000000000001', roleLabel: t('agentRole.admin') })],
  ['error with usage and hint', () => errorCard(t, { message: t('error.unknownCommand', { word: 'usres' }), usage: COMMANDS[3].usage, hint: t('error.tryHelp') })],
  ['message', () => messageCard(t('whoami.role'), [t('grant.done', { agent: 'abc', role: t('agentRole.helpdesk') })])],
  ['choice of customers', () => choiceCard({ title: t('choice.customerTitle'), prompt: t('choice.customerPrompt', { text: 'wilber' }), options: demo.customers.map((c) => ({ title: `${c.name} (${c.domains[0]})`, commandText: `users ${c.id}` })) })],
  ['customers (all demo customers)', () => customersCard(t, { customers: demo.customers.map((c) => demoCustomer(c.id).customer) })],
  ['users: contoso page 1 of 300 users', () => usersCard(t, { ...contoso, page: pageOf(contoso.users, 1), filter: { kind: 'all' }, deletedCount: 50, permissions: FULL_PERMISSIONS })],
  ['users: with the Open in tab link', () => usersCard(t, { ...contoso, page: pageOf(contoso.users, 1), filter: { kind: 'unlicensed' }, deletedCount: 0, permissions: FULL_PERMISSIONS, tabAppId: TAB_APP_ID })],
  ['users: contoso last page, filtered by license and search, with a notice', () =>
    usersCard(t, {
      ...contoso,
      page: pageOf(contoso.users.filter((u) => u.licenses.includes('O365_E3')), 3),
      filter: { kind: 'license', skuId: 'O365_E3' },
      role: 'user-admin',
      search: 'wil',
      deletedCount: 2,
      permissions: FULL_PERMISSIONS,
      notice: t('delete.done', { count: 2 }),
    })],
  ['users: no match, helpdesk permissions', () => usersCard(t, { ...fabrikam, page: pageOf([], 1), filter: { kind: 'unlicensed' }, deletedCount: 0, permissions: { manageUsers: false, resetPassword: true, restore: true } })],
  ['licenses: contoso', () => licensesCard(t, contoso)],
  ['add user: contoso', () => addUserCard(t, { ...contoso, operationId: 'op-2b6f0a7e-4a7e-4bd1-8a0c-1f1d8f7d2c11' })],
  ['add user: after an error, values shown again, in a series', () =>
    addUserCard(t, {
      ...contoso,
      operationId: 'op-2b6f0a7e-4a7e-4bd1-8a0c-1f1d8f7d2c12',
      series: { id: 'A'.repeat(22), key: 'b'.repeat(43) },
      addedSoFar: 3,
      lastAdded: { displayName: 'Nina Park', userPrincipalName: 'nina.park@contoso.com' },
      values: { firstName: 'Ji', lastName: 'Ho', displayName: 'Ji Ho', username: 'ji ho', domain: 'contoso.com', usageLocation: 'KR', role: 'user', licenses: 'O365_E3,VISIO_P2' },
      error: t('error.invalidField', { field: t('field.username'), reason: t('error.reason.characters') }),
    })],
  ['credentials: one new user with password', () =>
    credentialsCard(t, { ...contoso, users: [{ displayName: 'Nina Park', userPrincipalName: 'nina.park@contoso.com', licenses: ['O365_E3', 'M365_E5'], password: 'Kz7#mPq9vXw2Rt4!' }] }, t('created.title'))],
  ['credentials: a series of 40 with a download link', () =>
    credentialsCard(
      t,
      {
        ...contoso,
        users: contoso.users.slice(0, 40).map((u, i) => ({ displayName: u.displayName, userPrincipalName: u.userPrincipalName, licenses: [], password: `Kz7#mPq9vXw2Rt${i}!` })),
        downloadUrl: `http://localhost:3978/downloads/${'t'.repeat(43)}`,
      },
      t('created.seriesTitle', { count: 40, customer: contoso.customer.name }),
    )],
  ['credentials: sent privately', () => credentialsCard(t, { ...contoso, users: [{ displayName: 'Nina Park', userPrincipalName: 'nina.park@contoso.com', licenses: ['O365_E3'] }], sentPrivately: true }, t('created.title'))],
  ['manage licenses: 100 selected contoso users', () => manageLicensesCard(t, { ...contoso, users: contoso.users.slice(0, 100), operationId: 'op-5c0e1d52-8f7c-4f5e-9d0b-7b0f6a3c2e10' })],
  ['license results: 100 users', () =>
    licenseResultsCard(t, {
      ...contoso,
      results: contoso.users.slice(0, 100).map((u, i) => ({ user: u, changed: i % 3 !== 0, added: i % 3 ? ['VISIO_P2'] : [], removed: i % 2 ? ['POWER_BI_PRO'] : [] })),
    })],
  ['confirm reset password', () => confirmResetCard(t, { customer: contoso.customer, user: contoso.users[0], operationId: 'op-0a7f3e3c-3c1b-4a4f-8a34-3e4d9c7b1a20' })],
  ['confirm delete: 50 users', () => confirmDeleteCard(t, { customer: contoso.customer, users: contoso.users.slice(0, 50), operationId: 'op-7d9e2f11-1b7a-4b8e-b2f0-5e6c1d0a9f30' })],
  ['deleted users: 50 entries', () => deletedUsersCard(t, { customer: contoso.customer, users: deleted(contoso.users.slice(100, 150)), canRestore: true, operationId: 'op-1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a40' })],
  ['deleted users: empty, helpdesk cannot restore', () => deletedUsersCard(t, { customer: contoso.customer, users: [], canRestore: false, operationId: 'op-1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a41' })],
  ['restore results above the remaining 49 deleted users', () => {
    const gone = deleted(contoso.users.slice(100, 150));
    const outcomes: RestoreOutcome[] = [
      { userId: gone[0].id, ok: true, restoredLicenses: ['O365_E3'], notRestoredLicenses: ['VISIO_P2'], userPrincipalName: gone[0].userPrincipalName },
      { userId: gone[1].id, ok: false, error: 'UPN_TAKEN', userPrincipalName: gone[1].userPrincipalName },
      { userId: gone[2].id, ok: false, error: 'RESTORE_WINDOW_OVER', userPrincipalName: gone[2].userPrincipalName },
    ];
    return deletedUsersCard(t, { customer: contoso.customer, users: gone.slice(1), canRestore: true, operationId: 'op-1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a42', restored: { outcomes, subscriptions: contoso.subscriptions } });
  }],
  ['audit: a full page (20 of 1000)', () => auditCard(t, { customer: contoso.customer, entries: auditEntries(contoso, 20), page: 2, total: 1000, pageSize: 20 })],
  ['audit: empty', () => auditCard(t, { customer: fabrikam.customer, entries: [], page: 1, total: 0, pageSize: 20 })],
  ['offboard confirmation with a colleague: steps, seats, the colleague field', () =>
    offboardConfirmCard(t, { customer: contoso.customer, plan: { user: leaver, colleague, licenses: leaver.licenses, moved: leaver.licenses }, subscriptions: contoso.subscriptions, operationId: 'op-9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c60' })],
  ['offboard confirmation: a colleague that could not be used, as typed', () =>
    offboardConfirmCard(t, { customer: contoso.customer, plan: { user: leaver, licenses: leaver.licenses, moved: [] }, subscriptions: contoso.subscriptions, operationId: 'op-9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c61', colleagueText: 'nobody', notice: t('error.userNotFound', { user: 'nobody' }) })],
  ...(['block', 'reset', 'delete', 'transfer', 'audit'] as const).map((_, i, steps): [string, () => AdaptiveCard] => [
    `offboard progress: ${i} of 5 steps done, the next one running, refreshed`,
    () => offboardResultCard(t, { customer: contoso.customer, job: offboardJob(steps.slice(0, i), 'running'), refreshUserIds: ['29:1megan'] }),
  ]),
  ['offboard progress: done', () => offboardResultCard(t, { customer: contoso.customer, job: offboardJob(['block', 'reset', 'delete', 'transfer', 'audit'], 'done') })],
  ['offboard progress: failed at the first step', () => offboardResultCard(t, { customer: contoso.customer, job: { ...offboardJob([], 'failed'), error: 'STALE' }, error: t('error.stale') })],
  ['request approval: an offboarding, with the colleague field', () =>
    requestApprovalCard(t, { customer: contoso.customer, change: { kind: 'offboard', userId: leaver.id, toUserId: colleague.id }, users: [leaver], colleague, subscriptions: contoso.subscriptions, operationId: 'op-9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c62' })],
  ['approval card: an approved offboarding, its steps running', () =>
    approvalCard(t, {
      customer: contoso.customer,
      request: {
        id: 'AbCdEfGhIjKlMnOp',
        customerId: contoso.customer.id,
        change: { kind: 'offboard', userId: leaver.id, toUserId: colleague.id },
        reason: 'leaver',
        requester: { id: 'h', name: 'Lee Gu' },
        state: 'approved',
        createdAt: NOW,
        expiresAt: NOW + DAY,
        decidedBy: { id: 'a', name: 'Megan Bowen' },
        users: [leaver, colleague].map((u) => ({ id: u.id, displayName: u.displayName, userPrincipalName: u.userPrincipalName, licenses: u.licenses, role: u.role, version: u.version })),
        difference: [],
      },
      subscriptions: contoso.subscriptions,
      viewer: { decide: false, withdraw: false },
      refreshUserIds: ['29:1megan', '29:1lee'],
      locale: 'en-US',
      offboard: offboardJob(['block', 'reset'], 'running'),
    })],
];

describe('every card parses in the adaptivecards SDK without errors or warnings and stays under 28 KB', () => {
  test('the demo data is what these cards claim to show', () => {
    expect(contoso.users).toHaveLength(300);
    expect(contoso.subscriptions.map((s) => s.skuId)).toEqual(['O365_E3', 'M365_E5', 'POWER_BI_PRO', 'VISIO_P2']);
  });

  test('the validator does report problems (a broken card is caught)', () => {
    const broken = { type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Fancy' }, { type: 'Input.Text', isRequired: true }, { type: 'Input.ChoiceSet', id: 'x', choices: [] }] };
    expect(sdkProblems(broken).map((p) => p.event)).toEqual(
      expect.arrayContaining(['UnknownElementType', 'PropertyCantBeNull', 'RequiredInputsShouldHaveLabel', 'CollectionCantBeEmpty']),
    );
    expect(sdkProblems({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'TextBlock', text: 'x', size: 'Huge' }] }).map((p) => p.event)).toEqual(['InvalidPropertyValue']);
  });

  test.each(cases)('%s', (_name, build) => {
    const card = build();
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.5' });
    expect(sdkProblems(card)).toEqual([]);
    expect(byteSize(card)).toBeLessThan(MAX_CARD_BYTES);
  });

  test('the users card pages: 300 contoso users in pages of 20, Next on the first page, Previous on the last', () => {
    const first = usersCard(t, { ...contoso, page: pageOf(contoso.users, 1), filter: { kind: 'all' }, deletedCount: 0, permissions: FULL_PERMISSIONS });
    const last = usersCard(t, { ...contoso, page: pageOf(contoso.users, 15), filter: { kind: 'all' }, deletedCount: 0, permissions: FULL_PERMISSIONS });
    expect(choicesOf(first, 'userIds')).toHaveLength(20);
    expect(texts(first)).toContain('Showing 1\u201320 of 300');
    expect(titles(first)).toEqual(expect.arrayContaining(['Next']));
    expect(titles(first)).not.toContain('Previous');
    expect(texts(last)).toContain('Showing 281\u2013300 of 300');
    expect(titles(last)).toContain('Previous');
    expect(titles(last)).not.toContain('Next');
  });

  test('license results for many users list as many as fit and count the rest', () => {
    const results = contoso.users.slice(0, 250).map((u) => ({ user: u, changed: true, added: ['VISIO_P2'], removed: [] }));
    const card = licenseResultsCard(t, { ...contoso, results });
    const listed = texts(card).filter((s) => results.some((r) => s === `${r.user.displayName} \u2014 ${r.user.userPrincipalName}`));
    expect(listed.length).toBeGreaterThan(20);
    expect(texts(card)).toContain(`\u2026 and ${250 - listed.length} more users, not listed here.`);
    expect(byteSize(card)).toBeLessThan(MAX_CARD_BYTES);
    expect(sdkProblems(card)).toEqual([]);
  });

  test('the users card keeps every button of Partner Center: selection actions below, navigation above', () => {
    const card = usersCard(t, { ...contoso, page: pageOf(contoso.users, 1), filter: { kind: 'all' }, deletedCount: 7, permissions: FULL_PERMISSIONS });
    expect(titles(card)).toEqual(expect.arrayContaining(['Add user', 'Manage licenses', 'Reset password', 'Delete', 'Deleted users (7)', 'Licenses and seats', 'Apply filter', 'Next']));
    expect((card.actions ?? []).length).toBeLessThanOrEqual(5);
  });

  test('worst case: a page of users with the longest names Entra allows and every license stays under 28 KB', () => {
    const long = contoso.users.slice(0, 20).map((u, i) => ({
      ...u,
      displayName: `${'\ud55c'.repeat(250)}${String(i).padStart(6, '0')}`, // 256 characters, 3 bytes each in UTF-8
      userPrincipalName: `${'u'.repeat(60)}${String(i).padStart(4, '0')}@${'d'.repeat(40)}.example`,
      licenses: contoso.subscriptions.map((s) => s.skuId),
    }));
    const card = usersCard(t, { ...contoso, page: { ...pageOf(contoso.users, 1), users: long }, filter: { kind: 'all' }, deletedCount: 50, permissions: FULL_PERMISSIONS });
    expect(sdkProblems(card)).toEqual([]);
    expect(byteSize(card)).toBeLessThan(MAX_CARD_BYTES);
  });
});

// ------------------------------------------------------------------------------------------ user text is text

const NASTY = '**bold** [link](http://x) <b>html</b>';

/** Every place in a card where a string equal to or containing `needle` appears, as a JSON path. */
function placesOf(node: unknown, needle: string, path = '$'): string[] {
  if (typeof node === 'string') return node.includes(needle) ? [path] : [];
  if (Array.isArray(node)) return node.flatMap((item, i) => placesOf(item, needle, `${path}[${i}]`));
  if (node && typeof node === 'object') return Object.entries(node).flatMap(([k, v]) => placesOf(v, needle, `${path}.${k}`));
  return [];
}

/** The object at a JSON path produced by placesOf, and its parent. */
function at(root: unknown, path: string): unknown {
  const parts = path.replace(/^\$/, '').match(/\.[^.[\]]+|\[\d+\]/g) ?? [];
  return parts.reduce<unknown>((node, part) => (node as Record<string, unknown>)[part.startsWith('[') ? Number(part.slice(1, -1)) : part.slice(1)], root);
}

function parentPath(path: string): string {
  return path.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
}

/**
 * Where user text may appear: a TextRun's text (RichTextBlock never renders markdown), a choice title, the value of
 * an input (shown in an edit box), an action title (plain text in the schema) and action data (never displayed).
 */
function placeKind(card: unknown, path: string): string {
  const owner = at(card, parentPath(path)) as Record<string, unknown>;
  const key = path.slice(parentPath(path).length + 1);
  if (owner?.type === 'TextRun' && key === 'text') return 'TextRun.text';
  if (/\.choices\[\d+\]$/.test(parentPath(path)) && key === 'title') return 'Choice.title';
  if (typeof owner?.type === 'string' && (owner.type as string).startsWith('Input.') && key === 'value') return 'Input.value';
  if (typeof owner?.type === 'string' && (owner.type as string).startsWith('Action.') && key === 'title') return 'Action.title';
  if (/\.data(\.|$)/.test(parentPath(path)) || key === 'data') return 'Action.data';
  return `${String(owner?.type ?? 'object')}.${key}`;
}

function allNodes(node: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(node)) return node.flatMap(allNodes);
  if (node && typeof node === 'object') return [node as Record<string, unknown>, ...Object.values(node).flatMap(allNodes)];
  return [];
}

const texts = (card: unknown): string[] => allNodes(card).filter((n) => n.type === 'TextRun').map((n) => String(n.text));
const titles = (card: unknown): string[] => allNodes(card).filter((n) => typeof n.type === 'string' && (n.type as string).startsWith('Action.')).map((n) => String(n.title));
const choicesOf = (card: unknown, id: string): Array<{ title: string; value: string }> =>
  (allNodes(card).find((n) => n.type === 'Input.ChoiceSet' && n.id === id)?.choices as Array<{ title: string; value: string }>) ?? [];

describe('text that came from users is shown as typed, never as markdown', () => {
  const evil = (u: CustomerUser): CustomerUser => ({ ...u, displayName: NASTY, firstName: NASTY, lastName: NASTY });
  const users = contoso.users.slice(0, 3).map(evil);
  const evilCustomer: Customer = { ...contoso.customer, name: `Contoso ${NASTY}` };

  const withUserText: Array<[string, () => AdaptiveCard]> = [
    ['users', () => usersCard(t, { ...contoso, customer: evilCustomer, page: { ...pageOf(contoso.users, 1), users }, filter: { kind: 'all' }, search: NASTY, deletedCount: 1, permissions: FULL_PERMISSIONS, notice: t('error.userNotFound', { user: NASTY }) })],
    ['customers', () => customersCard(t, { customers: [evilCustomer], text: NASTY })],
    ['licenses', () => licensesCard(t, { customer: evilCustomer, subscriptions: contoso.subscriptions.map((s) => ({ ...s, name: `${s.name} ${NASTY}` })) })],
    ['add user after an error', () => addUserCard(t, { ...contoso, customer: evilCustomer, operationId: 'op-2b6f0a7e-4a7e', lastAdded: { displayName: NASTY, userPrincipalName: 'x@contoso.com' }, values: { displayName: NASTY, firstName: NASTY, lastName: NASTY }, error: t('error.upnTaken', { upn: NASTY }) })],
    ['credentials', () => credentialsCard(t, { ...contoso, users: [{ displayName: NASTY, userPrincipalName: 'x@contoso.com', licenses: ['O365_E3'], password: 'Kz7#mPq9vXw2Rt4!' }] }, t('reset.done', { name: NASTY, upn: 'x@contoso.com' }))],
    ['manage licenses', () => manageLicensesCard(t, { ...contoso, users, operationId: 'op-5c0e1d52-8f7c' })],
    ['license results', () => licenseResultsCard(t, { ...contoso, results: users.map((u) => ({ user: u, changed: true, added: ['O365_E3'], removed: [] })) })],
    ['confirm reset', () => confirmResetCard(t, { customer: contoso.customer, user: users[0], operationId: 'op-0a7f3e3c-3c1b' })],
    ['confirm delete', () => confirmDeleteCard(t, { customer: contoso.customer, users, operationId: 'op-7d9e2f11-1b7a' })],
    ['deleted users', () => deletedUsersCard(t, { customer: contoso.customer, users: deleted(users), canRestore: true, operationId: 'op-1e2d3c4b-5a69' })],
    ['audit', () => auditCard(t, { customer: contoso.customer, entries: auditEntries({ ...contoso, users }, 3).map((e) => ({ ...e, actorName: NASTY, detail: NASTY })), page: 1, total: 3, pageSize: 20 })],
    ['whoami', () => whoAmICard(t, { name: NASTY, id: 'x', tenantId: 'y', roleLabel: t('agentRole.none') })],
    ['error', () => errorCard(t, { message: t('error.customerNotFound', { customer: NASTY }) })],
    ['choice of users', () => choiceCard({ title: t('choice.userTitle'), prompt: t('choice.userPrompt', { text: NASTY }), options: [{ title: `${NASTY} (x@contoso.com)`, commandText: 'reset password contoso x@contoso.com' }] })],
  ];

  test.each(withUserText)('%s', (_name, build) => {
    const card = build();
    const places = placesOf(card, NASTY);
    expect(places.length).toBeGreaterThan(0);
    const kinds = [...new Set(places.map((p) => placeKind(card, p)))];
    expect(kinds.filter((k) => !['TextRun.text', 'Choice.title', 'Input.value', 'Action.title', 'Action.data'].includes(k))).toEqual([]);
    // No element that renders markdown at all: TextBlock and FactSet.
    expect(allNodes(card).filter((n) => n.type === 'TextBlock' || n.type === 'FactSet')).toEqual([]);
    expect(sdkProblems(card)).toEqual([]);
  });

  test('the SDK keeps a display name in a TextRun exactly as typed', () => {
    const card = confirmDeleteCard(t, { customer: contoso.customer, users, operationId: 'op-7d9e2f11-1b7a' });
    const parsed = new AC.AdaptiveCard();
    parsed.parse(card);
    const runs: string[] = [];
    for (let i = 0; i < parsed.getItemCount(); i++) {
      const item = parsed.getItemAt(i);
      if (item instanceof AC.RichTextBlock) for (let j = 0; j < item.getInlineCount(); j++) runs.push((item.getInlineAt(j) as InstanceType<typeof AC.TextRun>).text ?? '');
    }
    expect(runs.filter((r) => r.includes(NASTY))).toEqual(users.map((u) => `${NASTY} \u2014 ${u.userPrincipalName}`));
  });
});

describe('Open in tab', () => {
  const find = (node: unknown, title = 'Open in tab'): Record<string, unknown> | undefined => {
    if (!node || typeof node !== 'object') return undefined;
    const o = node as Record<string, unknown>;
    if (o.type === 'Action.OpenUrl' && o.title === title) return o;
    for (const v of Object.values(o)) {
      const found = Array.isArray(v) ? v.map((x) => find(x, title)).find(Boolean) : find(v, title);
      if (found) return found;
    }
    return undefined;
  };

  test('the users card links to the personal tab with the customer and the filter (subEntityId); none in local mode', () => {
    const card = usersCard(t, { ...contoso, page: pageOf(contoso.users, 1), filter: { kind: 'license', skuId: 'O365_E3' }, deletedCount: 0, permissions: FULL_PERMISSIONS, tabAppId: TAB_APP_ID });
    const link = new URL(String(find(card)?.url));
    expect(`${link.origin}${link.pathname}`).toBe(`https://teams.microsoft.com/l/entity/${TAB_APP_ID}/users`);
    const context = JSON.parse(link.searchParams.get('context') ?? '{}') as { subEntityId: string };
    expect(JSON.parse(context.subEntityId)).toEqual({ customer: 'contoso', filter: 'license:O365_E3' });
    // Not among the card's five actions: those stay as they were.
    expect((card.actions ?? []).map((a) => a.title)).not.toContain('Open in tab');
    expect(find(usersCard(t, { ...contoso, page: pageOf(contoso.users, 1), filter: { kind: 'all' }, deletedCount: 0, permissions: FULL_PERMISSIONS }))).toBeUndefined();
  });

  test('a view of more users than one change takes: its "all in view" button opens the tab on that view (filter, role, search)', () => {
    const many = { ...pageOf(contoso.users, 1), total: 600, pageCount: 30 };
    const view = { ...contoso, page: many, filter: { kind: 'unlicensed' as const }, role: 'user' as const, search: 'smith', deletedCount: 0, permissions: FULL_PERMISSIONS };
    const inTab = usersCard(t, { ...view, tabAppId: TAB_APP_ID });
    expect(JSON.stringify(inTab)).not.toContain('Manage licenses for all 600 users in this view');
    const button = find(inTab, 'Change all 600 users of this view in the tab');
    const context = JSON.parse(new URL(String(button?.url)).searchParams.get('context') ?? '{}') as { subEntityId: string };
    expect(JSON.parse(context.subEntityId)).toEqual({ customer: 'contoso', filter: 'unlicensed', role: 'user', search: 'smith' });
    // Without the tab (local mode) the button stays, and its answer says how to narrow the view.
    expect(JSON.stringify(usersCard(t, view))).toContain('Manage licenses for all 600 users in this view');
    // Up to 500, the card's own button, with or without the tab.
    expect(JSON.stringify(usersCard(t, { ...view, page: { ...many, total: 500, pageCount: 25 }, tabAppId: TAB_APP_ID }))).toContain('Manage licenses for all 500 users in this view');
  });
});

describe('a users card drawn again for the same view', () => {
  const base = { ...contoso, page: pageOf(contoso.users, 1), filter: { kind: 'all' as const }, deletedCount: 3, permissions: FULL_PERMISSIONS, tabAppId: TAB_APP_ID };

  test('the same model in the same language is the card built the first time (frozen: callers share it)', () => {
    const first = keptUsersCard(t, 'en-US', base);
    expect(first).toEqual(usersCard(t, base));
    const sameView = { ...base, customer: { ...base.customer }, page: { ...base.page, users: base.page.users.map((u) => ({ ...u, licenses: [...u.licenses] })) } };
    expect(keptUsersCard(t, 'en-US', sameView)).toBe(first);
    expect(Object.isFrozen(first.body[0])).toBe(true);
    expect(() => (first.body as unknown[]).push({})).toThrow();
  });

  test('any value the card shows, changed, is a card built for it', () => {
    const [u0, ...rest] = base.page.users;
    const withUser = (u: CustomerUser) => ({ ...base, page: { ...base.page, users: [u, ...rest] } });
    const other = contoso.subscriptions.find((s) => !u0.licenses.includes(s.skuId)) as Subscription;
    const variants: Array<[string, Parameters<typeof usersCard>[1]]> = [
      ['customer name', { ...base, customer: { ...base.customer, name: 'Contoso Renamed' } }],
      ['a subscription name', { ...base, subscriptions: base.subscriptions.map((s, i) => (i === 0 ? { ...s, name: `${s.name} (new)` } : s)) }],
      ['page number', { ...base, page: pageOf(contoso.users, 2) }],
      ['total', { ...base, page: { ...base.page, total: base.page.total + 1 } }],
      ['a user version', withUser({ ...u0, version: u0.version + 1 })],
      ['a display name', withUser({ ...u0, displayName: 'Someone Else' })],
      ['a UPN', withUser({ ...u0, userPrincipalName: `x.${u0.userPrincipalName}` })],
      ['a license', withUser({ ...u0, licenses: [...u0.licenses, other.skuId].sort() })],
      ['filter', { ...base, filter: { kind: 'license', skuId: other.skuId } }],
      ['role', { ...base, role: 'user-admin' }],
      ['search', { ...base, search: 'smith' }],
      ['deleted count', { ...base, deletedCount: 4 }],
      ['permissions', { ...base, permissions: { manageUsers: false, resetPassword: true, restore: true } }],
      ['notice', { ...base, notice: '2 users deleted.' }],
      ['no tab', { ...base, tabAppId: undefined }],
      ['offboard', { ...base, offboard: true }],
    ];
    const kept = keptUsersCard(t, 'en-US', base);
    for (const [what, model] of variants) {
      const card = keptUsersCard(t, 'en-US', model);
      expect([what, card]).toEqual([what, usersCard(t, model)]);
      expect([what, card === kept]).toEqual([what, false]);
    }
    const ko = translator('ko-KR');
    expect(keptUsersCard(ko.t, ko.locale, base)).toEqual(usersCard(ko.t, base));
  });
});
