/**
 * The bridge's metrics, in a prom-client registry of its own: label-free
 * counters, backlog gauges and the latency of the beacon answers' stages
 * (docs/DNS-BRIDGE.md#observing-it), beside prom-client's process and
 * event-loop metrics.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import { callbackGauge, processRegistry } from "../metrics/exposition.js";

export const COUNTERS = {
  dns_queries_total: "DNS queries answered or refused, beacon or not",
  dns_malformed_total: "packets answered FORMERR/NOTIMP or dropped as unparsable",
  dns_events_journaled_total: "beacon queries appended to the journal",
  dns_events_retransmitted_total: "resends of a journaled query (same resolver, id and name), not journaled again",
  dns_events_rate_limited_total: "beacon queries answered but not journaled: their source was over its rate",
  dns_events_journal_full_total: "beacon queries answered but not journaled: the journal was at its size cap or its commit queue full",
  dns_events_journal_failed_total: "beacon queries answered SERVFAIL because the journal could not be written",
  dns_events_delivered_total: "events the registry acknowledged (200)",
  dns_delivery_requests_total: "requests made to deliver events: a batch (POST /dns_events) or one event (POST /dns_event)",
  dns_events_retried_total: "delivery attempts that will be retried (429, 5xx, no answer)",
  dns_events_dead_lettered_total: "events the registry refused for good (4xx other than 429)",
} as const;
export type CounterName = keyof typeof COUNTERS;

/**
 * Where a beacon answer's time goes: the whole of it, and the part spent
 * waiting for its commit and fsync (the rest is parsing, the bounds and
 * encoding, and waiting for the thread to be free).
 */
export const HISTOGRAMS = {
  dns_beacon_answer_seconds: "journaled beacon queries: from the query read off the socket to its answer ready to send",
  dns_journal_commit_wait_seconds: "journaled beacon queries: from the append to its row durable (committed and, with FULL, fsynced)",
  dns_journal_commit_seconds: "the journal's transactions: appends and settled deliveries (neither waits for the disk)",
  dns_journal_fsync_seconds: "fsyncs of the journal's WAL (synchronous=FULL), each covering the appends committed before it began",
} as const;
export type HistogramName = keyof typeof HISTOGRAMS;

/** Fine below 10 ms, where the answer target (p99 <= 5 ms) is. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.0075, 0.01, 0.015, 0.02, 0.05, 0.1, 0.25, 1, 5];

/** What a component that only counts needs; the sender thread's counts travel to the main thread's BridgeMetrics. */
export interface Counters {
  add(name: CounterName, by?: number): void;
}

/** What a component that only times needs (the journal's commits and fsyncs). */
export interface Observations {
  observe(name: HistogramName, seconds: number): void;
}

export interface Gauges {
  dns_journal_backlog: () => number;
  dns_journal_backlog_age_seconds: () => number;
  dns_journal_dead_letters: () => number;
}

const GAUGE_HELP: Record<keyof Gauges, string> = {
  dns_journal_backlog: "journaled events not yet delivered",
  dns_journal_backlog_age_seconds: "age of the oldest undelivered event (0 when none waits)",
  dns_journal_dead_letters: "events in the dead-letter table",
};

export class BridgeMetrics implements Counters, Observations {
  readonly registry: Registry = processRegistry();
  private readonly counters = new Map<CounterName, Counter>();
  private readonly histograms = new Map<HistogramName, Histogram>();

  constructor(gauges: Gauges) {
    for (const [name, help] of Object.entries(HISTOGRAMS)) {
      this.histograms.set(name as HistogramName, new Histogram({ name, help, buckets: LATENCY_BUCKETS, registers: [this.registry] }));
    }
    for (const [name, help] of Object.entries(COUNTERS)) {
      this.counters.set(name as CounterName, new Counter({ name, help, registers: [this.registry] }));
    }
    for (const [name, read] of Object.entries(gauges) as [keyof Gauges, () => number][]) {
      callbackGauge(this.registry, name, GAUGE_HELP[name], read);
    }
  }

  add(name: CounterName, by = 1): void {
    this.counters.get(name)!.inc(by);
  }

  observe(name: HistogramName, seconds: number): void {
    this.histograms.get(name)!.observe(seconds);
  }

  async get(name: CounterName): Promise<number> {
    const { values } = await this.counters.get(name)!.get();
    return values[0]?.value ?? 0;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
