/**
 * The store's invariants, checked from the outside (`npm run check-store`, and the fault and soak tests):
 * every derived structure of a customer must agree exactly with its user hashes, which are the source of truth.
 *
 * For every customer:
 * - seats: the `counts` hash's `lic:<sku>` = the number of active users holding that license, never above the
 *   subscription's seats; `skus` and `seats` name the same licenses; users hold only licenses of the customer;
 * - counts: `active`, `unlicensed`, `deleted`, `role:<role>` = what the user hashes say;
 * - indexes: `upn`, `idx:active`, `idx:unlicensed`, `idx:license`, `idx:role` (admin roles only) and `deleted` contain exactly the
 *   entries the user hashes call for (nothing missing, nothing extra, deletion times equal);
 * - user hashes: well-formed (id = key where stored, state, version, role, sort key, active/deleted fields consistent);
 * - no orphan keys under the customer's hash tag (only the fixed keys, users, operation results and their buckets
 *   with an expiry, and import jobs), and no customer keys for a customer that is not registered;
 * - audit entries parse (seven fields, a time, an actor, an action, a result) and the log keeps to its cap.
 * Across customers: `customers` and `customer-names` agree, every domain in the lookup belongs to its customer.
 *
 * Reads only; SCANs every master of a cluster. Each customer's reads stay within its slot.
 */
import { Cluster } from 'ioredis';
import { CUSTOMER_KEY_NAMES, KeyLayout, SEP } from './store/keys';
import type { RedisClient } from './store/redis';
import { USER_ROLES } from './types';

export type ViolationKind = 'seats' | 'counts' | 'index' | 'user' | 'orphan' | 'audit' | 'customer';

export interface Violation {
  /** The customer concerned; null for partner-wide keys. */
  customer: string | null;
  kind: ViolationKind;
  message: string;
}

export interface StoreReport {
  ok: boolean;
  customers: number;
  activeUsers: number;
  deletedUsers: number;
  auditEntries: number;
  keys: number;
  violations: Violation[];
}

const AUDIT_CAP = 1000;
const EXAMPLES = 5;

/** Every key matching the pattern, on every master of a cluster (SCAN, never KEYS). */
export async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  const found = new Set<string>();
  // A fresh cluster connection knows its masters only once it has loaded the slots: wait for that first.
  if (redis instanceof Cluster && redis.status !== 'ready') await redis.ping();
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  if (redis instanceof Cluster && !nodes.length) throw new Error('the cluster reports no master to scan');
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      for (const k of batch) found.add(k);
      cursor = next;
    } while (cursor !== '0');
  }
  return [...found].sort();
}

/** Glob-escapes a key prefix for SCAN MATCH (the root or a hash tag may contain `{`, `*`, `?`, `[`). */
const globEscape = (s: string): string => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

