/**
 * No card builder contains a literal user-facing string: every card in cards/ is drawn in a pseudo-locale
 * (English wrapped in ⟦…⟧) from realistic view models, and every string a person would see must be a wrapped
 * catalog message or data from the view model (names, UPNs, domains, sku ids, customer names) with separators.
 */
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
  manageLicensesCard,
  keptUsersCard,
  usersCard,
} from '../../cards/directoryCards';
import type { AdaptiveCard } from '../../cards/elements';
import { helpCard } from '../../cards/help';
import { approvalCard, offboardConfirmCard, offboardResultCard, requestApprovalCard } from '../../cards/approvalCards';
import type { ApprovalRequest, ApprovalState } from '../../services/approvals';
import { importCustomerChoiceCard, importHowToCard } from '../../cards/importCards';
import { text, card } from '../../cards/elements';
import { COMMANDS } from '../../bot/commands/table';
import { describeError } from '../../bot/handlers/errors';
import type { DeletedUser } from '../../services/directory';
import { DirectoryError, DirectoryErrorCode } from '../../services/errors';
import type { AuditEntry, Customer, CustomerUser, RestoreOutcome, Subscription, UserRole } from '../../services/types';
import { pseudoDate, pseudoTranslator, untranslated, untranslatedStrings, visibleStrings } from './pseudo';

const { t, locale } = pseudoTranslator();
const NOW = Date.UTC(2025, 2, 14, 15, 30, 0);
const DAY = 86_400_000;
const ALL = { manageUsers: true, resetPassword: true, restore: true };

// ------------------------------------------------------------------------------------------ view models

const customer: Customer = { id: 'woodgrove', name: 'Woodgrove Bank Korea', domains: ['woodgrovekr.onmicrosoft.com', 'woodgrove.co.kr'] };
const other: Customer = { id: 'tailspin', name: 'Tailspin Toys', domains: ['tailspintoys.onmicrosoft.com'] };

const subscriptions: Subscription[] = [
  { skuId: 'SPE_E3', name: 'Microsoft 365 E3', totalSeats: 1250, assignedSeats: 1249, availableSeats: 1 },
  { skuId: 'EMS', name: 'Enterprise Mobility + Security E3', totalSeats: 10, assignedSeats: 10, availableSeats: 0 },
  { skuId: 'POWER_BI_PRO', name: 'Power BI Pro', totalSeats: 5, assignedSeats: 2, availableSeats: 3 },
];

const PEOPLE: Array<[string, string, UserRole, string[]]> = [
  ['Minji Kim', 'minji.kim', 'user', ['SPE_E3']],
  ['Joon-ho Park', 'joonho.park', 'global-admin', ['SPE_E3', 'EMS']],
  ['Seo-yeon Han', 'seoyeon.han', 'user', []],
  ['Dae-hyun Choi', 'daehyun.choi', 'billing-admin', ['POWER_BI_PRO']],
  ['Ha-eun Jung', 'haeun.jung', 'user', ['SPE_E3', 'POWER_BI_PRO']],
  ['Ji-woo Kang', 'jiwoo.kang', 'user-admin', []],
  ['Yuna Cho', 'yuna.cho', 'user', ['EMS']],
  ['Sung-min Yoon', 'sungmin.yoon', 'password-admin', ['SPE_E3']],
  ['Eun-ji Lim', 'eunji.lim', 'helpdesk-admin', ['SPE_E3']],
  ['Hyun-woo Shin', 'hyunwoo.shin', 'service-admin', []],
  ['Soo-ah Oh', 'sooah.oh', 'user', ['SPE_E3']],
  ['Tae-yang Seo', 'taeyang.seo', 'user', ['POWER_BI_PRO']],
  ['Na-rae Kwon', 'narae.kwon', 'user', []],
];

