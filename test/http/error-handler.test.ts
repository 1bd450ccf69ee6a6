import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import express from "express";
import { z } from "zod";
import { RegistryError } from "../../src/core/errors.js";
import { errorHandler, notFoundHandler } from "../../src/http/error-handler.js";
import { createLogger } from "../../src/log.js";
import { expectEnvelope, startApp } from "./helpers.js";

async function serve(t: TestContext, routes: (app: express.Express) => void) {
  const lines: string[] = [];
  const app = express();
  routes(app);
  app.use(notFoundHandler);
  app.use(errorHandler(createLogger({ level: "info", stream: { write: (line: string) => lines.push(line) } })));
  const server = await startApp(app);
  t.after(() => server.close());
  const logged = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { url: server.url, logged };
}

test("unknown routes get a 404 not_found envelope naming method and path (no query)", async (t) => {
  const { url, logged } = await serve(t, () => {});
  const error = await expectEnvelope(await fetch(`${url}/nope/x?secret=1`), 404, "not_found");
  assert.equal(error.message, "no route for GET /nope/x");
  const post = await expectEnvelope(await fetch(`${url}/a"b<c>`, { method: "POST" }), 404, "not_found");
  assert.equal(post.message, "no route for POST /a%22b%3Cc%3E");
  const long = await expectEnvelope(await fetch(`${url}/${"y".repeat(1000)}`), 404, "not_found");
  assert.ok(String(long.message).length < 250);
  assert.deepEqual(logged(), []);
});

test("RegistryError keeps its code, status and extra fields; retry_after sets Retry-After", async (t) => {
  const { url } = await serve(t, (app) => {
    app.get("/conflict", () => {
      throw new RegistryError("issuer_mismatch", "file_id is registered under another issuer");
    });
    app.get("/slow", () => {
      throw new RegistryError("rate_limited", "too many requests", { extra: { retry_after: 7 } });
    });
    app.get("/async", async () => {
      await Promise.resolve();
      throw new RegistryError("not_found", "no such record");
    });
  });
  const conflict = await fetch(`${url}/conflict`);
  assert.deepEqual(await expectEnvelope(conflict, 409, "issuer_mismatch"), {
    code: "issuer_mismatch",
    message: "file_id is registered under another issuer",
  });
  const slow = await fetch(`${url}/slow`);
  assert.equal(slow.headers.get("retry-after"), "7");
  assert.deepEqual(await expectEnvelope(slow, 429, "rate_limited"), { code: "rate_limited", message: "too many requests", retry_after: 7 });
  await expectEnvelope(await fetch(`${url}/async`), 404, "not_found");
});

test("unexpected errors are 500 'internal error' to the client and logged in full at error level", async (t) => {
  const { url, logged } = await serve(t, (app) => {
    app.get("/bug", () => {
      throw new Error("SQLITE_ERROR: no such table: secrets_table at SELECT * FROM x");
    });
    app.get("/thrown-string", () => {
      throw "just a string";
    });
  });
  const res = await fetch(`${url}/bug`);
  const error = await expectEnvelope(res, 500, "server_error");
  assert.deepEqual(error, { code: "server_error", message: "internal error" });
  await expectEnvelope(await fetch(`${url}/thrown-string`), 500, "server_error");
  const [record, second] = logged();
  assert.equal(record!.level, "error");
  assert.equal(record!.path, "/bug");
  assert.equal(record!.status, 500);
  assert.deepEqual(record!.error, { name: "Error", message: "SQLITE_ERROR: no such table: secrets_table at SELECT * FROM x" });
  assert.equal(second!.error, "just a string");
});

test("server_error RegistryErrors keep their status and message and are logged", async (t) => {
  const { url, logged } = await serve(t, (app) => {
    app.get("/forked", () => {
      throw new RegistryError("server_error", "the log is forked", { status: 503 });
    });
  });
  const error = await expectEnvelope(await fetch(`${url}/forked`), 503, "server_error");
  assert.equal(error.message, "the log is forked");
  assert.equal(logged()[0]!.status, 503);
});

test("ZodError becomes 400 missing_field naming the path and the problem", async (t) => {
  const Body = z.object({ manifest: z.object({ file_id: z.string() }), beacons: z.array(z.object({ token_id: z.string() })) });
  const { url } = await serve(t, (app) => {
    app.get("/missing", () => Body.parse({ manifest: {}, beacons: [] }));
    app.get("/nested", () => Body.parse({ manifest: { file_id: "f" }, beacons: [{ token_id: "a" }, { token_id: 3 }] }));
    app.get("/top", () => z.string().parse(3));
  });
  const missing = await expectEnvelope(await fetch(`${url}/missing`), 400, "missing_field");
  assert.match(String(missing.message), /^manifest\.file_id: .*expected string, received undefined/);
  const nested = await expectEnvelope(await fetch(`${url}/nested`), 400, "missing_field");
  assert.match(String(nested.message), /^beacons\[1\]\.token_id: .*expected string, received number/);
  const top = await expectEnvelope(await fetch(`${url}/top`), 400, "missing_field");
  assert.match(String(top.message), /^request: /);
});

test("headers set for a success answer do not describe the error", async (t) => {
  const { url } = await serve(t, (app) => {
    app.get("/tile", (_req, res) => {
      res.setHeader("Cache-Control", "public, max-age=31536000, immutable");
      res.setHeader("Content-Type", "application/octet-stream");
      res.setHeader("ETag", '"x"');
      throw new RegistryError("not_found", "no such tile");
    });
  });
  const res = await fetch(`${url}/tile`);
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(res.headers.get("etag"), null);
  await expectEnvelope(res, 404, "not_found");
});

test("an error after the answer started cuts the connection instead of appending an envelope", async (t) => {
  const { url, logged } = await serve(t, (app) => {
    app.get("/stream", (_req, res, next) => {
      res.status(200).type("text/plain");
      res.write("partial");
      setImmediate(() => next(new Error("disk went away")));
    });
  });
  const res = await fetch(`${url}/stream`);
  assert.equal(res.status, 200);
  await assert.rejects(res.text());
  assert.equal(logged()[0]!.msg, "request failed");
});
