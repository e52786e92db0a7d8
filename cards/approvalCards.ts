/**
 * Four-eyes approval and offboarding cards: pure functions of a view model. The approval card is one card for
 * everyone; `refresh.userIds` makes Teams ask the bot for each listed agent's own view (Approve / Reject for an admin
 * agent other than the requester, Withdraw for the requester while pending, read-only for the others).
 */
import type { ApprovalChange, ApprovalRequest } from '../services/approvals';
import { OffboardJob, OffboardPlan, OffboardStep, runningStep, stepsOf } from '../services/offboarding';
import type { Customer, Subscription } from '../services/types';
import { AdaptiveCard, CardElement, card, execute, field, heading, text, textInput } from './elements';
import type { MessageKey, Translator } from './i18n';
import { VERBS } from './verbs';

type T = Translator['t'];

export const REASON_INPUT = 'reason';

export interface ApprovalUserLine {
  displayName: string;
  userPrincipalName: string;
  licenses: string[];
}

export interface RequestApprovalModel {
  customer: Customer;
  change: ApprovalChange;
  /** What will change, one line per user (the colleague of an offboarding named apart). */
  users: ApprovalUserLine[];
  colleague?: ApprovalUserLine;
  subscriptions: Subscription[];
  operationId: string;
  /** Set when this is a fresh request after a stale one: what differed. */
  notice?: string;
  reason?: string;
  /** An offboarding: what its colleague field shows (as typed, when it could not be used). */
  colleagueText?: string;
}

const licenseNames = (skus: string[], subscriptions: Subscription[]) => skus.map((s) => subscriptions.find((x) => x.skuId === s)?.name ?? s).join(', ');

function changeTitle(t: T, change: ApprovalChange, count: number): string {
  if (change.kind === 'deleteUsers') return t('approval.change.deleteUsers', { count });
  if (change.kind === 'resetPassword') return t('approval.change.resetPassword');
  if (change.kind === 'changeLicenses') return t('approval.change.licenses', { count });
  if (change.kind === 'import') return t('approval.change.import', { count: change.rows, filename: change.filename });
  return t('approval.change.offboard');
}

/** A license change: what is removed and added, and the seats it frees and uses (only holders of a replaced license change). */
function licenseChangeLines(t: T, change: Extract<ApprovalChange, { kind: 'changeLicenses' }>, users: ApprovalUserLine[], subscriptions: Subscription[]): CardElement[] {
  const lines: CardElement[] = [];
  const freed = new Map<string, number>();
  const used = new Map<string, number>();
  const bump = (m: Map<string, number>, s: string) => m.set(s, (m.get(s) ?? 0) + 1);
  if (change.replace) {
    const { from, to } = change.replace;
    lines.push(text(t('approval.licenses.replace', { from: licenseNames([from], subscriptions), to: licenseNames([to], subscriptions) })));
    for (const u of users) {
      if (!u.licenses.includes(from)) continue;
      bump(freed, from);
      if (!u.licenses.includes(to)) bump(used, to);
    }
  } else {
    if (change.remove.length) lines.push(text(t('approval.licenses.remove', { licenses: licenseNames(change.remove, subscriptions) })));
    if (change.add.length) lines.push(text(t('approval.licenses.add', { licenses: licenseNames(change.add, subscriptions) }), { spacing: 'None' }));
    for (const u of users) {
      for (const s of change.remove) if (u.licenses.includes(s)) bump(freed, s);
      for (const s of change.add) if (!u.licenses.includes(s)) bump(used, s);
    }
  }
  const seats = [
    ...[...freed].map(([s, n]) => t('approval.seatsFreed', { license: licenseNames([s], subscriptions), count: n })),
    ...[...used].map(([s, n]) => t('approval.seatsUsed', { license: licenseNames([s], subscriptions), count: n })),
  ];
  lines.push(text(seats.length ? seats.join(' ') : t('approval.noSeats'), { isSubtle: true }));
  return lines;
}

