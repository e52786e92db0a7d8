import { MAX_USERS_PER_CHANGE, type DeletedUser } from '../services/directory';
import type { AuditEntry, Customer, CustomerUser, RestoreOutcome, Subscription, UserFilter, UserPage, UserRole } from '../services/types';
import { USER_ROLES } from '../services/types';
import {
  actionSet,
  AdaptiveCard,
  CardAction,
  CardElement,
  card,
  choiceSet,
  container,
  execute,
  field,
  heading,
  IMPORT_DIALOG,
  openDialog,
  text,
  textInput,
} from './elements';
import { MessageKey, Translator } from './i18n';
import { INPUTS, licenseStateInput, LicenseState, Permissions, VERBS } from './verbs';

type T = Translator['t'];

const licenseNames = (subs: Subscription[], skus: string[], t: T): string =>
  skus.length ? skus.map((s) => subs.find((x) => x.skuId === s)?.name ?? s).join(', ') : t('common.none');

const versionsOf = (users: Array<Pick<CustomerUser, 'id' | 'version'>>): Record<string, number> =>
  Object.fromEntries(users.map((u) => [u.id, u.version]));

// ------------------------------------------------------------------ customers

export function customersCard(t: T, model: { customers: Customer[]; text?: string }): AdaptiveCard {
  const body: CardElement[] = [heading(model.text ? t('customers.filtered', { text: model.text }) : t('customers.title'))];
  if (!model.customers.length) body.push(text(t('customers.empty')));
  for (const c of model.customers.slice(0, 25)) {
    body.push(
      container(
        [
          text(c.name, { weight: 'Bolder' }),
          text(`${c.id} \u00b7 ${c.domains.join(', ')}`, { isSubtle: true, spacing: 'None' }),
          actionSet([execute(t('customers.open', { name: c.name }), VERBS.users, { customerId: c.id })]),
        ],
        { separator: true },
      ),
    );
  }
  return card(body);
}

// ------------------------------------------------------------------ users and licenses

export interface UsersCardModel {
  customer: Customer;
  subscriptions: Subscription[];
  page: UserPage;
  filter: UserFilter;
  role?: UserRole;
  search?: string;
  deletedCount: number;
  permissions: Permissions;
  /** What just happened (e.g. "2 users deleted"), shown above the list. */
  notice?: string;
  /** The Teams app id (MicrosoftAppId): the card links to the Users and licenses tab; unset (local mode): no link. */
  tabAppId?: string;
  /** The Offboard button (one selected user): admins, and helpdesk agents where four eyes makes it a request. */
  offboard?: boolean;
}

/** The personal tab (manifest staticTabs entityId `users`). */
export const TAB_ENTITY_ID = 'users';

/**
 * A Teams deep link to the Users and licenses tab, opened on this customer and view (filter, and role and search when
 * set): the tab reads them from its context's subPageId (the link's subEntityId).
 */
export function tabDeepLink(appId: string, customerId: string, filter: UserFilter, view: { role?: UserRole; search?: string } = {}): string {
  const context = { subEntityId: JSON.stringify({ customer: customerId, filter: filterValue(filter), ...(view.role ? { role: view.role } : {}), ...(view.search ? { search: view.search } : {}) }) };
  return `https://teams.microsoft.com/l/entity/${encodeURIComponent(appId)}/${TAB_ENTITY_ID}?context=${encodeURIComponent(JSON.stringify(context))}`;
}

const filterValue = (f: UserFilter): string => (f.kind === 'license' ? `license:${f.skuId}` : f.kind);

/** Users cards built lately, by everything their builder reads (usersCardKey); the oldest built leaves first. */
const builtUsersCards = new Map<string, AdaptiveCard>();
const KEPT_USERS_CARDS = 64;

/**
 * The users card of a view drawn again unchanged (its Refresh, Back to users, the paging buttons, several agents on one
 * customer) is the same card: it is kept by a key made of every value the builder reads, so the same model in the same
 * language is built once while it is kept (the build was 0.1 ms of the bot's CPU per card in the read profile; the key
 * costs a few µs). Kept cards are frozen, as callers share them.
 */
