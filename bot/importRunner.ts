import { CardFactory, CloudAdapter, ConversationReference } from 'botbuilder';
import type { Logger } from 'pino';
import type { AdaptiveCard } from '../cards/elements';
import { translator } from '../cards/i18n';
import { importProgressCard, importResultsCard, importSummaryCard } from '../cards/importCards';
import { Caller, runAsCaller } from '../services/caller';
import type { Clock, DirectoryService } from '../services/directory';
import { isDirectoryError } from '../services/errors';
import type { Actor } from '../services/types';
import { errorCard } from '../cards/common';
import type { ImportService, ResultLabels, RunHooks } from '../services/import/importer';
import { describeRowIssue } from './handlers/errors';
import { BackgroundJobs } from './backgroundJobs';
import { AgentConversations, deliverToAgent, rethrowing } from './privateChannel';

export interface ImportRunnerDeps {
  importer: ImportService;
  directory: DirectoryService;
  adapter: CloudAdapter;
  appId: string;
  conversations: AgentConversations;
  logger: Logger;
  clock: Clock;
  publicBaseUrl: string;
  /**
   * The job owner as the caller of the job's directory calls, outside any turn (the app builds it from the agent's
   * remembered 1:1 chat and the Bot Framework token service). null: no token can be had now (the agent is not
   * signed in, or never talked to the bot in a 1:1 chat); the job then waits, untouched, and the agent is told.
   * Unset (the Redis directory): a caller without a token, which that directory never asks for.
   */
  callerFor?: (owner: Actor) => Promise<Caller | null>;
}

const PROGRESS_INTERVAL_MS = 1000;
/** A job held by another instance is looked at again when its lock expires, or after this long at most. */
const LOCK_POLL_MS = 1000;
const LOCK_RETRY_MARGIN_MS = 50;

/**
 * Runs import jobs in the background: a turn answers with the progress card and never waits for the job.
 * The card is updated in place at most once a second; at the end the agent gets one confirmation with the
 * one-time results download in the 1:1 chat. Jobs left running by a stopped instance resume at start-up; when
 * that instance's lock is still there (it was killed, or stopped without releasing it), the job is taken over
 * once the lock expires, unless its holder is alive and keeps extending it.
 */
export class ImportRunner extends BackgroundJobs {
  constructor(private readonly deps: ImportRunnerDeps) {
    super();
  }

  /** Starts or resumes a job; the returned promise settles when it ends (tests await it, turns do not). */
  launch(customerId: string, jobId: string, testHooks: Pick<RunHooks, 'afterRow'> = {}): Promise<void> {
    const job = this.execute(customerId, jobId, testHooks).catch((err) =>
      this.deps.logger.error({ err, customer: customerId, job: jobId }, 'import job stopped; it resumes at the next start or launch'),
    );
    return this.track(job);
  }

  async resumeAll(): Promise<number> {
    return this.resumeListed(this.deps.importer.runningJobs(), (customerId, jobId) => this.launch(customerId, jobId));
  }

  /**
   * An agent signed in: the jobs of theirs that waited for it (or stopped when their token could not be had) go on.
   * Returns how many were launched.
   */
  async resumeOwnedBy(agentId: string): Promise<number> {
    const jobs = await this.deps.importer.runningJobs();
    let launched = 0;
    for (const j of jobs) {
      if (this.active.has(`${j.customerId} ${j.jobId}`)) continue;
      const { job } = await this.deps.importer.progress(j.customerId, j.jobId).catch(() => ({ job: undefined }));
      if (job?.owner.toLowerCase() !== agentId.toLowerCase()) continue;
      void this.launch(j.customerId, j.jobId);
      launched++;
    }
    return launched;
  }

  /**
   * Runs the job as its owner (services/caller.ts). Without a token for the owner the job does not start (or, when the
   * token is lost midway, stops between rows: the importer resumes without creating anyone twice); its state stays
   * "running", the agent gets one message in the 1:1 chat, and the job goes on when the agent signs in again (or at
   * the next start).
   */
  private async execute(customerId: string, jobId: string, testHooks: Pick<RunHooks, 'afterRow'>): Promise<void> {
    const key = `${customerId} ${jobId}`;
    if (this.active.has(key)) return;
    this.active.add(key);
    try {
      const { job, state } = await this.deps.importer.progress(customerId, jobId);
      if (state !== 'running') return;
      const owner: Actor = { id: job.owner, name: job.ownerName ?? job.owner };
      const caller = this.deps.callerFor ? await this.deps.callerFor(owner) : { actor: owner, userAssertion: async () => undefined };
      if (!caller) return await this.waitForSignIn(customerId, jobId, job);
      try {
        await runAsCaller(caller, () => this.executeAs(customerId, jobId, testHooks));
      } catch (err) {
        if (isDirectoryError(err) && err.code === 'SIGN_IN_REQUIRED') return await this.waitForSignIn(customerId, jobId, job);
        throw err;
      }
    } finally {
      this.active.delete(key);
    }
  }

