/**
 * The OpenAPI 3.1 document of the registry, built by walking the routes it
 * serves (route-table.ts `API_ROUTES`): one operation per method and path,
 * with the zod schemas the routes parse with and their `doc` (zod's own JSON
 * Schema output, draft 2020-12, the dialect OpenAPI 3.1 uses). Requests are
 * described as the routes accept them (`io: "input"`: before defaults and
 * transforms), answers as the code builds them (`io: "output"`). Pure: served
 * at /openapi.json and written to docs/openapi.json by `npm run openapi`.
 */
import { z } from "zod";
import { ErrorEnvelopeSchema } from "../core/errors.js";
import { OPENAPI_VERSION, TAGS, type Content, type DocPath } from "./api-description.js";
import type { DescribedRoute, RouteAuth } from "./route.js";

type Json = Record<string, unknown>;

/** Where the document is kept in the repository, relative to its root. */
export const OPENAPI_FILE = "docs/openapi.json";

const JSON_MEDIA_TYPE = "application/json";
const ERROR_REF = { $ref: "#/components/schemas/ErrorEnvelope" };

const STATUS_TEXT: Record<number, string> = {
  400: "Malformed request (`missing_field`), a manifest that does not verify (`signature_invalid`) or sidecars that are not the manifest's (`sidecar_mismatch`)",
  401: "Missing or wrong credentials (`auth_required`, with `WWW-Authenticate: Bearer`)",
  403: "An operator token without the route's scope (`auth_required`)",
  404: "No such record (`not_found`)",
  409: "The file, a token or a mark belongs to another issuer key (`issuer_mismatch`)",
  413: "A body over OVERSIGHT_MAX_BODY_BYTES (`missing_field`); the connection is closed",
  415: "An unsupported charset or Content-Encoding (`missing_field`)",
  429: "The caller's token bucket is empty (`rate_limited`, with `retry_after` and `Retry-After`)",
  500: "Internal failure (`server_error`)",
  503: "The registry fails closed (`server_error`): the log does not extend its largest signed head, or a DNS event without a configured secret from a caller that is not loopback",
};

/** zod's JSON Schema for one schema, without the `$schema` member (the document declares the dialect once). */
function jsonSchema(schema: z.ZodType, io: "input" | "output"): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: "draft-2020-12", io }) as Json;
  return rest;
}

function parameters(schema: z.ZodType | undefined, where: "path" | "query"): Json[] {
  if (schema === undefined) return [];
  const object = jsonSchema(schema, "input");
  const properties = (object["properties"] ?? {}) as Record<string, Json>;
  const required = new Set((object["required"] ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === "path" || required.has(name),
    schema: property,
  }));
}

function content(body: Content): Json | undefined {
  switch (body.kind) {
    case "json":
      return { [JSON_MEDIA_TYPE]: { schema: jsonSchema(body.schema, "output") } };
    case "text":
      return Object.fromEntries([body.type].flat().map((type) => [mediaType(type), { schema: { type: "string" } }]));
    case "bytes":
      return { [mediaType(body.type)]: {} };
    case "empty":
      return undefined;
  }
}

/** The media type without its parameters: what an OpenAPI content map is keyed by. */
export function mediaType(type: string): string {
  return (type.split(";")[0] ?? "").trim().toLowerCase();
}

function security(auth: RouteAuth | undefined): Json[] | undefined {
  if (auth === undefined || auth === null) return undefined;
  // `{}`: with no secret configured, loopback callers need none.
  if (auth === "dns") return [{ dnsBearer: [] }, { dnsHeader: [] }, {}];
  return [{ operatorBearer: [auth.operator] }, { operatorHeader: [auth.operator] }];
}

/** The OpenAPI paths a route serves: as its `doc` names them, or its Express template with `{name}` parameters. */
function docPaths(route: DescribedRoute): readonly DocPath[] {
  if (route.doc.paths !== undefined) return route.doc.paths;
  if (route.path.includes("*")) throw new Error(`${route.path}: a wildcard route describes its doc.paths`);
  const schemas = Object.entries(route.params ?? {}).map(([name, parse]) => {
    if (parse.schema === undefined) throw new Error(`${route.path}: parameter ${name} has no schema; describe the route's doc.paths`);
    return [name, parse.schema] as const;
  });
  return [{ path: route.path.replace(/:(\w+)/g, "{$1}"), params: z.object(Object.fromEntries(schemas)) }];
}

