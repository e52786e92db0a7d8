import { randomBytes } from 'node:crypto';
import { stringify } from 'csv-stringify/sync';
import type { ChainableCommander } from 'ioredis';
import { CredentialVault, neutraliseFormula } from '../credentials';
import { DirectoryService } from '../directory';
import { DirectoryError, isDirectoryError } from '../errors';
import type { Actor, Customer, Subscription, UserRole } from '../types';
import { validateDomain, validateName, validateRole, validateSkuIds, validateUpn, validateUsageLocation, validateUsername } from '../validation';
import { CsvLimits, CsvProblem, CsvRow, readCsv, SPEC_LIMITS } from './csvFile';
import { countryCode, Field, mapHeaders } from './templates';

/**
 * Bulk creation from a CSV (SPEC §6) as a job stored in Redis: every row is validated before anything is
 * written; the run creates rows in concurrent batches, records each row's outcome, and can be resumed by
 * any instance after a crash without creating a user twice (each row's operation id is derived from the
 * job and the row). Passwords are never stored: users whose password was not delivered before an
 * interruption get a fresh one when the job finishes.
 */
export const JOB_TTL_MS = 2 * 24 * 60 * 60 * 1000;
const LOCK_TTL_MS = 30_000;
const CONCURRENCY = 32;
const BATCH = 200;
export const PREVIEW_ISSUES = 50;

export type ImportMode = 'validRows' | 'allOrNothing';

export interface ImportOptions {
  mode: ImportMode;
  /** For rows without a usage location. */
  usageLocation?: string;
  /** For rows without licenses. */
  licenses?: string[];
}

export type RowIssueCode =
  | 'INVALID_FIELD'
  | 'DOMAIN_NOT_IN_CUSTOMER'
  | 'DUPLICATE_IN_FILE'
  | 'UPN_TAKEN'
  | 'UNKNOWN_LICENSE'
  | 'NO_SEAT_LEFT'
  | 'USAGE_LOCATION_NEEDED'
  | 'TOO_MANY_CELLS'
  | 'CREATE_FAILED';

export interface RowIssue {
  line: number;
  code: RowIssueCode;
  params: Record<string, string | number>;
}

export interface ImportPreview {
  jobId: string;
  customer: Customer;
  subscriptions: Subscription[];
  total: number;
  ready: number;
  issues: RowIssue[];
  issueCount: number;
  /** Rows that take the batch's usage location / licenses. */
  withoutUsageLocation: number;
  withoutLicenses: number;
  /** Seats the ready rows need per license. */
  seatsNeeded: Record<string, number>;
  options: ImportOptions;
  filename: string;
}

export type FileProblem = CsvProblem | { kind: 'headers'; unknown: string[]; missing: string[]; duplicate: string[] };

export interface ImportProgress {
  jobId: string;
  customerId: string;
  total: number;
  processed: number;
  created: number;
  failed: number;
  state: JobState;
}

export type JobState = 'preview' | 'running' | 'done' | 'rolledBack';

export interface ImportResult extends ImportProgress {
  /** One-time download of the results CSV (with the passwords), for the job's owner. */
  downloadToken: string;
  /** Users whose password was replaced because an interruption lost the first one. */
  passwordsRenewed: number;
}

interface ParsedRow {
  index: number;
  line: number;
  cells: string[];
  upn?: string;
  username?: string;
  domain?: string;
  firstName?: string;
  lastName?: string;
  displayName?: string;
  usageLocation?: string;
  licenses?: string[];
  role?: UserRole;
}

interface RowOutcome {
  ok: boolean;
  userId?: string;
  upn?: string;
  code?: string;
  params?: Record<string, string | number>;
}

/** Texts of the results CSV, in the job owner's language (the bot passes them from its catalog). */
export interface ResultLabels {
  statusHeader: string;
  passwordHeader: string;
  created(upn: string): string;
  notCreated(code: string, params: Record<string, string | number>): string;
  notImported: string;
}

