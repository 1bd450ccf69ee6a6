/**
 * Checks live answers against the OpenAPI document: the status is one the
 * operation lists, the media type one its answer has, the body valid under its
 * schema (ajv, JSON Schema 2020-12) and a fixed `Cache-Control` as declared.
 * Remembers which (operation, status) pairs it saw, so a test can require each.
 */
import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { mediaType } from "../../src/http/openapi.js";

type Json = Record<string, any>;

const DOC_ID = "openapi.json";

/** JSON Pointer escaping (RFC 6901). */
const pointer = (segments: string[]) => segments.map((s) => s.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

export interface AnswerChecker {
  /** Asserts `res` (whose body was read into `body`) is an answer `METHOD path` documents. */
  check(method: string, path: string, res: Response, body: Buffer): void;
  /** Every `METHOD path status` seen. */
  seen: Set<string>;
}

export function answerChecker(doc: Json): AnswerChecker {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(doc, DOC_ID, undefined, false);
  const seen = new Set<string>();

  const check = (method: string, path: string, res: Response, body: Buffer) => {
    const where = `${method} ${path} → ${res.status}`;
    const operation = doc.paths[path]?.[method.toLowerCase()];
    assert.ok(operation, `${method} ${path} is not in the document`);
    let responsePath = ["paths", path, method.toLowerCase(), "responses", String(res.status)];
    let response = operation.responses[String(res.status)];
    assert.ok(response, `${where}: status not documented (${body.toString("utf8").slice(0, 200)})`);
    if (response.$ref) {
      responsePath = response.$ref.slice(2).split("/");
      response = doc.components.responses[responsePath.at(-1)!];
    }
    seen.add(`${method} ${path} ${res.status}`);
    const fixed = response.headers?.["Cache-Control"]?.schema?.const;
    if (fixed !== undefined) assert.equal(res.headers.get("cache-control"), fixed, `${where}: Cache-Control`);
    if (response.content === undefined) {
      assert.equal(body.length, 0, `${where}: documented without a body`);
      return;
    }
    const type = mediaType(res.headers.get("content-type") ?? "");
    const media = response.content[type];
    assert.ok(media, `${where}: content type ${type} not documented`);
    if (method === "HEAD") return assert.equal(body.length, 0, `${where}: HEAD with a body`);
    if (media.schema === undefined) return;
    const validate = ajv.getSchema(`${DOC_ID}#/${pointer([...responsePath, "content", type, "schema"])}`);
    assert.ok(validate, `${where}: no schema`);
    const value = type === "application/json" ? JSON.parse(body.toString("utf8")) : body.toString("utf8");
    assert.ok(validate(value), `${where}: ${ajv.errorsText(validate.errors)}\n${body.toString("utf8").slice(0, 500)}`);
  };
  return { check, seen };
}
