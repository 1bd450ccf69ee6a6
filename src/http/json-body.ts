/**
 * Body reading for the POST JSON routes, the same for Express and the fast
 * path. The media type and the declared Content-Length are checked before a
 * byte is read, the size limit applies again while reading (and after
 * inflating), and only a JSON object is accepted at the top level. A plain
 * body (UTF-8 JSON with a Content-Length, no content coding) is read directly;
 * anything else goes through body-parser, which knows charsets and codings.
 * Parse failures travel to the error envelope, which owns their answers.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import express, { type RequestHandler } from "express";
import { RegistryError } from "../core/errors.js";

/** The body, read as above, in `req.body`. */
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
  const viaBodyParser = (req: IncomingMessage, res: ServerResponse) =>
    new Promise<unknown>((resolve, reject) => {
      const request = req as IncomingMessage & { body?: unknown };
      parse(request as never, res as never, (error?: unknown) => (error === undefined ? resolve(request.body) : reject(error)));
    });
  const read = async (req: IncomingMessage, res: ServerResponse): Promise<object> => {
    if (!isJsonMediaType(req.headers["content-type"])) throw new RegistryError("missing_field", "Content-Type must be application/json");
    // Refused from the header: reading (and waiting for) the whole declared body first would be the client's choice of cost.
    if (declaredLength(req.headers["content-length"]) > maxBytes) throw bodyTooLarge(maxBytes);
    const length = plainJsonLength(req.headers);
    const body = length === null ? await viaBodyParser(req, res) : parseJson(await readBody(req, length));
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw notAnObject();
    return body;
  };
  return (req, res, next) => {
    read(req, res).then((body) => {
      req.body = body;
      next();
    }, next);
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

const JSON_UTF8 = /^application\/json[ \t]*(;[ \t]*charset=("?)utf-8\2[ \t]*)?$/i;

/** The length of a body this module reads itself, or null when body-parser must decode it. */
function plainJsonLength(headers: IncomingHttpHeaders): number | null {
  if (!JSON_UTF8.test(headers["content-type"] ?? "")) return null;
  if (headers["transfer-encoding"] !== undefined) return null;
  const coding = headers["content-encoding"];
  if (coding !== undefined && coding.trim().toLowerCase() !== "identity") return null;
  const length = /^[0-9]{1,10}$/.test(headers["content-length"] ?? "") ? Number(headers["content-length"]) : 0;
  return length > 0 ? length : null;
}

function readBody(req: IncomingMessage, length: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks, length).toString("utf8")));
    req.on("aborted", () => reject(new RegistryError("missing_field", "request body was not received completely")));
    req.on("error", reject);
  });
}

/**
 * As body-parser in strict mode: a UTF-8 byte order mark is dropped, and a
 * text that does not start (after JSON whitespace) with `{` or `[`, or does
 * not parse, fails as body-parser fails, so the error handler words both alike.
 */
function parseJson(raw: string): unknown {
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  const first = /^[ \t\n\r]*(.)/s.exec(text)?.[1];
  if (first !== "{" && first !== "[") throw parseFailed(text);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw parseFailed(text, error);
  }
}

const parseFailed = (body: string, cause?: unknown) =>
  Object.assign(new SyntaxError("the request body is not JSON", { cause }), { type: "entity.parse.failed", body, status: 400, expose: true });
