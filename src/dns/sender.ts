/**
 * Delivers the journal to the registry, oldest first, a window at a time:
 * up to `window` events per round, sent to `POST /dns_events` in batches of
 * up to the registry's MAX_DNS_EVENTS_PER_BATCH (the registry commits a batch
 * in one transaction), and the next round starts when every answer of this one is settled in the
 * journal. Acknowledged events leave the journal, refused ones become dead
 * letters, and anything else stays for the next round after a backoff that
 * honours the registry's `retry_after`. Each event carries its journal
 * `event_id`, so an event re-sent after a crash is still one leaf. A registry
 * that does not take batches (another implementation) gets one
 * `POST /dns_event` per event, up to `window` at once; that is remembered for
 * `batchReprobeMs`, then a batch is tried again (the registry may have been
 * upgraded).
 */
import { performance } from "node:perf_hooks";
import type { Logger } from "../log.js";
import { MAX_DNS_EVENTS_PER_BATCH } from "../registry/dns-event-batch.js";
import { retryDelayMs, type BackoffPolicy } from "./backoff.js";
import { deliver, deliverBatch, type DeliveryTarget, type Outcome } from "./delivery.js";
import type { JournalEntry } from "./journal.js";
import type { Counters } from "./metrics.js";

/** The journal as the sender uses it; on the sender thread, requests to the main thread, which owns it. */
export interface SenderJournal {
  oldest(limit: number): Promise<JournalEntry[]>;
  settle(delivered: JournalEntry[], refused: { entry: JournalEntry; status: number; answer: string }[]): Promise<void>;
}

export interface SenderOptions {
  journal: SenderJournal;
  target: DeliveryTarget;
  window: number;
  /** How long a registry that answered a batch 404/405/413 gets single events before a batch is tried again. */
  batchReprobeMs: number;
  backoff: BackoffPolicy;
  metrics: Counters;
  logger: Logger;
  random?: () => number;
  /** Milliseconds on a clock that never goes back (default performance.now). */
  now?: () => number;
  /** Starts a pause's timer and returns what cancels it (default setTimeout); tests end pauses when they choose. */
  schedule?: (run: () => void, ms: number) => () => void;
}

/**
 * After a round that did not fill the window, the next one waits this long,
 * so the events journaled meanwhile go in one request instead of one each
 * per round trip: each request costs the registry and this thread far more
 * than an event in it, CPU the answers share on a small machine. A full
 * round is followed at once, so a backlog still goes as fast as the registry
 * takes it.
 */
export const GATHER_MS = 20;

export class Sender {
  private stopped = false;
  private wake: (() => void) | null = null;
  /** Set by notify(): events were journaled while the journal was being read, so the round must not sleep. */
  private notified = false;
  private failures = 0;
  /** Until this time (on `now`), events go one a request: the registry refused a batch as not served. */
  private singlesUntil = Number.NEGATIVE_INFINITY;
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
        if (delay === null && entries.length < this.options.window) delay = GATHER_MS;
      } catch (error) {
        logger.error("delivery round failed", { error });
        delay = this.nextDelay(null);
      }
      if (delay !== null) await this.pause(delay);
    }
  }

  /** One window: the delay before the next round when something must be retried, else null. */
  private async round(entries: JournalEntry[]): Promise<number | null> {
    const { metrics, logger } = this.options;
    const outcomes = await this.send(entries);
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

  /** Each entry's outcome, in order: batches while the registry takes them, else one request per event. */
  private async send(entries: JournalEntry[]): Promise<Outcome[]> {
    const { target, metrics } = this.options;
    const single = (entry: JournalEntry) => {
      metrics.add("dns_delivery_requests_total");
      return deliver(target, entry);
    };
    if (this.now() < this.singlesUntil) return Promise.all(entries.map(single));
    const batches: JournalEntry[][] = [];
    for (let start = 0; start < entries.length; start += MAX_DNS_EVENTS_PER_BATCH) batches.push(entries.slice(start, start + MAX_DNS_EVENTS_PER_BATCH));
    const answered = await Promise.all(
      batches.map(async (batch) => {
        metrics.add("dns_delivery_requests_total");
        const answer = await deliverBatch(target, batch);
        if (answer.kind === "outcomes") return answer.outcomes;
        this.batchesRefused(answer.status);
        return Promise.all(batch.map(single));
      }),
    );
    return answered.flat();
  }

  private batchesRefused(status: number): void {
    const { batchReprobeMs, logger } = this.options;
    if (this.now() < this.singlesUntil) return;
    this.singlesUntil = this.now() + batchReprobeMs;
    logger.info("the registry does not take batches of DNS events (POST /dns_events); sending one event a request", {
      status,
      retry_batches_in_s: Math.round(batchReprobeMs / 1000),
    });
  }

  private now(): number {
    return this.options.now?.() ?? performance.now();
  }

  private nextDelay(retry: Extract<Outcome, { kind: "retry" }> | null): number {
    this.failures++;
    return retryDelayMs(this.options.backoff, this.failures, retry?.retryAfterSeconds ?? null, (this.options.random ?? Math.random)());
  }

  /** Waits `ms` (null: until notified), or less when notified or stopped. */
  private pause(ms: number | null): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const cancel = ms === null ? null : (this.options.schedule ?? scheduleTimer)(done, ms);
      const self = this;
      function done() {
        cancel?.();
        self.wake = null;
        resolve();
      }
      // A notification during a backoff must not cut it short (the registry asked us to wait), nor the pause that gathers a batch.
      this.wake = ms === null ? done : () => (this.stopped ? done() : undefined);
    });
  }
}

function scheduleTimer(run: () => void, ms: number): () => void {
  const timer = setTimeout(run, ms);
  return () => clearTimeout(timer);
}
