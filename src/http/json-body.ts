/**
 * Body parsing for the POST JSON routes. The media type and the declared
 * Content-Length are checked before a byte is read, the size limit applies
 * again while reading (and after inflating), and only a JSON object is
 * accepted at the top level. Parse failures travel to the error handler,
 * which owns their envelopes.
 */
import express, { type RequestHandler } from "express";
import { RegistryError } from "../core/errors.js";

export function jsonBody(maxBytes: number): RequestHandler {
  const parse = express.json({
    limit: maxBytes,
    strict: true,
    type: () => true,
    // body-parser reads an empty body as {}; an empty request is not an object the client sent.
    verify: (_req, _res, raw) => {
      if (raw.length === 0) throw notAnObject();
    },
  });
  return (req, res, next) => {
    if (!isJsonMediaType(req.headers["content-type"])) {
      next(new RegistryError("missing_field", "Content-Type must be application/json"));
      return;
    }
    // body-parser would read (and wait for) the whole declared body before refusing it.
    if (declaredLength(req.headers["content-length"]) > maxBytes) {
      next(bodyTooLarge(maxBytes));
      return;
    }
    parse(req, res, (error?: unknown) => {
      if (error !== undefined) {
        next(error);
        return;
      }
      const body: unknown = req.body;
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        next(notAnObject());
        return;
      }
      next();
    });
  };
}

/** 413 for a body over the limit; the error handler closes the connection rather than read what was not read. */
export const bodyTooLarge = (maxBytes: number, cause?: unknown) =>
  new RegistryError("missing_field", `request body is larger than the limit of ${maxBytes} bytes`, { status: 413, cause });

/** The Content-Length the client declared (node's parser has checked it is digits), or 0 without one. */
function declaredLength(header: string | undefined): number {
  return header === undefined ? 0 : Number(header);
}

const notAnObject = () => new RegistryError("missing_field", "request body must be a JSON object");

function isJsonMediaType(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(";")[0]!.trim().toLowerCase() === "application/json";
}
