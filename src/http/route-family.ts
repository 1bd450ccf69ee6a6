/**
 * The metrics labels of a request: its route family and status class, from
 * the raw request line alone, so the one observer that sees every request
 * (request-observer.ts) labels it the same whichever stack answered. Every
 * value comes from the fixed sets below, never from the URL itself, so the
 * number of series stays bounded whatever clients send.
 */
import type { RequestLabels } from "../metrics/registry-metrics.js";
import { BEACON_ROUTES } from "./routes/beacons.js";

/** Paths served as they are, one family each. */
const EXACT = [
  "/register",
  "/attribute",
  "/dns_event",
  "/dns_events",
  "/health",
  "/.well-known/oversight-registry",
  "/tlog/head",
  "/tlog/consistency",
  "/tlog/range",
  "/checkpoint",
  "/candidates/semantic",
  "/metrics",
] as const;

/** Paths with a parameter after a fixed prefix, labelled by their template. */
const PREFIXES: readonly (readonly [prefix: string, family: string])[] = [
  ...BEACON_ROUTES.map((route) => [route.path.slice(0, route.path.lastIndexOf("/") + 1), route.path] as const),
  ["/tlog/proof/", "/tlog/proof/:index"],
  ["/evidence/", "/evidence/:file_id"],
  ["/tile/", "/tile/*"],
];

/** Anything else: unknown paths, scans, typos. */
export const OTHER_FAMILY = "other";

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
const EXACT_SET = new Set<string>(EXACT);

/** The route family of a request target (`/tlog/proof/7?tree_size=9` → `/tlog/proof/:index`). */
export function routeFamily(target: string): string {
  // Express matches paths case-insensitively and with or without one trailing slash; so does the label.
  let path = (target.split("?", 1)[0] ?? "").toLowerCase();
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  if (EXACT_SET.has(path)) return path;
  for (const [prefix, family] of PREFIXES) {
    if (path.startsWith(prefix) && path.length > prefix.length) return family;
  }
  return OTHER_FAMILY;
}

/** `2xx`, `4xx`, `5xx`…; anything outside 100–599 is `other`. */
export function statusClass(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : OTHER_FAMILY;
}

/** The method, or `OTHER` for methods no route serves. */
export function methodLabel(method: string | undefined): string {
  return method !== undefined && KNOWN_METHODS.has(method) ? method : "OTHER";
}

/**
 * The labels of an answered request as one object per distinct set, made
 * once and reused: the observer builds none per request. The sets are
 * bounded by the families, methods and statuses above.
 */
const labelSets = new Map<string, Map<string, Map<number, RequestLabels>>>();

export function requestLabels(target: string, method: string | undefined, status: number): RequestLabels {
  const route = routeFamily(target);
  const byRoute = labelSets.get(route) ?? new Map<string, Map<number, RequestLabels>>();
  labelSets.set(route, byRoute);
  const label = methodLabel(method);
  const byMethod = byRoute.get(label) ?? new Map<number, RequestLabels>();
  byRoute.set(label, byMethod);
  let labels = byMethod.get(status);
  if (labels === undefined) {
    labels = { route, method: label, status: statusClass(status) };
    byMethod.set(status, labels);
  }
  return labels;
}