export async function checkStore(redis: RedisClient, keys: KeyLayout): Promise<StoreReport> {
  const violations: Violation[] = [];
  const report: StoreReport = { ok: true, customers: 0, activeUsers: 0, deletedUsers: 0, auditEntries: 0, keys: 0, violations };
  const all = await scanKeys(redis, `${globEscape(keys.root)}*`);
  report.keys = all.length;

  // Keys grouped by customer hash tag.
  const byCustomer = new Map<string, string[]>();
  const tagPrefix = `${keys.root}{c:`;
  for (const key of all) {
    if (!key.startsWith(tagPrefix)) continue;
    const end = key.indexOf('}:', tagPrefix.length);
    if (end < 0) continue;
    const id = key.slice(tagPrefix.length, end);
    const list = byCustomer.get(id) ?? [];
    list.push(key);
    byCustomer.set(id, list);
  }

  const [registered, names, domainIndex] = await Promise.all([
    redis.smembers(keys.customers()),
    redis.hgetall(keys.customerNames()),
    redis.hgetall(keys.domains()),
  ]);
  const registeredSet = new Set(registered);
  for (const id of Object.keys(names)) {
    if (!registeredSet.has(id)) violations.push({ customer: id, kind: 'customer', message: `customer-names has "${id}", which is not in the customer list` });
  }
  const domainsOf = new Map<string, string[]>();
  for (const id of registered) {
    const list = byCustomer.get(id);
    const result = await checkCustomer(redis, keys, id, list ?? [], names[id], violations);
    domainsOf.set(id, result.domains);
    report.customers++;
    report.activeUsers += result.active;
    report.deletedUsers += result.deleted;
    report.auditEntries += result.auditEntries;
  }
  for (const [id, list] of byCustomer) {
    if (!registeredSet.has(id)) {
      violations.push({ customer: id, kind: 'orphan', message: `${list.length} key(s) under {c:${id}} but no such customer is registered: ${examples(list)}` });
    }
  }
  for (const [domain, owner] of Object.entries(domainIndex)) {
    if (!domainsOf.get(owner)?.includes(domain)) {
      violations.push({ customer: owner, kind: 'customer', message: `the domain lookup sends "${domain}" to "${owner}", which does not list that domain` });
    }
  }
  for (const [id, domains] of domainsOf) {
    for (const d of domains) {
      const owner = domainIndex[d];
      // A domain another customer claimed later stays with that customer (see upsertCustomer).
      if (!owner || !domainsOf.get(owner)?.includes(d)) {
        violations.push({ customer: id, kind: 'customer', message: `domain "${d}" is missing from the domain lookup` });
      }
    }
  }
  const refusals = await redis.lrange(keys.refusals(), 0, -1);
  checkAuditEntries(null, 'refusals', refusals, violations);

  report.ok = violations.length === 0;
  return report;
}

interface CustomerSummary {
  domains: string[];
  active: number;
  deleted: number;
  auditEntries: number;
}