export function keptUsersCard(t: T, locale: string, m: UsersCardModel): AdaptiveCard {
  const key = usersCardKey(locale, m);
  const kept = builtUsersCards.get(key);
  if (kept) return kept;
  const built = deepFreeze(usersCard(t, m));
  builtUsersCards.set(key, built);
  if (builtUsersCards.size > KEPT_USERS_CARDS) builtUsersCards.delete(builtUsersCards.keys().next().value as string);
  return built;
}

/** Every value usersCard reads, and nothing else (JSON: no two models share a key). */
function usersCardKey(locale: string, m: UsersCardModel): string {
  const { page } = m;
  return JSON.stringify([
    locale,
    m.customer.id,
    m.customer.name,
    m.subscriptions.map((s) => [s.skuId, s.name]),
    [page.total, page.page, page.pageSize, page.pageCount],
    page.users.map((u) => [u.id, u.version, u.displayName, u.userPrincipalName, u.licenses]),
    filterValue(m.filter),
    m.role ?? '',
    m.search ?? '',
    m.deletedCount,
    [m.permissions.manageUsers, m.permissions.resetPassword, m.permissions.restore],
    m.notice ?? null,
    m.tabAppId ?? null,
    !!m.offboard,
  ]);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function usersCard(t: T, m: UsersCardModel): AdaptiveCard {
  const { page } = m;
  const from = page.total ? (page.page - 1) * page.pageSize + 1 : 0;
  const to = (page.page - 1) * page.pageSize + page.users.length;
  const query = { customerId: m.customer.id, filter: filterValue(m.filter), role: m.role ?? '', search: m.search ?? '' };
  const body: CardElement[] = [
    heading(t('users.title', { customer: m.customer.name })),
  ];
  if (m.notice) body.push(text(m.notice));
  body.push(text(t('users.showing', { from, to, total: page.total }), { isSubtle: true }));
  // Up here rather than among the card's actions: hosts draw at most 5 actions (the SDK's default maxActions).
  const navigation = [execute(t('users.licensesButton'), VERBS.licenses, { customerId: m.customer.id })];
  // A dialog, so that importing works in channels and group chats too (files reach a bot only in the 1:1 chat).
  if (m.permissions.manageUsers) navigation.push(openDialog(t('users.importUsers'), { dialog: IMPORT_DIALOG, customerId: m.customer.id }));
  // The table for customers too large for a card: the same filter, in the tab.
  if (m.tabAppId) navigation.push({ type: 'Action.OpenUrl', title: t('tab.openInTab'), url: tabDeepLink(m.tabAppId, m.customer.id, m.filter) });
  body.push(actionSet(navigation));
  if (m.role) body.push(text(t('users.roleFilter', { role: t(`role.${m.role}`) }), { isSubtle: true, spacing: 'None' }));
  body.push(
    choiceSet(
      INPUTS.filter,
      t('users.filter'),
      [
        { title: t('users.filter.all'), value: 'all' },
        { title: t('users.filter.licensed'), value: 'licensed' },
        { title: t('users.filter.unlicensed'), value: 'unlicensed' },
        ...m.subscriptions.map((s) => ({ title: t('users.filter.license', { license: s.name }), value: `license:${s.skuId}` })),
      ],
      { value: filterValue(m.filter) },
    ),
    textInput(INPUTS.search, t('users.search'), { value: m.search, maxLength: 100 }),
    actionSet([execute(t('users.apply'), VERBS.users, { customerId: m.customer.id, role: m.role ?? '' }, { inputs: true })]),
  );
  if (!page.users.length) {
    body.push(text(t('users.empty')));
  } else {
    body.push(
      choiceSet(
        INPUTS.userIds,
        t('users.select'),
        page.users.map((u) => ({
          title: t('users.choice', {
            name: u.displayName,
            upn: u.userPrincipalName,
            licenses: u.licenses.length ? licenseNames(m.subscriptions, u.licenses, t) : t('users.unlicensedTag'),
          }),
          value: u.id,
        })),
        { multi: true, expanded: true },
      ),
    );
    // Selecting on one page reaches 20 users; the whole view (every page, up to 500) is one button away. A longer view
    // is changed in the tab (a bulk job there), which opens on this view; without the tab (local mode) the button
    // stays and says how to narrow the view.
    if (m.permissions.manageUsers && page.total > MAX_USERS_PER_CHANGE && m.tabAppId) {
      const url = tabDeepLink(m.tabAppId, m.customer.id, m.filter, { role: m.role, search: m.search });
      body.push(actionSet([{ type: 'Action.OpenUrl', title: t('users.manageAllInTab', { count: page.total }), url }]));
    } else if (m.permissions.manageUsers && page.total > 1) {
      const view = { customerId: m.customer.id, allInView: true, viewFilter: filterValue(m.filter), viewRole: m.role ?? '', viewSearch: m.search ?? '' };
      body.push(actionSet([execute(t('users.manageAllInView', { count: page.total }), VERBS.manageLicenses, view)]));
    }
    // Offboard (exactly one selected user, as Reset password) sits under the list: the card's own actions are full
    // (hosts draw at most 5, see above).
    if (m.offboard) body.push(actionSet([execute(t('users.offboard'), VERBS.offboard, { customerId: m.customer.id, versions: versionsOf(page.users) }, { inputs: true, style: 'destructive' })]));
  }
  const paging: CardAction[] = [];
  if (page.page > 1) paging.push(execute(t('common.previous'), VERBS.users, { ...query, page: page.page - 1 }));
  if (page.page < page.pageCount) paging.push(execute(t('common.next'), VERBS.users, { ...query, page: page.page + 1 }));
  if (paging.length) body.push(text(t('common.page', { page: page.page, pageCount: page.pageCount }), { isSubtle: true }), actionSet(paging));

  const selection = { customerId: m.customer.id, versions: versionsOf(page.users) };
  const actions: CardAction[] = [];
  if (m.permissions.manageUsers) {
    actions.push(execute(t('users.addUser'), VERBS.addUser, { customerId: m.customer.id }));
    actions.push(execute(t('users.manageLicenses'), VERBS.manageLicenses, selection, { inputs: true }));
  }
  if (m.permissions.resetPassword) actions.push(execute(t('users.resetPassword'), VERBS.resetPassword, selection, { inputs: true }));
  if (m.permissions.manageUsers) actions.push(execute(t('users.delete'), VERBS.deleteUsers, selection, { inputs: true, style: 'destructive' }));
  actions.push(execute(t('users.deleted', { count: m.deletedCount }), VERBS.deletedUsers, { customerId: m.customer.id }));
  return card(body, actions);
}

// ------------------------------------------------------------------ licenses

export function licensesCard(t: T, m: { customer: Customer; subscriptions: Subscription[] }): AdaptiveCard {
  const body: CardElement[] = [heading(t('licenses.title', { customer: m.customer.name }))];
  if (!m.subscriptions.length) body.push(text(t('licenses.empty')));
  for (const s of m.subscriptions) {
    const lines = [
      text(t('licenses.line', { name: s.name, sku: s.skuId }), { weight: 'Bolder' }),
      text(t('licenses.seats', { total: s.totalSeats, assigned: s.assignedSeats, available: s.availableSeats }), { spacing: 'None' }),
    ];
    if (s.availableSeats <= 0) lines.push(text(t('licenses.full'), { color: 'Attention', spacing: 'None' }));
    body.push(container(lines, { separator: true }));
  }
  return card(body, [execute(t('common.back'), VERBS.users, { customerId: m.customer.id })]);
}

// ------------------------------------------------------------------ add user

export interface AddUserFormModel {
  customer: Customer;
  subscriptions: Subscription[];
  operationId: string;
  /** Series of "Save and add another": the passwords are collected under it until Finish. */
  series?: { id: string; key: string };
  addedSoFar?: number;
  lastAdded?: { displayName: string; userPrincipalName: string };
  /** Values to show again after an error. */
  values?: Partial<Record<'firstName' | 'lastName' | 'displayName' | 'username' | 'domain' | 'usageLocation' | 'role' | 'licenses', string>>;
  error?: string;
}

export function addUserCard(t: T, m: AddUserFormModel): AdaptiveCard {
  const v = m.values ?? {};
  const body: CardElement[] = [heading(t('addUser.title', { customer: m.customer.name }))];
  if (m.lastAdded) body.push(text(t('addUser.added', { name: m.lastAdded.displayName, upn: m.lastAdded.userPrincipalName }), { color: 'Good' }));
  if (m.addedSoFar) body.push(text(t('addUser.addedSoFar', { count: m.addedSoFar }), { isSubtle: true }));
  if (m.error) body.push(text(m.error, { color: 'Attention' }));
  const required = t('addUser.required');
  body.push(
    textInput(INPUTS.firstName, t('addUser.firstName'), { value: v.firstName, maxLength: 64 }),
    textInput(INPUTS.lastName, t('addUser.lastName'), { value: v.lastName, maxLength: 64 }),
    textInput(INPUTS.displayName, t('addUser.displayName'), { value: v.displayName, maxLength: 256, required: true, errorMessage: required }),
    textInput(INPUTS.username, t('addUser.username'), { value: v.username, maxLength: 64, required: true, errorMessage: required }),
    choiceSet(INPUTS.domain, t('addUser.domain'), m.customer.domains.map((d) => ({ title: `@${d}`, value: d })), {
      value: v.domain ?? m.customer.domains[0],
      required: true,
      errorMessage: required,
    }),
    textInput(INPUTS.usageLocation, t('addUser.usageLocation'), { value: v.usageLocation, maxLength: 2, required: true, errorMessage: required }),
    choiceSet(INPUTS.role, t('addUser.role'), USER_ROLES.map((r) => ({ title: t(`role.${r}`), value: r })), { value: v.role ?? 'user' }),
  );
  if (m.subscriptions.length) {
    body.push(
      choiceSet(
        INPUTS.licenses,
        t('addUser.licenses'),
        m.subscriptions.map((s) => ({ title: t('addUser.licenseChoice', { name: s.name, available: Math.max(0, s.availableSeats), total: s.totalSeats }), value: s.skuId })),
        { multi: true, expanded: true, value: v.licenses },
      ),
    );
  }
  const series = { seriesId: m.series?.id ?? '', seriesKey: m.series?.key ?? '' };
  const data = { customerId: m.customer.id, operationId: m.operationId, ...series, addedSoFar: m.addedSoFar ?? 0 };
  const actions = [
    execute(t('addUser.save'), VERBS.createUser, { ...data, addAnother: false }, { inputs: true, style: 'positive' }),
    execute(t('addUser.saveAndAdd'), VERBS.createUser, { ...data, addAnother: true }, { inputs: true }),
  ];
  // Finishing a series sends the one confirmation with every password to the agent's 1:1 chat.
  if (m.series && m.addedSoFar) actions.push(execute(t('addUser.finish'), VERBS.finishSeries, { customerId: m.customer.id, ...series }));
  else actions.push(execute(t('common.cancel'), VERBS.users, { customerId: m.customer.id }));
  return card(body, actions);
}

export interface CredentialsModel {
  customer: Customer;
  users: Array<{ displayName: string; userPrincipalName: string; licenses: string[]; password?: string }>;
  subscriptions: Subscription[];
  /** True when the passwords went to the agent's 1:1 chat instead of this card. */
  sentPrivately?: boolean;
  downloadUrl?: string;
  notice?: string;
}

/** Users just created or reset; passwords only when this card goes to the agent's 1:1 chat. */
export function credentialsCard(t: T, m: CredentialsModel, title: string): AdaptiveCard {
  const body: CardElement[] = [heading(title)];
  for (const u of m.users) {
    const items = [text(`${u.displayName} \u2014 ${u.userPrincipalName}`, { weight: 'Bolder' })];
    if (u.licenses.length) items.push(field(t('created.licenses'), licenseNames(m.subscriptions, u.licenses, t)));
    if (u.password) items.push(field(t('created.password'), u.password));
    body.push(container(items, { separator: true }));
  }
  if (m.users.some((u) => u.password)) body.push(text(t('created.mustChange'), { isSubtle: true }));
  if (m.sentPrivately) body.push(text(t('created.sentPrivately')));
  if (m.notice) body.push(text(m.notice, { color: 'Attention' }));
  const actions: CardAction[] = [execute(t('common.back'), VERBS.users, { customerId: m.customer.id })];
  if (m.downloadUrl) {
    body.push(text(t('created.downloadHint'), { isSubtle: true }));
    actions.unshift({ type: 'Action.OpenUrl', title: t('created.download'), url: m.downloadUrl });
  }
  return card(body, actions);
}

// ------------------------------------------------------------------ manage licenses

export interface ManageLicensesModel {
  customer: Customer;
  subscriptions: Subscription[];
  users: CustomerUser[];
  operationId: string;
  /** Set when the users were saved in the store with the card (too many ids and versions for its data). */
  selectionId?: string;
}

export function licenseStateOf(skuId: string, users: CustomerUser[]): LicenseState {
  const holders = users.filter((u) => u.licenses.includes(skuId)).length;
  return holders === 0 ? 'none' : holders === users.length ? 'all' : 'some';
}

export function manageLicensesCard(t: T, m: ManageLicensesModel): AdaptiveCard {
  const names = m.users.map((u) => u.displayName);
  const body: CardElement[] = [
    heading(t('manage.title', { customer: m.customer.name })),
    text(t('manage.selected', { names: names.length > 10 ? t('manage.selectedMore', { names: names.slice(0, 10).join(', '), more: names.length - 10 }) : names.join(', ') })),
  ];
  const initial: Record<string, LicenseState> = {};
  for (const s of m.subscriptions) {
    const state = licenseStateOf(s.skuId, m.users);
    initial[s.skuId] = state;
    const holders = m.users.filter((u) => u.licenses.includes(s.skuId)).length;
    const choices = [
      { title: t('manage.state.all'), value: 'all' },
      ...(state === 'some' ? [{ title: t('manage.state.some'), value: 'some' }] : []),
      { title: t('manage.state.none'), value: 'none' },
    ];
    body.push(
      choiceSet(licenseStateInput(s.skuId), t('manage.label', { name: s.name, available: Math.max(0, s.availableSeats), holders, selected: m.users.length }), choices, {
        value: state,
      }),
    );
  }
  if (m.subscriptions.length > 1) {
    // Replace: holders of one license move to another; their other licenses stay as they are.
    const choices = m.subscriptions.map((s) => ({ title: s.name, value: s.skuId }));
    body.push(
      text(t('manage.replaceHint'), { separator: true, isSubtle: true }),
      choiceSet('replaceFrom', t('manage.replaceFrom'), choices, { placeholder: t('common.none') }),
      choiceSet('replaceTo', t('manage.replaceTo'), choices, { placeholder: t('common.none') }),
    );
  }
  const selected = m.selectionId ? { selectionId: m.selectionId } : { userIds: m.users.map((u) => u.id), versions: versionsOf(m.users) };
  const data = { customerId: m.customer.id, operationId: m.operationId, ...selected, initial };
  return card(body, [
    execute(t('manage.save'), VERBS.saveLicenses, data, { inputs: true, style: 'positive' }),
    execute(t('common.cancel'), VERBS.users, { customerId: m.customer.id }),
  ]);
}

export interface LicenseResultsModel {
  customer: Customer;
  subscriptions: Subscription[];
  results: Array<{ user: Pick<CustomerUser, 'displayName' | 'userPrincipalName'>; changed: boolean; added: string[]; removed: string[] }>;
}

const RESULTS_BUDGET_BYTES = 20 * 1024;

export function licenseResultsCard(t: T, m: LicenseResultsModel): AdaptiveCard {
  const body: CardElement[] = [heading(t('manage.resultsTitle', { customer: m.customer.name }))];
  if (!m.results.some((r) => r.changed)) body.push(text(t('manage.nothingChanged')));
  // As many results as fit well under Teams' 28 KB card limit; the rest are counted.
  let bytes = 0;
  let shown = 0;
  for (const r of m.results) {
    const entry = container(
      [
        text(`${r.user.displayName} \u2014 ${r.user.userPrincipalName}`, { weight: 'Bolder' }),
        text(
          r.changed
            ? t('manage.userChanged', { added: licenseNames(m.subscriptions, r.added, t), removed: licenseNames(m.subscriptions, r.removed, t) })
            : t('manage.userUnchanged'),
          { spacing: 'None' },
        ),
      ],
      { separator: true },
    );
    bytes += Buffer.byteLength(JSON.stringify(entry));
    if (bytes > RESULTS_BUDGET_BYTES) break;
    body.push(entry);
    shown++;
  }
  if (shown < m.results.length) body.push(text(t('manage.moreResults', { count: m.results.length - shown }), { isSubtle: true, separator: true }));
  return card(body, [execute(t('common.back'), VERBS.users, { customerId: m.customer.id }), execute(t('users.licensesButton'), VERBS.licenses, { customerId: m.customer.id })]);
}

// ------------------------------------------------------------------ confirmations

export function confirmResetCard(t: T, m: { customer: Customer; user: CustomerUser; operationId: string }): AdaptiveCard {
  return card(
    [heading(t('reset.title')), text(t('reset.confirm', { name: m.user.displayName, upn: m.user.userPrincipalName }))],
    [
      execute(t('reset.button'), VERBS.confirmResetPassword, { customerId: m.customer.id, userId: m.user.id, version: m.user.version, operationId: m.operationId }, { style: 'destructive' }),
      execute(t('common.cancel'), VERBS.users, { customerId: m.customer.id }),
    ],
  );
}

export function confirmDeleteCard(t: T, m: { customer: Customer; users: CustomerUser[]; operationId: string }): AdaptiveCard {
  return card(
    [
      heading(t('delete.title')),
      text(t('delete.confirm', { count: m.users.length })),
      ...m.users.slice(0, 50).map((u) => text(`${u.displayName} \u2014 ${u.userPrincipalName}`, { spacing: 'None' })),
    ],
    [
      execute(t('delete.button'), VERBS.confirmDeleteUsers, { customerId: m.customer.id, userIds: m.users.map((u) => u.id), versions: versionsOf(m.users), operationId: m.operationId }, { style: 'destructive' }),
      execute(t('common.cancel'), VERBS.users, { customerId: m.customer.id }),
    ],
  );
}

// ------------------------------------------------------------------ deleted users and restore

export interface DeletedUsersModel {
  customer: Customer;
  users: DeletedUser[];
  canRestore: boolean;
  operationId: string;
  /** Results of the restore that produced this view, shown above the remaining deleted users. */
  restored?: { outcomes: RestoreOutcome[]; subscriptions: Subscription[] };
}

export function deletedUsersCard(t: T, m: DeletedUsersModel): AdaptiveCard {
  const body: CardElement[] = [];
  if (m.restored) body.push(heading(t('restore.title', { customer: m.customer.name })), ...restoreResultsLines(t, m.restored.outcomes, m.restored.subscriptions));
  body.push(heading(t('deleted.title', { customer: m.customer.name })));
  const shown = m.users.slice(0, 50);
  if (!shown.length) body.push(text(t('deleted.empty')));
  else {
    body.push(
      choiceSet(
        INPUTS.userIds,
        t('users.select'),
        shown.map((u) => ({
          title: t('deleted.choice', { name: u.displayName, upn: u.userPrincipalName, days: t('deleted.daysLeft', { count: u.daysLeft }) }),
          value: u.id,
        })),
        { multi: true, expanded: true },
      ),
    );
    if (m.canRestore) body.push(textInput(INPUTS.newUsername, t('deleted.newUsername'), { maxLength: 64 }));
  }
  const actions: CardAction[] = [];
  if (m.canRestore && shown.length) {
    actions.push(execute(t('deleted.restore'), VERBS.restoreUsers, { customerId: m.customer.id, operationId: m.operationId, versions: versionsOf(shown) }, { inputs: true, style: 'positive' }));
  }
  actions.push(execute(t('common.back'), VERBS.users, { customerId: m.customer.id }));
  return card(body, actions);
}

function restoreResultsLines(t: T, outcomes: RestoreOutcome[], subscriptions: Subscription[]): CardElement[] {
  return outcomes.map((o) => {
    if (!o.ok) return container([text(t(`restore.error.${o.error}`, { upn: o.userPrincipalName }), { color: 'Attention' })], { separator: true });
    const items = [text(t('restore.ok', { upn: o.userPrincipalName }), { weight: 'Bolder' })];
    if (o.restoredLicenses.length) items.push(text(t('restore.licensesBack', { licenses: licenseNames(subscriptions, o.restoredLicenses, t) }), { spacing: 'None' }));
    if (o.notRestoredLicenses.length) {
      items.push(text(t('restore.licensesNotBack', { licenses: licenseNames(subscriptions, o.notRestoredLicenses, t) }), { spacing: 'None', color: 'Attention' }));
    }
    return container(items, { separator: true });
  });
}

// ------------------------------------------------------------------ audit

/** Actions the directory records (services/directory.ts); a refused request records the command's name instead. */
const AUDIT_ACTIONS: Record<string, MessageKey> = {
  provision: 'audit.action.provision',
  'create-user': 'audit.action.create-user',
  'change-licenses': 'audit.action.change-licenses',
  'reset-password': 'audit.action.reset-password',
  'delete-users': 'audit.action.delete-users',
  'restore-users': 'audit.action.restore-users',
  purge: 'audit.action.purge',
};

/** Error codes a change script records as its result (services/store/scripts.ts). */
const AUDIT_REASONS: Record<string, MessageKey> = {
  USER_NOT_FOUND: 'audit.reason.USER_NOT_FOUND',
  INVALID_FIELD: 'audit.reason.INVALID_FIELD',
  UPN_TAKEN: 'audit.reason.UPN_TAKEN',
  NO_SEATS: 'audit.reason.NO_SEATS',
  UNKNOWN_LICENSE: 'audit.reason.UNKNOWN_LICENSE',
  RESTORE_WINDOW_OVER: 'audit.reason.RESTORE_WINDOW_OVER',
  STALE: 'audit.reason.STALE',
  NOT_ACTIVE: 'audit.reason.NOT_ACTIVE',
  NOT_DELETED: 'audit.reason.NOT_DELETED',
  SEATS_BELOW_ASSIGNED: 'audit.reason.SEATS_BELOW_ASSIGNED',
  DOMAIN_NOT_IN_CUSTOMER: 'audit.reason.DOMAIN_NOT_IN_CUSTOMER',
};

const AGENT_ROLE_KEYS: Record<string, MessageKey> = { admin: 'agentRole.admin', helpdesk: 'agentRole.helpdesk', none: 'agentRole.none' };

const auditReason = (t: T, code: string): string => (Object.hasOwn(AUDIT_REASONS, code) ? t(AUDIT_REASONS[code]) : code);

const auditAction = (t: T, action: string): string =>
  Object.hasOwn(AUDIT_ACTIONS, action) ? t(AUDIT_ACTIONS[action]) : t('audit.action.command', { command: action });

/** The directory's targets are a UPN, a customer id, "N user(s)" or "expired users". */
function auditTarget(t: T, target: string): string {
  const many = /^(\d+) user\(s\)$/.exec(target);
  if (many) return t('common.users', { count: Number(many[1]) });
  return target === 'expired users' ? t('audit.target.expiredUsers') : target;
}

/** "ok", an error code, or "refused: role <role>" / "refused: tenant <id>" (bot/adminBot.ts). */
function auditResult(t: T, result: string): string {
  if (result === 'ok') return t('audit.result.ok');
  const refused = /^refused: (\w+) ?(.*)$/.exec(result);
  if (refused) {
    const [, kind, value] = refused;
    if (kind === 'role' && Object.hasOwn(AGENT_ROLE_KEYS, value)) return t('audit.result.refusedRole', { role: t(AGENT_ROLE_KEYS[value]) });
    if (kind === 'tenant') return t('audit.result.refusedTenant', { tenant: value });
    return t('audit.result.refused', { reason: `${kind} ${value}`.trim() });
  }
  return t('audit.result.failed', { reason: auditReason(t, result) });
}

/**
 * The detail is data (UPNs, sku ids, error parameters) except for the summaries the change scripts write in
 * words: licenses ("+A,B -C users=3 changed=2"), restores ("upn=OK(not restored: A) upn=UPN_TAKEN") and
 * provisioning ("customer SKU=25").
 */
function auditDetail(t: T, e: AuditEntry): string {
  const none = (skus: string) => (skus ? skus.split(',').join(', ') : t('common.none'));
  const licenses = e.result === 'ok' && e.action === 'change-licenses' ? /^\+(\S*) -(\S*) users=(\d+) changed=(\d+)$/.exec(e.detail) : null;
  if (licenses) return t('audit.detail.licenses', { added: none(licenses[1]), removed: none(licenses[2]), users: Number(licenses[3]), changed: Number(licenses[4]) });
  if (e.result === 'ok' && e.action === 'restore-users') {
    const items = [...e.detail.matchAll(/(\S+?)=(\w+)(?:\(not restored: ([^)]*)\))?(?: |$)/g)];
    if (items.length && items.map((m) => m[0]).join('') === e.detail) {
      return items
        .map(([, upn, status, missing]) =>
          status !== 'OK'
            ? t('audit.detail.notRestored', { upn, reason: auditReason(t, status) })
            : missing
              ? t('audit.detail.restoredWithout', { upn, licenses: missing.split(',').join(', ') })
              : t('audit.detail.restored', { upn }),
        )
        .join(' \u00b7 ');
    }
  }
  if (e.result === 'ok' && e.action === 'provision') {
    const parts = e.detail.split(' ').map((item) => {
      if (item === 'customer') return t('audit.detail.customerChanged');
      const seats = /^(\S+)=(\d+)$/.exec(item);
      return seats ? t('audit.detail.seats', { license: seats[1], count: Number(seats[2]) }) : undefined;
    });
    if (parts.every((part) => part !== undefined)) return parts.join(' \u00b7 ');
  }
  return e.detail;
}

