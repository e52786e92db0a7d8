import { randomBytes } from 'node:crypto';
import { stringify } from 'csv-stringify/sync';
import type { ChainableCommander } from 'ioredis';
import { CredentialVault, neutraliseFormula, PartedDownload } from '../credentials';
import { DirectoryService } from '../directory';
import { DirectoryError, isDirectoryError } from '../errors';
import type { Actor, Customer, Subscription, UserRole } from '../types';
import { validateDomain, validateName, validateRole, validateSkuIds, validateUpn, validateUsageLocation, validateUsername } from '../validation';
import { acquireJobLock } from '../store/lock';
import { CsvEnd, CsvLimits, CsvProblem, CsvRow, openCsv, SPEC_LIMITS } from './csvFile';
import { countryCode, Field, mapHeaders } from './templates';

/**
 * Bulk creation from a CSV (SPEC §6) as a job stored in Redis: every row is validated before anything is
 * written; the run creates rows in concurrent batches, records each row's outcome, and can be resumed by
 * any instance after a crash without creating a user twice (each row's operation id is derived from the
 * job and the row). Passwords are never stored in clear: users whose password was not delivered before an
 * interruption get a fresh one when the job finishes.
 *
 * Memory stays flat whatever the file's size: the file is read row by row into Redis, and every pass over the rows
 * (the checks, the run, the results CSV) reads them a window at a time. Outcomes are kept in Redis; a window's new
 * passwords are kept only until that window's part of the results CSV is written, sealed under the download's key.
 */
