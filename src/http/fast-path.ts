/**
 * A lean dispatcher in front of Express, built from the same route table and
 * running the same handlers (route-handlers.ts). Express costs about 110 µs a
 * request before any registry work (bench/README.md); most of that is its
 * router and request decoration, which the plain case does not need.
 *
 * It takes only the plain case, for any route of the table: no Origin
 * (CORS), the plain spelling of the path (path-match.ts), a query of plain
 * characters (query-string.ts), a method the route serves and parameters the
 * route accepts. Anything else it leaves to Express untouched. Once it takes
 * a request it applies what Express would before the route (security
 * headers, Vary, held to be written with the answer's head:
 * response-head.ts) and runs the route's handlers; failures get the same
 * envelope (answerError). Its requests are counted where every request is
 * (request-observer.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestHandler } from "express";
import type { Logger } from "../log.js";
import { VARY_ON_ORIGIN } from "./cors.js";
import type { HttpEdge } from "./edge.js";
import { answerError } from "./error-handler.js";
import { compileTemplate, pathSegments, type PathMatcher, type PathParams } from "./path-match.js";
import { isPlainQuery, parseQueryString, type ParsedUrlQuery } from "./query-string.js";
import { holdHeaders } from "./response-head.js";
import { keepParsedParams, parseParams, type Route } from "./route.js";
import type { ServedRoute } from "./route-handlers.js";

export interface FastPathOptions {
  routes: readonly ServedRoute[];
  edge: HttpEdge;
  logger: Logger;
}

interface Candidate extends ServedRoute {
  match: PathMatcher;
}

/** The request as the route handlers read it (Express sets these on its own requests). */
type RouteRequest = IncomingMessage & { params: PathParams; query: ParsedUrlQuery };

export class FastPath {
  /** Candidates by the first segment of their template, in table order. */
  private readonly byFirstSegment = new Map<string, Candidate[]>();
  private servedCount = 0;
  /** What Express's security headers and CORS set before a route, as one held list (response-head.ts). */
  private readonly edgeHeaders: readonly string[];

  constructor(private readonly options: FastPathOptions) {
    this.edgeHeaders = [...options.edge.securityHeaderList, ...VARY_ON_ORIGIN];
    for (const served of options.routes) {
      const first = pathSegments(served.route.path)[0] ?? "";
      if (first.startsWith(":") || first.startsWith("*")) throw new Error(`${served.route.path}: the fast path needs a literal first segment`);
      const list = this.byFirstSegment.get(first) ?? [];
      list.push({ ...served, match: compileTemplate(served.route.path) });
      this.byFirstSegment.set(first, list);
    }
  }

  /** The routes it serves: the whole table, as Express does. */
  get table(): Route[] {
    return this.options.routes.map((served) => served.route);
  }

  /** Requests this path took (and answered or failed with the envelope) instead of Express. */
  get served(): number {
    return this.servedCount;
  }

  /** Takes the request and returns true, or returns false having changed nothing. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? "";
    if (req.headers.origin !== undefined || !url.startsWith("/")) return false;
    const mark = url.indexOf("?");
    const query = mark < 0 ? "" : url.slice(mark + 1);
    if (!isPlainQuery(query)) return false;
    const taken = this.find(req.method ?? "", pathSegments(mark < 0 ? url : url.slice(0, mark)));
    if (taken === null) return false;

    this.servedCount++;
    holdHeaders(res, this.edgeHeaders);
    const request = req as RouteRequest;
    request.params = taken.raw;
    request.query = parseQueryString(query);
    keepParsedParams(req, taken.params);
    run(taken.handlers, request, res, (error) => answerError(this.options.logger, error, req, res));
    return true;
  }

  private find(method: string, segments: string[]): (ServedRoute & { raw: PathParams; params: Record<string, unknown> }) | null {
    for (const candidate of this.byFirstSegment.get(segments[0] ?? "") ?? []) {
      if (!candidate.route.methods.includes(method)) continue;
      const raw = candidate.match(segments);
      if (raw === null) continue;
      // A parameter the route refuses is Express's to answer, after its own rate limit.
      const params = accepted(candidate.route, raw);
      return params === null ? null : { ...candidate, raw, params };
    }
    return null;
  }
}

function accepted(route: Route, raw: PathParams): Record<string, unknown> | null {
  try {
    return parseParams(route, raw);
  } catch {
    return null;
  }
}

/** Runs handlers in order as Express would: each calls next() to go on, or next(error) (or throws, or rejects) to fail. */
function run(handlers: readonly RequestHandler[], req: RouteRequest, res: ServerResponse, fail: (error: unknown) => void): void {
  let at = 0;
  const next = (error?: unknown): void => {
    if (error !== undefined) {
      fail(error);
      return;
    }
    const handler = handlers[at++];
    if (handler === undefined) return;
    try {
      const result: unknown = handler(req as never, res as never, next);
      if (result instanceof Promise) result.catch(fail);
    } catch (thrown) {
      fail(thrown);
    }
  };
  next();
}