function changeLines(t: T, m: { change: ApprovalChange; users: ApprovalUserLine[]; colleague?: ApprovalUserLine; subscriptions: Subscription[] }): CardElement[] {
  const lines: CardElement[] = m.users.slice(0, 50).map((u) =>
    text(`${u.displayName} \u2014 ${u.userPrincipalName}${u.licenses.length ? ` (${licenseNames(u.licenses, m.subscriptions)})` : ''}`, { spacing: 'None' }),
  );
  if (m.change.kind === 'changeLicenses') lines.push(...licenseChangeLines(t, m.change, m.users, m.subscriptions));
  else if (m.change.kind === 'import') lines.push(text(t('approval.importOwner'), { isSubtle: true }));
  else if (m.change.kind !== 'resetPassword') {
    // The seat effect: each license the users hold frees one seat per holder (moved to the colleague, when named).
    const freed = new Map<string, number>();
    for (const u of m.users) for (const s of u.licenses) freed.set(s, (freed.get(s) ?? 0) + 1);
    const seatText = [...freed].map(([s, n]) => t('approval.seatsFreed', { license: licenseNames([s], m.subscriptions), count: n })).join(' ');
    lines.push(text(freed.size ? seatText : t('approval.noSeats'), { isSubtle: true }));
  }
  if (m.colleague) lines.push(text(t('offboard.toColleague', { name: m.colleague.displayName, upn: m.colleague.userPrincipalName })));
  return lines;
}

/** The confirmation under four eyes: what will change, a required reason, and Request approval. */
export function requestApprovalCard(t: T, m: RequestApprovalModel): AdaptiveCard {
  const body: CardElement[] = [heading(t('approval.requestTitle')), text(t('approval.requestIntro', { customer: m.customer.name }))];
  if (m.notice) body.push(text(m.notice, { color: 'Warning' }));
  body.push(text(changeTitle(t, m.change, m.users.length), { weight: 'Bolder' }), ...changeLines(t, m));
  const c = m.change;
  // An offboarding's colleague can be chosen here too, as on its confirmation (Show the move draws the request again).
  if (c.kind === 'offboard') body.push(colleagueInput(t, m.colleagueText ?? m.colleague?.userPrincipalName));
  body.push(textInput(REASON_INPUT, t('approval.reason'), { required: true, maxLength: 500, value: m.reason, errorMessage: t('approval.reasonRequired') }));
  const data: Record<string, unknown> = { customerId: m.customer.id, kind: c.kind, operationId: m.operationId };
  if (c.kind === 'deleteUsers') data.userIds = c.userIds;
  else if (c.kind === 'changeLicenses') Object.assign(data, { userIds: c.userIds, add: c.add, remove: c.remove, replace: c.replace });
  else if (c.kind === 'import') Object.assign(data, { jobId: c.jobId, mode: c.options.mode, usageLocation: c.options.usageLocation, licenses: c.options.licenses });
  else data.userIds = [c.userId];
  if (c.kind === 'offboard' && c.toUserId) data.toUserId = c.toUserId;
  if (c.kind === 'offboard') data.drawnColleague = m.colleague?.userPrincipalName ?? '';
  return card(body, [
    execute(t('approval.requestButton'), VERBS.requestApproval, data, { inputs: true, style: 'positive' }),
    ...(c.kind === 'offboard' ? [showMoveButton(t, m.customer, c.userId)] : []),
    execute(t('common.cancel'), VERBS.users, { customerId: m.customer.id }),
  ]);
}

export interface ApprovalCardModel {
  customer: Customer;
  request: ApprovalRequest;
  subscriptions: Subscription[];
  /** What this viewer may press; none = the read-only card everyone else sees. */
  viewer: { decide: boolean; withdraw: boolean };
  /** Teams user ids (29:…) whose clients refresh the card into their own view. */
  refreshUserIds: string[];
  /** For this viewer: why their click did nothing, or a line about the delivery. */
  notice?: string;
  locale: string;
  /** An approved offboarding: its job, drawn step by step under the state line. */
  offboard?: OffboardJob;
}

