/**
 * Every route the registry serves, as data: method, path, who may call it,
 * the bucket it spends, and the zod schemas its parameters, body and answers
 * are parsed with or typed from in the code. openapi.ts turns this list into
 * the OpenAPI document; a test compares it with the routes the app answers,
 * so a route without an entry here fails the suite.
 */
import { z } from "zod";
import { IdentifierSchema } from "../core/manifest.js";
import { AttributeRequestSchema, AttributionSchema } from "../registry/attribute.js";
import { CandidatesAnswerSchema } from "../registry/candidates.js";
import { DnsEventAnswerSchema, DnsEventSchema } from "../registry/events.js";
import { EvidenceBundleSchema } from "../registry/evidence.js";
import type { BeaconKind } from "../registry/leaves.js";
import { ConsistencyProofSchema, InclusionProofSchema, RangePageSchema } from "../registry/log-reads.js";
import { RegisterRequestSchema, RegisterResultSchema } from "../registry/register.js";
import { SignedTreeHeadSchema } from "../tlog/heads.js";
import type { Spender } from "./edge.js";
import { METRICS_CONTENT_TYPE } from "../metrics/exposition.js";
import { ASSET_CACHE_CONTROL } from "./routes/inspector.js";
import { IntegerParam } from "./params.js";
import { BEACON_ROUTES, LicenseAnswerSchema } from "./routes/beacons.js";
import { CandidatesQuery, EvidenceQuery } from "./routes/evidence.js";
import { HealthAnswerSchema, WellKnownAnswerSchema } from "./routes/identity.js";
import { ConsistencyQuery, ProofQuery, RangeQuery } from "./routes/tlog.js";

export type Method = "GET" | "HEAD" | "POST";

/** `operator`: an operator token with `scope`; `dns`: the DNS secret, or a loopback caller when none is configured. */
export type Auth = { kind: "public" } | { kind: "operator"; scope: "register" | "attribute" } | { kind: "dns" };

/**
 * An answer body: JSON described by a zod schema, text, bytes, or nothing.
 * `type` is the media type the route sends, parameters included.
 */
export type Content = { kind: "json"; schema: z.ZodType } | { kind: "text"; type: string } | { kind: "bytes"; type: string } | { kind: "empty" };

export interface ApiRoute {
  method: Method;
  /** The OpenAPI path template. */
  path: string;
  /** The Express route that serves it (also its metrics label). */
  express: string;
  summary: string;
  auth: Auth;
  /** The token bucket it spends (app.ts `Spender`); null: not rate limited. */
  bucket: Spender | null;
  /** The path parameters, as the route parses them. */
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** The JSON body, as the route parses it. */
  body?: z.ZodType;
  ok: Content;
  /** `Cache-Control` of the success answer, when the route sets one. */
  cacheControl?: string;
  /** The statuses of its error answers (the v1 envelope), besides 500. */
  errors: readonly number[];
}

export const OPENAPI_VERSION = "3.1.1";

/** `Cache-Control` of /openapi.json: the document changes only with the registry's version. */
export const OPENAPI_CACHE_CONTROL = "public, max-age=3600";

const JSON_ANSWER = (schema: z.ZodType): Content => ({ kind: "json", schema });
/** A body the route reads: bad JSON or shape, over the size limit, an unsupported charset or encoding. */
const BODY_ERRORS = [400, 413, 415];

const BEACON_ANSWERS: Record<BeaconKind, Content> = {
  http_img: { kind: "bytes", type: "image/png" },
  ocsp: { kind: "empty" },
  license: JSON_ANSWER(LicenseAnswerSchema),
};

const beaconRoutes = (): ApiRoute[] =>
  BEACON_ROUTES.flatMap((route) =>
    route.methods.map(
      (method): ApiRoute => ({
        method: method as Method,
        path: `${route.path.slice(0, route.path.lastIndexOf("/") + 1)}{token_id}${route.suffix}`,
        express: route.path,
        summary: `Beacon hit (${route.kind}): records an event and a log leaf for any token of 1..256 bytes`,
        auth: { kind: "public" },
        bucket: "beacon",
        params: z.object({ token_id: IdentifierSchema }),
        ok: method === "HEAD" ? { kind: "empty" } : BEACON_ANSWERS[route.kind],
        cacheControl: "no-store",
        errors: [400, 429, 503],
      }),
    ),
  );

const TILE_PATH_RULE = "C2SP tlog-tiles: N in 3-digit groups, all but the last prefixed with `x` (x001/x234/067), then `.p/{W}` for a partial tile";