const PLAIN_LABELS: ResultLabels = {
  statusHeader: 'Status update',
  passwordHeader: 'Temporary password',
  created: (upn) => `Created ${upn}`,
  notCreated: (code, params) => `Not created: ${code} ${Object.values(params).join(' ')}`.trim(),
  notImported: 'Not imported',
};

export interface RunHooks {
  labels?: ResultLabels;
  /** Called after each batch with the counters (the bot throttles card updates itself). */
  onProgress?(progress: ImportProgress): Promise<void> | void;
  /** Test hook: called after each row is recorded; throwing simulates a crash. */
  afterRow?(index: number): void;
}

export class ImportService {
  constructor(
    private readonly directory: DirectoryService,
    private readonly vault: CredentialVault,
    /** SPEC §6 (10,000 rows, 5 MB); the benchmark raises them to measure how an import scales. */
    private readonly limits: CsvLimits = SPEC_LIMITS,
  ) {}

  private get redis() {
    return this.directory.redis;
  }
  private get keys() {
    return this.directory.keys;
  }

  // ------------------------------------------------------------------ preview

  /** Reads and checks the file, stores it as a job in preview state, and validates every row. */
  async preview(customerId: string, bytes: Buffer, filename: string, owner: Actor): Promise<{ ok: true; preview: ImportPreview } | { ok: false; problem: FileProblem }> {
    await this.directory.getCustomer(customerId);
    const csv = readCsv(bytes, this.limits);
    if (!csv.ok) return { ok: false, problem: csv.problem };
    const mapping = mapHeaders(csv.table.headers);
    if (!mapping.ok) return { ok: false, problem: { kind: 'headers', unknown: mapping.unknown, missing: mapping.missing, duplicate: mapping.duplicate } };
    const jobId = randomBytes(9).toString('base64url');
    const key = this.keys.importJob(customerId, jobId);
    const rowsKey = this.keys.importJob(customerId, jobId, ':rows');
    const pipeline = this.redis.pipeline();
    pipeline.hset(key, {
      owner: owner.id,
      ownerName: owner.name,
      state: 'preview',
      filename,
      headers: JSON.stringify(csv.table.headers),
      createdAt: String(this.directory.clock.now()),
      total: String(csv.table.rows.length),
    });
    for (let i = 0; i < csv.table.rows.length; i += 1000) {
      pipeline.rpush(rowsKey, ...csv.table.rows.slice(i, i + 1000).map((r) => JSON.stringify(r)));
    }
    pipeline.pexpire(key, JOB_TTL_MS).pexpire(rowsKey, JOB_TTL_MS);
    await execOrThrow(pipeline);
    return { ok: true, preview: (await this.assess(customerId, jobId, { mode: 'validRows' })).preview };
  }

  private async job(customerId: string, jobId: string): Promise<Record<string, string>> {
    const job = await this.redis.hgetall(this.keys.importJob(customerId, jobId));
    if (!job.state) throw new DirectoryError('IMPORT_NOT_FOUND', { job: jobId });
    return job;
  }

  private async rows(customerId: string, jobId: string): Promise<CsvRow[]> {
    const raw = await this.redis.lrange(this.keys.importJob(customerId, jobId, ':rows'), 0, -1);
    return raw.map((r) => JSON.parse(r) as CsvRow);
  }

  /** Validates every row against the file itself, the directory and the seats left, with the batch options. */
  async validate(customerId: string, jobId: string, options: ImportOptions, actor: Actor): Promise<ImportPreview> {
    const job = await this.job(customerId, jobId);
    await this.assertOwner(customerId, jobId, job, actor, 'import-check');
    return (await this.assess(customerId, jobId, options, job)).preview;
  }

  /** Only the agent who sent the file acts on its job; anyone else is refused (and audited) as if it did not exist. */
  private async assertOwner(customerId: string, jobId: string, job: Record<string, string>, actor: Actor, action: string): Promise<void> {
    if (job.owner === actor.id) return;
    await this.directory.recordRefusal(actor, action, `the import ${jobId} belongs to another agent`, customerId);
    throw new DirectoryError('IMPORT_NOT_FOUND', { job: jobId });
  }

