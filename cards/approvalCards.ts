/**
 * Four-eyes approval and offboarding cards: pure functions of a view model. The approval card is one card for
 * everyone; `refresh.userIds` makes Teams ask the bot for each listed agent's own view (Approve / Reject for an admin
 * agent other than the requester, Withdraw for the requester while pending, read-only for the others).
 */
import type { ApprovalChange, ApprovalRequest } from '../services/approvals';
import type { OffboardJob, OffboardPlan, OffboardStep } from '../services/offboarding';
import type { Customer, Subscription } from '../services/types';
import { AdaptiveCard, CardElement, card, execute, field, heading, text, textInput } from './elements';
import type { Translator } from './i18n';
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
  body.push(textInput(REASON_INPUT, t('approval.reason'), { required: true, maxLength: 500, value: m.reason, errorMessage: t('approval.reasonRequired') }));
  const c = m.change;
  const data: Record<string, unknown> = { customerId: m.customer.id, kind: c.kind, operationId: m.operationId };
  if (c.kind === 'deleteUsers') data.userIds = c.userIds;
  else if (c.kind === 'changeLicenses') Object.assign(data, { userIds: c.userIds, add: c.add, remove: c.remove, replace: c.replace });
  else if (c.kind === 'import') Object.assign(data, { jobId: c.jobId, mode: c.options.mode, usageLocation: c.options.usageLocation, licenses: c.options.licenses });
  else data.userIds = [c.userId];
  if (c.kind === 'offboard' && c.toUserId) data.toUserId = c.toUserId;
  return card(body, [execute(t('approval.requestButton'), VERBS.requestApproval, data, { inputs: true, style: 'positive' }), execute(t('common.cancel'), VERBS.users, { customerId: m.customer.id })]);
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

export function offboardConfirmCard(t: T, m: { customer: Customer; plan: OffboardPlan; subscriptions: Subscription[]; operationId: string }): AdaptiveCard {
  const { user, colleague } = m.plan;
  const licenses = m.plan.licenses.length ? licenseNames(m.plan.licenses, m.subscriptions) : t('common.none');
  const body: CardElement[] = [
    heading(t('offboard.title')),
    text(t('offboard.confirm', { name: user.displayName, upn: user.userPrincipalName })),
    text(t('offboard.step.block'), { spacing: 'Small' }),
    text(t('offboard.step.reset'), { spacing: 'None' }),
    text(colleague && m.plan.moved.length ? t('offboard.step.move', { licenses: licenseNames(m.plan.moved, m.subscriptions), name: colleague.displayName }) : t('offboard.step.remove', { licenses }), { spacing: 'None' }),
    text(colleague ? t('offboard.step.auditColleague', { name: colleague.displayName }) : t('offboard.step.audit'), { spacing: 'None' }),
    text(t('offboard.step.delete', { licenses }), { spacing: 'None' }),
  ];
  const data = { customerId: m.customer.id, userId: user.id, version: user.version, toUserId: colleague?.id, operationId: m.operationId };
  return card(body, [execute(t('offboard.button'), VERBS.confirmOffboard, data, { style: 'destructive' }), execute(t('common.cancel'), VERBS.users, { customerId: m.customer.id })]);
}

const STEP_KEYS: Record<OffboardStep, 'offboard.done.block' | 'offboard.done.reset' | 'offboard.done.delete' | 'offboard.done.transfer' | 'offboard.done.audit'> = {
  block: 'offboard.done.block',
  reset: 'offboard.done.reset',
  delete: 'offboard.done.delete',
  transfer: 'offboard.done.transfer',
  audit: 'offboard.done.audit',
};

export function offboardResultCard(t: T, m: { customer: Customer; job: OffboardJob }): AdaptiveCard {
  const { job } = m;
  const title = job.state === 'done' ? t('offboard.finished', { name: job.displayName }) : job.state === 'failed' ? t('offboard.failed', { name: job.displayName }) : t('offboard.running', { name: job.displayName });
  const body: CardElement[] = [heading(title), text(job.userPrincipalName, { isSubtle: true })];
  for (const step of job.done) {
    if (step === 'transfer' && !job.colleagueId) continue;
    body.push(text(`\u2713 ${t(STEP_KEYS[step], { colleague: job.colleagueUpn ?? '' })}`, { spacing: 'None' }));
  }
  if (job.transferError) body.push(text(t('offboard.transferFailed', { colleague: job.colleagueUpn ?? '' }), { color: 'Warning' }));
  if (job.state === 'done') body.push(text(t('offboard.restoreHint'), { isSubtle: true }));
  return card(body, [execute(t('offboard.deletedUsers'), VERBS.deletedUsers, { customerId: m.customer.id })]);
}
