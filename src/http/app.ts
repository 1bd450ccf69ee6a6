/**
 * The Express app: middleware in the order docs/PROTOCOL.md#routes needs (CORS and
 * security headers first, then per-route auth → rate limit → body), the
 * routes, and the envelope for everything else. Only this layer knows Express.
 * The buckets and security headers live in an `HttpEdge` shared with the fast
 * path (fast-path.ts), so a request meets the same limits whichever serves it.
 */
import express, { type Request } from "express";
import helmet from "helmet";
import type { Logger } from "../log.js";
import type { RegistryService } from "../registry/service.js";
import type { OperatorAccess } from "../registry/operator-access.js";
import { dnsAuth, operatorAuth, operatorOf } from "./auth.js";
import { clientAddress } from "./client-address.js";
import { cors } from "./cors.js";
import { errorHandler, notFoundHandler } from "./error-handler.js";
import { METRICS_CONTENT_TYPE } from "../metrics/exposition.js";
import type { RegistryMetrics } from "../metrics/registry-metrics.js";
import { TokenBuckets, rateLimit, type BucketChoice, type BucketName } from "./rate-limit.js";
import { beaconRoutes } from "./routes/beacons.js";
import { evidenceRoutes } from "./routes/evidence.js";
import { identityRoutes } from "./routes/identity.js";
import { inspectorRoutes } from "./routes/inspector.js";
import { openApiRoutes } from "./routes/openapi.js";
import { tlogRoutes } from "./routes/tlog.js";
import { writeRoutes } from "./routes/writes.js";

export interface Rate {
  perSecond: number;
  burst: number;
}

export interface Rates {
  write: Rate;
  read: Rate;
  token: Rate;
  dns: Rate;
}

/**
 * Who a request spends tokens as: the operator (POST /register, /attribute),
 * the DNS bridge (POST /dns_event), a beacon hit, or a reader.
 */
export type Spender = "operator" | "dns" | "beacon" | "read";

/** What Express and the fast path share. */
export interface HttpEdge {
  /**
   * The one place that decides which bucket a request spends, called by the
   * Express middleware and the fast path alike, after authentication.
   * `holder`: the name of the operator token the request carries.
   */
  bucketFor(spender: Spender, address: string, holder?: string): BucketChoice;
  securityHeaders: ReturnType<typeof helmet>;
}

export interface EdgeSecrets {
  /** null: operator auth disabled. */
  operatorToken: string | null;
  /** null: /dns_event admits loopback callers only. */
  dnsSecret: string | null;
}

/** `now`: the buckets' clock in milliseconds (see `TokenBucketOptions.now`). */
export function createEdge(rates: Rates, { operatorToken, dnsSecret }: EdgeSecrets, now?: () => number): HttpEdge {
  const buckets = (rate: Rate) => new TokenBuckets(now ? { ...rate, now } : rate);
  const write = buckets(rates.write);
  const read = buckets(rates.read);
  const byAddress = (buckets: TokenBuckets, bucket: BucketName, address: string): BucketChoice => ({ buckets, bucket, key: address });
  // A secret is held by one party, so its bucket is keyed by who holds it (each
  // operator token by its name). Without a secret the caller is anonymous (or
  // a local bridge) and is limited by its address.
  const bySecret = (secret: string | null, bucket: BucketName) => {
    if (secret === null) return (address: string) => byAddress(write, "write", address);
    const held = buckets(rates[bucket]);
    return (_address: string, holder = "holder") => ({ buckets: held, bucket, key: holder });
  };
  const choosers: Record<Spender, (address: string, holder?: string) => BucketChoice> = {
    operator: bySecret(operatorToken, "token"),
    // A DNS bridge sends every hit from one address: sharing that address's beacon bucket would refuse DNS evidence under load.
    dns: bySecret(dnsSecret, "dns"),
    beacon: (address) => byAddress(write, "write", address),
    read: (address) => byAddress(read, "read", address),
  };
  return {
    bucketFor: (spender, address, holder) => choosers[spender](address, holder),
    // Beacon images are embedded by documents on other origins: CORP must allow that.
    securityHeaders: helmet({ crossOriginResourcePolicy: { policy: "cross-origin" } }),
  };
}

export interface AppOptions {
  service: RegistryService;
  logger: Logger;
  metrics: RegistryMetrics;
  version: string;
  jurisdiction: string;
  origin: string;
  /** Who may use the operator routes (admits everyone with OVERSIGHT_AUTH_DISABLED=1). */
  operators: OperatorAccess;
  dnsSecret: string | null;
  trustedProxy: boolean;
  corsOrigins: string[];
  maxBodyBytes: number;
  edge: HttpEdge;
}

export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");

  const limit = (spender: Spender) =>
    rateLimit(
      (req: Request) => options.edge.bucketFor(spender, clientAddress(req, options.trustedProxy), operatorOf(req)?.name),
      (bucket) => options.metrics.rateLimited(bucket),
    );

  app.use(options.edge.securityHeaders);
  app.use(cors(options.corsOrigins));

  app.get("/metrics", async (_req, res) => {
    res.type(METRICS_CONTENT_TYPE).send(await options.metrics.render());
  });
  app.use(
    writeRoutes(options.service, {
      operatorAuth: (scope) => operatorAuth(options.operators, scope),
      operatorRateLimit: limit("operator"),
      dnsAuth: dnsAuth({ secret: options.dnsSecret, trustedProxy: options.trustedProxy }),
      dnsRateLimit: limit("dns"),
      maxBodyBytes: options.maxBodyBytes,
      trustedProxy: options.trustedProxy,
    }),
  );
  app.use(beaconRoutes(options.service, { rateLimit: limit("beacon"), trustedProxy: options.trustedProxy }));
  app.use(limit("read"));
  app.use(identityRoutes(options.service, options));
  app.use(tlogRoutes(options.service));
  app.use(evidenceRoutes(options.service));
  app.use(inspectorRoutes());
  app.use(openApiRoutes(options.version));
  app.use(notFoundHandler);
  app.use(errorHandler(options.logger));
  return app;
}
