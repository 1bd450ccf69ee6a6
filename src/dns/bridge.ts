/**
 * The DNS bridge assembled: sockets → answer → (beacon queries) journal →
 * sender → registry, plus the loopback metrics and status endpoint. This
 * thread parses, rate-limits, journals (commits and fsyncs) and answers; the
 * deliveries run on their own thread (bridge-journal.ts). A beacon query is answered once its row is durable;
 * it never waits for the registry, and when the journal cannot take more
 * (size cap, commit queue full, source over its rate) the query is still
 * answered and the refusal counted.
 */
import http from "node:http";
import { performance } from "node:perf_hooks";
import { TokenBuckets } from "../http/rate-limit.js";
import type { Logger } from "../log.js";
import { METRICS_CONTENT_TYPE } from "../metrics/exposition.js";
import type { Synchronous } from "../registry/database.js";
import { answer, decodeQuery, placementOf, serverFailure, type Query, type Transport } from "./answer.js";
import { DEFAULT_BACKOFF, type BackoffPolicy } from "./backoff.js";
import { BridgeJournal } from "./bridge-journal.js";
import { BridgeMetrics } from "./metrics.js";
import { RecentQueries } from "./retransmissions.js";
import { startDnsServer, type Remote } from "./server.js";
import type { Fdatasync } from "./wal-sync.js";
import type { Zone } from "./zone.js";

export interface BridgeOptions {
  zone: Zone;
  address: string;
  port: number;
  dataDir: string;
  registryUrl: string;
  secret: string | null;
  /** Loopback port for /metrics and /status; null: none. */
  metricsPort: number | null;
  journalMax: number;
  rate: { perSecond: number; burst: number };
  deliveryWindow: number;
  /** How long a registry that does not take batches gets one event a request before a batch is tried again (default 10 min). */
  deliveryBatchReprobeMs?: number;
  deliveryTimeoutMs: number;
  synchronous: Synchronous;
  backoff?: BackoffPolicy;
  /** The journal WAL's fdatasync, default fs.fdatasyncSync: tests look at what it covers to see that no answer leaves before it. */
  fdatasync?: Fdatasync;
}

export interface RunningBridge {
  dnsPort: number;
  metricsUrl: string | null;
  journal: BridgeJournal;
  metrics: BridgeMetrics;
  close(): Promise<void>;
}

/** Appends waiting for the next commit beyond this are not journaled, so that one commit and its fsync never hold the answers for long. */
const MAX_UNCOMMITTED = 20_000;
const RETRANSMISSION_WINDOW_MS = 5_000;
const BATCH_REPROBE_MS = 10 * 60_000;
const RETRANSMISSION_MAX_ENTRIES = 200_000;