export const JOB_TTL_MS = 2 * 24 * 60 * 60 * 1000;
const LOCK_TTL_MS = 30_000;
const CONCURRENCY = 32;
const BATCH = 200;
/** Rows read, checked and written out together (a multiple of BATCH); a part of the results CSV per window. */
const WINDOW = 1000;
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
    const csv = openCsv(bytes, this.limits);
    if (!csv.ok) return { ok: false, problem: csv.problem };
    const mapping = mapHeaders(csv.head.headers);
    if (!mapping.ok) return { ok: false, problem: { kind: 'headers', unknown: mapping.unknown, missing: mapping.missing, duplicate: mapping.duplicate } };
    const jobId = randomBytes(9).toString('base64url');
    const key = this.keys.importJob(customerId, jobId);
    const rowsKey = this.keys.importJob(customerId, jobId, ':rows');
    // The rows go to Redis a window at a time as they are read. The job exists (has a state) only once all are there;
    // a file refused further down (malformed, too many rows) takes back what was stored of it.
    let end: CsvEnd | undefined;
    try {
      let batch: string[] = [];
      const flush = async () => {
        if (batch.length) await execOrThrow(this.redis.pipeline().rpush(rowsKey, ...batch).pexpire(rowsKey, JOB_TTL_MS));
        batch = [];
      };
      let next = csv.rows.next();
      for (; !next.done; next = csv.rows.next()) {
        batch.push(JSON.stringify(next.value));
        if (batch.length === WINDOW) await flush();
      }
      end = next.value;
      if (end.ok) await flush();
    } finally {
      if (!end?.ok) await this.redis.del(rowsKey);
    }
    if (!end.ok) return { ok: false, problem: end.problem };
    await execOrThrow(
      this.redis
        .pipeline()
        .hset(key, {
          owner: owner.id,
          ownerName: owner.name,
          state: 'preview',
          filename,
          headers: JSON.stringify(csv.head.headers),
          createdAt: String(this.directory.clock.now()),
          total: String(end.rows),
        })
        .pexpire(key, JOB_TTL_MS),
    );
    return { ok: true, preview: await this.assess(customerId, jobId, { mode: 'validRows' }) };
  }

  private async job(customerId: string, jobId: string): Promise<Record<string, string>> {
    const job = await this.redis.hgetall(this.keys.importJob(customerId, jobId));
    if (!job.state) throw new DirectoryError('IMPORT_NOT_FOUND', { job: jobId });
    return job;
  }

  /** The job's rows in file order, a window at a time (`from`: the index of the window's first row). */
  private async *windows(customerId: string, jobId: string, total: number): AsyncGenerator<{ from: number; rows: CsvRow[] }> {
    const key = this.keys.importJob(customerId, jobId, ':rows');
    for (let from = 0; from < total; from += WINDOW) {
      const raw = await this.redis.lrange(key, from, from + WINDOW - 1);
      yield { from, rows: raw.map((r) => JSON.parse(r) as CsvRow) };
    }
  }

  /** Validates every row against the file itself, the directory and the seats left, with the batch options. */
  async validate(customerId: string, jobId: string, options: ImportOptions, actor: Actor): Promise<ImportPreview> {
    const job = await this.job(customerId, jobId);
    await this.assertOwner(customerId, jobId, job, actor, 'import-check');
    return this.assess(customerId, jobId, options, job);
  }

  /** Only the agent who sent the file acts on its job; anyone else is refused (and audited) as if it did not exist. */
  private async assertOwner(customerId: string, jobId: string, job: Record<string, string>, actor: Actor, action: string): Promise<void> {
    if (job.owner === actor.id) return;
    await this.directory.recordRefusal(actor, action, `the import ${jobId} belongs to another agent`, customerId);
    throw new DirectoryError('IMPORT_NOT_FOUND', { job: jobId });
  }

  /**
   * The preview. Read a window at a time in file order, so that every rule gives what it gave over the whole file: the
   * first of duplicate rows stands, rows take the seats left in file order. With `staged`, every row that will not be
   * imported is written there (row index → outcome), for a start to record.
   */
  private async assess(customerId: string, jobId: string, options: ImportOptions, knownJob?: Record<string, string>, staged?: string): Promise<ImportPreview> {
    const [job, customer, subscriptions] = await Promise.all([knownJob ?? this.job(customerId, jobId), this.directory.getCustomer(customerId), this.directory.getSubscriptions(customerId)]);
    const columns = (mapHeaders(JSON.parse(job.headers) as string[]) as { columns: Field[] }).columns;
    const total = Number(job.total);
    const issues: RowIssue[] = [];
    let issueCount = 0;
    let ready = 0;
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
    // Across windows: the first line of each UPN in the file, and the seats left.
    const firstLine = new Map<string, number>();
    const left = new Map(subscriptions.map((s) => [s.skuId, s.availableSeats]));
    const seatsNeeded: Record<string, number> = {};

    for await (const { from, rows } of this.windows(customerId, jobId, total)) {
      const failures: Array<{ index: number; issue: RowIssue }> = [];
      const parsed: ParsedRow[] = [];
      rows.forEach((row, k) => {
        const index = from + k;
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
      // Against existing users: one round trip per window.
      const taken = await this.existingUpns(customerId, unique.map((r) => r.upn!.toLowerCase()));
      const free = unique.filter((r) => {
        if (!taken.has(r.upn!.toLowerCase())) return true;
        failures.push({ index: r.index, issue: { line: r.line, code: 'UPN_TAKEN', params: { upn: r.upn! } } });
        return false;
      });
      // Seats: rows in file order take the seats left; the rest are named with the license.
      for (const r of free) {
        const short = r.licenses!.find((s) => (left.get(s) ?? 0) < 1);
        for (const s of r.licenses!) seatsNeeded[s] = (seatsNeeded[s] ?? 0) + 1;
        if (short) {
          failures.push({ index: r.index, issue: { line: r.line, code: 'NO_SEAT_LEFT', params: { license: short } } });
          continue;
        }
        for (const s of r.licenses!) left.set(s, (left.get(s) ?? 0) - 1);
        ready++;
      }
      failures.sort((a, b) => a.index - b.index);
      for (const f of failures) if (issues.length < PREVIEW_ISSUES) issues.push(f.issue);
      issueCount += failures.length;
      if (staged && failures.length) {
        const outcomes = Object.fromEntries(failures.map((f) => [String(f.index), JSON.stringify({ ok: false, code: f.issue.code, params: f.issue.params } satisfies RowOutcome)]));
        await execOrThrow(this.redis.pipeline().hset(staged, outcomes).pexpire(staged, JOB_TTL_MS));
      }
    }
    return {
      jobId,
      customer,
      subscriptions,
      total,
      ready,
      issues,
      issueCount,
      withoutUsageLocation,
      withoutLicenses,
      seatsNeeded,
      options,
      filename: job.filename,
    };
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
    // The rows the preview sets aside are written to a key of this start's own while they are checked, and become the
    // job's recorded outcomes only if this start wins (a losing or refused start deletes them).
    let staged = job.state === 'preview' ? this.keys.importJobRun(customerId, jobId, 'staged', randomBytes(8).toString('hex')) : undefined;
    try {
      const preview = await this.assess(customerId, jobId, options, job, staged);
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
      if (preview.issueCount) tx.rename(staged!, resultsKey).pexpire(resultsKey, JOB_TTL_MS);
      const failed = String(preview.issueCount);
      tx.hset(key, { state: 'running', options: JSON.stringify(options), processed: failed, created: '0', failed, ...card });
      await execOrThrow(tx);
      staged = undefined;
      return { started: true, preview };
    } finally {
      if (staged) await this.redis.del(staged);
    }
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
   * operation and is counted as created, with a fresh password.
   *
   * The rows are taken a window at a time: the window's rows are created in batches and recorded, the users of the
   * window created by an earlier run get a fresh password (theirs was never shown), and the window's part of the
   * results CSV is sealed under this run's download key and appended to this run's list. Only then are its passwords
   * dropped from memory. A run that stops leaves parts nobody can open; the next run writes every part again.
   */
  async run(customerId: string, jobId: string, hooks: RunHooks = {}): Promise<ImportResult | null> {
    const lock = await acquireJobLock(this.redis, this.keys.importJob(customerId, jobId, ':lock'), LOCK_TTL_MS);
    if (!lock) return null;
    const { token } = lock;
    try {
      const jobKey = this.keys.importJob(customerId, jobId);
      const job = await this.job(customerId, jobId);
      if (job.state !== 'running') return null;
      const options = JSON.parse(job.options) as ImportOptions;
      const actor: Actor = { id: job.owner, name: job.ownerName };
      const customer = await this.directory.getCustomer(customerId);
      const total = Number(job.total);
      const resultsKey = this.keys.importJob(customerId, jobId, ':results');
      const counters = await this.countOutcomes(resultsKey);
      // All or nothing, and a row had already failed when the last run stopped: finish the roll-back.
      if (options.mode === 'allOrNothing' && counters.failed > 0) return await this.rollBack(customerId, jobId, actor, counters, job.out);
      const results = new ResultsWriter(JSON.parse(job.headers) as string[], hooks.labels ?? PLAIN_LABELS, this.vault.newPartedDownload());
      const outKey = this.keys.importJobRun(customerId, jobId, 'out', token);
      // The parts an earlier run wrote are sealed under a key that run held in memory only: of no use to anyone.
      await execOrThrow(this.redis.pipeline().del(job.out ?? outKey).hset(jobKey, 'out', outKey));
      const columns = (mapHeaders(JSON.parse(job.headers) as string[]) as { columns: Field[] }).columns;
      const batchUsage = options.usageLocation ? this.safe(() => validateUsageLocation(options.usageLocation!)) : undefined;
      let passwordsRenewed = 0;

      for await (const { from, rows } of this.windows(customerId, jobId, total)) {
        await lock.renew();
        const recorded = await this.redis.hmget(resultsKey, ...rows.map((_, k) => String(from + k)));
        const outcomes = recorded.map((v) => (v ? (JSON.parse(v) as RowOutcome) : undefined));
        const passwords = new Map<number, string>();
        const todo = rows.flatMap((row, k) => (outcomes[k] ? [] : [this.rowForRun(row, from + k, columns, customer, options, batchUsage)]));
        for (let b = 0; b < todo.length; b += BATCH) {
          if (b > 0) await lock.renew();
          const batch = todo.slice(b, b + BATCH);
          const done = await mapLimit(batch, CONCURRENCY, async (row): Promise<[ParsedRow, RowOutcome]> => {
            if ('issue' in row) return [row, { ok: false, code: row.issue.code, params: row.issue.params }];
            try {
              const created = await this.directory.createUser(
                customerId,
                { username: row.username!, domain: row.domain, firstName: row.firstName, lastName: row.lastName, displayName: row.displayName!, usageLocation: row.usageLocation!, role: row.role, licenses: row.licenses },
                // The customer read for this run: its domains validated every row; the script checks the domain again.
                { actor, operationId: `import:${jobId}:${row.index}`, customer },
              );
              if (created.temporaryPassword) passwords.set(row.index, created.temporaryPassword);
              return [row, { ok: true, userId: created.user.id, upn: created.user.userPrincipalName }];
            } catch (err) {
              if (!isDirectoryError(err)) throw err;
              return [row, { ok: false, code: err.code, params: err.params }];
            }
          });
          const write = this.redis.pipeline();
          for (const [row, outcome] of done) {
            write.hset(resultsKey, String(row.index), JSON.stringify(outcome));
            outcomes[row.index - from] = outcome;
            counters.processed++;
            outcome.ok ? counters.created++ : counters.failed++;
          }
          write.hset(jobKey, { processed: String(counters.processed), created: String(counters.created), failed: String(counters.failed) });
          write.pexpire(resultsKey, JOB_TTL_MS);
          await execOrThrow(write);
          for (const [row] of done) hooks.afterRow?.(row.index);
          if (options.mode === 'allOrNothing' && done.some(([, o]) => !o.ok)) return await this.rollBack(customerId, jobId, actor, counters, outKey);
          await hooks.onProgress?.({ jobId, customerId, total, ...counters, state: 'running' });
        }
        passwordsRenewed += await this.renewPasswords(customerId, jobId, actor, token, from, outcomes, passwords);
        await execOrThrow(this.redis.pipeline().rpush(outKey, results.part(from, rows, outcomes, passwords)).pexpire(outKey, JOB_TTL_MS));
      }
      return await this.finish(customerId, jobId, actor, total, counters, results, outKey, passwordsRenewed);
    } finally {
      await lock.release();
    }
  }

  /** Counts the recorded outcomes (a crashed run may have recorded rows without its counters), a page at a time. */
  private async countOutcomes(resultsKey: string): Promise<{ processed: number; created: number; failed: number }> {
    const counters = { processed: 0, created: 0, failed: 0 };
    for await (const page of this.outcomePages(resultsKey)) {
      for (const [, outcome] of page) {
        counters.processed++;
        outcome.ok ? counters.created++ : counters.failed++;
      }
    }
    return counters;
  }

  /** Every recorded outcome, a page at a time (HSCAN may repeat an entry; the callers do not mind, or dedupe). */
  private async *outcomePages(resultsKey: string): AsyncGenerator<Array<[number, RowOutcome]>> {
    const seen = new Set<number>();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(resultsKey, cursor, 'COUNT', WINDOW);
      cursor = next;
      const page: Array<[number, RowOutcome]> = [];
      for (let i = 0; i < flat.length; i += 2) {
        const index = Number(flat[i]);
        if (seen.has(index)) continue;
        seen.add(index);
        page.push([index, JSON.parse(flat[i + 1]) as RowOutcome]);
      }
      yield page;
    } while (cursor !== '0');
  }

  /** A row with the job's options, or the reason it is not created. */
  private rowForRun(row: CsvRow, index: number, columns: Field[], customer: Customer, options: ImportOptions, batchUsage: string | undefined): ParsedRow | (ParsedRow & { issue: RowIssue }) {
    const parsed = this.parseRow(row, index, columns, customer);
    if ('issue' in parsed) return { index, line: row.line, cells: row.cells, issue: parsed.issue };
    parsed.usageLocation ??= batchUsage;
    parsed.licenses ??= options.licenses ?? [];
    if (!parsed.usageLocation) return { ...parsed, issue: { line: row.line, code: 'USAGE_LOCATION_NEEDED' as const, params: {} } };
    return parsed;
  }

  /**
   * Users of a window created before an interruption (or by a replayed create): their first password is lost, so they
   * get a fresh one now. The operation id is this run's own: when a run stops half-way through the renewals, the
   * passwords it set were never shown either, so the next run must set new ones rather than replay these.
   */
  private async renewPasswords(
    customerId: string,
    jobId: string,
    actor: Actor,
    runToken: string,
    from: number,
    outcomes: Array<RowOutcome | undefined>,
    passwords: Map<number, string>,
  ): Promise<number> {
    const missing = outcomes.flatMap((o, k) => (o?.ok && !passwords.has(from + k) ? [[from + k, o] as const] : []));
    let renewed = 0;
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
        renewed++;
      }
    });
    return renewed;
  }

  private async finish(
    customerId: string,
    jobId: string,
    actor: Actor,
    total: number,
    counters: { processed: number; created: number; failed: number },
    results: ResultsWriter,
    outKey: string,
    passwordsRenewed: number,
  ): Promise<ImportResult> {
    // A file of only the header row (no window was written) still gets its header.
    if (results.parts === 0) await execOrThrow(this.redis.pipeline().rpush(outKey, results.part(0, [], [], new Map())).pexpire(outKey, JOB_TTL_MS));
    const downloadToken = await this.vault.createPartedDownload(actor.id, `${customerId}-import-results.csv`, results.download, outKey, results.parts);
    await this.redis
      .multi()
      .hset(this.keys.importJob(customerId, jobId), { state: 'done', ...Object.fromEntries(Object.entries(counters).map(([k, v]) => [k, String(v)])) })
      .exec();
    await this.redis.srem(this.keys.runningImports(), `${customerId} ${jobId}`);
    return { jobId, customerId, total, ...counters, state: 'done', downloadToken, passwordsRenewed };
  }

  /** All or nothing and a row failed during the run (a race after validation): remove what this job created. */
  private async rollBack(
    customerId: string,
    jobId: string,
    actor: Actor,
    counters: { processed: number; created: number; failed: number },
    outKey: string | undefined,
  ): Promise<ImportResult> {
    for await (const page of this.outcomePages(this.keys.importJob(customerId, jobId, ':results'))) {
      const created = page.filter(([, o]) => o.ok && o.userId).map(([, o]) => o.userId!);
      for (let i = 0; i < created.length; i += 500) await this.directory.discardNewUsers(customerId, created.slice(i, i + 500), actor);
    }
    const tx = this.redis.multi().hset(this.keys.importJob(customerId, jobId), { state: 'rolledBack' });
    if (outKey) tx.del(outKey);
    await tx.exec();
    await this.redis.srem(this.keys.runningImports(), `${customerId} ${jobId}`);
    const total = Number(await this.redis.hget(this.keys.importJob(customerId, jobId), 'total'));
    return { jobId, customerId, total, ...counters, created: 0, state: 'rolledBack', downloadToken: '', passwordsRenewed: 0 };
  }
}

