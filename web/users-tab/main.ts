/**
 * The Users and licenses tab (personal tab, and the content of a channel or chat tab), bundled by esbuild
 * (scripts/dialogBundle.ts) into dist/dialogs/users-tab.js. No framework: the server sends the texts of the agent's
 * language (bot/tab/page.ts); the data comes from the JSON API (bot/tab/api.ts) with the Teams SSO token.
 *
 * Inside Teams: `app.initialize()`, the theme from `app.getContext()` and `registerOnThemeChangeHandler`, the customer
 * and filter of an "Open in tab" deep link from `page.subPageId`, the token from `authentication.getAuthToken()`.
 * Outside Teams (or without a token) nothing is shown but the request to open the page in Teams.
 */
import { app, authentication, pages } from '@microsoft/teams-js';
import { TabApi, type ApiError } from './api';
import { ROW_HEIGHT, VirtualTable } from './table';

type Message = string | { one?: string; other: string };
interface Config {
  mode: 'content' | 'config';
  locale: string;
  contentUrl: string;
  messages: Record<string, Message>;
}
interface Row {
  id: string;
  version: number;
  displayName: string;
  userPrincipalName: string;
  licenses: string[];
  role: string;
  state: string;
}
interface DeletedRow extends Row {
  daysLeft: number;
}
interface Subscription {
  skuId: string;
  name: string;
  totalSeats: number;
  assignedSeats: number;
  availableSeats: number;
}
interface Counts {
  active: number;
  unlicensed: number;
  deleted: number;
}
/** A change of more users than one change takes, running on the server (bot/tab/api.ts, services/bulkChanges.ts). */
interface JobProgress {
  job: { id: string; kind: 'licenses' | 'delete'; state: 'running' | 'undoing' | 'done' | 'refused' | 'incomplete'; total: number; processed: number; changed: number };
  message: string;
  subscriptions?: Subscription[];
  counts?: Counts;
}
interface Me {
  name: string;
  role: string;
  roleLabel: string;
  permissions: { manageUsers: boolean; resetPassword: boolean; restore: boolean; read: boolean };
}

const INIT_TIMEOUT_MS = 2000;
/** How often a running bulk change's progress is asked for. */
const JOB_POLL_MS = 500;
const ROLES = ['user', 'global-admin', 'billing-admin', 'user-admin', 'password-admin', 'helpdesk-admin', 'service-admin'];

const config = JSON.parse(document.getElementById('tab-config')?.textContent ?? '{}') as Config;
const plural = new Intl.PluralRules(config.locale);
const numbers = new Intl.NumberFormat(config.locale);

/** The catalog's formatter, in the browser: `{name}` placeholders, plural forms by `count`, numbers for the locale. */
function t(key: string, params: Record<string, string | number> = {}): string {
  const message = config.messages[key] ?? key;
  const template = typeof message === 'string' ? message : ((message as Record<string, string>)[plural.select(Number(params.count ?? 0))] ?? message.other);
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    if (value === undefined) return whole;
    return typeof value === 'number' ? numbers.format(value) : value;
  });
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<string, string>> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) if (v !== undefined) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}

function applyTheme(theme: string | undefined): void {
  document.documentElement.dataset.theme = theme === 'dark' ? 'dark' : theme === 'contrast' ? 'contrast' : 'light';
}

const main = document.getElementById('app') as HTMLElement;
const status = document.getElementById('status') as HTMLElement;

const summaryPath = (customerId: string) => `/customers/${encodeURIComponent(customerId)}`;
const usersPath = (customerId: string, query: { filter: string; role: string; search: string }, offset: number, order: 'asc' | 'desc') =>
  `/customers/${encodeURIComponent(customerId)}/users?${new URLSearchParams({ ...query, offset: String(offset), order }).toString()}`;

function notInTeams(): void {
  document.body.dataset.host = 'standalone';
  status.textContent = t('tab.openInTeams');
  status.setAttribute('role', 'alert');
  main.removeAttribute('aria-busy');
}

