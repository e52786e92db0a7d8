/**
 * What the bot's background job runners share (the import's, ImportRunner, and the offboarding's, OffboardRunner):
 * the jobs launched in this instance, the start-up resume, waiting for another instance's lock without holding up a
 * stop, and `idle()` for tests.
 */
export abstract class BackgroundJobs {
  private readonly running = new Set<Promise<void>>();
  private resuming: Promise<unknown> = Promise.resolve();
  private readonly waits = new Set<() => void>();
  protected stopped = false;
  /** Jobs this instance runs now ("<customer> <job>"), so that a second launch here does not run them twice. */
  protected readonly active = new Set<string>();

  /** Keeps a launched job's promise until it settles (for `idle`). */
  protected track(run: Promise<void>): Promise<void> {
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
    return run;
  }

  /** Launches every job the store lists as running (start-up). Resolves with how many were launched. */
  protected resumeListed(listed: Promise<Array<{ customerId: string; jobId: string }>>, launch: (customerId: string, jobId: string) => unknown): Promise<number> {
    const launched = listed.then((jobs) => {
      for (const j of jobs) void launch(j.customerId, j.jobId);
      return jobs.length;
    });
    this.resuming = launched.catch(() => undefined);
    return launched;
  }

  /** Settles when the jobs launched so far (the start-up resume included) have ended. */
  async idle(): Promise<void> {
    await this.resuming;
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  /** No more waiting for another instance's lock: such jobs resume at the next start. */
  stop(): void {
    this.stopped = true;
    for (const wake of this.waits) wake();
  }

  /** Sleeps, or less when `stop()` is called meanwhile. */
  protected wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waits.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.waits.add(wake);
    });
  }
}
