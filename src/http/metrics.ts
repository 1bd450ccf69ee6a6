/**
 * A small Prometheus registry in the text exposition format 0.0.4: request
 * counts by route, a histogram of write-batch sizes, proof self-check
 * failures, and gauges read through callbacks at scrape time. Label values
 * come from route templates and fixed sets, never from raw URLs, so the
 * number of series stays bounded whatever clients send.
 */
import type { RequestHandler } from "express";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] as const;
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

interface Gauge {
  help: string;
  read: () => number | null;
}

export class Metrics {
  private readonly requests = new Map<string, { labels: string; count: number }>();
  private readonly batchCounts: number[] = BATCH_BUCKETS.map(() => 0);
  private batchSum = 0;
  private batchCount = 0;
  private proofFailures = 0;
  private readonly gauges = new Map<string, Gauge>();

  /** Counts one answered request. */
  request(route: string, method: string, status: number): void {
    const labels = formatLabels({ route, method: KNOWN_METHODS.has(method) ? method : "OTHER", status: String(status) });
    const entry = this.requests.get(labels);
    if (entry) entry.count++;
    else this.requests.set(labels, { labels, count: 1 });
  }

  /** Records the number of jobs committed in one write transaction. */
  observeBatch(jobs: number): void {
    BATCH_BUCKETS.forEach((bound, i) => {
      if (jobs <= bound) this.batchCounts[i]!++;
    });
    this.batchSum += jobs;
    this.batchCount++;
  }

  /** Records a proof the registry built that failed its own verification before being served. */
  proofVerificationFailed(): void {
    this.proofFailures++;
  }

  /**
   * Registers a gauge read at every scrape (e.g. `tlog_tree_size`,
   * `tlog_seconds_since_signed_head`); a callback returning null or throwing
   * leaves the gauge out of that scrape.
   */
  gauge(name: string, help: string, read: () => number | null): void {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`invalid metric name ${name}`);
    this.gauges.set(name, { help, read });
  }

  render(): string {
    const lines: string[] = [];
    lines.push(
      "# HELP http_requests_total HTTP requests answered, by route template, method and status.",
      "# TYPE http_requests_total counter",
    );
    for (const { labels, count } of this.requests.values()) lines.push(`http_requests_total${labels} ${count}`);

    lines.push("# HELP registry_batch_size Jobs committed per write transaction.", "# TYPE registry_batch_size histogram");
    BATCH_BUCKETS.forEach((bound, i) => {
      lines.push(`registry_batch_size_bucket{le="${bound}"} ${this.batchCounts[i]}`);
    });
    lines.push(
      `registry_batch_size_bucket{le="+Inf"} ${this.batchCount}`,
      `registry_batch_size_sum ${this.batchSum}`,
      `registry_batch_size_count ${this.batchCount}`,
    );

    lines.push(
      "# HELP proof_verification_failures_total Proofs that failed the registry's own check before being served.",
      "# TYPE proof_verification_failures_total counter",
      `proof_verification_failures_total ${this.proofFailures}`,
    );

    for (const [name, gauge] of this.gauges) {
      let value: number | null;
      try {
        value = gauge.read();
      } catch {
        value = null;
      }
      if (value === null || !Number.isFinite(value)) continue;
      lines.push(`# HELP ${name} ${escapeHelp(gauge.help)}`, `# TYPE ${name} gauge`, `${name} ${value}`);
    }
    return `${lines.join("\n")}\n`;
  }
}

/** Counts every answered request under its route template ("unmatched" when no route took it). */
export function requestMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    // The router restores req.baseUrl when an error leaves a mounted router, so the
    // template is captured at the moment the router assigns req.route.
    let route: unknown;
    let template = "unmatched";
    Object.defineProperty(req, "route", {
      configurable: true,
      enumerable: true,
      get: () => route,
      set: (value: { path?: unknown } | undefined) => {
        route = value;
        if (value?.path !== undefined) template = `${req.baseUrl}${String(value.path)}`;
      },
    });
    res.on("finish", () => metrics.request(template, req.method, res.statusCode));
    next();
  };
}

function formatLabels(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([key, value]) => `${key}="${escapeLabel(value)}"`);
  return `{${parts.join(",")}}`;
}

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