/** What a deep link opens: `{"customer":"litware","filter":"unlicensed"}`, with `role` and `search` when set. */
interface SubPage {
  customer?: string;
  filter?: string;
  role?: string;
  search?: string;
}

function parseSubPage(value: string | undefined): SubPage {
  try {
    const parsed = JSON.parse(value ?? '') as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return { customer: text(parsed.customer), filter: text(parsed.filter), role: text(parsed.role), search: text(parsed.search) };
  } catch {
    return {};
  }
}

async function start(): Promise<void> {
  try {
    await withTimeout(app.initialize(), INIT_TIMEOUT_MS);
  } catch {
    return notInTeams();
  }
  let subPage: SubPage = {};
  const getToken = () => authentication.getAuthToken();
  // The context and the token are asked for together: each is a round trip to the Teams host.
  const tokenAsked = config.mode === 'config' ? undefined : withTimeout(getToken(), 10_000);
  tokenAsked?.catch(() => undefined);
  try {
    const context = await withTimeout(app.getContext(), INIT_TIMEOUT_MS);
    applyTheme(context.app.theme);
    subPage = parseSubPage(context.page.subPageId);
  } catch {
    // The default theme will do.
  }
  app.registerOnThemeChangeHandler(applyTheme);
  if (!tokenAsked) return configure();
  let token: string;
  try {
    token = await tokenAsked;
  } catch {
    app.notifyFailure({ reason: app.FailedReason.AuthFailed });
    return notInTeams();
  }
  const api = new TabApi(token, getToken, config.locale);
  // The first screen's reads go out with /me, not after it (the server checks the token and the role on each).
  api.prefetch('/customers?q=');
  if (subPage.customer) {
    api.prefetch(summaryPath(subPage.customer));
    api.prefetch(usersPath(subPage.customer, { filter: subPage.filter ?? 'all', role: subPage.role ?? '', search: subPage.search ?? '' }, 0, 'asc'));
  }
  const me = await api.call<Me>('GET', '/me');
  if (!me.ok) {
    app.notifyFailure({ reason: app.FailedReason.AuthFailed });
    return notInTeams();
  }
  app.notifySuccess();
  document.body.dataset.host = 'teams';
  new UsersTab(api, me.value, subPage).show();
}

/** The configurable tab's configuration page: the same page, saved as the tab's content. */
function configure(): void {
  document.body.dataset.host = 'teams';
  status.textContent = t('tab.chooseCustomer');
  main.removeAttribute('aria-busy');
  pages.config.registerOnSaveHandler((saveEvent) => {
    void pages.config
      .setConfig({ contentUrl: `${config.contentUrl}?locale={locale}`, websiteUrl: config.contentUrl, entityId: 'users', suggestedDisplayName: t('tab.title') })
      .then(() => saveEvent.notifySuccess(), (err: Error) => saveEvent.notifyFailure(err.message));
  });
  pages.config.setValidityState(true);
  app.notifySuccess();
}

class UsersTab {
  private customerId = '';
  private customerName = '';
  private subscriptions: Subscription[] = [];
  private counts: Counts = { active: 0, unlicensed: 0, deleted: 0 };
  private filter = 'all';
  private role = '';
  private search = '';
  private order: 'asc' | 'desc' = 'asc';
  /** Users picked one by one, with the versions they were seen at (the stale check). */
  private readonly picked = new Map<string, number>();
  /** "All matching": a selection saved by the server for the current view. */
  private allMatching: { selectionId: string; count: number } | null = null;
  private view: 'users' | 'deleted' = 'users';
  private deleted: DeletedRow[] = [];
  private readonly pickedDeleted = new Map<string, number>();
  private table?: VirtualTable<Row>;
  private readonly root = el('div', { class: 'tab' });
  private readonly notice = el('p', { id: 'notice', class: 'notice', role: 'status', 'aria-live': 'polite' });
  private readonly error = el('p', { id: 'error', class: 'error', role: 'alert' });

  constructor(
    private readonly api: TabApi,
    private readonly me: Me,
    private readonly start: SubPage,
  ) {}

