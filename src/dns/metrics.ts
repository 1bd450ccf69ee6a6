/**
 * The bridge's counters and gauges, in the Prometheus text format the
 * registry's /metrics uses. Label-free: every series is a fixed name.
 */
export const COUNTERS = {
  dns_queries_total: "DNS queries answered or refused, beacon or not",
  dns_malformed_total: "packets answered FORMERR/NOTIMP or dropped as unparsable",
  dns_events_journaled_total: "beacon queries appended to the journal",
  dns_events_retransmitted_total: "resends of a journaled query (same resolver, id and name), not journaled again",
  dns_events_rate_limited_total: "beacon queries answered but not journaled: their source was over its rate",
  dns_events_journal_full_total: "beacon queries answered but not journaled: the journal was at its size cap or its commit queue full",
  dns_events_journal_failed_total: "beacon queries answered SERVFAIL because the journal could not be written",
  dns_events_delivered_total: "events the registry acknowledged (200)",
  dns_events_retried_total: "delivery attempts that will be retried (429, 5xx, no answer)",
  dns_events_dead_lettered_total: "events the registry refused for good (4xx other than 429)",
} as const;
export type CounterName = keyof typeof COUNTERS;

/** What a component that only counts needs; the sender thread's counts travel to the main thread's BridgeMetrics. */
export interface Counters {
  add(name: CounterName, by?: number): void;
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

export class BridgeMetrics implements Counters {
  private readonly counts = new Map<CounterName, number>(Object.keys(COUNTERS).map((name) => [name as CounterName, 0]));

  constructor(private readonly gauges: Gauges) {}

  add(name: CounterName, by = 1): void {
    this.counts.set(name, this.counts.get(name)! + by);
  }

  get(name: CounterName): number {
    return this.counts.get(name)!;
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, help] of Object.entries(COUNTERS)) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${this.counts.get(name as CounterName)}`);
    }
    for (const [name, read] of Object.entries(this.gauges) as [keyof Gauges, () => number][]) {
      lines.push(`# HELP ${name} ${GAUGE_HELP[name]}`, `# TYPE ${name} gauge`, `${name} ${read()}`);
    }
    return `${lines.join("\n")}\n`;
  }
}