async function checkCustomer(
  redis: RedisClient,
  keys: KeyLayout,
  id: string,
  present: string[],
  listedName: string | undefined,
  violations: Violation[],
): Promise<CustomerSummary> {
  const v = (kind: ViolationKind, message: string) => violations.push({ customer: id, kind, message });
  const k = (name: (typeof CUSTOMER_KEY_NAMES)[number]) => keys.customerKey(id, name);

  // Every key under the tag is one of: the fixed keys, a user, an operation result or a bucket of them (with an
  // expiry), an import job, a saved selection (with an expiry).
  const fixed = new Set(CUSTOMER_KEY_NAMES.map((n) => k(n)));
  const userPrefix = keys.user(id, '');
  const opPrefix = keys.operation(id, '');
  const opBucketPrefix = keys.operationBucketPrefix(id);
  const selectionPrefix = keys.selection(id, '');
  const importPrefix = `${keys.customerKey(id, 'customer').slice(0, -'customer'.length)}import:`;
  const userKeys: string[] = [];
  const opKeys: string[] = [];
  const opBuckets: string[] = [];
  const selectionKeys: string[] = [];
  const orphans: string[] = [];
  for (const key of present) {
    if (fixed.has(key) || key.startsWith(importPrefix)) continue;
    if (key.startsWith(userPrefix)) userKeys.push(key);
    else if (key.startsWith(opPrefix)) opKeys.push(key);
    else if (key.startsWith(opBucketPrefix) && /^-?\d+:\d+$/.test(key.slice(opBucketPrefix.length))) opBuckets.push(key);
    else if (key.startsWith(selectionPrefix)) selectionKeys.push(key);
    else orphans.push(key);
  }
  if (orphans.length) v('orphan', `${orphans.length} unknown key(s) under the customer's tag: ${examples(orphans)}`);
  for (const [expiring, what] of [[opKeys, 'operation result(s)'], [opBuckets, 'bucket(s) of operation results'], [selectionKeys, 'saved selection(s)']] as const) {
    if (!expiring.length) continue;
    const ttls = await Promise.all(expiring.map((key) => redis.pttl(key)));
    const forever = expiring.filter((_, i) => ttls[i] < 0 && ttls[i] !== -2);
    if (forever.length) v('orphan', `${forever.length} ${what} without an expiry: ${examples(forever)}`);
  }

  const read = redis.pipeline();
  read.hgetall(k('customer')).hgetall(k('skus')).hgetall(k('seats')).hgetall(k('counts')).hgetall(k('upn'));
  read.zrange(k('idx:active'), 0, -1).zrange(k('idx:unlicensed'), 0, -1).zrange(k('idx:license'), 0, -1).zrange(k('idx:role'), 0, -1);
  read.zrange(k('deleted'), 0, -1, 'WITHSCORES').lrange(k('audit'), 0, -1);
  const results = (await read.exec()) ?? [];
  const failed = results.findIndex(([err]) => err);
  if (failed >= 0) {
    v('customer', `cannot read ${['customer', 'skus', 'seats', 'counts', 'upn', 'idx:active', 'idx:unlicensed', 'idx:license', 'idx:role', 'deleted', 'audit'][failed]}: ${(results[failed][0] as Error).message}`);
    return { domains: [], active: 0, deleted: 0, auditEntries: 0 };
  }
  const [customer, skus, seats, counts, upn] = results.slice(0, 5).map(([, r]) => r as Record<string, string>);
  const [idxActive, idxUnlicensed, idxLicense, idxRole, deletedFlat, audit] = results.slice(5).map(([, r]) => r as string[]);

  if (!customer.id || !customer.name) v('customer', `the customer hash is incomplete (id "${customer.id ?? ''}", name "${customer.name ?? ''}")`);
  else if (customer.id !== id) v('customer', `the customer hash says id "${customer.id}"`);
  if (listedName !== undefined && customer.name !== undefined && listedName !== customer.name) {
    v('customer', `customer-names says "${listedName}", the customer hash "${customer.name}"`);
  }
  const domains = String(customer.domains ?? '').split(',').filter(Boolean);

  // Subscriptions.
  const skuIds = new Set(Object.keys(skus));
  for (const s of Object.keys(seats)) if (!skuIds.has(s)) v('seats', `seats has "${s}", which has no subscription name in skus`);
  for (const s of skuIds) {
    if (!(s in seats)) v('seats', `subscription ${s} has no seat total`);
    else if (!/^\d+$/.test(seats[s])) v('seats', `subscription ${s} has seat total "${seats[s]}"`);
  }

  // The users, the source of truth; everything below is derived from them.
  const users: Array<Record<string, string>> = [];
  for (let i = 0; i < userKeys.length; i += 500) {
    const batch = userKeys.slice(i, i + 500);
    const p = redis.pipeline();
    for (const key of batch) p.hgetall(key);
    const got = (await p.exec()) ?? [];
    got.forEach(([err, h], j) => {
      if (err) v('user', `${batch[j]} cannot be read as a user: ${(err as Error).message}`);
      else users.push({ ...(h as Record<string, string>), __key: batch[j] });
    });
  }

  const expected = {
    upn: new Map<string, string>(),
    active: new Set<string>(),
    unlicensed: new Set<string>(),
    license: new Set<string>(),
    role: new Set<string>(),
    deleted: new Map<string, number>(),
    counts: new Map<string, number>([['active', 0], ['unlicensed', 0], ['deleted', 0]]),
  };
  const bump = (field: string) => expected.counts.set(field, (expected.counts.get(field) ?? 0) + 1);
  let active = 0;
  let deleted = 0;
  for (const u of users) {
    const key = u.__key;
    const userId = key.slice(userPrefix.length);
    const bad = (what: string) => v('user', `user ${userId}: ${what}`);
    // The id is the key's; records written before layout 3 store it too.
    if (u.id !== undefined && u.id !== userId) bad(`its hash says id "${u.id}"`);
    if (!/^[1-9]\d*$/.test(u.version ?? '')) bad(`version "${u.version ?? ''}"`);
    if (!(USER_ROLES as readonly string[]).includes(u.role)) bad(`role "${u.role ?? ''}"`);
    // Username and domain are the UPN's halves; records written before the current layout also store them.
    const at = String(u.upn ?? '').lastIndexOf('@');
    if (!u.upn || at <= 0 || ((u.username !== undefined || u.domain !== undefined) && u.upn !== `${u.username}@${u.domain}`)) bad(`UPN "${u.upn ?? ''}" is not username@domain`);
    // The sort name is stored (as sortKey) only where the scripts' ASCII lower-casing cannot recompute it; older
    // records store lower(name) SEP lower(UPN) there, whose name part is what the scripts use.
    const sortName = String(u.displayName ?? '').toLowerCase();
    const olderSortKey = `${sortName}${SEP}${String(u.upn ?? '').toLowerCase()}`;
    if (u.sortKey !== undefined ? u.sortKey !== sortName && u.sortKey !== olderSortKey : asciiLower(u.displayName ?? '') !== sortName) bad('its sort key does not match its display name and UPN');
    const licenses = String(u.licenses ?? '').split(',').filter(Boolean);
    for (const s of licenses) if (!skuIds.has(s)) bad(`holds ${s}, which the customer has no subscription for`);
    if (new Set(licenses).size !== licenses.length) bad('holds a license twice');
    const member = `${sortName}${SEP}${userId}`;
    if (u.state === 'active') {
      active++;
      if (u.deletedAt || u.rememberedLicenses) bad('is active but has a deletion time or remembered licenses');
      const lower = String(u.upn).toLowerCase();
      if (expected.upn.has(lower)) bad(`UPN ${u.upn} is also held by user ${expected.upn.get(lower)}`);
      expected.upn.set(lower, userId);
      expected.active.add(member);
      // Plain users have no idx:role entry (a role=user listing walks idx:active without the admins).
      if (u.role !== 'user') expected.role.add(`${u.role}${SEP}${member}`);
      bump('active');
      bump(`role:${u.role}`);
      if (!licenses.length) {
        expected.unlicensed.add(member);
        bump('unlicensed');
      }
      for (const s of licenses) {
        expected.license.add(`${s}${SEP}${member}`);
        bump(`lic:${s}`);
      }
    } else if (u.state === 'deleted') {
      deleted++;
      if (licenses.length) bad('is deleted but holds licenses');
      if (!/^\d+$/.test(u.deletedAt ?? '')) bad(`is deleted with deletion time "${u.deletedAt ?? ''}"`);
      expected.deleted.set(userId, Number(u.deletedAt));
      bump('deleted');
    } else {
      bad(`state "${u.state ?? ''}"`);
    }
  }

  // Seats: used = holders, never above the total.
  for (const s of skuIds) {
    const holders = expected.counts.get(`lic:${s}`) ?? 0;
    const used = Number(counts[`lic:${s}`] ?? 0);
    if (used !== holders) v('seats', `${s}: ${used} seat(s) counted as used, ${holders} active user(s) hold it`);
    if (holders > Number(seats[s] ?? 0)) v('seats', `${s}: ${holders} holder(s) for ${seats[s] ?? 0} seat(s)`);
  }
  // Counters.
  const countFields = new Set([...Object.keys(counts), ...expected.counts.keys()]);
  for (const field of countFields) {
    if (field.startsWith('lic:') && skuIds.has(field.slice(4))) continue; // reported as seats above
    if (field === 'layout') {
      // Set by the start-up migration of the index entries (RedisDirectory.migrateLayout).
      if (counts.layout !== '3') v('counts', `counts.layout is "${counts.layout}"`);
      continue;
    }
    if (field === 'ver') {
      // The customer's version, moved by every change (cached listings check it): any count of changes is right.
      if (!/^\d+$/.test(counts.ver)) v('counts', `counts.ver is "${counts.ver}", not a number of changes`);
      continue;
    }
    const stored = Number(counts[field] ?? 0);
    const actual = expected.counts.get(field) ?? 0;
    if (stored !== actual) v('counts', `counts.${field} is ${stored}, the users say ${actual}`);
  }
  // Indexes.
  const older = idxActive.filter((m) => m.split(SEP).length === 3).length;
  if (older) v('index', `idx:active has ${older} entr${older === 1 ? 'y' : 'ies'} in the form before layout 3 (with the UPN): starting the bot migrates them`);
  compareSets(v, 'idx:active', new Set(idxActive), expected.active);
  compareSets(v, 'idx:unlicensed', new Set(idxUnlicensed), expected.unlicensed);
  compareSets(v, 'idx:license', new Set(idxLicense), expected.license);
  compareSets(v, 'idx:role', new Set(idxRole), expected.role);
  compareSets(v, 'upn', new Set(Object.entries(upn).map(([u, i]) => `${u} → ${i}`)), new Set([...expected.upn].map(([u, i]) => `${u} → ${i}`)));
  const deletedStored = new Set<string>();
  for (let i = 0; i < deletedFlat.length; i += 2) deletedStored.add(`${deletedFlat[i]} @ ${Number(deletedFlat[i + 1])}`);
  compareSets(v, 'deleted', deletedStored, new Set([...expected.deleted].map(([u, at]) => `${u} @ ${at}`)));

  checkAuditEntries(id, 'audit', audit, violations);
  return { domains, active, deleted, auditEntries: audit.length };
}