  show(): void {
    status.remove();
    main.removeAttribute('aria-busy');
    main.append(this.root);
    // The deep link's customer opens while the picker's list arrives (its select shows the customer once filled).
    // (renderPicker puts the customer view in place before its first await.)
    void this.renderPicker();
    if (this.start.customer) {
      this.filter = this.start.filter ?? this.filter;
      this.role = this.start.role ?? '';
      this.search = this.start.search ?? '';
      void this.openCustomer(this.start.customer);
    }
  }

  private say(message: string): void {
    this.error.textContent = '';
    this.notice.textContent = message;
  }

  private fail(problem: ApiError): void {
    this.notice.textContent = '';
    this.error.textContent = problem.status === 401 ? t('tab.openInTeams') : (problem.message ?? t('error.internal'));
  }

  // ---------------------------------------------------------------- customer picker

  private async renderPicker(): Promise<void> {
    const search = el('input', { id: 'customer-search', type: 'search', autocomplete: 'off', maxlength: '100' });
    const select = el('select', { id: 'customer' });
    const picker = el(
      'section',
      { class: 'picker', 'aria-label': t('tab.customer') },
      el('div', { class: 'field' }, el('label', { for: 'customer-search' }, t('tab.customerSearch')), search),
      el('div', { class: 'field' }, el('label', { for: 'customer' }, t('tab.customer')), select),
    );
    this.root.replaceChildren(picker, this.notice, this.error, el('div', { id: 'customer-view' }, el('p', { class: 'hint' }, t('tab.chooseCustomer'))));
    const fill = async () => {
      const listed = await this.api.call<{ customers: Array<{ id: string; name: string; domain: string }> }>('GET', `/customers?q=${encodeURIComponent(search.value)}`);
      if (!listed.ok) return this.fail(listed.problem);
      const options = listed.value.customers.map((c) => el('option', { value: c.id }, `${c.name} (${c.domain})`));
      select.replaceChildren(el('option', { value: '' }, t('tab.chooseCustomer')), ...options);
      if (!listed.value.customers.length) select.replaceChildren(el('option', { value: '' }, t('tab.noCustomers')));
      if (this.customerId) select.value = this.customerId;
    };
    let timer = 0;
    search.addEventListener('input', () => {
      clearTimeout(timer);
      timer = window.setTimeout(() => void fill(), 200);
    });
    select.addEventListener('change', () => {
      if (select.value) {
        this.filter = 'all';
        this.role = '';
        this.search = '';
        void this.openCustomer(select.value);
      }
    });
    await fill();
  }

  // ---------------------------------------------------------------- one customer

  private async loadSummary(): Promise<boolean> {
    const summary = await this.api.call<{ customer: { id: string; name: string }; subscriptions: Subscription[]; counts: Counts }>('GET', summaryPath(this.customerId));
    if (!summary.ok) {
      this.fail(summary.problem);
      return false;
    }
    this.customerName = summary.value.customer.name;
    this.subscriptions = summary.value.subscriptions;
    this.counts = summary.value.counts;
    return true;
  }

  private async openCustomer(customerId: string): Promise<void> {
    this.customerId = customerId;
    this.view = 'users';
    this.clearSelection();
    const select = document.getElementById('customer') as HTMLSelectElement | null;
    if (select) select.value = customerId;
    if (!(await this.loadSummary())) return;
    this.renderCustomer();
  }

  private viewQuery(): { filter: string; role: string; search: string } {
    return { filter: this.filter, role: this.role, search: this.search };
  }

  private selectedCount(): number {
    return this.allMatching ? this.allMatching.count : this.picked.size;
  }

  private clearSelection(): void {
    this.picked.clear();
    this.allMatching = null;
  }

  private renderSeats(): HTMLElement {
    return el(
      'ul',
      { id: 'seats', class: 'seats', 'aria-label': t('tab.col.licenses') },
      ...this.subscriptions.map((s) => el('li', {}, t('tab.seats', { name: s.name, assigned: s.assignedSeats, total: s.totalSeats, available: s.availableSeats }))),
    );
  }

