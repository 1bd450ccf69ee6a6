/**
 * The registry process's metrics (docs/MONITORING.md#metrics): requests and
 * their latency by route family, method and status class; the write
 * sequencer's commits; signature verification; the log; rate-limit refusals;
 * and prom-client's process and event-loop metrics. One instance per running
 * server, each with its own prom-client registry.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { SignatureCheck, SignatureVerifier } from "../core/signature-check.js";
import type { BucketName } from "../http/rate-limit.js";
import { callbackGauge, processRegistry } from "./exposition.js";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
const VERIFY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const RATE_BUCKETS: readonly BucketName[] = ["write", "read", "token", "dns"];
const REQUEST_LABELS = ["route", "method", "status"] as const;
const LATENCY_NAME = "http_request_duration_seconds";

/** The labels of one answered request (route-family.ts makes them). */
export interface RequestLabels {
  route: string;
  method: string;
  status: string;
}

export class RegistryMetrics {
  readonly registry: Registry = processRegistry();
  private readonly latency = new Histogram({
    name: LATENCY_NAME,
    help: "Time from the request's arrival until its answer was handed to the operating system, by route family, method and status class.",
    labelNames: REQUEST_LABELS,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  /** The latency histogram's counts, copied when scraped: a request costs one observation, not two. */
  private readonly requests: Counter<(typeof REQUEST_LABELS)[number]> = new Counter({
    name: "http_requests_total",
    help: "HTTP requests answered, by route family, method and status class.",
    labelNames: REQUEST_LABELS,
    registers: [this.registry],
    collect: async () => {
      const counts = (await this.latency.get()).values.filter((v) => v.metricName === `${LATENCY_NAME}_count`);
      this.requests.reset();
      for (const { labels, value } of counts) this.requests.inc(labels, value);
    },
  });
  private readonly batchSize = new Histogram({
    name: "registry_batch_size",
    help: "Jobs committed per write transaction.",
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  private readonly commitSeconds = new Histogram({
    name: "registry_commit_duration_seconds",
    help: "Time to run and commit one write transaction (one fsync with synchronous=FULL), failed ones included.",
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly commitFailures = new Counter({
    name: "registry_commit_failures_total",
    help: "Write transactions that could not be committed; every job in them was answered 503.",
    registers: [this.registry],
  });
  private readonly proofFailures = new Counter({
    name: "proof_verification_failures_total",
    help: "Proofs that failed the registry's own check before being served.",
    registers: [this.registry],
  });
  private readonly headPublicationSeconds = new Histogram({
    name: "tlog_head_publication_duration_seconds",
    help: "Time one head publication takes after a commit: signing the committed head and writing the state file (one O_DSYNC write).",
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly headPublicationFailures = new Counter({
    name: "tlog_head_publication_failures_total",
    help: "Tree heads that could not be published after a commit (signed and written to the state file); the next commit tries again.",
    registers: [this.registry],
  });
  private readonly verifySeconds = new Histogram({
    name: "signature_verify_duration_seconds",
    help: "Time from asking for an Ed25519 check until its answer, queueing for a worker included.",
    buckets: VERIFY_BUCKETS,
    registers: [this.registry],
  });
  private readonly refusals = new Counter({
    name: "rate_limit_refusals_total",
    help: "Requests refused with 429 rate_limited, by the bucket that was empty.",
    labelNames: ["bucket"],
    registers: [this.registry],
  });

  constructor() {
    // Every bucket's series exists from the start, so a rate over it is 0 rather than absent.
    for (const bucket of RATE_BUCKETS) this.refusals.inc({ bucket }, 0);
  }

  /** One answered request, whichever stack answered it. */
  request(labels: RequestLabels, seconds: number): void {
    this.latency.observe(labels, seconds);
  }

  /** One write transaction of `jobs` jobs that took `seconds`; `ok` false: it could not be committed. */
  observeCommit(jobs: number, seconds: number, ok: boolean): void {
    this.commitSeconds.observe(seconds);
    if (ok) this.batchSize.observe(jobs);
    else this.commitFailures.inc();
  }

  proofVerificationFailed(): void {
    this.proofFailures.inc();
  }

  headPublished(seconds: number): void {
    this.headPublicationSeconds.observe(seconds);
  }

  headPublicationFailed(): void {
    this.headPublicationFailures.inc();
  }

  /** `verifier`, with the time each check takes observed. */
  timed(verifier: SignatureVerifier): SignatureVerifier {
    return {
      verify: async (check: SignatureCheck) => {
        const stop = this.verifySeconds.startTimer();
        try {
          return await verifier.verify(check);
        } finally {
          stop();
        }
      },
    };
  }

  rateLimited(bucket: BucketName): void {
    this.refusals.inc({ bucket });
  }

  /** A gauge read at every scrape (callbackGauge). */
  gauge(name: string, help: string, read: () => number | null): void {
    callbackGauge(this.registry, name, help, read);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
