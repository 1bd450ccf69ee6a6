/**
 * The route table: every route the registry serves, declared once. Express
 * (app.ts) and the fast path (fast-path.ts) are both built from it; the order
 * is the order routes are tried in.
 */
import type { RegistryService } from "../registry/service.js";
import { METRICS_CONTENT_TYPE } from "../metrics/exposition.js";
import type { RegistryMetrics } from "../metrics/registry-metrics.js";
import { OPENAPI_CACHE_CONTROL } from "./api-description.js";
import { JSON_TYPE } from "./answer.js";
import { openApiText } from "./openapi.js";
import { route, type Route } from "./route.js";
import { beaconRoutes } from "./routes/beacons.js";
import { evidenceRoutes } from "./routes/evidence.js";
import { identityRoutes, type IdentityOptions } from "./routes/identity.js";
import { tlogRoutes } from "./routes/tlog.js";
import { writeRoutes } from "./routes/writes.js";

export interface RouteTableOptions extends IdentityOptions {
  service: RegistryService;
  metrics: RegistryMetrics;
}

export function routeTable(options: RouteTableOptions): Route[] {
  const { service, metrics } = options;
  let openApi: string | undefined;
  return [
    route({
      methods: ["GET", "HEAD"],
      path: "/metrics",
      bucket: null,
      answer: async () => ({ content: { type: METRICS_CONTENT_TYPE, body: await metrics.render() } }),
    }),
    ...writeRoutes(service),
    ...beaconRoutes(service),
    ...identityRoutes(service, options),
    ...tlogRoutes(service),
    ...evidenceRoutes(service),
    route({
      methods: ["GET"],
      path: "/openapi.json",
      bucket: "read",
      // Built on first use: the document is the same for the life of the process.
      answer: () => ({ headers: { "Cache-Control": OPENAPI_CACHE_CONTROL }, content: { type: JSON_TYPE, body: (openApi ??= openApiText(options.version)) } }),
    }),
  ];
}
