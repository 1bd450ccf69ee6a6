import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { test, type TestContext } from "node:test";
import express from "express";
import { errorHandler, notFoundHandler } from "../../src/http/error-handler.js";
import { jsonBody } from "../../src/http/json-body.js";
import { createLogger } from "../../src/log.js";
import { expectEnvelope, startApp } from "./helpers.js";

const LIMIT = 1000;

async function serve(t: TestContext) {
  const app = express();
  app.post("/echo", jsonBody(LIMIT), (req, res) => {
    res.json({ got: req.body });
  });
  app.use(notFoundHandler);
  app.use(errorHandler(createLogger({ level: "error", stream: { write: () => true } })));
  const server = await startApp(app);
  t.after(() => server.close());
  return (body: RequestInit["body"], headers: Record<string, string> = { "content-type": "application/json" }) =>
    fetch(`${server.url}/echo`, { method: "POST", body: body ?? null, headers });
}

test("a JSON object is parsed", async (t) => {
  const post = await serve(t);
  const res = await post(JSON.stringify({ a: [1, "ü"] }), { "content-type": "Application/JSON; charset=UTF-8" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { got: { a: [1, "ü"] } });
  const gz = await post(gzipSync(JSON.stringify({ z: 1 })), { "content-type": "application/json", "content-encoding": "gzip" });
  assert.deepEqual(await gz.json(), { got: { z: 1 } });
});

test("Content-Type must be application/json", async (t) => {
  const post = await serve(t);
  for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/jsonx", "application/ld+json"]) {
    const error = await expectEnvelope(await post("{}", { "content-type": type }), 400, "missing_field");
    assert.equal(error.message, "Content-Type must be application/json", type);
  }
  const none = await expectEnvelope(await post(new Uint8Array(Buffer.from("{}")), {}), 400, "missing_field");
  assert.equal(none.message, "Content-Type must be application/json");
});

test("only a JSON object is accepted at the top level", async (t) => {
  const post = await serve(t);
  for (const body of ["[1,2]", '"text"', "3", "null", "true"]) {
    const error = await expectEnvelope(await post(body), 400, "missing_field");
    assert.equal(error.message, "request body must be a JSON object", body);
  }
  const empty = await expectEnvelope(await post(null), 400, "missing_field");
  assert.equal(empty.message, "request body must be a JSON object");
});

test("malformed JSON is 400 missing_field", async (t) => {
  const post = await serve(t);
  for (const body of ["{", '{"a":}', "{'a':1}", '{"a":1}x']) {
    const error = await expectEnvelope(await post(body), 400, "missing_field");
    assert.equal(error.message, "malformed JSON", body);
  }
});

test("a body over the limit is 413 missing_field naming the limit, also after inflating", async (t) => {
  const post = await serve(t);
  const big = JSON.stringify({ pad: "x".repeat(LIMIT) });
  const error = await expectEnvelope(await post(big), 413, "missing_field");
  assert.equal(error.message, `request body is larger than the limit of ${LIMIT} bytes`);
  const zipped = gzipSync(big);
  assert.ok(zipped.length < LIMIT);
  await expectEnvelope(await post(zipped, { "content-type": "application/json", "content-encoding": "gzip" }), 413, "missing_field");
  const ok = await post(JSON.stringify({ pad: "x".repeat(LIMIT - 20) }));
  assert.equal(ok.status, 200);
});

test("unsupported charsets and encodings are 415 missing_field", async (t) => {
  const post = await serve(t);
  const charset = await expectEnvelope(await post("{}", { "content-type": "application/json; charset=latin-9000" }), 415, "missing_field");
  assert.match(String(charset.message), /unsupported charset/);
  await expectEnvelope(await post("{}", { "content-type": "application/json", "content-encoding": "compress-9" }), 415, "missing_field");
});

test("a plain body, read directly, is refused in the words body-parser uses for the same bytes sent gzipped", async (t) => {
  const post = await serve(t);
  const gzipped = { "content-type": "application/json", "content-encoding": "gzip" };
  for (const body of ["3x", "\u00a0{}", " \n{}", "[1,2", "{not json", "[1,2]", "null", '"text"', '{"a":1}x', "\ufeff7"]) {
    const plain = await post(body);
    const viaBodyParser = await post(gzipSync(body), gzipped);
    assert.equal(plain.status, viaBodyParser.status, body);
    assert.deepEqual(await plain.json(), await viaBodyParser.json(), body);
  }
});
