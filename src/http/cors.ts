/**
 * CORS for browser viewers of the public read routes (docs/PROTOCOL.md#cors): GET and
 * OPTIONS only, no credentials, an allow-list of origins echoed back.
 *
 * Every OPTIONS request is answered here with 204. A preflight from a refused
 * origin, or for a method other than GET, gets the 204 without any
 * Access-Control-* header, so the browser blocks the real request; nothing
 * about the allow-list is revealed and no error body is produced.
 */
import type { ServerResponse } from "node:http";
import type { RequestHandler } from "express";

export const DEFAULT_CORS_ORIGINS: readonly string[] = [
  "https://oversight-protocol.github.io",
  "https://oversightprotocol.dev",
  "https://www.oversightprotocol.dev",
  "http://localhost:8000",
  "http://127.0.0.1:8000",
  "http://localhost:8787",
  "http://127.0.0.1:8787",
];

const ALLOWED_METHODS = "GET, OPTIONS";
const ALLOWED_REQUEST_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const ALLOWED_HEADERS = "Accept, Accept-Language, Content-Language, Content-Type, If-None-Match, If-Modified-Since";
const EXPOSED_HEADERS = "Retry-After";
const PREFLIGHT_MAX_AGE_S = "600";

/**
 * The one CORS header of an answer to a request without Origin (the fast path
 * serves only those): the answer depends on Origin, so shared caches must key
 * on it even when it is absent. As name, value.
 */
export const VARY_ON_ORIGIN = ["Vary", "Origin"] as const;

export function varyOnOrigin(res: ServerResponse): void {
  res.setHeader(...VARY_ON_ORIGIN);
}

export function cors(extraOrigins: readonly string[]): RequestHandler {
  const allowed = new Set([...DEFAULT_CORS_ORIGINS, ...extraOrigins]);
  return (req, res, next) => {
    varyOnOrigin(res);
    const origin = req.headers.origin;
    const originAllowed = origin !== undefined && allowed.has(origin);

    if (req.method === "OPTIONS") {
      const requested = req.headers["access-control-request-method"];
      if (originAllowed && (requested === undefined || ALLOWED_REQUEST_METHODS.has(requested.toUpperCase()))) {
        res.setHeader("Access-Control-Allow-Origin", origin);
        res.setHeader("Access-Control-Allow-Methods", ALLOWED_METHODS);
        res.setHeader("Access-Control-Allow-Headers", ALLOWED_HEADERS);
        res.setHeader("Access-Control-Max-Age", PREFLIGHT_MAX_AGE_S);
      }
      res.status(204).end();
      return;
    }

    if (originAllowed && (req.method === "GET" || req.method === "HEAD")) {
      res.setHeader("Access-Control-Allow-Origin", origin);
      res.setHeader("Access-Control-Expose-Headers", EXPOSED_HEADERS);
    }
    next();
  };
}
