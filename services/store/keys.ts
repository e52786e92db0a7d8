/**
 * The whole Redis key layout, in one place.
 *
 * Every key of one customer carries the hash tag `{c:<customerId>}`, so a customer's keys live in one
 * slot and every Lua script touches one slot only (Redis Cluster-safe). Global keys hold only what is
 * not tied to one customer (the customer list, the domain index, agent roles).
 *
 *   <root>customers                      set    customer ids
 *   <root>customer-names                 hash   customerId → name (for listing and lookup by name)
 *   <root>domains                        hash   lower(domain) → customerId
 *   <root>agent-roles                    hash   lower(agent id) → admin | helpdesk (granted in chat)
 *   <root>agent-conversations            hash   lower(agent id) → JSON reference of the agent's 1:1 chat (with the
 *                                               agent's Teams user id, for the approval card's refresh.userIds)
 *   <root>refusals                       list   refused requests (who, what, why), newest first, capped
 *   <root>{a:<agentId>}:series:<id>      list   "Save and add another" credentials, AES-GCM sealed, 24 h
 *   <root>{a:<agentId>}:series:<id>:done list   the same, once finished, plus the sealed download token; 10 min
 *   <root>{a:<agentId>}:undelivered:<op> string why the passwords of an operation (a create, a reset, a finished series)
 *                                               could not be sent to the agent privately; 48 h, so that a repeated
 *                                               delivery of the same button answers as the first did
 *   <root>{a:<agentId>}:pending-signin   string the command an agent typed before signing in (text, conversation reference,
 *                                               locale; never a token), run once sign-in completes; 10 min, taken once
 *   <root>{a:<agentId>}:signin-exchange:<sha256(id)>  string  a Teams SSO token exchange already handled (Teams may
 *                                               deliver the same signin/tokenExchange twice or to several instances); 10 min
 *   <root>download:<sha256(link id)>     hash   owner, filename, expiresAt, AES-GCM sealed file; 10 min, read once
 *   <root>dialog-token:<sha256(token)>   hash   an Import users dialog's one-time token: agent, customer, conversation
 *                                               (reference), locale, expiresAt; 15 min, deleted by the upload it allows
 *   <root>dialog-upload:<sha256(id)>     hash   a CSV uploaded through that dialog (base64) with the same binding, waiting
 *                                               for the dialog's task/submit; 15 min, taken once
 *   <root>{c:<id>}:customer              hash   id, name, domains (comma-separated, default first)
 *   <root>{c:<id>}:skus                  hash   skuId → display name
 *   <root>{c:<id>}:seats                 hash   skuId → total seats
 *   <root>{c:<id>}:counts                hash   active, unlicensed, deleted, role:<role>, lic:<skuId> (= seats used), ver
 *                                               (moved by every change), layout ('3' once the index entries are short)
 *   <root>{c:<id>}:upn                   hash   lower(UPN) → userId, active users only (also where the text search finds UPNs)
 *   <root>{c:<id>}:idx:active            zset   "<sortName>\x01<userId>", score 0 (lexicographic = by display name)
 *   <root>{c:<id>}:idx:unlicensed        zset   same members, active users without licenses
 *   <root>{c:<id>}:idx:license           zset   "<skuId>\x01<sortName>\x01<userId>" per held license
 *   <root>{c:<id>}:idx:role              zset   "<role>\x01<sortName>\x01<userId>", admin roles only
 *   <root>{c:<id>}:deleted               zset   userId scored by deletion time (ms)
 *   <root>{c:<id>}:audit                 list   newest first, capped; fields joined by \x1f, never a secret
 *   <root>{c:<id>}:user:<userId>         hash   the user (see UserHash in directory.ts)
 *   <root>{c:<id>}:ops:<gen>:<bucket>    hash   operationId → result of an applied operation (Redis directory): the
 *                                               records of one 48 h generation in 1,024 buckets (see operationRecords);
 *                                               each bucket expires at the end of the next generation, so a record lives
 *                                               48–96 h
 *   <root>{c:<id>}:op:<operationId>      string result of an operation, expires after 48 h: the Graph directory's (it
 *                                               writes "pending <at>" first, then the JSON result), and the Redis
 *                                               directory's before the buckets (still honoured, see operationRecords)
 *   <root>{c:<id>}:selection:<id>        hash   userId → version: the users a Manage licenses card was drawn for
 *                                               when they are too many for the card's data ("all users in this
 *                                               view", up to 500); expires after 24 h
 *   <root>{c:<id>}:graph:remembered      hash   Graph directory only (customer id = tenant id): userId → licenses the user
 *                                               held when the bot deleted it, given back by Restore; dropped on restore
 *   <root>{c:<id>}:import:<jobId>        hash   an import job: owner, state, options, counters, where its card is
 *   <root>{c:<id>}:import:<jobId>:rows   list   the file's rows as JSON {line, cells}
 *   <root>{c:<id>}:import:<jobId>:results hash  row index → JSON outcome (created user id or error), no secret
 *   <root>{c:<id>}:import:<jobId>:lock   string the instance running the job (expires unless renewed)
 *   <root>{c:<id>}:import:<jobId>:out:<run>  list  a run's results CSV, a part per 1,000 rows, each AES-GCM sealed
 *                                               under that run's download key (held in memory only); 2 days, then as
 *                                               long as the download (10 min), deleted when it is taken
 *   <root>{c:<id>}:import:<jobId>:staged:<start>  hash  the failures a start is checking, renamed to :results when
 *                                               the job starts (deleted otherwise)
 *   <root>import-jobs                    set    "<customerId> <jobId>" of running imports, resumed at start-up
 *   <root>{c:<id>}:approvals             hash   the customer's four-eyes setting: enabled, expiryMs, importThreshold
 *   <root>{c:<id>}:approval:<requestId>  hash   an approval request: state, requester, reason, change (JSON), the versions
 *                                               it was computed from, decider, outcome, where its channel card is; 30 days
 *   <root>{c:<id>}:offboard:<jobId>      hash   an offboarding job: user, colleague, licenses, each finished step, state
 *   <root>{c:<id>}:offboard:<jobId>:lock string the instance running that job (expires unless the job ends first)
 *   <root>offboard-jobs                  set    "<customerId> <jobId>" of running offboardings, resumed at start-up
 *   <root>{c:<id>}:bulk:<jobId>          hash   a bulk change of more users than one change takes (services/bulkChanges.ts):
 *                                               owner, change, state, counters, each chunk's users `u:<n>`, what it
 *                                               changed `r:<n>`, undo marks `x:<n>`; 24 h
 *   <root>{c:<id>}:bulk:<jobId>:lock     string the instance running that job (expires unless renewed per chunk)
 *   <root>bulk-jobs                      set    "<customerId> <jobId>" of running bulk changes, resumed at start-up
 *   <root>approvals-channel              string JSON conversation reference of the partner's approvals channel
 *
 * sortName = lower(displayName): sorting the entries sorts by display name, equal names by id (unique, random: a stable
 * but arbitrary order; up to layout 2 the entries also held lower(UPN), which ordered equal names by UPN and cost
 * 35-45 bytes in each of a user's entries). The text search matches names in the entries and UPNs in the `upn` hash,
 * without reading the user hashes.
 */
