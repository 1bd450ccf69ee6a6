/**
 * Delivers the journal to the registry, oldest first, a window at a time:
 * up to `window` events are sent at once (the registry commits a window in
 * one batch), and the next window starts when every answer of this one is
 * settled in the journal. Acknowledged events leave the journal, refused ones
 * become dead letters, and anything else stays for the next round after a
 * backoff that honours the registry's `retry_after`. Each event carries its
 * journal `event_id`, so an event re-sent after a crash is still one leaf.
 */
import type { Logger } from "../log.js";
import { retryDelayMs, type BackoffPolicy } from "./backoff.js";
import { deliver, type DeliveryTarget, type Outcome } from "./delivery.js";
import type { JournalEntry } from "./journal.js";
import type { Counters } from "./metrics.js";

/** The journal as the sender uses it; on the sender thread, requests to the journal thread. */
export interface SenderJournal {
  oldest(limit: number): Promise<JournalEntry[]>;
  settle(delivered: JournalEntry[], refused: { entry: JournalEntry; status: number; answer: string }[]): Promise<void>;
}

export interface SenderOptions {
  journal: SenderJournal;
  target: DeliveryTarget;
  window: number;
  backoff: BackoffPolicy;
  metrics: Counters;
  logger: Logger;
  random?: () => number;
}

export class Sender {
  private stopped = false;
  private wake: (() => void) | null = null;
  /** Set by notify(): events were journaled while the journal was being read, so the round must not sleep. */
  private notified = false;
  private failures = 0;
  private readonly loop: Promise<void>;

  constructor(private readonly options: SenderOptions) {
    this.loop = this.run();
  }

  /** New events were journaled: start a round now instead of after the idle wait. */
  notify(): void {
    this.notified = true;
    this.wake?.();
  }

  /** Finishes the round in flight (its answers are settled in the journal), then stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    this.options.target.agent.destroy();
  }

  private async run(): Promise<void> {
    const { journal, logger } = this.options;
    while (!this.stopped) {
      let delay: number | null;
      try {
        this.notified = false;
        const entries = await journal.oldest(this.options.window);
        if (entries.length === 0) {
          if (!this.notified) await this.pause(null);
          continue;
        }
        delay = await this.round(entries);
      } catch (error) {
        logger.error("delivery round failed", { error });
        delay = this.nextDelay(null);
      }
      if (delay !== null) await this.pause(delay);
    }
  }

  /** One window: the delay before the next round when something must be retried, else null. */
  private async round(entries: JournalEntry[]): Promise<number | null> {
    const { metrics, logger, target } = this.options;
    const outcomes = await Promise.all(entries.map((entry) => deliver(target, entry)));
    const delivered: JournalEntry[] = [];
    const refused: { entry: JournalEntry; status: number; answer: string }[] = [];
    let retry: Extract<Outcome, { kind: "retry" }> | null = null;
    outcomes.forEach((outcome, i) => {
      const entry = entries[i]!;
      if (outcome.kind === "delivered") delivered.push(entry);
      else if (outcome.kind === "refused") refused.push({ entry, status: outcome.status, answer: outcome.answer });
      else if (retry === null || (outcome.retryAfterSeconds ?? 0) > (retry.retryAfterSeconds ?? 0)) retry = outcome;
    });
    await this.options.journal.settle(delivered, refused);
    metrics.add("dns_events_delivered_total", delivered.length);
    metrics.add("dns_events_dead_lettered_total", refused.length);
    for (const { entry, status, answer } of refused) {
      logger.error("the registry refused a DNS event for good; it is kept as a dead letter", {
        event_id: entry.event_id,
        token_id: entry.token_id,
        status,
        answer: answer.slice(0, 300),
      });
    }
    const retried = outcomes.length - delivered.length - refused.length;
    if (retry === null) {
      this.failures = 0;
      return null;
    }
    metrics.add("dns_events_retried_total", retried);
    const delay = this.nextDelay(retry);
    logger.warn("delivery will be retried", { events: retried, reason: (retry as Outcome & { reason: string }).reason, delay_ms: delay });
    return delay;
  }

  private nextDelay(retry: Extract<Outcome, { kind: "retry" }> | null): number {
    this.failures++;
    return retryDelayMs(this.options.backoff, this.failures, retry?.retryAfterSeconds ?? null, (this.options.random ?? Math.random)());
  }

  /** Waits `ms` (null: until notified), or less when notified or stopped. */
  private pause(ms: number | null): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = ms === null ? null : setTimeout(done, ms);
      const self = this;
      function done() {
        if (timer !== null) clearTimeout(timer);
        self.wake = null;
        resolve();
      }
      // A notification during a backoff must not cut it short: the registry asked us to wait.
      this.wake = ms === null ? done : () => (this.stopped ? done() : undefined);
    });
  }
}