/** System actors have a name in the catalog; agents are shown by their name. */
const auditActor = (t: T, e: AuditEntry): string => (e.actorId === 'provisioning' ? t('audit.actor.provisioning') : e.actorName);

export function auditCard(t: T, m: { customer: Customer; entries: AuditEntry[]; page: number; total: number; pageSize: number }): AdaptiveCard {
  const body: CardElement[] = [heading(t('audit.title', { customer: m.customer.name }))];
  if (!m.entries.length) body.push(text(t('audit.empty')));
  for (const e of m.entries) {
    const lines = [text(t('audit.entry', { when: new Date(e.at), actor: auditActor(t, e), action: auditAction(t, e.action), target: auditTarget(t, e.target), result: auditResult(t, e.result) }))];
    if (e.detail) lines.push(text(t('audit.detail', { detail: auditDetail(t, e) }), { isSubtle: true, spacing: 'None' }));
    body.push(container(lines, { separator: true }));
  }
  const pageCount = Math.max(1, Math.ceil(m.total / m.pageSize));
  const actions: CardAction[] = [];
  if (m.page > 1) actions.push(execute(t('common.previous'), VERBS.audit, { customerId: m.customer.id, page: m.page - 1 }));
  if (m.page < pageCount) actions.push(execute(t('common.next'), VERBS.audit, { customerId: m.customer.id, page: m.page + 1 }));
  if (pageCount > 1) body.push(text(t('common.page', { page: m.page, pageCount }), { isSubtle: true }));
  return card(body, actions);
}
