import { z } from 'zod';
import { USER_ROLES, UserFilter } from '../../services/types';
import { VERBS } from '../../cards/verbs';
import { hasUnsafeCharacters } from '../../services/validation';
import type { Command } from './types';

/**
 * Card button (Action.Execute verb + data, with the card's inputs merged in) → Command.
 * Everything is validated with zod: an unknown verb or a malformed payload is refused, never guessed.
 */
const id = z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9_.:@-]+$/);
const customerId = z.string().trim().min(1).max(64).regex(/^[a-z0-9][a-z0-9-]*$/);
const operationId = z.string().trim().min(8).max(100).regex(/^[A-Za-z0-9_.:-]+$/);
const versions = z.record(id, z.number().int().min(0)).refine((v) => Object.keys(v).length <= 500);
const shortText = (max: number) => z.string().max(max).optional();
/** Multi-select inputs arrive as one comma-separated string (or an array from some clients). */
const idList = z
  .union([z.string().max(40_000), z.array(z.string().max(64)).max(500)])
  .optional()
  .transform((v) => (Array.isArray(v) ? v : (v ?? '').split(',')).map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(id).max(500));
/**
 * The offboarding confirmation's colleague field: a username, UPN, id or display name, as `--to` takes it (resolved
 * like any user reference). Empty: no colleague.
 */
const colleagueText = z
  .string()
  .max(256)
  .transform((v) => v.trim())
  .refine((v) => !hasUnsafeCharacters(v))
  .optional();
const pageNumber = z.coerce.number().int().min(1).max(100_000).optional();
const licenseState = z.enum(['all', 'some', 'none']);
/** Series id (16 bytes) and key (32 bytes), base64url; empty before the first "Save and add another". */
const seriesPart = (length: number) => z.union([z.literal(''), z.string().regex(new RegExp(`^[A-Za-z0-9_-]{${length}}$`))]).optional();

const importData = z.object({
  customerId,
  jobId: z.string().regex(/^[A-Za-z0-9_-]{12}$/),
  usageLocation: shortText(20),
  licenses: idList,
  mode: z.enum(['validRows', 'allOrNothing']).optional(),
});