  /** The preview, and every row that will not be imported (by row index) with its reason. */
  private async assess(
    customerId: string,
    jobId: string,
    options: ImportOptions,
    knownJob?: Record<string, string>,
  ): Promise<{ preview: ImportPreview; failures: Array<{ index: number; issue: RowIssue }> }> {
    const [job, customer, subscriptions, rows] = await Promise.all([
      knownJob ?? this.job(customerId, jobId),
      this.directory.getCustomer(customerId),
      this.directory.getSubscriptions(customerId),
      this.rows(customerId, jobId),
    ]);
    const columns = (mapHeaders(JSON.parse(job.headers) as string[]) as { columns: Field[] }).columns;
    const failures: Array<{ index: number; issue: RowIssue }> = [];
    const parsed: ParsedRow[] = [];
    let withoutUsageLocation = 0;
    let withoutLicenses = 0;
    const batchUsage = options.usageLocation ? this.safe(() => validateUsageLocation(options.usageLocation!)) : undefined;
    // A batch location that is no country ("UK" for GB) is named on each row that would take it, not ignored.
    const noBatchUsage: Omit<RowIssue, 'line'> =
      options.usageLocation?.trim() && !batchUsage
        ? { code: 'INVALID_FIELD', params: { field: 'usageLocation', reason: 'country' } }
        : { code: 'USAGE_LOCATION_NEEDED', params: {} };
    const batchLicenses = options.licenses?.length ? validateSkuIds(options.licenses) : [];
    const known = new Set(subscriptions.map((s) => s.skuId));
    for (const sku of batchLicenses) if (!known.has(sku)) throw new DirectoryError('UNKNOWN_LICENSE', { license: sku });

    rows.forEach((row, index) => {
      const result = this.parseRow(row, index, columns, customer);
      if ('issue' in result) return void failures.push({ index, issue: result.issue });
      if (!result.licenses) {
        withoutLicenses++;
        result.licenses = batchLicenses;
      }
      if (!result.usageLocation) {
        withoutUsageLocation++;
        if (!batchUsage) return void failures.push({ index, issue: { line: row.line, ...noBatchUsage } });
        result.usageLocation = batchUsage;
      }
      const unknown = result.licenses.find((s) => !known.has(s));
      if (unknown) return void failures.push({ index, issue: { line: row.line, code: 'UNKNOWN_LICENSE', params: { license: unknown } } });
      parsed.push(result);
    });

    // Duplicates inside the file: the first occurrence stands, later ones name it.
    const firstLine = new Map<string, number>();
    const unique: ParsedRow[] = [];
    for (const r of parsed) {
      const upn = r.upn!.toLowerCase();
      const first = firstLine.get(upn);
      if (first !== undefined) failures.push({ index: r.index, issue: { line: r.line, code: 'DUPLICATE_IN_FILE', params: { upn: r.upn!, line: first } } });
      else {
        firstLine.set(upn, r.line);
        unique.push(r);
      }
    }
    // Against existing users: one round trip per thousand.
    const taken = await this.existingUpns(customerId, unique.map((r) => r.upn!.toLowerCase()));
    const free = unique.filter((r) => {
      if (!taken.has(r.upn!.toLowerCase())) return true;
      failures.push({ index: r.index, issue: { line: r.line, code: 'UPN_TAKEN', params: { upn: r.upn! } } });
      return false;
    });
    // Seats: rows in file order take the seats left; the rest are named with the license.
    const left = new Map(subscriptions.map((s) => [s.skuId, s.availableSeats]));
    const seatsNeeded: Record<string, number> = {};
    const ready = free.filter((r) => {
      const short = r.licenses!.find((s) => (left.get(s) ?? 0) < 1);
      for (const s of r.licenses!) seatsNeeded[s] = (seatsNeeded[s] ?? 0) + 1;
      if (short) {
        failures.push({ index: r.index, issue: { line: r.line, code: 'NO_SEAT_LEFT', params: { license: short } } });
        return false;
      }
      for (const s of r.licenses!) left.set(s, (left.get(s) ?? 0) - 1);
      return true;
    });
    failures.sort((a, b) => a.index - b.index);
    const issues = failures.map((f) => f.issue);
    const preview: ImportPreview = {
      jobId,
      customer,
      subscriptions,
      total: rows.length,
      ready: ready.length,
      issues: issues.slice(0, PREVIEW_ISSUES),
      issueCount: issues.length,
      withoutUsageLocation,
      withoutLicenses,
      seatsNeeded,
      options,
      filename: job.filename,
    };
    return { preview, failures };
  }