const users: CustomerUser[] = PEOPLE.map(([displayName, username, role, licenses], i) => ({
  id: `3f2a${String(i).padStart(4, '0')}-8c1d-4e5f-9a0b-1c2d3e4f5a6b`,
  customerId: customer.id,
  userPrincipalName: `${username}@${customer.domains[1]}`,
  username,
  domain: customer.domains[1],
  displayName,
  firstName: displayName.split(' ')[0],
  lastName: displayName.split(' ')[1],
  usageLocation: 'KR',
  role,
  licenses,
  state: 'active',
  createdAt: NOW - 40 * DAY,
  deletedAt: null,
  rememberedLicenses: [],
  version: 3 + i,
  mustChangePassword: false,
  hasPassword: true,
}));

const deletedUsers: DeletedUser[] = users.slice(0, 4).map((u, i) => ({
  ...u,
  state: 'deleted',
  deletedAt: NOW - [0, 1, 15, 29][i] * DAY,
  daysLeft: [30, 29, 15, 1][i],
  rememberedLicenses: u.licenses,
  licenses: [],
}));

const page = (list: CustomerUser[], n: number, size = 5) => ({
  users: list.slice((n - 1) * size, n * size),
  total: list.length,
  page: n,
  pageSize: size,
  pageCount: Math.ceil(list.length / size),
});

const auditEntries: AuditEntry[] = [
  ['create-user', 'minji.kim@woodgrove.co.kr', 'ok', 'minji.kim@woodgrove.co.kr SPE_E3'],
  ['change-licenses', '3 user(s)', 'ok', '+SPE_E3,POWER_BI_PRO -EMS users=3 changed=2'],
  ['change-licenses', '1 user(s)', 'ok', '+ -EMS users=1 changed=1'],
  ['change-licenses', '1 user(s)', 'NO_SEATS', 'EMS 0 2'],
  ['reset-password', 'joonho.park@woodgrove.co.kr', 'ok', 'joonho.park@woodgrove.co.kr'],
  ['delete-users', '2 user(s)', 'STALE', ''],
  ['restore-users', '1 user(s)', 'UPN_TAKEN', 'minji.kim@woodgrove.co.kr'],
  ['restore-users', '3 user(s)', 'ok', 'minji.kim@woodgrove.co.kr=OK joonho.park@woodgrove.co.kr=OK(not restored: EMS,SPE_E3) seoyeon.han@woodgrove.co.kr=UPN_TAKEN'],
  ['delete-users', '2 user(s)', 'ok', 'minji.kim@woodgrove.co.kr joonho.park@woodgrove.co.kr'],
  ['create-user', 'minji.kim@woodgrove.co.kr', 'INVALID_FIELD', 'username characters'],
  ['purge', 'expired users', 'ok', ''],
  ['provision', 'woodgrove', 'ok', ''],
  ['deleteUsers', 'woodgrove', 'refused: role helpdesk', ''],
  ['deleteUsers', 'woodgrove', 'refused: role none', ''],
  ['deleteUsers', '', 'refused: tenant 72f988bf-86f1-41af-91ab-2d7cd011db47', ''],
  ['restore-users', '1 user(s)', 'SOMETHING_NEW', ''],
].map(([action, target, result, detail], i) => ({
  at: NOW - i * 3_600_000,
  actorId: 'a1b2c3d4-0000-4000-8000-000000000001',
  actorName: i % 2 ? 'Megan Bowen' : 'Partner Admin Bot',
  action,
  target,
  result,
  detail,
}));

const restoreOutcomes: RestoreOutcome[] = [
  { userId: deletedUsers[0].id, ok: true, restoredLicenses: ['SPE_E3'], notRestoredLicenses: [], userPrincipalName: deletedUsers[0].userPrincipalName },
  { userId: deletedUsers[1].id, ok: true, restoredLicenses: ['SPE_E3'], notRestoredLicenses: ['EMS'], userPrincipalName: deletedUsers[1].userPrincipalName },
  { userId: deletedUsers[2].id, ok: true, restoredLicenses: [], notRestoredLicenses: [], userPrincipalName: deletedUsers[2].userPrincipalName },
  ...(['UPN_TAKEN', 'RESTORE_WINDOW_OVER', 'NOT_DELETED', 'USER_NOT_FOUND', 'STALE'] as const).map(
    (error): RestoreOutcome => ({ userId: deletedUsers[3].id, ok: false, error, userPrincipalName: deletedUsers[3].userPrincipalName }),
  ),
];