import { OPERATION_TTL_MS } from '../directories/constants';

export const SEP = '\x01';

/**
 * Buckets per generation of a customer's operation records. A bucket is a hash kept as a listpack while it has at most
 * 128 fields (hash-max-listpack-entries) of at most 64 bytes (hash-max-listpack-value): ~50 B a record instead of ~175
 * B for a key of its own. 1,024 keeps the 100,000 records of 100,000 creates in one generation at ~100 per bucket (a
 * handful over 128); with few records a bucket holds one or two and costs about what a key per record did. A bucket
 * that outgrows the limits (a bulk change's long result, more records) becomes a hash table until it expires: memory
 * only (~100 B a record, still less than a key).
 */
const OPERATION_BUCKETS = 1024;

/**
 * FNV-1a (32 bit) of the id's UTF-16 code units, then MurmurHash3's finaliser (FNV alone spread ids like `undo:<n>:x`
 * unevenly over the low bits). Every instance must pick the same bucket: never change it while records live.
 */
function operationBucketOf(operationId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < operationId.length; i++) h = Math.imul(h ^ operationId.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) % OPERATION_BUCKETS;
}

/** Where a mutating script looks for an operation's record, and where it keeps it (KEYS[12..15], ARGV[2]). */
export interface OperationRecordKeys {
  /** The record as written before the buckets: looked up for its remaining 48 h. */
  legacy: string;
  current: string;
  previous: string;
  next: string;
  /** What is left of the current bucket's life (ms): to the end of the next generation, 48–96 h. */
  ttlMs: number;
}