/**
 * The results CSV, a part per window: the input columns, Partner Center's `Status update` per row (or a column of its
 * own), the temporary password; formulas neutralised. Each part is sealed for the download as soon as it is made.
 */
class ResultsWriter {
  parts = 0;
  private readonly statusColumn: number;
  private readonly outHeaders: string[];
  constructor(
    private readonly headers: string[],
    private readonly labels: ResultLabels,
    readonly download: PartedDownload,
  ) {
    const mapping = mapHeaders(headers);
    this.statusColumn = mapping.ok ? mapping.statusColumn : -1;
    this.outHeaders = this.statusColumn >= 0 ? [...headers] : [...headers, labels.statusHeader];
    this.outHeaders.push(labels.passwordHeader);
  }

  /** The sealed part for the rows from `from` on (the first part starts with the BOM and the header row). */
  part(from: number, rows: CsvRow[], outcomes: Array<RowOutcome | undefined>, passwords: Map<number, string>): string {
    const { labels, headers, statusColumn } = this;
    const lines = rows.map((row, k) => {
      const outcome = outcomes[k];
      const status = !outcome ? labels.notImported : outcome.ok ? labels.created(outcome.upn ?? '') : labels.notCreated(outcome.code ?? '', outcome.params ?? {});
      const cells = headers.map((_, c) => row.cells[c] ?? '');
      if (statusColumn >= 0) cells[statusColumn] = status;
      else cells.push(status);
      cells.push(passwords.get(from + k) ?? '');
      return cells;
    });
    const first = this.parts === 0;
    const csv = stringify((first ? [this.outHeaders, ...lines] : lines).map((r) => r.map(neutraliseFormula)), { bom: first, record_delimiter: 'windows' });
    return this.download.seal(this.parts++, csv);
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