const ERROR_PARAMS: Record<DirectoryErrorCode, Record<string, string | number>> = {
  CUSTOMER_NOT_FOUND: { customer: 'woodgrvoe' },
  USER_NOT_FOUND: { user: 'minji' },
  INVALID_FIELD: { field: 'username', reason: 'characters' },
  UPN_TAKEN: { upn: 'minji.kim@woodgrove.co.kr' },
  NO_SEATS: { license: 'EMS', seatsLeft: 0, seatsNeeded: 2 },
  UNKNOWN_LICENSE: { license: 'VISIO_P2' },
  RESTORE_WINDOW_OVER: {},
  STALE: {},
  NOT_ACTIVE: {},
  IMPORT_NOT_FOUND: { job: 'job-1' },
  NOT_DELETED: {},
  SEATS_BELOW_ASSIGNED: { license: 'SPE_E3', seats: 1000, assigned: 1249 },
  DOMAIN_NOT_IN_CUSTOMER: { domain: 'contoso.com' },
  TOO_MANY_USERS: { max: 100 },
  SIGN_IN_REQUIRED: {},
  DIRECTORY_ROLE_MISSING: { roles: 'License Administrator' },
  DIRECTORY_REFUSED: {},
};

// ------------------------------------------------------------------------------------------ data a card may show as is

/** Everything user-supplied in the view models above: it is shown as typed, never translated. */
const DATA: string[] = [
  ...[customer, other].flatMap((c) => [c.id, c.name, ...c.domains]),
  ...subscriptions.flatMap((s) => [s.skuId, s.name]),
  ...users.flatMap((u) => [u.id, u.displayName, u.userPrincipalName, u.username]),
  // Error parameters, except field names and reasons: those are codes the catalog translates.
  ...Object.values(ERROR_PARAMS).flatMap((p) => Object.entries(p).filter(([k]) => k !== 'field' && k !== 'reason').map(([, v]) => String(v))),
  'Kz7#mPq9vXw2Rt4!',
  'Pw#Test-2-Kyzx',
  'Pw#Test-3-Kyzx',
  'Alex Wilber',
  'ab12cd34-5678-4e9f-8a7b-6c5d4e3f2a1b',
  '72f988bf-86f1-41af-91ab-2d7cd011db47',
  'wood',
  'usres',
  'VISIO_P2',
  'Ji Ho',
];

/**
 * What an audit entry shows as recorded: who, the UPN or customer it acted on, the detail, and (for a refused
 * request) the command's name and the other tenant's id, plus an error code the catalog does not know yet.
 * Action codes, "N user(s)", "expired users", "ok", known error codes and roles must come out translated.
 */
const AUDIT_DATA: string[] = [
  // Details are data, except the summaries of license changes and restores, which are written in words.
  ...auditEntries.flatMap((e) => [
    e.actorName,
    ...(e.result === 'ok' && /^(change-licenses|restore-users)$/.test(e.action) ? [] : [e.detail]),
    ...(/user\(s\)$|^expired users$/.test(e.target) ? [] : [e.target]),
  ]),
  ...auditEntries.map((e) => pseudoDate(e.at)),
  'deleteUsers',
  '72f988bf-86f1-41af-91ab-2d7cd011db47',
  'SOMETHING_NEW',
];

/** Command keywords and flags stay English in usage lines (they are what agents type); argument names are translated. */
const KEYWORDS = [
  ...new Set(
    COMMANDS.flatMap((c) => c.usage.replace(/<(customer|user|sku|role|text|n|name|agent id)>|\[text\]/g, ' ').match(/--?[a-z][a-z-]*|[a-z]+/g) ?? []),
  ),
];

// ------------------------------------------------------------------------------------------ every card