function stateLine(t: T, r: ApprovalRequest): string {
  const by = r.decidedBy?.name ?? '';
  switch (r.state) {
    case 'pending':
      return t('approval.state.pending');
    case 'approved':
      return t('approval.state.approved', { name: by });
    case 'applied':
      return t('approval.state.applied', { name: by });
    case 'rejected':
      return t('approval.state.rejected', { name: by });
    case 'withdrawn':
      return t('approval.state.withdrawn', { name: by });
    case 'expired':
      return t('approval.state.expired');
    case 'failed':
      return t('approval.state.failed', { name: by, reason: r.outcome?.error ?? '' });
    case 'stale':
      return t('approval.state.stale', { users: r.difference.join(', ') });
  }
}

function outcomeLine(t: T, r: ApprovalRequest): string | undefined {
  if (r.state !== 'applied' || !r.outcome) return undefined;
  if (r.outcome.deleted !== undefined) return t('approval.outcome.deleted', { count: r.outcome.deleted });
  if (r.outcome.importJobId) return t('approval.outcome.import', { name: r.requester.name });
  if (r.outcome.licensesChanged !== undefined) return t('approval.outcome.licenses', { count: r.outcome.licensesChanged });
  if (r.outcome.passwordReset) return t('approval.outcome.reset', { upn: r.outcome.passwordReset });
  return t('approval.outcome.offboarded');
}

export function approvalCard(t: T, m: ApprovalCardModel): AdaptiveCard {
  const r = m.request;
  const users = r.change.kind === 'offboard' && r.change.toUserId ? r.users.slice(0, -1) : r.users;
  const colleague = r.change.kind === 'offboard' && r.change.toUserId ? r.users[r.users.length - 1] : undefined;
  const body: CardElement[] = [
    heading(t('approval.title', { customer: m.customer.name })),
    field(t('approval.requestedBy'), r.requester.name),
    field(t('approval.reason'), r.reason),
    text(changeTitle(t, r.change, users.length), { weight: 'Bolder' }),
    ...changeLines(t, { change: r.change, users, colleague, subscriptions: m.subscriptions }),
    text(stateLine(t, r), { weight: 'Bolder', color: r.state === 'applied' ? 'Good' : r.state === 'pending' ? 'Default' : 'Warning' }),
    ...(m.offboard ? offboardStepLines(t, m.offboard) : []),
  ];
  const outcome = outcomeLine(t, r);
  if (outcome) body.push(text(outcome));
  if (r.state === 'pending') body.push(text(t('approval.expires', { when: new Date(r.expiresAt) }), { isSubtle: true }));
  if (m.notice) body.push(text(m.notice, { color: 'Attention' }));
  const ref = { customerId: m.customer.id, requestId: r.id };
  const actions = [];
  if (r.state === 'pending' && m.viewer.decide) {
    actions.push(execute(t('approval.approve'), VERBS.decideApproval, { ...ref, decision: 'approve' }, { style: 'positive' }));
    actions.push(execute(t('approval.reject'), VERBS.decideApproval, { ...ref, decision: 'reject' }, { style: 'destructive' }));
  }
  if (r.state === 'pending' && m.viewer.withdraw) actions.push(execute(t('approval.withdraw'), VERBS.decideApproval, { ...ref, decision: 'withdraw' }));
  if (r.state === 'stale') actions.push(execute(t('approval.askAgain'), VERBS.approvalAgain, ref));
  const c = card(body, actions);
  // Universal Actions: the listed agents' Teams clients fetch their own view of this card.
  if (m.refreshUserIds.length) c.refresh = { action: { type: 'Action.Execute', title: t('approval.refresh'), verb: VERBS.viewApproval, data: ref }, userIds: m.refreshUserIds.slice(0, 60) };
  return c;
}