const schemas = {
  [VERBS.runCommand]: z.object({ text: z.string().min(1).max(1000) }),
  [VERBS.users]: z.object({
    customerId,
    filter: shortText(80),
    role: z.union([z.enum(USER_ROLES), z.literal('')]).optional(),
    search: shortText(100),
    page: pageNumber,
  }),
  [VERBS.licenses]: z.object({ customerId }),
  [VERBS.addUser]: z.object({ customerId }),
  [VERBS.createUser]: z.object({
    customerId,
    operationId,
    addAnother: z.boolean(),
    seriesId: seriesPart(22),
    seriesKey: seriesPart(43),
    addedSoFar: z.coerce.number().int().min(0).max(10_000).optional(),
    firstName: shortText(200),
    lastName: shortText(200),
    displayName: shortText(1000),
    username: shortText(200),
    domain: shortText(200),
    usageLocation: shortText(20),
    role: shortText(40),
    licenses: idList,
  }),
  [VERBS.finishSeries]: z.object({ customerId, seriesId: z.string().regex(/^[A-Za-z0-9_-]{22}$/), seriesKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/) }),
  [VERBS.manageLicenses]: z.object({
    customerId,
    userIds: idList,
    versions: versions.optional(),
    // "All users in this view": the view as the users card drew it.
    allInView: z.boolean().optional(),
    viewFilter: shortText(80),
    viewRole: z.union([z.enum(USER_ROLES), z.literal('')]).optional(),
    viewSearch: shortText(100),
  }),
  [VERBS.saveLicenses]: z.object({
    customerId,
    operationId,
    // The selected users and their versions, or the id of the selection saved with the card (too many for its data).
    userIds: z.array(id).max(500).optional(),
    versions: versions.optional(),
    selectionId: z.string().uuid().optional(),
    initial: z.record(id, licenseState),
    replaceFrom: shortText(64),
    replaceTo: shortText(64),
  }),
  [VERBS.resetPassword]: z.object({ customerId, userIds: idList, versions: versions.optional() }),
  [VERBS.confirmResetPassword]: z.object({ customerId, userId: id, version: z.number().int().min(0), operationId }),
  [VERBS.deleteUsers]: z.object({ customerId, userIds: idList, versions: versions.optional() }),
  [VERBS.confirmDeleteUsers]: z.object({ customerId, userIds: z.array(id).min(1).max(500), versions, operationId }),
  [VERBS.deletedUsers]: z.object({ customerId }),
  [VERBS.restoreUsers]: z.object({ customerId, operationId, userIds: idList, versions: versions.optional(), newUsername: shortText(200) }),
  [VERBS.audit]: z.object({ customerId, page: pageNumber }),
  [VERBS.offboard]: z.object({ customerId, userIds: idList, versions: versions.optional(), colleague: colleagueText }),
  [VERBS.confirmOffboard]: z.object({
    customerId,
    userId: id,
    version: z.number().int().min(0),
    toUserId: id.optional(),
    operationId,
    colleague: colleagueText,
    drawnColleague: z.string().max(256).optional(),
  }),
  [VERBS.viewOffboard]: z.object({ customerId, jobId: z.string().regex(/^[A-Za-z0-9_-]{16}$/) }),
  [VERBS.requestApproval]: z.object({
    customerId,
    kind: z.enum(['deleteUsers', 'resetPassword', 'offboard', 'changeLicenses', 'import']),
    userIds: z.array(id).max(500).optional(),
    // An import: the previewed job and its options.
    jobId: z.string().regex(/^[A-Za-z0-9_-]{12}$/).optional(),
    mode: z.enum(['validRows', 'allOrNothing']).optional(),
    usageLocation: shortText(20),
    licenses: z.array(id).max(50).optional(),
    toUserId: id.optional(),
    // A license change: what it removes and adds, or the license it replaces.
    add: z.array(id).max(50).optional(),
    remove: z.array(id).max(50).optional(),
    replace: z.object({ from: id, to: id }).optional(),
    operationId,
    reason: z.string().max(2000).optional(),
    // An offboarding: its colleague field, and the colleague the request card was drawn for.
    colleague: colleagueText,
    drawnColleague: z.string().max(256).optional(),
  }),
  [VERBS.decideApproval]: z.object({ customerId, requestId: z.string().regex(/^[A-Za-z0-9_-]{16}$/), decision: z.enum(['approve', 'reject', 'withdraw']) }),
  [VERBS.viewApproval]: z.object({ customerId, requestId: z.string().regex(/^[A-Za-z0-9_-]{16}$/) }),
  [VERBS.approvalAgain]: z.object({ customerId, requestId: z.string().regex(/^[A-Za-z0-9_-]{16}$/) }),
  [VERBS.importCheck]: importData,
  [VERBS.importRun]: importData.extend({ operationId }),
} as const;

export type ActionResult = { ok: true; command: Command } | { ok: false; reason: 'unknownVerb' | 'invalidData'; field?: string } | { ok: true; runText: string };

function parseFilter(value: string | undefined): UserFilter {
  if (!value || value === 'all') return { kind: 'all' };
  if (value === 'licensed' || value === 'unlicensed') return { kind: value };
  if (value.startsWith('license:')) return { kind: 'license', skuId: value.slice('license:'.length) };
  return { kind: 'all' };
}