const approvalRequest = (state: ApprovalState): ApprovalRequest => ({
  id: 'AbCdEfGhIjKlMnOp',
  customerId: customer.id,
  change: { kind: 'deleteUsers', userIds: [users[0].id, users[1].id] },
  reason: 'Left the bank',
  requester: { id: 'helpdesk-1', name: 'Lee Gu' },
  state,
  createdAt: Date.UTC(2025, 2, 3, 9),
  expiresAt: Date.UTC(2025, 2, 4, 9),
  decidedBy: state === 'pending' ? undefined : { id: 'admin-1', name: 'Megan Bowen' },
  users: [users[0], users[1]].map((u) => ({ id: u.id, displayName: u.displayName, userPrincipalName: u.userPrincipalName, licenses: u.licenses, role: u.role, version: u.version })),
  difference: state === 'stale' ? [users[1].userPrincipalName] : [],
  outcome: state === 'applied' ? { deleted: 2 } : state === 'failed' ? { error: 'NO_SEATS' } : undefined,
});
const offboardJob = { jobId: 'j', customerId: customer.id, userId: users[0].id, userPrincipalName: users[0].userPrincipalName, displayName: users[0].displayName, colleagueId: users[1].id, colleagueUpn: users[1].userPrincipalName, licenses: users[0].licenses, moved: users[0].licenses, owner: { id: 'a', name: 'Megan Bowen' }, done: ['block', 'reset', 'delete', 'transfer', 'audit'] as const, cards: [] };

const APPROVAL_DATA = ['Lee Gu', 'Left the bank', 'Megan Bowen', 'NO_SEATS', pseudoDate(Date.UTC(2025, 2, 4, 9))];