  private async waitForSignIn(customerId: string, jobId: string, job: Record<string, string>): Promise<void> {
    const { t } = translator(job.locale);
    const reference = job.conversation ? (JSON.parse(job.conversation) as Partial<ConversationReference>) : undefined;
    const card = errorCard(t, { message: t('import.signInNeeded', { customer: customerId }) });
    const delivery = await deliverToAgent(this.deps.adapter, this.deps.appId, this.deps.conversations, job.owner, reference, card);
    this.deps.logger.warn({ job: jobId, customer: customerId, told: delivery.ok }, 'import waits for its owner to sign in');
  }

  private async executeAs(customerId: string, jobId: string, testHooks: Pick<RunHooks, 'afterRow'>): Promise<void> {
    const { importer, directory, adapter, appId, conversations, clock, publicBaseUrl } = this.deps;
    const { job } = await importer.progress(customerId, jobId);
    const { t } = translator(job.locale);
    const reference = job.conversation ? (JSON.parse(job.conversation) as Partial<ConversationReference>) : undefined;
    const customer = await directory.getCustomer(customerId);
    const updateCard = async (card: AdaptiveCard) => {
      if (!reference || !job.activityId) return;
      try {
        await rethrowing(
          (logic) => adapter.continueConversationAsync(appId, reference, logic),
          async (ctx) => {
            await ctx.updateActivity({ type: 'message', id: job.activityId, attachments: [CardFactory.adaptiveCard(card)] });
          },
        );
      } catch (err) {
        this.deps.logger.warn({ err: (err as Error).message, job: jobId }, 'could not update the import card');
      }
    };
    let lastUpdate = -Infinity;
    const labels: ResultLabels = {
      statusHeader: t('import.csv.status'),
      passwordHeader: t('import.csv.password'),
      created: (upn) => t('import.csv.created', { upn }),
      notCreated: (code, params) => t('import.csv.notCreated', { reason: describeRowIssue(t, code, params) }),
      notImported: t('import.csv.notImported'),
    };
    const hooks: RunHooks = {
      labels,
      afterRow: testHooks.afterRow,
      onProgress: async (progress) => {
        if (clock.now() - lastUpdate < PROGRESS_INTERVAL_MS) return;
        lastUpdate = clock.now();
        await updateCard(importProgressCard(t, customer, progress));
      },
    };
    let result = await importer.run(customerId, jobId, hooks);
    // Another instance holds the job. If it is alive it extends its lock and finishes the job; if it died, its lock
    // expires and the job is taken over here.
    while (!result) {
      if (this.stopped || (await importer.progress(customerId, jobId)).state !== 'running') return;
      await this.wait(Math.min(await importer.lockRemainingMs(customerId, jobId), LOCK_POLL_MS) + LOCK_RETRY_MARGIN_MS);
      if (this.stopped) return;
      result = await importer.run(customerId, jobId, hooks);
    }
    let passwordsSent = false;
    if (result.state === 'done' && result.created > 0) {
      const card = importResultsCard(t, { customer, created: result.created, downloadUrl: `${publicBaseUrl}/downloads/${result.downloadToken}` });
      const delivery = await deliverToAgent(adapter, appId, conversations, job.owner, reference, card);
      passwordsSent = delivery.ok;
      if (!delivery.ok) this.deps.logger.warn({ job: jobId, reason: delivery.reason }, 'import results could not reach the agent');
    }
    await updateCard(importSummaryCard(t, { customer, progress: result, rolledBack: result.state === 'rolledBack', passwordsSent, passwordsRenewed: result.passwordsRenewed }));
    this.deps.logger.info({ job: jobId, customer: customerId, created: result.created, failed: result.failed, state: result.state }, 'import finished');
  }
}