  private renderCustomer(): void {
    const view = document.getElementById('customer-view') as HTMLElement;
    if (this.view === 'deleted') return void this.renderDeleted(view);
    const filter = el('select', { id: 'filter' });
    const filters: Array<[string, string]> = [
      ['all', t('users.filter.all')],
      ['licensed', t('users.filter.licensed')],
      ['unlicensed', t('users.filter.unlicensed')],
      ...this.subscriptions.map((s): [string, string] => [`license:${s.skuId}`, t('users.filter.license', { license: s.name })]),
    ];
    filter.append(...filters.map(([value, label]) => el('option', { value }, label)));
    filter.value = this.filter;
    const role = el('select', { id: 'role' }, el('option', { value: '' }, t('tab.roleAny')), ...ROLES.map((r) => el('option', { value: r }, t(`role.${r}`))));
    role.value = this.role;
    const search = el('input', { id: 'search', type: 'search', maxlength: '100', autocomplete: 'off' });
    search.value = this.search;
    const count = el('p', { id: 'count', class: 'count', 'aria-live': 'polite' });
    const deletedButton = el('button', { type: 'button', id: 'show-deleted' }, `${t('tab.deletedView')} (${numbers.format(this.counts.deleted)})`);
    const controls = el(
      'div',
      { class: 'controls' },
      el('div', { class: 'field' }, el('label', { for: 'filter' }, t('users.filter')), filter),
      el('div', { class: 'field' }, el('label', { for: 'role' }, t('tab.role')), role),
      el('div', { class: 'field grow' }, el('label', { for: 'search' }, t('users.search')), search),
      deletedButton,
    );
    const sortButton = el('button', { type: 'button', id: 'sort', class: 'sort', 'aria-label': `${t('tab.sortBy')}: ${this.order === 'asc' ? t('tab.sortAsc') : t('tab.sortDesc')}` }, t('tab.col.name'), el('span', { 'aria-hidden': 'true' }, this.order === 'asc' ? ' \u25b2' : ' \u25bc'));
    const nameHeader = el('th', { scope: 'col', 'aria-sort': this.order === 'asc' ? 'ascending' : 'descending' }, sortButton);
    const table = el(
      'table',
      { id: 'users', class: 'users', 'aria-label': t('tab.table', { customer: this.customerName }), 'aria-rowcount': '1' },
      el(
        'thead',
        {},
        el('tr', { 'aria-rowindex': '1' }, el('th', { scope: 'col', class: 'check' }, el('span', { class: 'visually-hidden' }, t('tab.col.select'))), nameHeader, ...['tab.col.upn', 'tab.col.licenses', 'tab.col.role', 'tab.col.status'].map((k) => el('th', { scope: 'col' }, t(k)))),
      ),
      el('tbody'),
    );
    const scroller = el('div', { id: 'scroller', class: 'scroller', tabindex: '-1' }, table);
    const selection = el('section', { id: 'selection', class: 'selection', 'aria-label': t('tab.actions') });
    view.replaceChildren(el('h2', { id: 'customer-title' }, `${t('tab.title')} \u2014 ${this.customerName}`), this.renderSeats(), controls, count, selection, scroller);

    const licenseName = (sku: string) => this.subscriptions.find((s) => s.skuId === sku)?.name ?? sku;
    this.table = new VirtualTable<Row>(
      table,
      scroller,
      6,
      async (offset) => {
        const page = await this.api.call<{ total: number; users: Row[] }>('GET', usersPath(this.customerId, this.viewQuery(), offset, this.order));
        if (!page.ok) {
          this.fail(page.problem);
          return null;
        }
        return { total: page.value.total, rows: page.value.users };
      },
      (u, index) => {
        const box = el('input', { type: 'checkbox', id: `pick-${index}`, 'aria-label': t('tab.selectRow', { name: u.displayName }) });
        box.checked = !!this.allMatching || this.picked.has(u.id);
        box.disabled = !!this.allMatching;
        box.addEventListener('change', () => {
          if (box.checked) this.picked.set(u.id, u.version);
          else this.picked.delete(u.id);
          this.renderSelection();
        });
        const tr = el(
          'tr',
          { 'data-user': u.id },
          el('td', { class: 'check' }, box),
          el('th', { scope: 'row' }, u.displayName),
          el('td', {}, u.userPrincipalName),
          el('td', {}, u.licenses.length ? u.licenses.map(licenseName).join(', ') : t('users.filter.unlicensed')),
          el('td', {}, t(`role.${u.role}`)),
          el('td', {}, t(u.state === 'active' ? 'tab.status.active' : 'tab.status.deleted')),
        );
        tr.style.height = `${ROW_HEIGHT}px`;
        return tr;
      },
      (total) => {
        count.textContent = t('tab.count', { shown: total, count: this.counts.active });
        this.renderSelection();
      },
    );
    const reload = () => {
      this.clearSelection();
      void this.table?.reset();
    };
    filter.addEventListener('change', () => {
      this.filter = filter.value;
      reload();
    });
    role.addEventListener('change', () => {
      this.role = role.value;
      reload();
    });
    let timer = 0;
    search.addEventListener('input', () => {
      clearTimeout(timer);
      timer = window.setTimeout(() => {
        this.search = search.value.trim();
        reload();
      }, 250);
    });
    sortButton.addEventListener('click', () => {
      this.order = this.order === 'asc' ? 'desc' : 'asc';
      this.renderCustomer();
      document.getElementById('sort')?.focus();
    });
    deletedButton.addEventListener('click', () => {
      this.view = 'deleted';
      void this.loadDeleted();
    });
    count.textContent = t('tab.loading');
    void this.table.reset().then(() => this.renderSelection());
  }

