import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import express from "express";
import { DEFAULT_CORS_ORIGINS, cors } from "../../src/http/cors.js";
import { startApp } from "./helpers.js";

async function serve(t: TestContext, extra: string[] = []) {
  const app = express();
  app.use(cors(extra));
  app.get("/tlog/head", (_req, res) => {
    res.json({ size: 0 });
  });
  app.post("/register", (_req, res) => {
    res.json({ ok: true });
  });
  const server = await startApp(app);
  t.after(() => server.close());
  return server.url;
}

test("an allowed origin is echoed on GET, with Vary: Origin and no credentials", async (t) => {
  const url = await serve(t);
  for (const origin of DEFAULT_CORS_ORIGINS) {
    const res = await fetch(`${url}/tlog/head`, { headers: { origin } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), origin);
    assert.match(res.headers.get("vary") ?? "", /Origin/);
    assert.equal(res.headers.get("access-control-allow-credentials"), null);
  }
  assert.ok(DEFAULT_CORS_ORIGINS.includes("https://oversight-protocol.github.io"));
  assert.equal(DEFAULT_CORS_ORIGINS.length, 7);
});

test("extra origins are allowed too; others get no CORS header but the GET still answers", async (t) => {
  const url = await serve(t, ["https://viewer.example"]);
  const extra = await fetch(`${url}/tlog/head`, { headers: { origin: "https://viewer.example" } });
  assert.equal(extra.headers.get("access-control-allow-origin"), "https://viewer.example");
  for (const origin of ["https://evil.example", "null", "https://oversightprotocol.dev.evil.example", "HTTPS://OVERSIGHTPROTOCOL.DEV"]) {
    const refused = await fetch(`${url}/tlog/head`, { headers: { origin } });
    assert.equal(refused.status, 200);
    assert.equal(refused.headers.get("access-control-allow-origin"), null, origin);
    assert.match(refused.headers.get("vary") ?? "", /Origin/);
  }
  const noOrigin = await fetch(`${url}/tlog/head`);
  assert.equal(noOrigin.headers.get("access-control-allow-origin"), null);
  assert.match(noOrigin.headers.get("vary") ?? "", /Origin/);
});

test("preflight from an allowed origin for GET is 204 with the allowed methods and headers", async (t) => {
  const url = await serve(t);
  const res = await fetch(`${url}/tlog/head`, {
    method: "OPTIONS",
    headers: { origin: "http://localhost:8000", "access-control-request-method": "GET", "access-control-request-headers": "accept" },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), "http://localhost:8000");
  assert.equal(res.headers.get("access-control-allow-methods"), "GET, OPTIONS");
  assert.match(res.headers.get("access-control-allow-headers") ?? "", /Accept/);
  assert.equal(res.headers.get("access-control-allow-credentials"), null);
  assert.equal(await res.text(), "");
});

test("preflight from a refused origin, or for a write method, is 204 without CORS headers", async (t) => {
  const url = await serve(t);
  const cases = [
    { origin: "https://evil.example", "access-control-request-method": "GET" },
    { origin: "http://localhost:8000", "access-control-request-method": "POST" },
    { origin: "http://localhost:8000", "access-control-request-method": "DELETE" },
  ];
  for (const headers of cases) {
    const res = await fetch(`${url}/register`, { method: "OPTIONS", headers });
    assert.equal(res.status, 204, JSON.stringify(headers));
    assert.equal(res.headers.get("access-control-allow-origin"), null, JSON.stringify(headers));
    assert.equal(res.headers.get("access-control-allow-methods"), null);
  }
});

test("a cross-origin POST gets no CORS header, even from an allowed origin", async (t) => {
  const url = await serve(t);
  const res = await fetch(`${url}/register`, { method: "POST", headers: { origin: "http://localhost:8000" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), null);
});