/** Fixed per-customer keys, in the order every script receives them as KEYS[1..N]. */
export const CUSTOMER_KEY_NAMES = [
  'customer',
  'skus',
  'seats',
  'counts',
  'upn',
  'idx:active',
  'idx:unlicensed',
  'idx:license',
  'idx:role',
  'deleted',
  'audit',
] as const;
export type CustomerKeyName = (typeof CUSTOMER_KEY_NAMES)[number];

export class KeyLayout {
  constructor(readonly root = 'pab:') {}

  customers(): string {
    return `${this.root}customers`;
  }
  customerNames(): string {
    return `${this.root}customer-names`;
  }
  domains(): string {
    return `${this.root}domains`;
  }
  agentRoles(): string {
    return `${this.root}agent-roles`;
  }
  agentConversations(): string {
    return `${this.root}agent-conversations`;
  }
  refusals(): string {
    return `${this.root}refusals`;
  }
  /** Why an operation's passwords did not reach the agent's 1:1 chat (same hash tag as the agent's series). */
  undeliveredPasswords(agentId: string, operationId: string): string {
    return `${this.root}{a:${agentId.toLowerCase()}}:undelivered:${operationId}`;
  }
  /** A finished series: what its confirmation showed, for a repeated Finish (same hash tag as the series). */
  credentialSeriesDone(agentId: string, seriesId: string): string {
    return `${this.credentialSeries(agentId, seriesId)}:done`;
  }
  /** The command an agent typed before signing in (bot state, never a token). */
  pendingSignIn(agentId: string): string {
    return `${this.root}{a:${agentId.toLowerCase()}}:pending-signin`;
  }
  /** A handled signin/tokenExchange, by the hash of its id (SET NX de-duplicates the exchange). */
  signInExchange(agentId: string, exchangeIdHash: string): string {
    return `${this.root}{a:${agentId.toLowerCase()}}:signin-exchange:${exchangeIdHash}`;
  }
  credentialSeries(agentId: string, seriesId: string): string {
    return `${this.root}{a:${agentId.toLowerCase()}}:series:${seriesId}`;
  }
  importJob(customerId: string, jobId: string, part: '' | ':rows' | ':results' | ':lock' = ''): string {
    return `${this.tag(customerId)}:import:${jobId}${part}`;
  }
  /** What one run (`out`) or one start (`staged`) of an import job writes, by that run's or start's own id. */
  importJobRun(customerId: string, jobId: string, part: 'out' | 'staged', runId: string): string {
    return `${this.importJob(customerId, jobId)}:${part}:${runId}`;
  }
  approvalSettings(customerId: string): string {
    return `${this.tag(customerId)}:approvals`;
  }
  approvalRequest(customerId: string, requestId: string): string {
    return `${this.tag(customerId)}:approval:${requestId}`;
  }
  offboardJob(customerId: string, jobId: string, part: '' | ':lock' = ''): string {
    return `${this.tag(customerId)}:offboard:${jobId}${part}`;
  }
  runningOffboardings(): string {
    return `${this.root}offboard-jobs`;
  }
  bulkJob(customerId: string, jobId: string, part: '' | ':lock' = ''): string {
    return `${this.tag(customerId)}:bulk:${jobId}${part}`;
  }
  runningBulkJobs(): string {
    return `${this.root}bulk-jobs`;
  }
  approvalsChannel(): string {
    return `${this.root}approvals-channel`;
  }
  runningImports(): string {
    return `${this.root}import-jobs`;
  }
  download(idHash: string): string {
    return `${this.root}download:${idHash}`;
  }
  /** The Import users dialog's one-time token, by the SHA-256 of the token (the token itself is only in the dialog URL). */
  dialogToken(tokenHash: string): string {
    return `${this.root}dialog-token:${tokenHash}`;
  }
  /** A CSV uploaded through the Import users dialog, by the SHA-256 of its upload id. */
  dialogUpload(uploadHash: string): string {
    return `${this.root}dialog-upload:${uploadHash}`;
  }