  private renderSelection(force = false): void {
    const section = document.getElementById('selection');
    if (!section || !this.table) return;
    const n = this.selectedCount();
    const p = this.me.permissions;
    // Drawn again only when what it shows changed (a control being clicked must not be replaced under the pointer).
    const key = `${n}|${this.allMatching?.selectionId ?? ''}|${this.table.count}|${this.subscriptions.map((s) => s.availableSeats).join(',')}`;
    if (section.dataset.key === key && !force) return;
    section.dataset.key = key;
    const items: HTMLElement[] = [el('span', { id: 'selected-count', class: 'selected-count' }, t('tab.selected', { count: n }))];
    if (p.manageUsers && !this.allMatching && this.table.count > 0) {
      const all = el('button', { type: 'button', id: 'select-all' }, t('tab.selectAllMatching', { count: this.table.count }));
      all.addEventListener('click', () => void this.selectAllMatching());
      items.push(all);
    }
    if (n) {
      const clear = el('button', { type: 'button', id: 'clear-selection' }, t('tab.clearSelection'));
      clear.addEventListener('click', () => {
        this.clearSelection();
        this.table?.rerender();
        this.renderSelection();
      });
      items.push(clear);
    }
    if (p.manageUsers && n) {
      const license = el('select', { id: 'license' }, ...this.subscriptions.map((s) => el('option', { value: s.skuId }, `${s.name} (${numbers.format(s.availableSeats)})`)));
      const assign = el('button', { type: 'button', id: 'assign', class: 'primary' }, t('tab.assign'));
      const remove = el('button', { type: 'button', id: 'unassign' }, t('tab.remove'));
      assign.addEventListener('click', () => void this.changeLicenses({ add: [license.value] }));
      remove.addEventListener('click', () => void this.changeLicenses({ remove: [license.value] }));
      items.push(el('span', { class: 'field inline' }, el('label', { for: 'license' }, t('tab.license')), license), assign, remove);
    }
    if (p.resetPassword && n && !this.allMatching && n <= 50) {
      const reset = el('button', { type: 'button', id: 'reset-password' }, t('tab.resetPassword'));
      reset.addEventListener('click', () => void this.resetPasswords());
      items.push(reset);
    }
    if (p.manageUsers && n) {
      const del = el('button', { type: 'button', id: 'delete', class: 'destructive' }, t('tab.delete'));
      del.addEventListener('click', () => this.confirmDelete());
      items.push(del);
    }
    section.replaceChildren(...items);
  }

