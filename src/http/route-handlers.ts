/**
 * The handlers that serve one route of the table, in the order
 * docs/PROTOCOL.md#routes requires: auth → rate limit → body → answer. Express
 * mounts them on the route's path (app.ts); the fast path runs the very same
 * handlers itself (fast-path.ts), so both stacks apply one implementation of
 * every check.
 */
import type { Request, RequestHandler } from "express";
import type { OperatorAccess } from "../registry/operator-access.js";
import { sendAnswer } from "./answer.js";
import { dnsAuth, operatorAuth, operatorOf } from "./auth.js";
import { clientAddress } from "./client-address.js";
import type { HttpEdge } from "./edge.js";
import { jsonBody } from "./json-body.js";
import { admitItem, rateLimit, type BucketName } from "./rate-limit.js";
import { answerRoute, paramsOf, type Route } from "./route.js";

export interface RouteEdgeOptions {
  edge: HttpEdge;
  /** Who may use the operator routes (admits everyone with OVERSIGHT_AUTH_DISABLED=1). */
  operators: OperatorAccess;
  dnsSecret: string | null;
  trustedProxy: boolean;
  maxBodyBytes: number;
  /** Told of every 429, with the bucket that was empty (the metrics). */
  rateLimited: (bucket: BucketName) => void;
}

/** Builds each route's handlers; the body reader and auth checks are made once and shared by every route. */
function routeHandlers(options: RouteEdgeOptions): (route: Route) => RequestHandler[] {
  const { edge, trustedProxy } = options;
  const body = jsonBody(options.maxBodyBytes);
  const dns = dnsAuth({ secret: options.dnsSecret, trustedProxy });
  return (route) => {
    const handlers: RequestHandler[] = [];
    if (route.auth === "dns") handlers.push(dns);
    else if (route.auth) handlers.push(operatorAuth(options.operators, route.auth.operator));
    const spender = route.bucket;
    const choose = spender === null ? null : (req: Request) => edge.bucketFor(spender, clientAddress(req, trustedProxy), operatorOf(req)?.name);
    if (choose !== null) handlers.push(rateLimit(choose, options.rateLimited));
    if (route.body) handlers.push(body);
    handlers.push(async (req, res) => {
      const asked = {
        params: paramsOf(route, req),
        query: req.query,
        body: req.body,
        address: clientAddress(req, trustedProxy),
        operator: operatorOf(req),
        userAgent: req.headers["user-agent"] ?? "",
        // Every item of a batch after the first spends a token of the request's bucket; a route without one admits every item.
        admitItem: choose === null ? admitAll : () => admitItem(choose(req), options.rateLimited),
      };
      sendAnswer(res, await answerRoute(route, asked));
    });
    return handlers;
  };
}

const admitAll = () => null;

/** A route of the table with the handlers that serve it. */
export interface ServedRoute {
  route: Route;
  handlers: RequestHandler[];
}

export function serveRoutes(table: readonly Route[], options: RouteEdgeOptions): ServedRoute[] {
  const handlersFor = routeHandlers(options);
  return table.map((route) => ({ route, handlers: handlersFor(route) }));
}
