import assert from "node:assert/strict";
import { test } from "node:test";
import { PIXEL_PNG } from "../../src/http/routes/beacons.js";
import { createIssuer } from "../issuer.js";
import { envelope, leafText, startTestRegistry } from "./registry-server.js";

const DNS_SECRET = "dns-shared-secret-0123456789abcdef";

const lastLeaf = (reg: Awaited<ReturnType<typeof startTestRegistry>>) => JSON.parse(leafText(reg, reg.service.registry.store.size() - 1));

test("every beacon route records an event and answers 200, known token or not", async (t) => {
  const reg = await startTestRegistry(t);
  const issuer = createIssuer();
  const body = issuer.registration({ file_id: "beaconed" });
  await reg.call("/register", { json: body });
  const token = (body.beacons[0] as { token_id: string }).token_id;

  const png = await reg.call(`/p/${token}.png`, { headers: { "user-agent": "Mail/1" } });
  assert.equal(png.status, 200);
  assert.equal(png.headers.get("content-type"), "image/png");
  assert.equal(png.headers.get("cache-control"), "no-store");
  assert.deepEqual(Buffer.from(await png.arrayBuffer()), PIXEL_PNG);
  assert.deepEqual(lastLeaf(reg), {
    event: "beacon",
    kind: "http_img",
    token_id: token,
    file_id: "beaconed",
    recipient_id: (body.manifest["recipient"] as { recipient_id: string }).recipient_id,
    source_ip: "127.0.0.1",
    user_agent: "Mail/1",
    timestamp: lastLeaf(reg).timestamp,
  });

  for (const [path, method, kind] of [
    [`/r/${token}`, "GET", "ocsp"],
    [`/r/${token}`, "POST", "ocsp"],
    [`/ocsp/r/${token}`, "GET", "ocsp"],
    [`/ocsp/r/${token}`, "POST", "ocsp"],
  ] as const) {
    const res = await reg.call(path, {
      method,
      body: method === "POST" ? new Uint8Array([0x30, 0x03]) : null,
      headers: { "content-type": "application/ocsp-request" },
    });
    assert.equal(res.status, 200, path);
    assert.equal(await res.text(), "");
    assert.equal(lastLeaf(reg).kind, kind);
  }
  for (const path of [`/v/${token}`, `/lic/v/${token}`]) {
    const res = await reg.call(path);
    assert.deepEqual(await res.json(), { valid: true });
    assert.equal(lastLeaf(reg).kind, "license");
  }
  const unknown = await reg.call("/v/never-registered");
  assert.equal(unknown.status, 200);
  assert.equal(lastLeaf(reg).file_id, null);
  assert.equal(lastLeaf(reg).recipient_id, null);

  const events = reg.service.registry.db.prepare("SELECT * FROM events ORDER BY id").all() as Record<string, unknown>[];
  assert.equal(events.length, 8);
  for (const row of events) {
    const leaf = JSON.parse(leafText(reg, row["tlog_index"] as number));
    assert.equal(leaf.token_id, row["token_id"]);
    assert.equal(leaf.kind, row["kind"]);
    assert.equal(leaf.timestamp, row["qualified_timestamp"]);
    assert.equal(row["extra"], "{}");
  }
  const tooLong = await reg.call(`/v/${"t".repeat(257)}`);
  assert.equal(tooLong.status, 400);
  assert.equal((await envelope(tooLong)).code, "missing_field");
  assert.equal((await reg.call(`/p/${token}.gif`)).status, 404);
});

test("oversized user agents are capped identically in the row and the leaf", async (t) => {
  const reg = await startTestRegistry(t);
  await reg.call("/v/tok", { headers: { "user-agent": "U".repeat(5000) } });
  const row = reg.service.registry.db.prepare("SELECT user_agent FROM events").get() as { user_agent: string };
  assert.equal(row.user_agent.length, 1024);
  assert.equal(lastLeaf(reg).user_agent, row.user_agent);
});

test("TRUSTED_PROXY takes the rightmost X-Forwarded-For entry; without it the header is ignored", async (t) => {
  const proxied = await startTestRegistry(t, { trustedProxy: true });
  await proxied.call("/v/tok", { headers: { "x-forwarded-for": "6.6.6.6, 203.0.113.9" } });
  assert.equal(lastLeaf(proxied).source_ip, "203.0.113.9");
  const direct = await startTestRegistry(t);
  await direct.call("/v/tok", { headers: { "x-forwarded-for": "6.6.6.6" } });
  assert.equal(lastLeaf(direct).source_ip, "127.0.0.1");
});

