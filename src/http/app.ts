/**
 * The Express app: middleware in the order CONTRACT.md needs (CORS and
 * security headers first, then per-route auth → rate limit → body), the
 * routes, and the envelope for everything else. Only this layer knows Express.
 * The buckets and security headers live in an `HttpEdge` shared with the fast
 * path (fast-path.ts), so a request meets the same limits whichever serves it.
 */
import express, { type Request } from "express";
import helmet from "helmet";
import type { Logger } from "../log.js";
import type { RegistryService } from "../registry/service.js";
import { dnsAuth, operatorAuth } from "./auth.js";
import { clientAddress } from "./client-address.js";
import { cors } from "./cors.js";
import { errorHandler, notFoundHandler } from "./error-handler.js";
import { METRICS_CONTENT_TYPE, requestMetrics, type Metrics } from "./metrics.js";
import { TokenBuckets, rateLimit } from "./rate-limit.js";
import { beaconRoutes } from "./routes/beacons.js";
import { evidenceRoutes } from "./routes/evidence.js";
import { identityRoutes } from "./routes/identity.js";
import { tlogRoutes } from "./routes/tlog.js";
import { writeRoutes } from "./routes/writes.js";

/** The one key of the operator bucket: there is one operator token. */
export const OPERATOR_BUCKET = "operator";

export interface Rate {
  perSecond: number;
  burst: number;
}

/** What Express and the fast path share. */
export interface HttpEdge {
  writeBuckets: TokenBuckets;
  readBuckets: TokenBuckets;
  /** The operator token's bucket; null with auth disabled, when operator routes use the per-address write bucket. */
  operatorBuckets: TokenBuckets | null;
  securityHeaders: ReturnType<typeof helmet>;
}

/** `now`: the buckets' clock in milliseconds (see `TokenBucketOptions.now`). */
export function createEdge(rates: { write: Rate; read: Rate; token: Rate }, operatorToken: string | null, now?: () => number): HttpEdge {
  const buckets = (rate: Rate) => new TokenBuckets({ ...rate, now });
  return {
    writeBuckets: buckets(rates.write),
    readBuckets: buckets(rates.read),
    operatorBuckets: operatorToken === null ? null : buckets(rates.token),
    // Beacon images are embedded by documents on other origins: CORP must allow that.
    securityHeaders: helmet({ crossOriginResourcePolicy: { policy: "cross-origin" } }),
  };
}

export interface AppOptions {
  service: RegistryService;
  logger: Logger;
  metrics: Metrics;
  version: string;
  jurisdiction: string;
  origin: string;
  /** null: operator auth disabled (OVERSIGHT_AUTH_DISABLED=1). */
  operatorToken: string | null;
  dnsSecret: string | null;
  trustedProxy: boolean;
  corsOrigins: string[];
  rates: { write: Rate; read: Rate; token: Rate };
  maxBodyBytes: number;
  edge: HttpEdge;
}

export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");

  const byAddress = (req: Request) => clientAddress(req, options.trustedProxy);
  const writeLimit = rateLimit(options.edge.writeBuckets, byAddress);
  const readLimit = rateLimit(options.edge.readBuckets, byAddress);
  // With auth on there is one operator; with auth off, operator routes are limited like any other writer.
  const operatorLimit = options.edge.operatorBuckets ? rateLimit(options.edge.operatorBuckets, () => OPERATOR_BUCKET) : writeLimit;

  app.use(requestMetrics(options.metrics));
  app.use(options.edge.securityHeaders);
  app.use(cors(options.corsOrigins));

  app.get("/metrics", (_req, res) => {
    res.type(METRICS_CONTENT_TYPE).send(options.metrics.render());
  });
  app.use(
    writeRoutes(options.service, {
      operatorAuth: operatorAuth(options.operatorToken),
      operatorRateLimit: operatorLimit,
      dnsAuth: dnsAuth({ secret: options.dnsSecret, trustedProxy: options.trustedProxy }),
      writeRateLimit: writeLimit,
      maxBodyBytes: options.maxBodyBytes,
      trustedProxy: options.trustedProxy,
    }),
  );
  app.use(beaconRoutes(options.service, { rateLimit: writeLimit, trustedProxy: options.trustedProxy }));
  app.use(readLimit);
  app.use(identityRoutes(options.service, options));
  app.use(tlogRoutes(options.service));
  app.use(evidenceRoutes(options.service));
  app.use(notFoundHandler);
  app.use(errorHandler(options.logger));
  return app;
}
