import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import express, { type RequestHandler } from "express";
import { credentialMatches, dnsAuth, operatorAuth } from "../../src/http/auth.js";
import { errorHandler, notFoundHandler } from "../../src/http/error-handler.js";
import { openDatabase } from "../../src/registry/database.js";
import { OperatorAccess } from "../../src/registry/operator-access.js";
import { OperatorTokens } from "../../src/registry/operator-tokens.js";
import { systemClock } from "../../src/registry/time.js";
import { createLogger } from "../../src/log.js";
import { expectEnvelope, startApp } from "./helpers.js";

const TOKEN = "operator-token-0123456789abcdef";
const SECRET = "dns-bridge-secret-0123456789";

/** The bootstrap token alone (null: auth disabled), over an empty token table. */
function bootstrapOnly(t: TestContext, bootstrap: string | null): OperatorAccess {
  const db = openDatabase(":memory:");
  t.after(() => db.close());
  const tokens = new OperatorTokens(db);
  return new OperatorAccess({ bootstrap, tokens, clock: systemClock, recordUse: async (name, at) => tokens.touch(name, at) });
}

async function serve(t: TestContext, guard: RequestHandler) {
  const app = express();
  app.post("/guarded", guard, (_req, res) => {
    res.json({ ok: true });
  });
  app.use(notFoundHandler);
  app.use(errorHandler(createLogger({ level: "error", stream: { write: () => true } })));
  const server = await startApp(app);
  t.after(() => server.close());
  return (headers: Record<string, string> = {}) => fetch(`${server.url}/guarded`, { method: "POST", headers });
}

test("operator auth accepts the token as Bearer or in X-Oversight-Operator-Token", async (t) => {
  const call = await serve(t, operatorAuth(bootstrapOnly(t, TOKEN), "register"));
  assert.equal((await call({ authorization: `Bearer ${TOKEN}` })).status, 200);
  assert.equal((await call({ authorization: `bearer  ${TOKEN}` })).status, 200);
  assert.equal((await call({ "x-oversight-operator-token": TOKEN })).status, 200);
  assert.equal((await call({ authorization: "Basic abc", "x-oversight-operator-token": TOKEN })).status, 200);
});

test("operator auth refuses a missing, wrong, truncated or extended token with 401 auth_required", async (t) => {
  const call = await serve(t, operatorAuth(bootstrapOnly(t, TOKEN), "register"));
  const cases: Record<string, string>[] = [
    {},
    { authorization: "Bearer wrong" },
    { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
    { authorization: `Bearer ${TOKEN}x` },
    { authorization: TOKEN },
    { authorization: `Basic ${TOKEN}` },
    { "x-oversight-operator-token": TOKEN.toUpperCase() },
    { "x-oversight-dns-secret": TOKEN },
    { authorization: "Bearer " },
  ];
  for (const headers of cases) {
    const res = await call(headers);
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="oversight-registry"');
    await expectEnvelope(res, 401, "auth_required");
  }
});

test("operator auth with no token (auth disabled) lets everyone through", async (t) => {
  const call = await serve(t, operatorAuth(bootstrapOnly(t, null), "register"));
  assert.equal((await call()).status, 200);
  assert.equal((await call({ authorization: "Bearer anything" })).status, 200);
});

test("credentialMatches compares whole values only", () => {
  assert.equal(credentialMatches(TOKEN, TOKEN), true);
  assert.equal(credentialMatches(null, TOKEN), false);
  assert.equal(credentialMatches("", TOKEN), false);
  assert.equal(credentialMatches(`${TOKEN} `, TOKEN), false);
});

test("DNS auth with a secret: Bearer or X-Oversight-DNS-Secret, else 401, even from loopback", async (t) => {
  const call = await serve(t, dnsAuth({ secret: SECRET, trustedProxy: false }));
  assert.equal((await call({ authorization: `Bearer ${SECRET}` })).status, 200);
  assert.equal((await call({ "x-oversight-dns-secret": SECRET })).status, 200);
  await expectEnvelope(await call(), 401, "auth_required");
  await expectEnvelope(await call({ "x-oversight-dns-secret": "nope" }), 401, "auth_required");
  await expectEnvelope(await call({ "x-oversight-operator-token": SECRET }), 401, "auth_required");
});

test("DNS auth without a secret accepts a direct loopback caller only", async (t) => {
  const call = await serve(t, dnsAuth({ secret: null, trustedProxy: false }));
  assert.equal((await call()).status, 200);
  // A local reverse proxy makes every caller loopback; its forwarding headers give it away.
  const proxied: Record<string, string>[] = [{ "x-forwarded-for": "127.0.0.1" }, { forwarded: "for=203.0.113.1" }];
  for (const headers of proxied) {
    const error = await expectEnvelope(await call(headers), 503, "server_error");
    assert.match(String(error.message), /OVERSIGHT_DNS_EVENT_SECRET/);
  }
});

test("DNS auth without a secret behind a trusted proxy judges the forwarded client", async (t) => {
  const call = await serve(t, dnsAuth({ secret: null, trustedProxy: true }));
  assert.equal((await call()).status, 200);
  assert.equal((await call({ "x-forwarded-for": "203.0.113.1, 127.0.0.1" })).status, 200);
  const error = await expectEnvelope(await call({ "x-forwarded-for": "127.0.0.1, 203.0.113.1" }), 503, "server_error");
  assert.match(String(error.message), /OVERSIGHT_DNS_EVENT_SECRET/);
});