// ------------------------------------------------------------------ offboarding

/** The input of the confirmation where the agent names the colleague who gets the licenses (optional). */
export const COLLEAGUE_INPUT = 'colleague';

const colleagueInput = (t: T, value?: string): CardElement =>
  textInput(COLLEAGUE_INPUT, t('offboard.colleagueLabel'), { value, maxLength: 256, placeholder: t('offboard.colleaguePlaceholder') });

/** Draws the confirmation (or the request) again for the colleague typed in the field. */
const showMoveButton = (t: T, customer: Customer, userId: string, version?: number) =>
  execute(t('offboard.showMove'), VERBS.offboard, { customerId: customer.id, userIds: userId, ...(version !== undefined ? { versions: { [userId]: version } } : {}) }, { inputs: true });

export interface OffboardConfirmModel {
  customer: Customer;
  plan: OffboardPlan;
  subscriptions: Subscription[];
  operationId: string;
  /** What the colleague field shows (as typed, when it could not be used); default: the plan's colleague. */
  colleagueText?: string;
  /** Why the card came back (a colleague to check first, or one that could not be used). */
  notice?: string;
}

/**
 * The confirmation: the steps in the job's order, the seats of a move to the colleague, the colleague field and
 * *Show the move* (re-draws this card for the colleague typed), *Offboard* and *Cancel*. *Offboard* sends the field
 * too, with the colleague the card was drawn for: a colleague typed but not yet shown is drawn first, never used unseen.
 */
export function offboardConfirmCard(t: T, m: OffboardConfirmModel): AdaptiveCard {
  const { user, colleague } = m.plan;
  const licenses = m.plan.licenses.length ? licenseNames(m.plan.licenses, m.subscriptions) : t('common.none');
  const steps = [
    t('offboard.step.block'),
    t('offboard.step.reset'),
    t('offboard.step.delete', { licenses }),
    ...(colleague && m.plan.moved.length ? [t('offboard.step.move', { licenses: licenseNames(m.plan.moved, m.subscriptions), name: colleague.displayName })] : []),
    colleague ? t('offboard.step.auditColleague', { name: colleague.displayName }) : t('offboard.step.audit'),
  ];
  const body: CardElement[] = [heading(t('offboard.title'))];
  if (m.notice) body.push(text(m.notice, { color: 'Attention' }));
  body.push(text(t('offboard.confirm', { name: user.displayName, upn: user.userPrincipalName })));
  steps.forEach((step, i) => body.push(text(`${i + 1}. ${step}`, { spacing: i ? 'None' : 'Small' })));
  if (colleague) {
    body.push(text(t('offboard.toColleague', { name: colleague.displayName, upn: colleague.userPrincipalName })));
    if (!m.plan.moved.length) body.push(text(t('offboard.nothingToMove', { name: colleague.displayName }), { isSubtle: true, spacing: 'None' }));
    // The delete frees one seat of each license first: the colleague's share fits in what is free then (the plan
    // refuses a move that would not).
    for (const sku of m.plan.moved) {
      const free = (m.subscriptions.find((s) => s.skuId === sku)?.availableSeats ?? 0) + 1;
      body.push(text(t('offboard.seatsFit', { license: licenseNames([sku], m.subscriptions), count: free }), { isSubtle: true, spacing: 'None' }));
    }
  }
  body.push(colleagueInput(t, m.colleagueText ?? colleague?.userPrincipalName));
  const drawnColleague = colleague?.userPrincipalName ?? '';
  const data = { customerId: m.customer.id, userId: user.id, version: user.version, toUserId: colleague?.id, drawnColleague, operationId: m.operationId };
  return card(body, [
    execute(t('offboard.button'), VERBS.confirmOffboard, data, { inputs: true, style: 'destructive' }),
    showMoveButton(t, m.customer, user.id, user.version),
    execute(t('common.cancel'), VERBS.users, { customerId: m.customer.id }),
  ]);
}

