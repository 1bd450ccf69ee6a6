/**
 * The only place an error becomes an HTTP answer. Whatever was thrown (our
 * RegistryError, a body-parser failure, a zod parse error, or a bug) leaves as
 * the v1 envelope `{"error":{"code","message",...}}`; unexpected errors are
 * logged in full here and reach the client as "internal error" only.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ErrorRequestHandler, RequestHandler } from "express";
import { z } from "zod";
import { RegistryError } from "../core/errors.js";
import type { Logger } from "../log.js";
import { damagedStoreHint, isDamagedStore } from "../registry/damaged-store.js";
import { bodyTooLarge } from "./json-body.js";
import { requestIdOf } from "./request-id.js";
import { writeHead } from "./response-head.js";

const JSON_TYPE = "application/json; charset=utf-8";
const MAX_PATH_IN_MESSAGE = 200;

/** Headers a route may have set for its success answer that must not describe an error body. */
const SUCCESS_ONLY_HEADERS = ["Content-Disposition", "Content-Encoding", "ETag", "Last-Modified", "Content-Length"];

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new RegistryError("not_found", `no route for ${req.method} ${safePath(req.originalUrl)}`));
};

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => answerError(logger, error, req, res, req.originalUrl);
}

/**
 * Answers `error` on a plain node request: the Express error handler and the
 * fast path both end here, so a failure looks the same whichever served it.
 * `url` is the request's original URL (Express rewrites `req.url` in routers).
 */
export function answerError(logger: Logger, error: unknown, req: IncomingMessage, res: ServerResponse, url = req.url ?? ""): void {
  const failure = toRegistryError(error);
  if (failure.status >= 500) {
    logger.error("request failed", {
      request_id: requestIdOf(req),
      method: req.method,
      path: safePath(url),
      status: failure.status,
      error,
      ...(isDamagedStore(error) ? { hint: damagedStoreHint() } : {}),
    });
  }
  if (res.headersSent) {
    // Part of a success answer is already on the wire; cutting the connection is the only honest signal left.
    req.socket.destroy();
    return;
  }
  send(req, res, failure);
}

function send(req: IncomingMessage, res: ServerResponse, failure: RegistryError): void {
  for (const header of SUCCESS_ONLY_HEADERS) res.removeHeader(header);
  const headers: string[] = [];
  const retryAfter = failure.extra.retry_after;
  if (typeof retryAfter === "number") headers.push("Retry-After", String(retryAfter));
  const body = JSON.stringify(failure.envelope());
  headers.push("Cache-Control", "no-store", "Content-Type", JSON_TYPE, "Content-Length", String(Buffer.byteLength(body)));
  // A 413 leaves (part of) the body unread; closing beats reading and discarding up to the length the client claimed.
  if (failure.status === 413) headers.push("Connection", "close");
  writeHead(res, failure.status, headers);
  res.end(req.method === "HEAD" ? undefined : body);
}

/** Maps anything thrown to the registry error the client will see. */
export function toRegistryError(error: unknown): RegistryError {
  if (error instanceof RegistryError) return error;
  if (error instanceof z.core.$ZodError) {
    return new RegistryError("missing_field", describeZodIssue(error.issues[0]), { cause: error });
  }
  // The router marks a path parameter it cannot percent-decode with status 400 but not `expose`.
  if (error instanceof URIError && (error as HttpError).status === 400) {
    return new RegistryError("missing_field", "path parameter is not valid percent-encoding", { cause: error });
  }
  const bodyError = fromBodyParser(error);
  if (bodyError !== null) return bodyError;
  return new RegistryError("server_error", "internal error", { cause: error });
}

interface HttpError {
  type?: unknown;
  status?: unknown;
  expose?: unknown;
  message?: unknown;
  limit?: unknown;
  charset?: unknown;
  body?: unknown;
}

/** body-parser and the router signal client mistakes with http-errors objects (`status` 4xx, `expose`). */
function fromBodyParser(error: unknown): RegistryError | null {
  if (typeof error !== "object" || error === null) return null;
  const e = error as HttpError;
  const options = { cause: error };
  switch (e.type) {
    case "entity.parse.failed":
      return new RegistryError("missing_field", notAnObject(e.body) ? "request body must be a JSON object" : "malformed JSON", options);
    case "entity.too.large":
      return bodyTooLarge(Number(e.limit), error);
    case "charset.unsupported":
      return new RegistryError("missing_field", `unsupported charset "${String(e.charset).slice(0, 40)}"; send UTF-8`, {
        ...options,
        status: 415,
      });
    case "encoding.unsupported":
      return new RegistryError("missing_field", "unsupported Content-Encoding", { ...options, status: 415 });
    case "request.aborted":
      return new RegistryError("missing_field", "request body was not received completely", options);
    case "request.size.invalid":
      return new RegistryError("missing_field", "request body length does not match Content-Length", options);
  }
  const status = typeof e.status === "number" ? e.status : NaN;
  if (status >= 400 && status < 500 && e.expose === true) {
    const message = typeof e.message === "string" && e.message !== "" ? e.message : "bad request";
    return new RegistryError("missing_field", message, { ...options, status: status === 413 || status === 415 ? status : 400 });
  }
  return null;
}

/** body-parser's strict mode rejects JSON whose top level is not an object or array as a parse failure. */
function notAnObject(body: unknown): boolean {
  if (typeof body !== "string") return false;
  const first = body.trimStart()[0];
  return first !== undefined && first !== "{" && first !== "[";
}

function describeZodIssue(issue: z.core.$ZodIssue | undefined): string {
  if (issue === undefined) return "invalid request";
  const where = issue.path.length === 0 ? "request" : formatPath(issue.path);
  // A refused record key says why, not just that it was refused.
  const inner = issue.code === "invalid_key" ? issue.issues[0] : undefined;
  return `${where}: ${inner ? `key ${inner.message}` : issue.message}`;
}

function formatPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of segments) {
    if (typeof segment === "number") out += `[${segment}]`;
    // Keys come from the client and may be the very lone surrogate being refused; the message must stay valid text.
    else out += (out === "" ? "" : ".") + String(segment).toWellFormed();
  }
  return out;
}

/** The request path without query, cut to a readable length (JSON encoding takes care of the rest). */
export function safePath(url: string): string {
  const pathOnly = url.split("?")[0] ?? "";
  return pathOnly.length > MAX_PATH_IN_MESSAGE ? `${pathOnly.slice(0, MAX_PATH_IN_MESSAGE)}…` : pathOnly;
}
