import { CardFactory, CloudAdapter, ConversationReference } from 'botbuilder';
import type { Logger } from 'pino';
import { approvalCard, offboardResultCard } from '../cards/approvalCards';
import type { AdaptiveCard } from '../cards/elements';
import { translator } from '../cards/i18n';
import type { ApprovalRequest, ApprovalService } from '../services/approvals';
import { Caller, runAsCaller } from '../services/caller';
import type { DirectoryService } from '../services/directory';
import { DirectoryError } from '../services/errors';
import type { OffboardCard, OffboardHooks, OffboardJob } from '../services/offboarding';
import type { Actor } from '../services/types';
import type { ApprovalChannel } from './approvalChannel';
import { describeError } from './handlers/errors';
import { BackgroundJobs } from './backgroundJobs';
import { rethrowing } from './privateChannel';

export interface OffboardRunnerDeps {
  approvals: ApprovalService;
  directory: DirectoryService;
  adapter: CloudAdapter;
  appId: string;
  approvalChannel: ApprovalChannel;
  logger: Logger;
  /** The caller of the job's directory calls outside a turn (as for imports); null: no token can be had now. */
  callerFor?: (actor: Actor) => Promise<Caller | null>;
  /** Tests: a crash after a step (OffboardingService's hooks). */
  testHooks?: Pick<OffboardHooks, 'afterStep' | 'beforeRecord'>;
}

/** A job held by another runner is looked at again when its lock expires, or after this long at most. */
const LOCK_POLL_MS = 1000;
const LOCK_RETRY_MARGIN_MS = 50;

/**
 * Runs offboarding jobs in the background and draws their cards step by step (SPEC §11): the turn that starts a job
 * answers with the card in its first state, then, once that answer has gone, this runner runs the job
 * (ApprovalService.runOffboarding) and after every recorded step updates each of the job's cards — the bot's own
 * activity, by its conversation reference and activity id, as the import's progress card — and once more with the
 * final state. Jobs left running by a stopped instance resume at start-up and go on updating the same cards from the
 * step they stopped at.
 *
 * A card update is a side effect only: one that fails (Teams refused, the conversation is gone) is logged and
 * skipped; it never stops the job, and the job never repeats a step for it (the steps are recorded before their card
 * is drawn). The running cards carry a Universal Actions refresh, so a lost update heals when the card is shown.
 */
export class OffboardRunner extends BackgroundJobs {
  constructor(private readonly deps: OffboardRunnerDeps) {
    super();
  }

  /** Runs (or resumes) a job; the promise settles when it ends (tests await it, turns do not). */
  launch(customerId: string, jobId: string): Promise<void> {
    const run = this.execute(customerId, jobId).catch((err) =>
      this.deps.logger.error({ err, customer: customerId, job: jobId }, 'offboarding job stopped; it resumes at the next start or when its button is pressed again'),
    );
    return this.track(run);
  }

  /** Every job left running (start-up). Resolves with how many were launched. */
  async resumeAll(): Promise<number> {
    return this.resumeListed(this.deps.approvals.offboarding.runningJobs(), (customerId, jobId) => this.launch(customerId, jobId));
  }

  private async execute(customerId: string, jobId: string): Promise<void> {
    const key = `${customerId} ${jobId}`;
    if (this.active.has(key)) return;
    this.active.add(key);
    try {
      const offboarding = this.deps.approvals.offboarding;
      const job = await offboarding.job(customerId, jobId);
      // The directory calls are made as the agent who applied it: the approver under four eyes, else the owner.
      const actor = job.approvedBy ?? job.owner;
      const caller = this.deps.callerFor ? await this.deps.callerFor(actor) : { actor, userAssertion: async () => undefined };
      if (!caller) {
        this.deps.logger.warn({ job: jobId, customer: customerId }, 'offboarding waits: no token for its agent now; it resumes at the next start or when its button is pressed again');
        return;
      }
      await runAsCaller(caller, () => this.executeAs(customerId, jobId, job));
    } finally {
      this.active.delete(key);
    }
  }

