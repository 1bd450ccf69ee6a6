/**
 * The route table: every route the registry serves, declared once. Express
 * (app.ts) and the fast path (fast-path.ts) are both built from it; the order
 * is the order routes are tried in.
 */
import type { RegistryService } from "../registry/service.js";
import { METRICS_CONTENT_TYPE, type Metrics } from "./metrics.js";
import { route, type Route } from "./route.js";
import { beaconRoutes } from "./routes/beacons.js";
import { evidenceRoutes } from "./routes/evidence.js";
import { identityRoutes, type IdentityOptions } from "./routes/identity.js";
import { tlogRoutes } from "./routes/tlog.js";
import { writeRoutes } from "./routes/writes.js";

export interface RouteTableOptions extends IdentityOptions {
  service: RegistryService;
  metrics: Metrics;
}

export function routeTable(options: RouteTableOptions): Route[] {
  const { service, metrics } = options;
  return [
    route({ methods: ["GET", "HEAD"], path: "/metrics", bucket: null, answer: () => ({ content: { type: METRICS_CONTENT_TYPE, body: metrics.render() } }) }),
    ...writeRoutes(service),
    ...beaconRoutes(service),
    ...identityRoutes(service, options),
    ...tlogRoutes(service),
    ...evidenceRoutes(service),
  ];
}