function compareSets(v: (kind: ViolationKind, message: string) => void, name: string, stored: Set<string>, expected: Set<string>): void {
  const missing = [...expected].filter((m) => !stored.has(m));
  const extra = [...stored].filter((m) => !expected.has(m));
  if (missing.length) v('index', `${name} lacks ${missing.length} entr${missing.length === 1 ? 'y' : 'ies'}: ${examples(missing)}`);
  if (extra.length) v('index', `${name} has ${extra.length} entr${extra.length === 1 ? 'y' : 'ies'} no user calls for: ${examples(extra)}`);
}

function checkAuditEntries(customer: string | null, name: string, entries: string[], violations: Violation[]): void {
  if (entries.length > AUDIT_CAP) violations.push({ customer, kind: 'audit', message: `${name} has ${entries.length} entries, more than its cap of ${AUDIT_CAP}` });
  const bad: string[] = [];
  for (const raw of entries) {
    const f = raw.split('\x1f');
    if (f.length !== 7 || !/^\d+$/.test(f[0]) || !f[1] || !f[3] || !f[5]) bad.push(raw);
  }
  if (bad.length) violations.push({ customer, kind: 'audit', message: `${bad.length} ${name} entr${bad.length === 1 ? 'y does' : 'ies do'} not parse: ${examples(bad)}` });
}

function examples(items: string[]): string {
  const shown = items.slice(0, EXAMPLES).map((s) => JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}…` : s).replace(/\\u0001/g, '·'));
  return shown.join(', ') + (items.length > EXAMPLES ? `, … (${items.length} in all)` : '');
}

/** The report as text: one line per violation, then a summary. */
export function formatReport(report: StoreReport): string {
  const lines = report.violations.map((x) => `VIOLATION [${x.kind}] ${x.customer === null ? '(partner-wide)' : `customer ${x.customer}`}: ${x.message}`);
  lines.push(
    `${report.customers} customer(s), ${report.activeUsers} active and ${report.deletedUsers} deleted user(s), ${report.auditEntries} audit entries, ${report.keys} key(s) checked: ` +
      (report.ok ? 'every invariant holds.' : `${report.violations.length} violation(s).`),
  );
  return lines.join('\n');
}

/** What Lua's string.lower does in Redis (C locale): ASCII letters only. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}