  private tag(customerId: string): string {
    return `${this.root}{c:${customerId}}`;
  }
  customerKey(customerId: string, name: CustomerKeyName): string {
    return `${this.tag(customerId)}:${name}`;
  }
  /** KEYS[1..11] of every customer script. */
  customerKeys(customerId: string): string[] {
    return CUSTOMER_KEY_NAMES.map((n) => this.customerKey(customerId, n));
  }
  user(customerId: string, userId: string): string {
    return `${this.tag(customerId)}:user:${userId}`;
  }
  /** An operation's record as a key of its own: the Graph directory's, and the Redis directory's before the buckets. */
  operation(customerId: string, operationId: string): string {
    return `${this.tag(customerId)}:op:${operationId}`;
  }
  /** Every bucket of a customer's operation records starts with this. */
  operationBucketPrefix(customerId: string): string {
    return `${this.tag(customerId)}:ops:`;
  }
  /**
   * The Redis directory's record of an operation at `now` (the client's clock, the scripts' ARGV[1]): generations are
   * OPERATION_TTL_MS (48 h) long, a record goes into the bucket of its id in the current generation, and a lookup reads
   * that bucket and the previous generation's: a record written at any point of generation g is found until the end of
   * g + 1, at least 48 h later, which is when its bucket expires. The lookup reads the next generation's bucket too,
   * for a writer whose clock was ahead (another instance, or this clock before it jumped back), by up to 48 h. The
   * time to live is relative to the client's clock (PEXPIRE, not PEXPIREAT): Redis's clock need not agree with it (the
   * tests' injected clock does not).
   */
  operationRecords(customerId: string, operationId: string, now: number): OperationRecordKeys {
    const generation = Math.floor(now / OPERATION_TTL_MS);
    const bucket = operationBucketOf(operationId);
    const prefix = this.operationBucketPrefix(customerId);
    return {
      legacy: this.operation(customerId, operationId),
      current: `${prefix}${generation}:${bucket}`,
      previous: `${prefix}${generation - 1}:${bucket}`,
      next: `${prefix}${generation + 1}:${bucket}`,
      ttlMs: (generation + 2) * OPERATION_TTL_MS - now,
    };
  }
  selection(customerId: string, selectionId: string): string {
    return `${this.tag(customerId)}:selection:${selectionId}`;
  }
  /** The Graph directory's note of the licenses each deleted user held, for Restore (Entra forgets them). */
  rememberedLicenses(customerId: string): string {
    return `${this.tag(customerId)}:graph:remembered`;
  }
  /** Every key of a customer matches this pattern (for SCAN in tests and checks). */
  customerPattern(customerId: string): string {
    return `${this.tag(customerId)}:*`;
  }
}