function operation(route: DescribedRoute, method: string, where: DocPath): Json {
  const { doc } = route;
  const ok: Json = { description: "Success" };
  // HEAD is GET without the content (RFC 9110 §9.3.2).
  const body = method === "HEAD" ? undefined : content(doc.ok);
  if (body !== undefined) ok["content"] = body;
  if (doc.cacheControl !== undefined) {
    ok["headers"] = { "Cache-Control": { schema: { type: "string", const: doc.cacheControl } } };
  }
  const responses: Json = { "200": ok };
  for (const status of [...doc.errors, 500].sort((a, b) => a - b)) {
    responses[String(status)] = { $ref: `#/components/responses/Error${status}` };
  }
  const described: Json = {
    summary: where.summary ?? doc.summary,
    operationId: operationId(method, where.path),
    tags: [doc.tag],
    "x-rate-bucket": route.bucket,
  };
  const params = [...parameters(where.params, "path"), ...parameters(route.query, "query")];
  if (params.length > 0) described["parameters"] = params;
  if (route.body !== undefined) {
    described["requestBody"] = { required: true, content: { [JSON_MEDIA_TYPE]: { schema: jsonSchema(route.body, "input") } } };
  }
  const requirements = security(route.auth);
  if (requirements !== undefined) described["security"] = requirements;
  described["responses"] = responses;
  return described;
}

/** A stable name per operation: the method and the path's words. */
function operationId(method: string, path: string): string {
  const words = path.split(/[^A-Za-z0-9]+/).filter((word) => word !== "");
  return [method.toLowerCase(), ...words.map((word) => word[0]!.toUpperCase() + word.slice(1))].join("");
}

function errorResponses(statuses: readonly number[]): Json {
  return Object.fromEntries(
    statuses.map((status) => [`Error${status}`, { description: STATUS_TEXT[status] ?? "Error", content: { [JSON_MEDIA_TYPE]: { schema: ERROR_REF } } }]),
  );
}

/** The document of `routes`, for a registry of `version`. */
export function openApiDocument(routes: readonly DescribedRoute[], version: string): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    for (const where of docPaths(route)) {
      const operations = (paths[where.path] ??= {});
      for (const method of route.methods) {
        const key = method.toLowerCase();
        if (key in operations) throw new Error(`${method} ${where.path} is described twice`);
        operations[key] = operation(route, method, where);
      }
    }
  }
  const statuses = [...new Set(routes.flatMap((route) => [...route.doc.errors, 500]))].sort((a, b) => a - b);
  return {
    openapi: OPENAPI_VERSION,
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    info: {
      title: "oversight-registry",
      version,
      description:
        "The registry v1 wire protocol and this registry's extensions (docs/PROTOCOL.md; docs/API.md has every route's details). " +
        "Every answer outside 2xx is the v1 error envelope with a code from a closed set; any path not listed here is 404 `not_found`. " +
        "Every OPTIONS request is answered 204 (CORS preflight). `x-rate-bucket` names the token bucket a route spends.",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    paths,
    components: {
      schemas: { ErrorEnvelope: jsonSchema(ErrorEnvelopeSchema, "output") },
      responses: errorResponses(statuses),
      securitySchemes: {
        operatorBearer: { type: "http", scheme: "bearer", description: "An operator token; scopes `register`, `attribute`" },
        operatorHeader: { type: "apiKey", in: "header", name: "X-Oversight-Operator-Token" },
        dnsBearer: { type: "http", scheme: "bearer", description: "OVERSIGHT_DNS_EVENT_SECRET" },
        dnsHeader: { type: "apiKey", in: "header", name: "X-Oversight-DNS-Secret" },
      },
    },
  };
}

/** The document as it is written to docs/openapi.json. */
export function openApiText(routes: readonly DescribedRoute[], version: string): string {
  return `${JSON.stringify(openApiDocument(routes, version), null, 2)}\n`;
}