export const API_ROUTES: readonly ApiRoute[] = [
  {
    method: "GET",
    path: "/health",
    express: "/health",
    summary: "Liveness; `degraded` while the log does not extend its largest signed head",
    auth: { kind: "public" },
    bucket: "read",
    ok: JSON_ANSWER(HealthAnswerSchema),
    errors: [429],
  },
  {
    method: "GET",
    path: "/.well-known/oversight-registry",
    express: "/.well-known/oversight-registry",
    summary: "Who the registry is, and the extensions it serves",
    auth: { kind: "public" },
    bucket: "read",
    ok: JSON_ANSWER(WellKnownAnswerSchema),
    errors: [429],
  },
  {
    method: "POST",
    path: "/register",
    express: "/register",
    summary: "Register a signed manifest",
    auth: { kind: "operator", scope: "register" },
    bucket: "operator",
    body: RegisterRequestSchema,
    ok: JSON_ANSWER(RegisterResultSchema),
    errors: [...BODY_ERRORS, 401, 403, 409, 429, 503],
  },
  {
    method: "POST",
    path: "/attribute",
    express: "/attribute",
    summary: "Which file a token, a mark or a perceptual hash belongs to",
    auth: { kind: "operator", scope: "attribute" },
    bucket: "operator",
    body: AttributeRequestSchema,
    ok: JSON_ANSWER(AttributionSchema),
    errors: [...BODY_ERRORS, 401, 403, 429],
  },
  {
    method: "POST",
    path: "/dns_event",
    express: "/dns_event",
    summary: "A DNS bridge reports a lookup of a beacon name",
    auth: { kind: "dns" },
    bucket: "dns",
    body: DnsEventSchema,
    ok: JSON_ANSWER(DnsEventAnswerSchema),
    errors: [...BODY_ERRORS, 401, 429, 503],
  },
  {
    method: "GET",
    path: "/evidence/{file_id}",
    express: "/evidence/:file_id",
    summary: "The signed evidence bundle of a file: its first page of events, or with `cursor` the page a previous page's `next_cursor` names (same snapshot)",
    auth: { kind: "public" },
    bucket: "read",
    params: z.object({ file_id: IdentifierSchema }),
    query: EvidenceQuery,
    ok: JSON_ANSWER(EvidenceBundleSchema),
    errors: [400, 404, 429, 503],
  },
  {
    method: "GET",
    path: "/tlog/head",
    express: "/tlog/head",
    summary: "The signed tree head",
    auth: { kind: "public" },
    bucket: "read",
    ok: JSON_ANSWER(SignedTreeHeadSchema),
    cacheControl: "no-cache",
    errors: [429, 503],
  },
  {
    method: "GET",
    path: "/tlog/proof/{index}",
    express: "/tlog/proof/:index",
    summary: "Inclusion proof of a leaf, at the current size or at `tree_size`",
    auth: { kind: "public" },
    bucket: "read",
    params: z.object({ index: IntegerParam }),
    query: ProofQuery,
    ok: JSON_ANSWER(InclusionProofSchema),
    errors: [400, 404, 429],
  },
  {
    method: "GET",
    path: "/tlog/consistency",
    express: "/tlog/consistency",
    summary: "Consistency proof between two tree sizes",
    auth: { kind: "public" },
    bucket: "read",
    query: ConsistencyQuery,
    ok: JSON_ANSWER(ConsistencyProofSchema),
    errors: [400, 404, 429],
  },
  {
    method: "GET",
    path: "/tlog/range",
    express: "/tlog/range",
    summary: "Leaves from `start`, `limit` clamped to 1..1000",
    auth: { kind: "public" },
    bucket: "read",
    query: RangeQuery,
    ok: JSON_ANSWER(RangePageSchema),
    errors: [400, 429],
  },
  {
    method: "GET",
    path: "/checkpoint",
    express: "/checkpoint",
    summary: "The C2SP checkpoint, a signed note",
    auth: { kind: "public" },
    bucket: "read",
    ok: { kind: "text", type: "text/plain; charset=utf-8" },
    cacheControl: "public, max-age=5",
    errors: [429, 503],
  },
  {
    method: "GET",
    path: "/tile/{L}/{N}",
    express: "/tile/*path",
    summary: `Hash tile of level L; ${TILE_PATH_RULE}. Full tiles are immutable`,
    auth: { kind: "public" },
    bucket: "read",
    params: z.object({ L: z.string(), N: z.string() }),
    ok: { kind: "bytes", type: "application/octet-stream" },
    errors: [404, 429],
  },
  {
    method: "GET",
    path: "/tile/entries/{N}",
    express: "/tile/*path",
    summary: `Entry bundle; ${TILE_PATH_RULE}. Full bundles are immutable`,
    auth: { kind: "public" },
    bucket: "read",
    params: z.object({ N: z.string() }),
    ok: { kind: "bytes", type: "application/octet-stream" },
    errors: [404, 429],
  },
  ...beaconRoutes(),
  {
    method: "GET",
    path: "/candidates/semantic",
    express: "/candidates/semantic",
    summary: "Recent L3 semantic watermarks, newest first",
    auth: { kind: "public" },
    bucket: "read",
    query: CandidatesQuery,
    ok: JSON_ANSWER(CandidatesAnswerSchema),
    errors: [400, 429],
  },
  {
    method: "GET",
    path: "/",
    express: "/",
    summary: "The evidence inspector page (docs/INSPECTOR.md) for a client that prefers HTML; a client that prefers JSON gets the 404 envelope",
    auth: { kind: "public" },
    bucket: "read",
    ok: { kind: "text", type: "text/html; charset=utf-8" },
    cacheControl: "no-cache",
    errors: [404, 429],
  },
  {
    method: "GET",
    path: "/web/{name}",
    express: "/web/:name",
    summary: "The inspector page's content-hashed script and stylesheet (text/javascript or text/css)",
    auth: { kind: "public" },
    bucket: "read",
    params: z.object({ name: z.string() }),
    ok: { kind: "text", type: "text/javascript; charset=utf-8" },
    cacheControl: ASSET_CACHE_CONTROL,
    errors: [404, 429],
  },
  {
    method: "GET",
    path: "/metrics",
    express: "/metrics",
    summary: "Prometheus metrics, for the operator: never routed by the public Caddy configuration",
    auth: { kind: "public" },
    bucket: null,
    ok: { kind: "text", type: METRICS_CONTENT_TYPE },
    errors: [],
  },
  {
    method: "GET",
    path: "/openapi.json",
    express: "/openapi.json",
    summary: "This document",
    auth: { kind: "public" },
    bucket: "read",
    ok: JSON_ANSWER(z.looseObject({ openapi: z.literal(OPENAPI_VERSION), paths: z.record(z.string(), z.unknown()) })),
    cacheControl: OPENAPI_CACHE_CONTROL,
    errors: [429],
  },
];