  private safe<T>(f: () => T): T | undefined {
    try {
      return f();
    } catch {
      return undefined;
    }
  }

  private parseRow(row: CsvRow, index: number, columns: Field[], customer: Customer): ParsedRow | { issue: RowIssue } {
    if (row.cells.length > columns.length && row.cells.slice(columns.length).some((c) => c.trim())) {
      return { issue: { line: row.line, code: 'TOO_MANY_CELLS', params: { count: row.cells.length, expected: columns.length } } };
    }
    const cell = (field: Field) => {
      const i = columns.indexOf(field);
      return i >= 0 ? (row.cells[i] ?? '').trim() : '';
    };
    try {
      const upnCell = cell('upn');
      if (!upnCell) throw new DirectoryError('INVALID_FIELD', { field: 'username', reason: 'required' });
      const at = upnCell.lastIndexOf('@');
      const username = validateUsername(at > 0 ? upnCell.slice(0, at) : upnCell);
      const domain = validateDomain(at > 0 ? upnCell.slice(at + 1) : customer.domains[0], customer.domains);
      const upn = validateUpn(username, domain);
      const firstName = validateName(cell('firstName'), 'firstName', 64, false);
      const lastName = validateName(cell('lastName'), 'lastName', 64, false);
      const displayName = validateName(cell('displayName') || [firstName, lastName].filter(Boolean).join(' '), 'displayName', 256, true);
      const location = cell('usageLocation') || cell('countryOrRegion');
      let usageLocation: string | undefined;
      if (cell('usageLocation')) usageLocation = validateUsageLocation(cell('usageLocation'));
      else if (location) usageLocation = countryCode(location);
      const licensesCell = cell('licenses');
      const licenses = licensesCell ? validateSkuIds(licensesCell.split(/[;,]/).map((s) => s.toUpperCase())) : undefined;
      const role = cell('role') ? validateRole(cell('role')) : undefined;
      return { index, line: row.line, cells: row.cells, upn, username, domain, firstName, lastName, displayName, usageLocation, licenses, role };
    } catch (err) {
      if (!isDirectoryError(err)) throw err;
      return { issue: { line: row.line, code: err.code as RowIssueCode, params: err.params } };
    }
  }

  private async existingUpns(customerId: string, upns: string[]): Promise<Set<string>> {
    const ids = await this.directory.userIdsByUpn(customerId, upns);
    return new Set(upns.filter((_, i) => ids[i]));
  }

  // ------------------------------------------------------------------ run

  /**
   * Moves a previewed job to running with the chosen options, once: a second click gets `started: false`.
   * All or nothing with any invalid row is refused here, before anything is written.
   */
  async start(customerId: string, jobId: string, owner: Actor, options: ImportOptions, card: Record<string, string> = {}): Promise<{ started: boolean; preview: ImportPreview }> {
    const job = await this.job(customerId, jobId);
    await this.assertOwner(customerId, jobId, job, owner, 'import-run');
    const { preview, failures } = await this.assess(customerId, jobId, options, job);
    if (job.state !== 'preview') return { started: false, preview };
    if (options.mode === 'allOrNothing' && preview.issueCount > 0) return { started: false, preview };
    if (preview.ready === 0) return { started: false, preview };
    const key = this.keys.importJob(customerId, jobId);
    const won = await this.redis.hsetnx(key, 'startedAt', String(this.directory.clock.now()));
    if (!won) return { started: false, preview };
    // The rows the preview set aside are recorded as not created now, so the run creates exactly the rows it
    // counted as ready: the first of duplicate rows, and the rows within the seats in file order.
    // The list of running jobs is one key outside the customer's slot: written on its own (a transaction may not
    // span slots on a cluster), first, so a job is never running without being listed for a resume.
    await this.redis.sadd(this.keys.runningImports(), `${customerId} ${jobId}`);
    const resultsKey = this.keys.importJob(customerId, jobId, ':results');
    const tx = this.redis.multi();
    if (failures.length) {
      tx.hset(resultsKey, Object.fromEntries(failures.map((f) => [String(f.index), JSON.stringify({ ok: false, code: f.issue.code, params: f.issue.params } satisfies RowOutcome)])));
      tx.pexpire(resultsKey, JOB_TTL_MS);
    }
    await tx
      .hset(key, { state: 'running', options: JSON.stringify(options), processed: String(failures.length), created: '0', failed: String(failures.length), ...card })
      .exec();
    return { started: true, preview };
  }