  private async selectAllMatching(): Promise<void> {
    const saved = await this.api.call<{ selectionId: string; count: number }>('POST', `/customers/${encodeURIComponent(this.customerId)}/selection`, this.viewQuery());
    if (!saved.ok) return this.fail(saved.problem);
    this.picked.clear();
    this.allMatching = saved.value;
    this.say(t('tab.selected', { count: saved.value.count }));
    this.table?.rerender();
    this.renderSelection();
  }

  private target(): { users: Array<{ id: string; version: number }> } | { selectionId: string } {
    return this.allMatching ? { selectionId: this.allMatching.selectionId } : { users: [...this.picked].map(([id, version]) => ({ id, version })) };
  }

  private async afterChange(message: string, summary?: { subscriptions: Subscription[]; counts: Counts }): Promise<void> {
    if (summary) {
      this.subscriptions = summary.subscriptions;
      this.counts = summary.counts;
    }
    this.clearSelection();
    this.renderCustomer();
    this.say(message);
  }

  /**
   * A change the server runs as a job (more users than one change takes): its progress in the status line and a
   * progress bar until it ends; then the view is drawn again from the store, whatever the outcome.
   */
  private async followJob(started: JobProgress): Promise<void> {
    const path = `/customers/${encodeURIComponent(this.customerId)}/jobs/${encodeURIComponent(started.job.id)}`;
    const bar = el('progress', { id: 'job-progress', max: String(started.job.total), value: '0', 'aria-label': t('tab.job.progress') });
    document.getElementById('selection')?.replaceChildren(bar);
    let progress = started;
    while (progress.job.state === 'running' || progress.job.state === 'undoing') {
      this.say(progress.message);
      bar.value = progress.job.processed;
      await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
      const next = await this.api.call<JobProgress>('GET', path);
      if (!next.ok) {
        this.renderSelection(true);
        return this.fail(next.problem);
      }
      progress = next.value;
    }
    const summary = progress.subscriptions && progress.counts ? { subscriptions: progress.subscriptions, counts: progress.counts } : undefined;
    await this.afterChange(progress.message, summary);
    if (progress.job.state !== 'done') this.fail({ status: 409, error: 'refused', message: progress.message });
  }

  private async changeLicenses(change: { add?: string[]; remove?: string[] }): Promise<void> {
    const result = await this.api.call<{ results: unknown[]; subscriptions: Subscription[]; counts: Counts } | JobProgress>('POST', `/customers/${encodeURIComponent(this.customerId)}/licenses`, {
      operationId: crypto.randomUUID(),
      ...this.target(),
      add: change.add ?? [],
      remove: change.remove ?? [],
    });
    if (!result.ok) {
      // Refused whole (seats, a stale row): nothing changed; the view is drawn again from the store.
      const problem = result.problem;
      if (problem.status === 400 && problem.code !== 'NO_SEATS') {
        this.clearSelection();
        this.renderCustomer();
      }
      return this.fail(problem);
    }
    if ('job' in result.value) return this.followJob(result.value);
    await this.afterChange(t('tab.licensesChanged', { count: result.value.results.length }), result.value);
  }

