/**
 * How long the server waits for clients. Node's defaults (5 minutes for a
 * request, checked every 30 s) let an idle or deliberately slow client hold a
 * connection for minutes; these cut it off in seconds, and the parser's
 * refusals and timeouts are answered with the v1 envelope (client-error.ts).
 */
import { createServer, type RequestListener, type Server } from "node:http";
import type { Logger } from "../log.js";
import { answerClientErrors } from "./client-error.js";

export interface HttpLimits {
  /** From the connection (or the end of the previous request) until the request headers are complete. */
  headersTimeoutMs: number;
  /** From the same start until the whole request, body included, is received. */
  requestTimeoutMs: number;
  /** How long an idle kept-alive connection stays open between requests. */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
});

/** Node checks the two request timeouts only at this interval (30 s by default), so a timeout can overrun it. */
const MAX_CHECK_INTERVAL_MS = 1_000;

/** The node:http server with these limits, answering parser refusals and timeouts with the envelope. */
export function createHttpServer(limits: HttpLimits, logger: Logger, listener: RequestListener): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(MAX_CHECK_INTERVAL_MS, limits.headersTimeoutMs),
    },
    listener,
  );
  answerClientErrors(server, logger);
  return server;
}