export function actionToCommand(verb: unknown, rawData: unknown): ActionResult {
  if (typeof verb !== 'string' || !Object.prototype.hasOwnProperty.call(schemas, verb)) return { ok: false, reason: 'unknownVerb' };
  const parsed = schemas[verb as keyof typeof schemas].safeParse(rawData ?? {});
  if (!parsed.success) return { ok: false, reason: 'invalidData', field: parsed.error.issues[0]?.path.join('.') };
  const d = parsed.data as Record<string, unknown> & { customerId: string };
  switch (verb) {
    case VERBS.runCommand:
      return { ok: true, runText: (parsed.data as { text: string }).text };
    case VERBS.users: {
      const v = parsed.data as z.infer<(typeof schemas)['users']>;
      return {
        ok: true,
        command: { name: 'users', customer: v.customerId, filter: parseFilter(v.filter), role: v.role || undefined, search: v.search?.trim() || undefined, page: v.page ?? 1 },
      };
    }
    case VERBS.licenses:
      return { ok: true, command: { name: 'licenses', customer: d.customerId } };
    case VERBS.addUser:
      return { ok: true, command: { name: 'addUser', customer: d.customerId } };
    case VERBS.createUser: {
      const v = parsed.data as z.infer<(typeof schemas)['createUser']>;
      return {
        ok: true,
        command: {
          name: 'createUser',
          customer: v.customerId,
          operationId: v.operationId,
          addAnother: v.addAnother,
          series: v.seriesId && v.seriesKey ? { id: v.seriesId, key: v.seriesKey } : undefined,
          addedSoFar: v.addedSoFar ?? 0,
          fields: {
            firstName: v.firstName,
            lastName: v.lastName,
            displayName: v.displayName ?? '',
            username: v.username ?? '',
            domain: v.domain,
            usageLocation: v.usageLocation ?? '',
            role: v.role,
            licenses: v.licenses,
          },
        },
      };
    }
    case VERBS.finishSeries: {
      const v = parsed.data as z.infer<(typeof schemas)['finishSeries']>;
      return { ok: true, command: { name: 'finishSeries', customer: v.customerId, series: { id: v.seriesId, key: v.seriesKey } } };
    }
    case VERBS.manageLicenses: {
      const v = parsed.data as z.infer<(typeof schemas)['manageLicenses']>;
      const allInView = v.allInView ? { filter: parseFilter(v.viewFilter), role: v.viewRole || undefined, search: v.viewSearch?.trim() || undefined } : undefined;
      return { ok: true, command: { name: 'manageLicenses', customer: v.customerId, userIds: v.userIds, versions: v.versions ?? {}, allInView } };
    }
    case VERBS.saveLicenses: {
      const v = parsed.data as z.infer<(typeof schemas)['saveLicenses']>;
      const userIds = v.userIds ?? [];
      if (!!v.selectionId === userIds.length > 0) return { ok: false, reason: 'invalidData', field: 'userIds' };
      if (!v.selectionId && !v.versions) return { ok: false, reason: 'invalidData', field: 'versions' };
      const desired: Record<string, 'all' | 'some' | 'none'> = {};
      for (const sku of Object.keys(v.initial)) {
        const value = (rawData as Record<string, unknown>)[`lic_${sku}`];
        const state = licenseState.safeParse(value ?? v.initial[sku]);
        if (!state.success) return { ok: false, reason: 'invalidData', field: `lic_${sku}` };
        desired[sku] = state.data;
      }
      const [from, to] = [v.replaceFrom?.trim(), v.replaceTo?.trim()];
      if (!!from !== !!to || (from && (from === to || !(from in v.initial) || !(to! in v.initial)))) return { ok: false, reason: 'invalidData', field: 'replaceTo' };
      const replace = from && to ? { from, to } : undefined;
      return { ok: true, command: { name: 'saveLicenses', customer: v.customerId, operationId: v.operationId, userIds, versions: v.versions ?? {}, selectionId: v.selectionId, initial: v.initial, desired, replace } };
    }
    case VERBS.resetPassword: {
      const v = parsed.data as z.infer<(typeof schemas)['resetPassword']>;
      if (v.userIds.length !== 1) return { ok: false, reason: 'invalidData', field: 'userIds' };
      return { ok: true, command: { name: 'resetPassword', customer: v.customerId, user: v.userIds[0], version: v.versions?.[v.userIds[0]] } };
    }
    case VERBS.confirmResetPassword: {
      const v = parsed.data as z.infer<(typeof schemas)['confirmResetPassword']>;
      return { ok: true, command: { name: 'confirmResetPassword', customer: v.customerId, userId: v.userId, version: v.version, operationId: v.operationId } };
    }
    case VERBS.deleteUsers: {
      const v = parsed.data as z.infer<(typeof schemas)['deleteUsers']>;
      return { ok: true, command: { name: 'deleteUsers', customer: v.customerId, users: v.userIds, versions: v.versions } };
    }
    case VERBS.confirmDeleteUsers: {
      const v = parsed.data as z.infer<(typeof schemas)['confirmDeleteUsers']>;
      return { ok: true, command: { name: 'confirmDeleteUsers', customer: v.customerId, userIds: v.userIds, versions: v.versions, operationId: v.operationId } };
    }
    case VERBS.deletedUsers:
      return { ok: true, command: { name: 'deletedUsers', customer: d.customerId } };
    case VERBS.restoreUsers: {
      const v = parsed.data as z.infer<(typeof schemas)['restoreUsers']>;
      return {
        ok: true,
        command: { name: 'restore', customer: v.customerId, users: v.userIds, versions: v.versions, operationId: v.operationId, newUsername: v.newUsername?.trim() || undefined },
      };
    }
    case VERBS.importCheck:
    case VERBS.importRun: {
      const v = parsed.data as z.infer<typeof importData> & { operationId?: string };
      const options = { mode: v.mode ?? 'validRows', usageLocation: v.usageLocation?.trim() || undefined, licenses: v.licenses } as const;
      const command: Command =
        verb === VERBS.importRun
          ? { name: 'importRun', customer: v.customerId, jobId: v.jobId, operationId: v.operationId, options }
          : { name: 'importCheck', customer: v.customerId, jobId: v.jobId, options };
      return { ok: true, command };
    }
    case VERBS.offboard: {
      const v = parsed.data as z.infer<(typeof schemas)['offboard']>;
      if (v.userIds.length !== 1) return { ok: false, reason: 'invalidData', field: 'userIds' };
      return { ok: true, command: { name: 'offboard', customer: v.customerId, user: v.userIds[0], version: v.versions?.[v.userIds[0]], to: v.colleague || undefined } };
    }
    case VERBS.confirmOffboard: {
      const v = parsed.data as z.infer<(typeof schemas)['confirmOffboard']>;
      return {
        ok: true,
        command: { name: 'confirmOffboard', customer: v.customerId, userId: v.userId, version: v.version, toUserId: v.toUserId, operationId: v.operationId, colleague: v.colleague, drawnColleague: v.drawnColleague },
      };
    }
    case VERBS.viewOffboard: {
      const v = parsed.data as z.infer<(typeof schemas)['viewOffboard']>;
      return { ok: true, command: { name: 'viewOffboard', customer: v.customerId, jobId: v.jobId } };
    }
    case VERBS.requestApproval: {
      const v = parsed.data as z.infer<(typeof schemas)['requestApproval']>;
      const userIds = v.userIds ?? [];
      if (v.kind === 'import') {
        if (!v.jobId) return { ok: false, reason: 'invalidData', field: 'jobId' };
        const options = { mode: v.mode ?? 'validRows', ...(v.usageLocation ? { usageLocation: v.usageLocation } : {}), ...(v.licenses?.length ? { licenses: v.licenses } : {}) };
        // The rows and file name are counted again from the job when the request is made.
        const change = { kind: v.kind, jobId: v.jobId, filename: '', rows: 0, options };
        return { ok: true, command: { name: 'requestApproval', customer: v.customerId, change, reason: (v.reason ?? '').trim(), operationId: v.operationId } };
      }
      if (userIds.length === 0 || (v.kind !== 'deleteUsers' && v.kind !== 'changeLicenses' && userIds.length !== 1)) return { ok: false, reason: 'invalidData', field: 'userIds' };
      const change =
        v.kind === 'deleteUsers'
          ? { kind: v.kind, userIds }
          : v.kind === 'changeLicenses'
            ? { kind: v.kind, userIds, add: v.add ?? [], remove: v.remove ?? [], ...(v.replace ? { replace: v.replace } : {}) }
          : v.kind === 'resetPassword'
            ? { kind: v.kind, userId: userIds[0] }
            : { kind: v.kind, userId: userIds[0], toUserId: v.toUserId };
      const colleague = v.kind === 'offboard' ? { colleague: v.colleague, drawnColleague: v.drawnColleague } : {};
      return { ok: true, command: { name: 'requestApproval', customer: v.customerId, change, reason: (v.reason ?? '').trim(), operationId: v.operationId, ...colleague } };
    }
    case VERBS.decideApproval: {
      const v = parsed.data as z.infer<(typeof schemas)['decideApproval']>;
      return { ok: true, command: { name: 'decideApproval', customer: v.customerId, requestId: v.requestId, decision: v.decision } };
    }
    case VERBS.viewApproval:
    case VERBS.approvalAgain: {
      const v = parsed.data as z.infer<(typeof schemas)['viewApproval']>;
      return { ok: true, command: { name: verb === VERBS.viewApproval ? 'viewApproval' : 'approvalAgain', customer: v.customerId, requestId: v.requestId } };
    }
    case VERBS.audit: {
      const v = parsed.data as z.infer<(typeof schemas)['audit']>;
      return { ok: true, command: { name: 'audit', customer: v.customerId, page: v.page ?? 1 } };
    }
    default:
      return { ok: false, reason: 'unknownVerb' };
  }
}