  async progress(customerId: string, jobId: string): Promise<ImportProgress & { job: Record<string, string> }> {
    const job = await this.job(customerId, jobId);
    return {
      jobId,
      customerId,
      total: Number(job.total),
      processed: Number(job.processed ?? 0),
      created: Number(job.created ?? 0),
      failed: Number(job.failed ?? 0),
      state: job.state as JobState,
      job,
    };
  }

  /** How long the job's lock is still held (0 = free): a runner that lost the lock tries again after it. */
  async lockRemainingMs(customerId: string, jobId: string): Promise<number> {
    return Math.max(0, await this.redis.pttl(this.keys.importJob(customerId, jobId, ':lock')));
  }

  /** Running jobs of every customer, for resuming at start-up. */
  async runningJobs(): Promise<Array<{ customerId: string; jobId: string }>> {
    return (await this.redis.smembers(this.keys.runningImports())).map((m) => {
      const [customerId, jobId] = m.split(' ');
      return { customerId, jobId };
    });
  }

  /**
   * Runs (or resumes) a started job to its end. Returns null when another instance holds the job.
   * Rows already recorded are skipped; a row whose creation was applied but not recorded replays its
   * operation and is counted as created, with a fresh password at the end.
   */
  async run(customerId: string, jobId: string, hooks: RunHooks = {}): Promise<ImportResult | null> {
    const lockKey = this.keys.importJob(customerId, jobId, ':lock');
    const token = randomBytes(8).toString('hex');
    if ((await this.redis.set(lockKey, token, 'PX', LOCK_TTL_MS, 'NX')) !== 'OK') return null;
    try {
      const job = await this.job(customerId, jobId);
      if (job.state !== 'running') return null;
      const options = JSON.parse(job.options) as ImportOptions;
      const actor: Actor = { id: job.owner, name: job.ownerName };
      const preview = await this.validateForRun(customerId, jobId, options);
      const resultsKey = this.keys.importJob(customerId, jobId, ':results');
      const recorded = await this.redis.hgetall(resultsKey);
      const passwords = new Map<number, string>();
      const counters = { processed: 0, created: 0, failed: 0 };
      for (const v of Object.values(recorded)) {
        counters.processed++;
        (JSON.parse(v) as RowOutcome).ok ? counters.created++ : counters.failed++;
      }
      // All or nothing, and a row had already failed when the last run stopped: finish the roll-back.
      if (options.mode === 'allOrNothing' && counters.failed > 0) return await this.rollBack(customerId, jobId, actor, counters);
      const todo = preview.rows.filter((r) => !(String(r.index) in recorded));
      for (let b = 0; b < todo.length; b += BATCH) {
        await this.redis.pexpire(lockKey, LOCK_TTL_MS);
        const batch = todo.slice(b, b + BATCH);
        const outcomes = await mapLimit(batch, CONCURRENCY, async (row): Promise<[ParsedRow, RowOutcome]> => {
          if ('issue' in row) return [row as unknown as ParsedRow, { ok: false, code: (row as { issue: RowIssue }).issue.code, params: (row as { issue: RowIssue }).issue.params }];
          try {
            const created = await this.directory.createUser(
              customerId,
              { username: row.username!, domain: row.domain, firstName: row.firstName, lastName: row.lastName, displayName: row.displayName!, usageLocation: row.usageLocation!, role: row.role, licenses: row.licenses },
              // The customer read for this run: its domains validated every row; the script checks the domain again.
              { actor, operationId: `import:${jobId}:${row.index}`, customer: preview.customer },
            );
            if (created.temporaryPassword) passwords.set(row.index, created.temporaryPassword);
            return [row, { ok: true, userId: created.user.id, upn: created.user.userPrincipalName }];
          } catch (err) {
            if (!isDirectoryError(err)) throw err;
            return [row, { ok: false, code: err.code, params: err.params }];
          }
        });
        const write = this.redis.pipeline();
        for (const [row, outcome] of outcomes) {
          write.hset(resultsKey, String(row.index), JSON.stringify(outcome));
          counters.processed++;
          outcome.ok ? counters.created++ : counters.failed++;
        }
        write.hset(this.keys.importJob(customerId, jobId), { processed: String(counters.processed), created: String(counters.created), failed: String(counters.failed) });
        write.pexpire(resultsKey, JOB_TTL_MS);
        await execOrThrow(write);
        for (const [row] of outcomes) hooks.afterRow?.(row.index);
        if (options.mode === 'allOrNothing' && outcomes.some(([, o]) => !o.ok)) return this.rollBack(customerId, jobId, actor, counters);
        await hooks.onProgress?.({ jobId, customerId, total: Number(job.total), ...counters, state: 'running' });
      }
      return await this.finish(customerId, jobId, actor, passwords, counters, hooks.labels ?? PLAIN_LABELS, token);
    } finally {
      // Release only our own lock.
      if ((await this.redis.get(lockKey)) === token) await this.redis.del(lockKey);
    }
  }