test("DNS events: loopback without a secret, the secret when configured, fail closed behind a proxy", async (t) => {
  const open = await startTestRegistry(t);
  const res = await open.call("/dns_event", {
    json: { token_id: "dns-tok", client_ip: "198.51.100.7", qtype: "TXT", qname: "dns-tok.t.example" },
    auth: false,
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ok: true, tlog_index: 0 });
  assert.deepEqual(lastLeaf(open), {
    event: "beacon",
    kind: "dns",
    token_id: "dns-tok",
    file_id: null,
    recipient_id: null,
    source_ip: "198.51.100.7",
    qname: "dns-tok.t.example",
    qtype: "TXT",
    timestamp: lastLeaf(open).timestamp,
  });
  const row = open.service.registry.db.prepare("SELECT kind, extra, source_ip FROM events").get();
  assert.deepEqual(row, { kind: "dns", extra: '{"qname":"dns-tok.t.example","qtype":"TXT"}', source_ip: "198.51.100.7" });
  const viaProxy = await open.call("/dns_event", { json: { token_id: "x" }, headers: { "x-forwarded-for": "203.0.113.1" }, auth: false });
  assert.equal(viaProxy.status, 503);
  assert.equal((await envelope(viaProxy)).code, "server_error");
  const noToken = await open.call("/dns_event", { json: {}, auth: false });
  assert.equal((await envelope(noToken)).code, "missing_field");

  const secured = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const denied = await secured.call("/dns_event", { json: { token_id: "x" }, auth: false });
  assert.equal(denied.status, 401);
  assert.equal((await envelope(denied)).code, "auth_required");
  const wrong = await secured.call("/dns_event", { json: { token_id: "x" }, auth: false, headers: { "x-oversight-dns-secret": "nope" } });
  assert.equal(wrong.status, 401);
  const secretHeaders: Record<string, string>[] = [{ "x-oversight-dns-secret": DNS_SECRET }, { authorization: `Bearer ${DNS_SECRET}` }];
  for (const headers of secretHeaders) {
    const ok = await secured.call("/dns_event", { json: { token_id: "x" }, auth: false, headers });
    assert.equal(ok.status, 200);
  }
});

test("rate limits answer 429 with retry_after and Retry-After, per bucket", async (t) => {
  let ms = 0; // the buckets' clock: no token comes back until the test moves it
  const reg = await startTestRegistry(t, {
    rates: {
      write: { perSecond: 1, burst: 3 },
      read: { perSecond: 1, burst: 5 },
      token: { perSecond: 1, burst: 2 },
      dns: { perSecond: 0, burst: 1 },
    },
    rateClock: () => ms,
  });
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await reg.call(`/v/tok-${i}`)).status);
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  const limited = await reg.call("/v/tok-x");
  const error = await envelope(limited);
  assert.equal(error.code, "rate_limited");
  assert.ok(Number.isInteger(error["retry_after"]) && (error["retry_after"] as number) >= 1);
  assert.equal(limited.headers.get("retry-after"), String(error["retry_after"]));
  assert.equal((await reg.call("/health")).status, 200, "reads have their own bucket");
  const ops = [];
  for (let i = 0; i < 3; i++) ops.push((await reg.call("/attribute", { json: { token_id: "a" } })).status);
  assert.deepEqual(ops, [200, 200, 429], "the operator token has its own bucket");
  assert.equal(reg.service.registry.store.size(), 3, "a refused hit writes nothing");
  ms += 1000;
  assert.equal((await reg.call("/v/tok-later")).status, 200, "a second later a token is back");
});

test("CORS echoes allowed origins only; security headers; metrics", async (t) => {
  const reg = await startTestRegistry(t, { corsOrigins: ["https://monitor.example"] });
  for (const origin of ["https://oversightprotocol.dev", "http://127.0.0.1:8000", "https://monitor.example"]) {
    const res = await reg.call("/tlog/head", { headers: { origin } });
    assert.equal(res.headers.get("access-control-allow-origin"), origin);
    assert.equal(res.headers.get("access-control-allow-credentials"), null);
  }
  const refused = await reg.call("/tlog/head", { headers: { origin: "https://evil.example" } });
  assert.equal(refused.headers.get("access-control-allow-origin"), null);
  const preflight = await reg.call("/tlog/head", {
    method: "OPTIONS",
    headers: { origin: "https://oversightprotocol.dev", "access-control-request-method": "GET" },
  });
  assert.ok(preflight.status === 204 || preflight.status === 200);
  assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /GET/);
  assert.doesNotMatch(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);

  const health = await reg.call("/health");
  assert.equal(health.headers.get("x-content-type-options"), "nosniff");
  assert.equal(health.headers.get("cross-origin-resource-policy"), "cross-origin");
  await reg.call("/v/tok");
  const metrics = await (await reg.call("/metrics")).text();
  assert.match(metrics, /http_requests_total\{[^}]*status="2xx"[^}]*\} \d+/);
  assert.match(metrics, /tlog_tree_size 1/);
  assert.match(metrics, /registry_batch_size_count 1/);
});