  private confirmDelete(): void {
    const section = document.getElementById('selection');
    if (!section) return;
    const n = this.selectedCount();
    const yes = el('button', { type: 'button', id: 'confirm-delete', class: 'destructive' }, t('tab.confirmDeleteButton', { count: n }));
    const no = el('button', { type: 'button', id: 'cancel-delete' }, t('tab.cancel'));
    const box = el('div', { id: 'confirm', class: 'confirm', role: 'alertdialog', 'aria-labelledby': 'confirm-text' }, el('p', { id: 'confirm-text' }, t('tab.confirmDelete', { count: n })), yes, no);
    section.replaceChildren(box);
    yes.focus();
    no.addEventListener('click', () => this.renderSelection(true));
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      const result = await this.api.call<{ deleted: unknown[]; subscriptions: Subscription[]; counts: Counts } | JobProgress>('POST', `/customers/${encodeURIComponent(this.customerId)}/delete`, { operationId: crypto.randomUUID(), ...this.target() });
      if (!result.ok) {
        this.renderSelection(true);
        return this.fail(result.problem);
      }
      if ('job' in result.value) return this.followJob(result.value);
      await this.afterChange(t('delete.done', { count: result.value.deleted.length }), result.value);
    });
  }

  private async resetPasswords(): Promise<void> {
    const result = await this.api.call<{ sent: boolean; message: string }>('POST', `/customers/${encodeURIComponent(this.customerId)}/reset-password`, {
      operationId: crypto.randomUUID(),
      users: [...this.picked].map(([id, version]) => ({ id, version })),
    });
    if (!result.ok) return this.fail(result.problem);
    // Only whether the passwords reached the 1:1 chat: they never come to this page.
    await this.afterChange(result.value.message);
    if (!result.value.sent) this.error.textContent = result.value.message;
  }

  // ---------------------------------------------------------------- deleted users

  private async loadDeleted(): Promise<void> {
    const listed = await this.api.call<{ users: DeletedRow[] }>('GET', `/customers/${encodeURIComponent(this.customerId)}/deleted`);
    if (!listed.ok) return this.fail(listed.problem);
    this.deleted = listed.value.users;
    this.pickedDeleted.clear();
    this.renderCustomer();
  }

  private renderDeleted(view: HTMLElement): void {
    const back = el('button', { type: 'button', id: 'back' }, t('tab.backToUsers'));
    back.addEventListener('click', () => {
      this.view = 'users';
      this.renderCustomer();
    });
    const restore = el('button', { type: 'button', id: 'restore', class: 'primary' }, t('deleted.restore'));
    restore.hidden = !this.me.permissions.restore;
    restore.addEventListener('click', () => void this.restore());
    const rows = this.deleted.map((u, i) => {
      const box = el('input', { type: 'checkbox', id: `pick-deleted-${i}`, 'aria-label': t('tab.selectRow', { name: u.displayName }) });
      box.checked = this.pickedDeleted.has(u.id);
      box.addEventListener('change', () => (box.checked ? this.pickedDeleted.set(u.id, u.version) : this.pickedDeleted.delete(u.id)));
      return el('tr', { 'data-user': u.id }, el('td', { class: 'check' }, box), el('th', { scope: 'row' }, u.displayName), el('td', {}, u.userPrincipalName), el('td', {}, t('deleted.daysLeft', { count: u.daysLeft })));
    });
    const table = el(
      'table',
      { id: 'deleted', class: 'users', 'aria-label': `${t('tab.deletedView')} \u2014 ${this.customerName}` },
      el('thead', {}, el('tr', {}, el('th', { scope: 'col', class: 'check' }, el('span', { class: 'visually-hidden' }, t('tab.col.select'))), ...['tab.col.name', 'tab.col.upn', 'tab.col.daysLeft'].map((k) => el('th', { scope: 'col' }, t(k))))),
      el('tbody', {}, ...rows),
    );
    view.replaceChildren(
      el('h2', { id: 'customer-title' }, `${t('tab.deletedView')} \u2014 ${this.customerName}`),
      this.renderSeats(),
      el('div', { class: 'controls' }, back, restore),
      this.deleted.length ? el('div', { class: 'scroller' }, table) : el('p', {}, t('deleted.empty')),
    );
  }

  private async restore(): Promise<void> {
    if (!this.pickedDeleted.size) return;
    const result = await this.api.call<{ lines: string[]; subscriptions: Subscription[]; counts: Counts }>('POST', `/customers/${encodeURIComponent(this.customerId)}/restore`, {
      operationId: crypto.randomUUID(),
      users: [...this.pickedDeleted].map(([id, version]) => ({ id, version })),
    });
    if (!result.ok) return this.fail(result.problem);
    this.subscriptions = result.value.subscriptions;
    this.counts = result.value.counts;
    await this.loadDeleted();
    this.say(result.value.lines.join('\n'));
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => void start());
else void start();