  /** Rows to create with the job's options: valid rows, and the invalid ones as recorded failures. */
  private async validateForRun(customerId: string, jobId: string, options: ImportOptions): Promise<{ customer: Customer; rows: Array<ParsedRow | (ParsedRow & { issue: RowIssue })> }> {
    const [job, customer, rows] = await Promise.all([this.job(customerId, jobId), this.directory.getCustomer(customerId), this.rows(customerId, jobId)]);
    const columns = (mapHeaders(JSON.parse(job.headers) as string[]) as { columns: Field[] }).columns;
    const batchUsage = options.usageLocation ? this.safe(() => validateUsageLocation(options.usageLocation!)) : undefined;
    return {
      customer,
      rows: rows.map((row, index) => {
        const parsed = this.parseRow(row, index, columns, customer);
        if ('issue' in parsed) return { index, line: row.line, cells: row.cells, issue: parsed.issue };
        parsed.usageLocation ??= batchUsage;
        parsed.licenses ??= options.licenses ?? [];
        if (!parsed.usageLocation) return { ...parsed, issue: { line: row.line, code: 'USAGE_LOCATION_NEEDED' as const, params: {} } };
        return parsed;
      }),
    };
  }

  private async finish(
    customerId: string,
    jobId: string,
    actor: Actor,
    passwords: Map<number, string>,
    counters: { processed: number; created: number; failed: number },
    labels: ResultLabels,
    runToken: string,
  ): Promise<ImportResult> {
    const [job, rows, recorded] = await Promise.all([
      this.job(customerId, jobId),
      this.rows(customerId, jobId),
      this.redis.hgetall(this.keys.importJob(customerId, jobId, ':results')),
    ]);
    // Users created before an interruption: their first password is lost, so they get a fresh one now.
    let passwordsRenewed = 0;
    const missing = Object.entries(recorded)
      .map(([i, v]) => [Number(i), JSON.parse(v) as RowOutcome] as const)
      .filter(([i, o]) => o.ok && !passwords.has(i));
    // The operation id is this run's own: when a run stops half-way through the renewals, the passwords it set
    // were never shown either, so the next run must set new ones rather than replay these.
    await mapLimit(missing, CONCURRENCY, async ([i, o]) => {
      let reset;
      try {
        reset = await this.directory.resetPassword(customerId, { userId: o.userId! }, { actor, operationId: `import:${jobId}:${i}:renew:${runToken}` });
      } catch (err) {
        // Deleted (or purged) by someone meanwhile: nothing to renew, the job still finishes.
        if (isDirectoryError(err) && (err.code === 'NOT_ACTIVE' || err.code === 'USER_NOT_FOUND')) return;
        throw err;
      }
      if (reset.temporaryPassword) {
        passwords.set(i, reset.temporaryPassword);
        passwordsRenewed++;
      }
    });
    const headers = JSON.parse(job.headers) as string[];
    const mapping = mapHeaders(headers);
    const statusColumn = mapping.ok ? mapping.statusColumn : -1;
    const outHeaders = statusColumn >= 0 ? [...headers] : [...headers, labels.statusHeader];
    outHeaders.push(labels.passwordHeader);
    const lines = rows.map((row, i) => {
      const outcome = recorded[String(i)] ? (JSON.parse(recorded[String(i)]) as RowOutcome) : undefined;
      const status = !outcome ? labels.notImported : outcome.ok ? labels.created(outcome.upn ?? '') : labels.notCreated(outcome.code ?? '', outcome.params ?? {});
      const cells = headers.map((_, c) => row.cells[c] ?? '');
      if (statusColumn >= 0) cells[statusColumn] = status;
      else cells.push(status);
      cells.push(passwords.get(i) ?? '');
      return cells;
    });
    const csv = stringify([outHeaders, ...lines].map((r) => r.map(neutraliseFormula)), { bom: true, record_delimiter: 'windows' });
    const downloadToken = await this.vault.createDownload(actor.id, `${customerId}-import-results.csv`, csv);
    await this.redis
      .multi()
      .hset(this.keys.importJob(customerId, jobId), { state: 'done', ...Object.fromEntries(Object.entries(counters).map(([k, v]) => [k, String(v)])) })
      .exec();
    await this.redis.srem(this.keys.runningImports(), `${customerId} ${jobId}`);
    return { jobId, customerId, total: rows.length, ...counters, state: 'done', downloadToken, passwordsRenewed };
  }

