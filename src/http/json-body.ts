/**
 * Body parsing for the POST JSON routes. The media type is checked before a
 * byte is read, the size limit applies while reading (and after inflating),
 * and only a JSON object is accepted at the top level. Parse failures travel
 * to the error handler, which owns their envelopes.
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

const notAnObject = () => new RegistryError("missing_field", "request body must be a JSON object");

function isJsonMediaType(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(";")[0]!.trim().toLowerCase() === "application/json";
}
