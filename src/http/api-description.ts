/**
 * What a route declares for the API description, beside what it serves: its
 * summary, its success answer and the errors it can answer (`doc` of a route
 * in route.ts). Method, path, auth, bucket and the zod schemas of parameters,
 * query and body are the route's own. openapi.ts builds the OpenAPI document
 * by walking the route table, so no route is served without being described.
 */
import type { z } from "zod";

export const OPENAPI_VERSION = "3.1.1";

/** `Cache-Control` of /openapi.json: the document changes only with the registry's version. */
export const OPENAPI_CACHE_CONTROL = "public, max-age=3600";

/**
 * An answer body: JSON described by a zod schema, text, bytes, or nothing.
 * `type` is the media type the route sends, parameters included.
 */
export type Content =
  | { kind: "json"; schema: z.ZodType }
  | { kind: "text"; type: string | readonly string[] }
  | { kind: "bytes"; type: string }
  | { kind: "empty" };

export const jsonAnswer = (schema: z.ZodType): Content => ({ kind: "json", schema });

/** The groups the document lists its operations under: one per area of the route table. */
export const TAGS = {
  writes: "Registrations, attribution and DNS bridge events: operator and bridge credentials",
  beacons: "Beacon hits: recorded for any well-formed token, known or not",
  identity: "Who the registry is, and whether its log is sound",
  log: "The transparency log: the signed head, proofs, leaves, checkpoint and tiles",
  evidence: "Evidence bundles and semantic watermark candidates",
  inspector: "The evidence inspector page, for browsers",
  operations: "For the operator and for tools: metrics and this document",
} as const;

export type Tag = keyof typeof TAGS;

/** What a route that reads a body can answer for it: bad JSON or shape, over the size limit, an unsupported charset or encoding. */
export const BODY_ERRORS = [400, 413, 415] as const;

/** One OpenAPI path of a route whose Express template does not say it: a wildcard, or text after a parameter. */
export interface DocPath {
  /** The OpenAPI path template. */
  path: string;
  /** Its path parameters, as the route parses them. */
  params: z.ZodObject;
  /** What this form serves, when the route's summary does not say it. */
  summary?: string;
}

export interface RouteDoc {
  summary: string;
  tag: Tag;
  /** The success answer (200); an answer to HEAD has its headers and no body. */
  ok: Content;
  /** `Cache-Control` of the success answer, when the route sets a fixed one. */
  cacheControl?: string;
  /** The statuses of its error answers (the v1 envelope), besides 500. */
  errors: readonly number[];
  /**
   * The OpenAPI paths it serves. Without them: its Express template with
   * `:name` as `{name}`, each parameter described by its parser's schema.
   */
  paths?: readonly DocPath[];
}
