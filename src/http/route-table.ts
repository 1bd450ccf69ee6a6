/**
 * The route table: every route the registry serves, declared once. Express
 * (app.ts) and the fast path (fast-path.ts) are both built from it, the
 * OpenAPI document (openapi.ts) describes it; the order is the order routes
 * are tried in.
 */
import { z } from "zod";
import { METRICS_CONTENT_TYPE } from "../metrics/exposition.js";
import { JSON_TYPE } from "./answer.js";
import { OPENAPI_CACHE_CONTROL, OPENAPI_VERSION, jsonAnswer } from "./api-description.js";
import { openApiText } from "./openapi.js";
import { bindRoute, route, type DescribedRoute, type Route, type RouteContext, type RouteDeclaration } from "./route.js";
import { BEACON_HIT_ROUTES } from "./routes/beacons.js";
import { EVIDENCE_ROUTES } from "./routes/evidence.js";
import { IDENTITY_ROUTES } from "./routes/identity.js";
import { INSPECTOR_ROUTES } from "./routes/inspector.js";
import { TLOG_ROUTES } from "./routes/tlog.js";
import { WRITE_ROUTES } from "./routes/writes.js";

/** The document of each version asked for: the same for the life of the process, so built on first use. */
const openApiTexts = new Map<string, string>();

export const ROUTE_TABLE: readonly RouteDeclaration[] = [
  route({
    methods: ["GET", "HEAD"],
    path: "/metrics",
    bucket: null,
    doc: {
      tag: "operations",
      summary: "Prometheus metrics, for the operator: never routed by the public Caddy configuration",
      ok: { kind: "text", type: METRICS_CONTENT_TYPE },
      errors: [],
    },
    answer: async (_call, { metrics }) => ({ content: { type: METRICS_CONTENT_TYPE, body: await metrics.render() } }),
  }),
  ...WRITE_ROUTES,
  ...BEACON_HIT_ROUTES,
  ...IDENTITY_ROUTES,
  ...TLOG_ROUTES,
  ...EVIDENCE_ROUTES,
  route({
    methods: ["GET"],
    path: "/openapi.json",
    bucket: "read",
    doc: {
      tag: "operations",
      summary: "This document",
      ok: jsonAnswer(z.looseObject({ openapi: z.literal(OPENAPI_VERSION), paths: z.record(z.string(), z.unknown()) })),
      cacheControl: OPENAPI_CACHE_CONTROL,
      errors: [429],
    },
    answer: (_call, { version }) => {
      let text = openApiTexts.get(version);
      if (text === undefined) openApiTexts.set(version, (text = openApiText(API_ROUTES, version)));
      return { headers: { "Cache-Control": OPENAPI_CACHE_CONTROL }, content: { type: JSON_TYPE, body: text } };
    },
  }),
];

/** Every route the app answers, in the order it tries them: the table, then the inspector page Express serves behind it. */
export const API_ROUTES: readonly DescribedRoute[] = [...ROUTE_TABLE, ...INSPECTOR_ROUTES];

/** The table with its answers bound to one registry. */
export function routeTable(context: RouteContext): Route[] {
  return ROUTE_TABLE.map((declared) => bindRoute(declared, context));
}