  private async executeAs(customerId: string, jobId: string, first: OffboardJob): Promise<void> {
    const { approvals } = this.deps;
    // The cards are drawn one state after the other, in the order of the steps, but the job does not wait for them:
    // a slow or refusing Teams (its client retries) neither holds the job's lock nor delays the next step.
    let drawing: Promise<void> = Promise.resolve();
    const draw = (job: OffboardJob, request?: ApprovalRequest) => {
      drawing = drawing.then(() => this.drawAll(customerId, job, request));
    };
    // Resumed (or pressed again): the cards show where it stands before the next step runs.
    if (first.done.length || first.state !== 'running') draw(first);
    const hooks: OffboardHooks = { ...this.deps.testHooks, onStep: (job) => draw(job) };
    let result;
    try {
      result = await approvals.runOffboarding(customerId, jobId, hooks);
      // Another runner holds the job: if it is alive it finishes the job; if it died, its lock expires and it is
      // taken over here.
      while (!result) {
        if (this.stopped || (await approvals.offboarding.job(customerId, jobId)).state !== 'running') return;
        await this.wait(Math.min(await approvals.offboarding.lockRemainingMs(customerId, jobId), LOCK_POLL_MS) + LOCK_RETRY_MARGIN_MS);
        if (this.stopped) return;
        result = await approvals.runOffboarding(customerId, jobId, hooks);
      }
      draw(result.job, result.request);
    } finally {
      // Also when the job stopped (a crash): the states it reached are drawn before this run ends.
      await drawing;
    }
    const { job, request, finished } = result;
    // Under four eyes: requester and approver get the outcome in their 1:1 chats, once.
    if (finished && request) {
      const card = await this.approvalView(customerId, request, job, translator(job.cards.find((c) => c.kind === 'approval')?.locale).locale);
      const agents = [...new Set([request.requester.id, request.decidedBy?.id].filter((id): id is string => !!id))];
      await Promise.all(agents.map((id) => this.deps.approvalChannel.notify(id, card)));
    }
    this.deps.logger.info({ job: jobId, customer: customerId, state: job.state, error: job.error }, 'offboarding finished');
  }

  /** Draws the job's state on every card it has; never throws (a card is never a reason to stop the job). */
  private async drawAll(customerId: string, job: OffboardJob, request?: ApprovalRequest): Promise<void> {
    for (const location of job.cards) {
      try {
        await this.update(location, await this.cardFor(customerId, location, job, request));
      } catch (err) {
        this.deps.logger.warn({ err: (err as Error).message, job: job.jobId, customer: customerId }, 'could not update an offboarding card');
      }
    }
  }

  private async cardFor(customerId: string, location: OffboardCard, job: OffboardJob, request?: ApprovalRequest): Promise<AdaptiveCard> {
    const { t, locale } = translator(location.locale);
    if (location.kind === 'approval' && job.approvalRequestId) {
      return this.approvalView(customerId, request ?? (await this.deps.approvals.get(customerId, job.approvalRequestId)), job, locale);
    }
    const customer = await this.deps.directory.getCustomer(customerId);
    const error = job.error ? describeError(t, new DirectoryError(job.error as never)) : undefined;
    return offboardResultCard(t, { customer, job, error, refreshUserIds: location.refreshUserId ? [location.refreshUserId] : [] });
  }

  /** The approval card everyone sees (no buttons of a viewer), with the job's steps. */
  private async approvalView(customerId: string, request: ApprovalRequest, job: OffboardJob, locale: string): Promise<AdaptiveCard> {
    const { t } = translator(locale);
    const [customer, subscriptions, refreshUserIds] = await Promise.all([
      this.deps.directory.getCustomer(customerId),
      this.deps.directory.getSubscriptions(customerId),
      this.deps.approvalChannel.knownAgents(),
    ]);
    return approvalCard(t, { customer, request, subscriptions, viewer: { decide: false, withdraw: false }, refreshUserIds, locale, offboard: job });
  }

  private async update(location: OffboardCard, card: AdaptiveCard): Promise<void> {
    const reference = JSON.parse(location.conversation) as Partial<ConversationReference>;
    await rethrowing(
      (logic) => this.deps.adapter.continueConversationAsync(this.deps.appId, reference, logic),
      async (ctx) => {
        await ctx.updateActivity({ type: 'message', id: location.activityId, attachments: [CardFactory.adaptiveCard(card)] });
      },
    );
  }
}
