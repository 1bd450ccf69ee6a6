/**
 * Every request's id: the caller's `X-Request-Id` when it is a sane token
 * (a proxy in front, or a client tracing its own calls), else a fresh UUID.
 * It is returned as a response header and written in the request's log lines,
 * so one answer can be found in the log.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { holdHeaders } from "./response-head.js";

export const REQUEST_ID_HEADER = "X-Request-Id";
/** Printable, no spaces or quotes, short enough to sit in every log line. */
const ACCEPTED = /^[A-Za-z0-9._:+/=-]{1,128}$/;

const ids = new WeakMap<IncomingMessage, string>();

/** The id to use given the request's header value: the caller's when acceptable, else a new one. */
export function chooseRequestId(header: string | string[] | undefined): string {
  return typeof header === "string" && ACCEPTED.test(header) ? header : randomUUID();
}

/** Gives the request its id, holds the response header (the answer's first, response-head.ts), and returns the id. */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  const id = chooseRequestId(req.headers["x-request-id"]);
  ids.set(req, id);
  holdHeaders(res, [REQUEST_ID_HEADER, id]);
  return id;
}

/** The id `assignRequestId` gave this request (undefined for one that never reached it). */
export function requestIdOf(req: IncomingMessage): string | undefined {
  return ids.get(req);
}
