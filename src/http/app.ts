/**
 * The Express app, built from the route table (route-table.ts): CORS and
 * security headers first, then each route's own handlers (auth → rate limit →
 * body → answer, route-handlers.ts), and the envelope for everything else.
 */
import express from "express";
import type { Logger } from "../log.js";
import { clientAddress } from "./client-address.js";
import { cors } from "./cors.js";
import type { HttpEdge } from "./edge.js";
import { parseQueryString } from "./query-string.js";
import { errorHandler, notFoundHandler } from "./error-handler.js";
import type { RegistryMetrics } from "../metrics/registry-metrics.js";
import { rateLimit } from "./rate-limit.js";
import type { ServedRoute } from "./route-handlers.js";
import { inspectorRoutes } from "./routes/inspector.js";

export interface AppOptions {
  routes: readonly ServedRoute[];
  edge: HttpEdge;
  logger: Logger;
  metrics: RegistryMetrics;
  trustedProxy: boolean;
  corsOrigins: string[];
}

type Verb = "get" | "head" | "post";

export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", parseQueryString);

  app.use(options.edge.securityHeaders);
  app.use(cors(options.corsOrigins));
  for (const { route, handlers } of options.routes) {
    const served = app.route(route.path);
    for (const method of route.methods) served[method.toLowerCase() as Verb](...handlers);
    // Express answers HEAD with a GET route unless the route says otherwise: a route without HEAD passes it on (to 404).
    if (route.methods.includes("GET") && !route.methods.includes("HEAD")) served.head((_req, _res, next) => next("route"));
  }
  // What no route takes still spends a reader's token before the inspector page or its 404.
  app.use(
    rateLimit(
      (req) => options.edge.bucketFor("read", clientAddress(req, options.trustedProxy)),
      (bucket) => options.metrics.rateLimited(bucket),
    ),
  );
  // Not a table route: `/` passes a client that prefers JSON on to the 404 envelope.
  app.use(inspectorRoutes());
  app.use(notFoundHandler);
  app.use(errorHandler(options.logger));
  return app;
}