export async function startBridge(options: BridgeOptions, logger: Logger): Promise<RunningBridge> {
  // The gauges read the journal, which counts into the metrics; they are read only once both exist.
  const metrics = new BridgeMetrics({
    dns_journal_backlog: () => journal.pending,
    dns_journal_backlog_age_seconds: () => {
      const oldest = journal.backlog().oldest_received_at;
      return oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000);
    },
    dns_journal_dead_letters: () => journal.backlog().dead_letters,
  });
  const journal = new BridgeJournal({
    dataDir: options.dataDir,
    synchronous: options.synchronous,
    registryUrl: options.registryUrl,
    secret: options.secret,
    deliveryWindow: options.deliveryWindow,
    deliveryBatchReprobeMs: options.deliveryBatchReprobeMs ?? BATCH_REPROBE_MS,
    deliveryTimeoutMs: options.deliveryTimeoutMs,
    backoff: options.backoff ?? DEFAULT_BACKOFF,
    metrics,
    logger,
    fdatasync: options.fdatasync,
  });
  const recent = new RecentQueries({ windowMs: RETRANSMISSION_WINDOW_MS, maxEntries: RETRANSMISSION_MAX_ENTRIES, now: () => performance.now() });
  const buckets = new TokenBuckets(options.rate);
  let full = false;
  /** A run of failed appends is logged at its first, not once a query: a broken disk fails every one. */
  let failing = false;

  /** Journals a beacon query: "journaled", "answered" (not journaled, on purpose) or "failed" (the resolver is told to ask again). */
  const record = async (query: Query, tokenId: string, remote: Remote): Promise<"journaled" | "answered" | "failed"> => {
    const { name, type } = query.question;
    if (recent.isRetransmission(remote.address, query.id, name, type)) {
      metrics.add("dns_events_retransmitted_total");
      return "answered";
    }
    if (buckets.take(remote.address) > 0) {
      metrics.add("dns_events_rate_limited_total");
      return "answered";
    }
    const atCap = journal.pending >= options.journalMax || journal.uncommitted >= MAX_UNCOMMITTED;
    if (atCap !== full) {
      full = atCap;
      if (full) logger.error("the journal is full: beacon queries are answered but no longer recorded", { pending: journal.pending, cap: options.journalMax });
      else logger.info("the journal has room again: beacon queries are recorded", { pending: journal.pending });
    }
    if (atCap) {
      recent.forget(remote.address, query.id, name, type);
      metrics.add("dns_events_journal_full_total");
      return "answered";
    }
    const appended = performance.now();
    try {
      await journal.append({ token_id: tokenId, client_ip: remote.address, qtype: type, qname: name.replace(/\.$/, "") });
    } catch (error) {
      recent.forget(remote.address, query.id, name, type);
      metrics.add("dns_events_journal_failed_total");
      if (!failing) logger.error("could not journal a beacon query; answered SERVFAIL so the resolver asks again", { error });
      failing = true;
      return "failed";
    }
    if (failing) {
      failing = false;
      logger.info("beacon queries are journaled again");
    }
    metrics.observe("dns_journal_commit_wait_seconds", (performance.now() - appended) / 1000);
    metrics.add("dns_events_journaled_total");
    return "journaled";
  };

  let closing = false;
  const handle = async (message: Buffer, remote: Remote, transport: Transport): Promise<Buffer | null> => {
    // Closing: the answers still owed are sent, new queries are left to the resolver's next server or retry.
    if (closing) return null;
    const received = performance.now();
    metrics.add("dns_queries_total");
    const decoded = decodeQuery(message);
    if (!decoded.ok) {
      metrics.add("dns_malformed_total");
      logger.debug("unusable DNS message", { from: remote.address, reason: decoded.reason });
      return decoded.reply;
    }
    const { query } = decoded;
    const placement = placementOf(options.zone, query);
    if (placement.kind !== "beacon") return answer(options.zone, query, transport);
    const recorded = await record(query, placement.tokenId, remote);
    if (recorded === "failed") return serverFailure(query);
    const reply = answer(options.zone, query, transport);
    if (recorded === "journaled") metrics.observe("dns_beacon_answer_seconds", (performance.now() - received) / 1000);
    return reply;
  };

  let dns;
  try {
    dns = await startDnsServer({
      address: options.address,
      port: options.port,
      handle,
      onError: (error, where) => logger.warn("DNS socket error", { where, error }),
    });
  } catch (error) {
    await journal.close();
    throw error;
  }
  const status = options.metricsPort === null ? null : await startStatusServer(options.metricsPort, journal, metrics);
  logger.info("dns bridge listening", {
    address: options.address,
    port: dns.port,
    beacon_domain: options.zone.apex,
    registry: options.registryUrl,
    metrics: status?.url ?? "off",
    backlog: journal.pending,
  });
  let closed: Promise<void> | undefined;
  return {
    dnsPort: dns.port,
    metricsUrl: status?.url ?? null,
    journal,
    metrics,
    close: () =>
      (closed ??= (async () => {
        closing = true;
        // Every append made durable meanwhile is answered before the sockets go.
        await journal.close();
        await dns.close();
        await status?.close();
      })()),
  };
}

async function startStatusServer(port: number, journal: BridgeJournal, metrics: BridgeMetrics): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    if (req.method === "GET" && req.url === "/metrics") {
      res.writeHead(200, { "content-type": METRICS_CONTENT_TYPE }).end(await metrics.render());
    } else if (req.method === "GET" && req.url === "/status") {
      const body = { ...journal.backlog(), recent_dead_letters: journal.deadLetters(10) };
      res.writeHead(200, { "content-type": "application/json" }).end(`${JSON.stringify(body)}\n`);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  // Loopback only: the counters and dead letters (resolver addresses, tokens) are for the operator.
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
