/**
 * The one place that sees every request the registry answers, whichever
 * stack answers it (the fast path or Express): it gives the request its id,
 * and when the answer is finished counts it and its latency by route family,
 * method and status class, and logs it at debug level.
 */
import type { RequestListener } from "node:http";
import { performance } from "node:perf_hooks";
import type { Logger } from "../log.js";
import type { RegistryMetrics } from "../metrics/registry-metrics.js";
import { safePath } from "./error-handler.js";
import { assignRequestId } from "./request-id.js";
import { requestLabels } from "./route-family.js";

export function observeRequests(metrics: RegistryMetrics, logger: Logger, listener: RequestListener): RequestListener {
  return (req, res) => {
    const started = performance.now();
    // Express rewrites req.url inside routers: keep the target as it arrived.
    const url = req.url ?? "";
    const id = assignRequestId(req, res);
    res.once("finish", () => {
      const seconds = (performance.now() - started) / 1000;
      const labels = requestLabels(url, req.method, res.statusCode);
      metrics.request(labels, seconds);
      if (logger.level === "debug") {
        logger.debug("request", {
          request_id: id,
          method: req.method,
          path: safePath(url),
          route: labels.route,
          status: res.statusCode,
          duration_ms: Math.round(seconds * 1e6) / 1000,
        });
      }
    });
    listener(req, res);
  };
}