  /** All or nothing and a row failed during the run (a race after validation): remove what this job created. */
  private async rollBack(customerId: string, jobId: string, actor: Actor, counters: { processed: number; created: number; failed: number }): Promise<ImportResult> {
    const recorded = await this.redis.hgetall(this.keys.importJob(customerId, jobId, ':results'));
    const created = Object.values(recorded)
      .map((v) => JSON.parse(v) as RowOutcome)
      .filter((o) => o.ok && o.userId)
      .map((o) => o.userId!);
    for (let i = 0; i < created.length; i += 500) await this.directory.discardNewUsers(customerId, created.slice(i, i + 500), actor);
    await this.redis
      .multi()
      .hset(this.keys.importJob(customerId, jobId), { state: 'rolledBack' })
      .exec();
    await this.redis.srem(this.keys.runningImports(), `${customerId} ${jobId}`);
    const total = Number(await this.redis.hget(this.keys.importJob(customerId, jobId), 'total'));
    return { jobId, customerId, total, ...counters, created: 0, state: 'rolledBack', downloadToken: '', passwordsRenewed: 0 };
  }
}

/**
 * Runs `fn` over items with at most `limit` in flight; keeps the order. After a failure no new item starts, and the
 * first error is thrown once those in flight have settled (so nothing of this run is still writing when it ends).
 */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length && !failure) {
        const i = next++;
        try {
          out[i] = await fn(items[i]);
        } catch (err) {
          failure ??= { err };
        }
      }
    }),
  );
  if (failure) throw failure.err;
  return out;
}

/** A pipeline's replies, throwing the first command's error (ioredis resolves a pipeline even when commands failed). */
async function execOrThrow(pipeline: ChainableCommander): Promise<void> {
  for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
}
