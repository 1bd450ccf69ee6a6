/**
 * One route of the table (route-table.ts): everything either stack needs to
 * serve it — method, path template, auth, bucket, parameter, query and body
 * rules, and the answer — and what the API description says of it, as data.
 * A route is declared once, with an answer that is given the registry when
 * called, so the table exists without a running registry (the OpenAPI
 * document is built from it); `routeTable` binds the answers to one registry.
 * Express (app.ts) and the fast path (fast-path.ts) both run a route through
 * `parseParams` and `answerRoute`, so neither holds route-specific code of
 * its own.
 */
import type { z } from "zod";
import type { RegistryError } from "../core/errors.js";
import type { ScopeName } from "../core/token-scopes.js";
import type { Logger } from "../log.js";
import type { RegistryMetrics } from "../metrics/registry-metrics.js";
import type { Operator } from "../registry/operator-access.js";
import type { RegistryService } from "../registry/service.js";
import type { Answer } from "./answer.js";
import type { RouteDoc } from "./api-description.js";
import type { Spender } from "./edge.js";

/** Who may call: an operator token with this scope, the DNS bridge, or anyone (null). */
export type RouteAuth = { operator: ScopeName } | "dns" | null;

/**
 * Turns a decoded path parameter (for a `*name` wildcard, its decoded
 * segments) into the value the answer takes, or throws the refusal.
 */
export interface ParamParser<T> {
  (raw: string | string[]): T;
  /** The schema it parses with, which describes the parameter (params.ts `pathParam`); absent when the route's `doc.paths` describe it. */
  readonly schema?: z.ZodType;
}

/** What the answer of a route gets: its parsed parameters, query and body, and who asked. */
export interface RouteCall<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  address: string;
  /** The admitted operator on operator routes (null with auth disabled or elsewhere). */
  operator: Operator | null;
  userAgent: string;
  /**
   * For a route that takes many items in one request: spends one more token
   * of the request's bucket, for an item after the first (the request's own
   * token paid for that one). null when admitted, else the 429 refusal.
   */
  admitItem: () => RegistryError | null;
}

type Parsers = Record<string, ParamParser<unknown>>;

/** The parsed values of a route's parameters. */
type Parsed<P extends Parsers> = { [K in keyof P]: ReturnType<P[K]> };

/** What a route's answer is given besides the request: the registry it answers for. */
export interface RouteContext {
  service: RegistryService;
  metrics: RegistryMetrics;
  /** For failures a route answers itself rather than throws (an item of a batch); thrown ones are logged by the error handler. */
  logger: Logger;
  version: string;
  jurisdiction: string;
  origin: string;
}

/** A route as the table declares it, answer aside: all the OpenAPI document is built from. */
export interface DescribedRoute<P extends Parsers = Parsers, Q = unknown, B = unknown> {
  /** Methods served; any other falls through to the next route (and in the end to 404). */
  methods: readonly string[];
  /** The Express path template (`:name` one segment, `*name` the rest), also the metrics label. */
  path: string;
  auth?: RouteAuth;
  /** The bucket the request spends after auth, or null for none. */
  bucket: Spender | null;
  params?: P;
  query?: z.ZodType<Q>;
  /** The schema of the JSON object body; routes without one read no body. */
  body?: z.ZodType<B>;
  doc: RouteDoc;
}

export interface RouteSpec<P extends Parsers, Q, B> extends DescribedRoute<P, Q, B> {
  answer(call: RouteCall<Parsed<P>, Q, B>, context: RouteContext): Answer | Promise<Answer>;
}

// biome-ignore lint/suspicious/noExplicitAny: the table holds routes of every parameter, query and body type; route() checks each one's parts against each other
export type RouteDeclaration = RouteSpec<any, any, any>;

/** A declared route with its answer bound to one registry: what Express and the fast path serve. */
// biome-ignore lint/suspicious/noExplicitAny: as RouteDeclaration
export interface Route extends DescribedRoute<any, any, any> {
  // biome-ignore lint/suspicious/noExplicitAny: as RouteDeclaration
  answer(call: RouteCall<any, any, any>): Answer | Promise<Answer>;
}

/** Declares a route with its parts' types checked against each other. */
export function route<P extends Parsers = Record<string, never>, Q = undefined, B = undefined>(spec: RouteSpec<P, Q, B>): RouteDeclaration {
  return spec as RouteDeclaration;
}

/** The route answering for the registry of `context`. */
export function bindRoute(declared: RouteDeclaration, context: RouteContext): Route {
  return { ...declared, answer: (call) => declared.answer(call, context) };
}

/** The route's parameters from the decoded raw values; throws the refusal of the first that fails. */
export function parseParams(route: Route, raw: Readonly<Record<string, string | string[] | undefined>>): Record<string, unknown> {
  const parsers: Parsers = route.params ?? {};
  const parsed: Record<string, unknown> = {};
  for (const [name, parse] of Object.entries(parsers)) parsed[name] = parse(raw[name] ?? "");
  return parsed;
}

/** Parameters a dispatcher already parsed to choose the route (the fast path), so the answer does not parse them again. */
const parsedParams = new WeakMap<object, Record<string, unknown>>();

export function keepParsedParams(req: object, params: Record<string, unknown>): void {
  parsedParams.set(req, params);
}

/** The request's parameters for `route`: as kept by the dispatcher, or parsed from the raw values. */
export function paramsOf(route: Route, req: { params: Readonly<Record<string, string | string[] | undefined>> }): Record<string, unknown> {
  return parsedParams.get(req) ?? parseParams(route, req.params);
}

/** A request as the handlers have read it: parameters parsed, query and body not yet checked against the route's schemas. */
export type Asked = RouteCall<Record<string, unknown>, unknown, unknown>;

/** Checks query and body against the route's schemas (zod errors become 400 in the envelope) and answers. */
export function answerRoute(route: Route, asked: Asked): Answer | Promise<Answer> {
  return route.answer({
    ...asked,
    query: route.query ? parseQuery(route, route.query, asked.query) : undefined,
    body: route.body ? route.body.parse(asked.body) : undefined,
  });
}

/** A route's parsed empty query: the same object for every request without one, the common case, and never changed by an answer. */
const emptyQueries = new WeakMap<Route, unknown>();

function parseQuery(route: Route, schema: z.ZodType, query: unknown): unknown {
  if (!isEmpty(query)) return schema.parse(query);
  if (!emptyQueries.has(route)) emptyQueries.set(route, schema.parse({}));
  return emptyQueries.get(route);
}

function isEmpty(query: unknown): boolean {
  for (const _key in query as object) return false;
  return true;
}