const cases: Array<[string, () => AdaptiveCard, string[]?]> = [
  ['request approval (delete)', () => requestApprovalCard(t, { customer, change: { kind: 'deleteUsers', userIds: [users[0].id] }, users: [users[0]], subscriptions, operationId: 'op-a1', notice: t('approval.reasonRequired') })],
  ['request approval (offboard to a colleague)', () => requestApprovalCard(t, { customer, change: { kind: 'offboard', userId: users[0].id, toUserId: users[1].id }, users: [users[0]], colleague: users[1], subscriptions, operationId: 'op-a2' })],
  ['request approval (admin password)', () => requestApprovalCard(t, { customer, change: { kind: 'resetPassword', userId: users[0].id }, users: [users[0]], subscriptions, operationId: 'op-a3' })],
  ['request approval (remove and add licenses)', () => requestApprovalCard(t, { customer, change: { kind: 'changeLicenses', userIds: [users[0].id, users[1].id], add: ['EMS'], remove: ['SPE_E3'] }, users: [users[0], users[1]], subscriptions, operationId: 'op-a4' })],
  ['request approval (replace a license)', () => requestApprovalCard(t, { customer, change: { kind: 'changeLicenses', userIds: [users[0].id], add: [], remove: [], replace: { from: 'SPE_E3', to: 'EMS' } }, users: [users[0]], subscriptions, operationId: 'op-a5' })],
  ['approval card (licenses applied)', () => approvalCard(t, { customer, request: { ...approvalRequest('applied'), change: { kind: 'changeLicenses', userIds: [users[0].id, users[1].id], add: [], remove: ['SPE_E3'] }, outcome: { licensesChanged: 2 } }, subscriptions, viewer: { decide: false, withdraw: false }, refreshUserIds: [], locale: 'qps' }), APPROVAL_DATA],
  ['request approval (a large import)', () => requestApprovalCard(t, { customer, change: { kind: 'import', jobId: 'AbCdEfGhIjKl', filename: 'hires.csv', rows: 1200, options: { mode: 'validRows' } }, users: [], subscriptions, operationId: 'op-a6' }), ['hires.csv']],
  ['approval card (import applied)', () => approvalCard(t, { customer, request: { ...approvalRequest('applied'), users: [], change: { kind: 'import', jobId: 'AbCdEfGhIjKl', filename: 'hires.csv', rows: 1200, options: { mode: 'validRows' } }, outcome: { importJobId: 'AbCdEfGhIjKl' } }, subscriptions, viewer: { decide: false, withdraw: false }, refreshUserIds: [], locale: 'qps' }), [...APPROVAL_DATA, 'hires.csv']],
  ...(['pending', 'approved', 'applied', 'rejected', 'withdrawn', 'expired', 'failed', 'stale'] as ApprovalState[]).map(
    (state): [string, () => AdaptiveCard, string[]] => [`approval card (${state})`, () => approvalCard(t, { customer, request: approvalRequest(state), subscriptions, viewer: { decide: true, withdraw: true }, refreshUserIds: ['29:1a'], notice: t('approval.ownRequest'), locale: 'qps' }), APPROVAL_DATA],
  ),
  ['offboard confirmation', () => offboardConfirmCard(t, { customer, plan: { user: users[0], colleague: users[1], licenses: users[0].licenses, moved: users[0].licenses }, subscriptions, operationId: 'op-o1' })],
  ['offboard confirmation (no colleague)', () => offboardConfirmCard(t, { customer, plan: { user: users[0], licenses: users[0].licenses, moved: [] }, subscriptions, operationId: 'op-o2' })],
  ['offboard result', () => offboardResultCard(t, { customer, job: { ...offboardJob, done: [...offboardJob.done], state: 'done', transferError: 'NO_SEATS' } })],
  ['offboard result (failed)', () => offboardResultCard(t, { customer, job: { ...offboardJob, done: [], state: 'failed', error: 'STALE' }, error: describeError(t, new DirectoryError('STALE')) })],
  ['offboard result (running, refreshed)', () => offboardResultCard(t, { customer, job: { ...offboardJob, done: ['block', 'reset'], state: 'running' }, refreshUserIds: ['29:1a'] })],
  ['offboard result (running, no colleague)', () => offboardResultCard(t, { customer, job: { ...offboardJob, colleagueId: undefined, colleagueUpn: undefined, moved: [], done: [], state: 'running' } })],
  ['offboard confirmation (a colleague to check, nothing to move)', () =>
    offboardConfirmCard(t, { customer, plan: { user: users[0], colleague: users[4], licenses: ['SPE_E3'], moved: [] }, subscriptions, operationId: 'op-o3', notice: t('offboard.checkColleague') })],
  ['offboard confirmation (a colleague that could not be used)', () =>
    offboardConfirmCard(t, { customer, plan: { user: users[0], licenses: users[0].licenses, moved: [] }, subscriptions, operationId: 'op-o4', colleagueText: 'nobody', notice: t('offboard.badColleague') }), ['nobody']],
  ['approval card (offboarding approved, running)', () =>
    approvalCard(t, { customer, request: { ...approvalRequest('approved'), change: { kind: 'offboard', userId: users[0].id, toUserId: users[1].id } }, subscriptions, viewer: { decide: false, withdraw: false }, refreshUserIds: ['29:1a'], locale: 'qps', offboard: { ...offboardJob, done: ['block'], state: 'running' } }), APPROVAL_DATA],
  ['help', () => helpCard(t, { roleLabel: t('agentRole.admin'), commands: COMMANDS.map((c) => ({ usage: c.usage, descriptionKey: c.descriptionKey })) }), KEYWORDS],
  ['help (admin, with the Import users dialog)', () =>
    helpCard(t, { roleLabel: t('agentRole.admin'), commands: COMMANDS.map((c) => ({ usage: c.usage, descriptionKey: c.descriptionKey })), importDialog: true }), KEYWORDS],
  ['import users: how (outside the 1:1 chat), with the dialog button', () => importHowToCard(t, { customer, message: t('import.inChannel', { customer: customer.id }) })],
  ['import users dialog: choose a customer', () => importCustomerChoiceCard(t, [customer, other])],
  ['import users dialog: no customer', () => importCustomerChoiceCard(t, [])],
  ['help (helpdesk)', () => helpCard(t, { roleLabel: t('agentRole.helpdesk'), commands: COMMANDS.slice(0, 3).map((c) => ({ usage: c.usage, descriptionKey: c.descriptionKey })) }), KEYWORDS],
  ['whoami', () => whoAmICard(t, { name: 'Alex Wilber', id: 'ab12cd34-5678-4e9f-8a7b-6c5d4e3f2a1b', tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47', roleLabel: t('agentRole.none') })],
  ['customers', () => customersCard(t, { customers: [customer, other] })],
  ['customers (filtered)', () => customersCard(t, { customers: [customer], text: 'wood' })],
  ['customers (none)', () => customersCard(t, { customers: [], text: 'wood' })],
  ['users (page 2 of 3, license filter, role, search, notice)', () =>
    usersCard(t, {
      customer,
      subscriptions,
      page: page(users, 2),
      filter: { kind: 'license', skuId: 'SPE_E3' },
      role: 'global-admin',
      search: 'Ji Ho',
      deletedCount: 1,
      permissions: ALL,
      notice: t('delete.done', { count: 2 }),
    })],
  ['users (first page, unlicensed among them)', () => usersCard(t, { customer, subscriptions, page: page(users, 1, 20), filter: { kind: 'all' }, deletedCount: 4, permissions: ALL })],
  ['users (with the Offboard button)', () => usersCard(t, { customer, subscriptions, page: page(users, 1, 20), filter: { kind: 'all' }, deletedCount: 4, permissions: ALL, offboard: true })],
  ['users (the kept card the bot answers with)', () => keptUsersCard(t, locale, { customer, subscriptions, page: page(users, 1, 20), filter: { kind: 'all' }, deletedCount: 4, permissions: ALL, offboard: true })],
  ['users (none, helpdesk)', () =>
    usersCard(t, { customer: other, subscriptions: [], page: page([], 1), filter: { kind: 'unlicensed' }, deletedCount: 0, permissions: { manageUsers: false, resetPassword: true, restore: true } })],
  ['licenses', () => licensesCard(t, { customer, subscriptions })],
  ['licenses (none)', () => licensesCard(t, { customer: other, subscriptions: [] })],
  ['add user', () => addUserCard(t, { customer, subscriptions, operationId: 'op-1' })],
  ['add user (series, last added, error, values)', () =>
    addUserCard(t, {
      customer,
      subscriptions,
      operationId: 'op-2',
      series: { id: 'S'.repeat(22), key: 'k'.repeat(43) },
      addedSoFar: 2,
      lastAdded: { displayName: users[0].displayName, userPrincipalName: users[0].userPrincipalName },
      values: { firstName: 'Ji', lastName: 'Ho', displayName: 'Ji Ho', username: 'ji ho', domain: customer.domains[1], usageLocation: 'KR', role: 'user', licenses: 'SPE_E3' },
      error: describeError(t, new DirectoryError('INVALID_FIELD', { field: 'username', reason: 'characters' })),
    })],
  ['credentials (new user with password)', () =>
    credentialsCard(t, { customer, subscriptions, users: [{ displayName: users[0].displayName, userPrincipalName: users[0].userPrincipalName, licenses: ['SPE_E3', 'EMS'], password: 'Kz7#mPq9vXw2Rt4!' }] }, t('created.title'))],
  ['credentials (series with download)', () =>
    credentialsCard(
      t,
      {
        customer,
        subscriptions,
        users: users.slice(0, 2).map((u, i) => ({ displayName: u.displayName, userPrincipalName: u.userPrincipalName, licenses: [], password: `Pw#Test-${i + 2}-Kyzx` })),
        downloadUrl: 'https://bot.example.com/downloads/abc',
      },
      t('created.seriesTitle', { count: 2, customer: customer.name }),
    )],
  ['credentials (sent privately / not delivered)', () =>
    credentialsCard(
      t,
      { customer, subscriptions, users: [{ displayName: users[1].displayName, userPrincipalName: users[1].userPrincipalName, licenses: ['SPE_E3'] }], sentPrivately: true, notice: t('private.failed.notInstalled') },
      t('reset.done', { name: users[1].displayName, upn: users[1].userPrincipalName }),
    )],
  ['manage licenses (12 users: all / some / none)', () => manageLicensesCard(t, { customer, subscriptions, users: users.slice(0, 12), operationId: 'op-3' })],
  ['manage licenses (2 users)', () => manageLicensesCard(t, { customer, subscriptions, users: [users[0], users[4]], operationId: 'op-4' })],
  ['license results', () =>
    licenseResultsCard(t, {
      customer,
      subscriptions,
      results: [
        { user: users[0], changed: true, added: ['POWER_BI_PRO'], removed: [] },
        { user: users[1], changed: true, added: [], removed: ['EMS', 'SPE_E3'] },
        { user: users[2], changed: false, added: [], removed: [] },
      ],
    })],
  ['license results (nothing changed)', () => licenseResultsCard(t, { customer, subscriptions, results: [{ user: users[2], changed: false, added: [], removed: [] }] })],
  ['license results (more than fit)', () =>
    licenseResultsCard(t, { customer, subscriptions, results: Array.from({ length: 400 }, (_, i) => ({ user: users[i % users.length], changed: true, added: ['SPE_E3'], removed: ['EMS'] })) })],
  ['confirm reset', () => confirmResetCard(t, { customer, user: users[1], operationId: 'op-5' })],
  ['confirm delete (1)', () => confirmDeleteCard(t, { customer, users: [users[0]], operationId: 'op-6' })],
  ['confirm delete (3)', () => confirmDeleteCard(t, { customer, users: users.slice(0, 3), operationId: 'op-7' })],
  ['deleted users', () => deletedUsersCard(t, { customer, users: deletedUsers, canRestore: true, operationId: 'op-8' })],
  ['deleted users with restore results', () =>
    deletedUsersCard(t, { customer, users: deletedUsers.slice(3), canRestore: true, operationId: 'op-9', restored: { outcomes: restoreOutcomes, subscriptions } })],
  ['deleted users (none, cannot restore)', () => deletedUsersCard(t, { customer, users: [], canRestore: false, operationId: 'op-10', restored: { outcomes: restoreOutcomes.slice(0, 1), subscriptions } })],
  ['audit (page 2 of 3)', () => auditCard(t, { customer, entries: auditEntries, page: 2, total: 45, pageSize: 20 }), AUDIT_DATA],
  ['audit (empty)', () => auditCard(t, { customer: other, entries: [], page: 1, total: 0, pageSize: 20 })],
  ['error with usage and hint', () => errorCard(t, { message: t('error.unknownCommand', { word: 'usres' }), usage: COMMANDS[3].usage, hint: t('error.tryHelp') }), KEYWORDS],
  ['error with every usage', () => errorCard(t, { message: t('error.badCommand'), usage: COMMANDS.map((c) => c.usage).join(' / ') }), KEYWORDS],
  ...(Object.keys(ERROR_PARAMS) as DirectoryErrorCode[]).map(
    (code): [string, () => AdaptiveCard] => [`error: ${code}`, () => errorCard(t, { message: describeError(t, new DirectoryError(code, ERROR_PARAMS[code])) })],
  ),
  ['error: not allowed', () => errorCard(t, { message: t('error.notAllowed', { role: t('agentRole.none') }), hint: t('error.tryHelp') })],
  ['choice of customers', () =>
    choiceCard({ title: t('choice.customerTitle'), prompt: t('choice.customerPrompt', { text: 'wood' }), options: [customer, other].map((c) => ({ title: `${c.name} (${c.domains[0]})`, commandText: `users ${c.id}` })) })],
  ['choice of users', () =>
    choiceCard({ title: t('choice.userTitle'), prompt: t('choice.userPrompt', { text: 'Ji Ho' }), options: users.slice(0, 2).map((u) => ({ title: `${u.displayName} (${u.userPrincipalName})`, commandText: `reset password woodgrove ${u.userPrincipalName}` })) })],
  ['message (grant)', () => messageCard(t('whoami.role'), [t('grant.done', { agent: 'ab12cd34-5678-4e9f-8a7b-6c5d4e3f2a1b', role: t('agentRole.helpdesk') })])],
  ['message (series empty)', () => messageCard(t('created.title'), [t('created.seriesEmpty')])],
];

describe('every card, drawn in a pseudo-locale, shows only catalog text and data', () => {
  test.each(cases)('%s', (_name, build, extra = []) => {
    const drawn = build();
    const strings = visibleStrings(drawn);
    expect(strings.length).toBeGreaterThan(0);
    // The pseudo-locale reached the card: at least one wrapped message.
    expect(strings.some((s) => s.value.includes('\u27e6'))).toBe(true);
    expect(untranslatedStrings(drawn, [...DATA, ...extra])).toEqual([]);
  });

  test('every card builder in cards/ is drawn above', () => {
    const builders = [helpCard, whoAmICard, customersCard, usersCard, keptUsersCard, licensesCard, addUserCard, credentialsCard, manageLicensesCard, licenseResultsCard, confirmResetCard, confirmDeleteCard, deletedUsersCard, auditCard, errorCard, choiceCard, messageCard];
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const exported = [require('../../cards/common'), require('../../cards/directoryCards'), require('../../cards/help')]
      .flatMap((m) => Object.entries(m as Record<string, unknown>))
      .filter(([name, value]) => typeof value === 'function' && /Card$/.test(name))
      .map(([, value]) => value);
    expect(exported.filter((f) => !builders.includes(f as never)).map((f) => (f as { name: string }).name)).toEqual([]);
  });

  test('the pseudo-locale reaches plurals, numbers and dates', () => {
    expect(t('common.users', { count: 1 })).toBe('\u27e61 user\u27e7');
    expect(t('common.users', { count: 1234 })).toBe('\u27e61,234 users\u27e7');
    expect(t('deleted.deletedOn', { date: new Date(NOW) })).toBe(`\u27e6deleted ${pseudoDate(NOW)}\u27e7`);
  });
});

describe('the check itself finds untranslated text', () => {
  test('a literal word on a card', () => {
    expect(untranslatedStrings(card([text('Users')]), DATA)).toEqual(['$.body[0].inlines[0].text: untranslated text "Users" in "Users"']);
  });

  test('an English word passed into a placeholder', () => {
    const choice = t('users.choice', { name: users[2].displayName, upn: users[2].userPrincipalName, licenses: 'Unlicensed' });
    expect(untranslated(choice, DATA)).toMatch(/no English message/);
    expect(untranslated(t('users.choice', { name: users[2].displayName, upn: users[2].userPrincipalName, licenses: t('users.unlicensedTag') }), DATA)).toBeUndefined();
  });

  test('words glued to data', () => {
    expect(untranslated(`${users[0].displayName} (new)`, DATA)).toMatch(/untranslated text "\( new\)"|untranslated text "\(new\)"/);
    expect(untranslated(`${users[0].displayName} \u2014 ${users[0].userPrincipalName}`, DATA)).toBeUndefined();
  });

  test('action titles, input labels, placeholders and choice titles are all looked at', () => {
    const probe = {
      type: 'AdaptiveCard',
      body: [
        { type: 'Input.Text', id: 'a', label: 'Name', placeholder: 'Type a name', errorMessage: 'Required' },
        { type: 'Input.ChoiceSet', id: 'b', label: t('users.filter'), choices: [{ title: 'All', value: 'all' }] },
        { type: 'FactSet', facts: [{ title: 'Owner', value: 'x' }] },
        { type: 'ActionSet', actions: [{ type: 'Action.Execute', title: 'Go' }] },
      ],
      actions: [{ type: 'Action.OpenUrl', title: 'Open', url: 'https://example.com' }],
    };
    expect(untranslatedStrings(probe, DATA).map((p) => p.split(':')[0])).toEqual([
      '$.body[0].label',
      '$.body[0].placeholder',
      '$.body[0].errorMessage',
      '$.body[1].choices[0].title',
      '$.body[2].facts[0].title',
      '$.body[3].actions[0].title',
      '$.actions[0].title',
    ]);
  });
});