const DONE_KEYS: Record<OffboardStep, MessageKey> = {
  block: 'offboard.done.block',
  reset: 'offboard.done.reset',
  delete: 'offboard.done.delete',
  transfer: 'offboard.done.transfer',
  audit: 'offboard.done.audit',
};
const DOING_KEYS: Record<OffboardStep, MessageKey> = {
  block: 'offboard.doing.block',
  reset: 'offboard.doing.reset',
  delete: 'offboard.doing.delete',
  transfer: 'offboard.doing.transfer',
  audit: 'offboard.doing.audit',
};
const TODO_KEYS: Record<OffboardStep, MessageKey> = {
  block: 'offboard.todo.block',
  reset: 'offboard.todo.reset',
  delete: 'offboard.todo.delete',
  transfer: 'offboard.todo.transfer',
  audit: 'offboard.todo.audit',
};

/**
 * One line per step of the job, in its order: finished ones ticked, the running one marked and in bold, the one it
 * stopped at (failed) marked, the others still to do. Words say the state; the marks and colour only repeat it.
 */
export function offboardStepLines(t: T, job: OffboardJob): CardElement[] {
  const colleague = job.colleagueUpn ?? '';
  const running = runningStep(job);
  const stoppedAt = job.state === 'failed' ? stepsOf(job).find((s) => !job.done.includes(s)) : undefined;
  return stepsOf(job).map((step, i) => {
    const spacing = i ? ('None' as const) : ('Small' as const);
    if (job.done.includes(step)) return text(`\u2713 ${t(DONE_KEYS[step], { colleague })}`, { spacing });
    if (step === running) return text(`\u25B6 ${t(DOING_KEYS[step], { colleague })}`, { spacing, weight: 'Bolder' });
    if (step === stoppedAt) return text(`\u2717 ${t('offboard.stoppedAt', { step: t(TODO_KEYS[step], { colleague }) })}`, { spacing, color: 'Attention' });
    return text(`\u25CB ${t('offboard.pending', { step: t(TODO_KEYS[step], { colleague }) })}`, { spacing, isSubtle: true });
  });
}

export interface OffboardResultModel {
  customer: Customer;
  job: OffboardJob;
  /** Why a failed job stopped, in the caller's words (describeError of the job's error). */
  error?: string;
  /** While running: the Teams ids whose clients refresh the card into its current state (Universal Actions). */
  refreshUserIds?: string[];
}

/** The offboarding as it runs and once it ended: drawn after every step on the card that was clicked. */
export function offboardResultCard(t: T, m: OffboardResultModel): AdaptiveCard {
  const { job } = m;
  const title = job.state === 'done' ? t('offboard.finished', { name: job.displayName }) : job.state === 'failed' ? t('offboard.failed', { name: job.displayName }) : t('offboard.running', { name: job.displayName });
  const body: CardElement[] = [heading(title), text(job.userPrincipalName, { isSubtle: true }), ...offboardStepLines(t, job)];
  if (job.state === 'failed' && m.error) body.push(text(m.error, { color: 'Attention' }));
  if (job.transferError) body.push(text(t('offboard.transferFailed', { colleague: job.colleagueUpn ?? '' }), { color: 'Warning' }));
  if (job.state === 'done') body.push(text(t('offboard.restoreHint'), { isSubtle: true }));
  const c = card(body, [execute(t('offboard.deletedUsers'), VERBS.deletedUsers, { customerId: m.customer.id })]);
  // A card that is still running heals itself: the agent's Teams client asks for the current state when it shows it
  // (a step's update that was lost or arrived out of order). A finished card asks nothing.
  if (job.state === 'running' && m.refreshUserIds?.length) {
    c.refresh = { action: { type: 'Action.Execute', title: t('offboard.refresh'), verb: VERBS.viewOffboard, data: { customerId: m.customer.id, jobId: job.jobId } }, userIds: m.refreshUserIds.slice(0, 60) };
  }
  return c;
}
