import assert from "node:assert/strict";
import { test } from "node:test";
import Database from "better-sqlite3";
import { createIssuer } from "../issuer.js";
import { tempDir } from "../temp.js";
import { expectEnvelope } from "./helpers.js";
import { samples } from "./metrics-text.js";
import { startTestRegistry, type TestRegistry } from "./registry-server.js";

/** CORS refuses this origin, so the answer is the no-Origin one, but the fast path leaves the request to Express. */
const REFUSED_ORIGIN = { origin: "https://refused.example" };
/** Headers that differ between any two answers: the connection's, the clock's, and each request's own id. */
const PER_CONNECTION = new Set(["date", "connection", "keep-alive", "x-request-id"]);
const FIXED_CLOCK = () => 1_800_000_000;

interface Answer {
  status: number;
  headers: [string, string][];
  body: string;
}

async function answer(res: Response): Promise<Answer> {
  const headers = [...res.headers].filter(([name]) => !PER_CONNECTION.has(name));
  return { status: res.status, headers, body: Buffer.from(await res.arrayBuffer()).toString("latin1") };
}

/** Fetches `path` on the fast path, then `expressPath` with `headers` through Express; asserts both answers are equal. */
async function assertSameAnswer(
  reg: TestRegistry,
  path: string,
  status: number,
  { expressPath = path, headers = REFUSED_ORIGIN }: { expressPath?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const before = reg.fastPath.served;
  const fast = await answer(await reg.call(path, { auth: false }));
  assert.equal(reg.fastPath.served, before + 1, `the fast path should serve ${path}`);
  const slow = await answer(await reg.call(expressPath, { auth: false, headers }));
  assert.equal(reg.fastPath.served, before + 1, `Express should serve ${expressPath}`);
  assert.deepEqual(fast, slow, path);
  assert.equal(fast.status, status, `${path}: ${fast.body}`);
  return fast;
}

async function registerFile(reg: TestRegistry, fileId: string): Promise<string> {
  const body = createIssuer().registration({ file_id: fileId });
  assert.equal((await reg.call("/register", { json: body })).status, 200);
  return (body.beacons[0] as { token_id: string }).token_id;
}

test("every fast route answers byte for byte as Express does, security headers included", async (t) => {
  const reg = await startTestRegistry(t, { clock: FIXED_CLOCK });
  const token = await registerFile(reg, "fast-file");

  const pixel = await assertSameAnswer(reg, `/p/${token}.png`, 200);
  const headers = new Map(pixel.headers);
  assert.equal(headers.get("content-type"), "image/png");
  assert.equal(headers.get("cache-control"), "no-store");
  assert.equal(headers.get("vary"), "Origin");
  assert.equal(headers.get("x-content-type-options"), "nosniff");
  assert.equal(headers.get("cross-origin-resource-policy"), "cross-origin");
  assert.ok(headers.has("content-security-policy"));
  for (const path of ["/p/unknown.png", "/r/tok", "/ocsp/r/tok", `/v/${token}`, "/v/caf%C3%A9", "/v/a%2Fb"]) {
    await assertSameAnswer(reg, path, 200);
  }
  assert.equal((await assertSameAnswer(reg, "/lic/v/tok", 200)).body, '{"valid":true}');

  // Reads last, so the bundle cannot change between the two fetches; the fixed clock pins bundle_generated_at.
  const bundle = await assertSameAnswer(reg, "/evidence/fast-file", 200);
  assert.equal(JSON.parse(bundle.body).events.length, 4);
  await assertSameAnswer(reg, "/evidence/fast-file", 200, { expressPath: "/evidence/fast-file?via=express", headers: {} });
  await assertSameAnswer(reg, "/tlog/proof/3", 200, { expressPath: "/tlog/proof/3?via=express", headers: {} });
  const size = reg.service.log.size();
  for (const path of ["/evidence/no-such-file", `/tlog/proof/${size}`]) {
    const { body } = await assertSameAnswer(reg, path, 404);
    assert.equal(JSON.parse(body).error.code, "not_found");
  }
});

test("a failed write after the fast path took the request gets Express's 500 envelope", async (t) => {
  const reg = await startTestRegistry(t);
  reg.service.registry.db.exec("CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
  const { body } = await assertSameAnswer(reg, "/v/tok", 500);
  assert.deepEqual(JSON.parse(body), { error: { code: "server_error", message: "internal error" } });
});

test("anything but the plain case is left to Express", async (t) => {
  const reg = await startTestRegistry(t);
  await registerFile(reg, "plain-file");
  const servedBefore = reg.fastPath.served;
  const long = "x".repeat(257);
  const cases: [string, RequestInit, number][] = [
    ["/tlog/proof/0?tree_size=1", {}, 200],
    ["/p/tok.png", { method: "HEAD" }, 200],
    ["/r/tok", { method: "POST" }, 200],
    ["/V/tok", {}, 200],
    ["/v/tok/", {}, 200],
    ["/v/tok", { headers: { origin: "http://localhost:8000" } }, 200],
    ["/p/tok", {}, 404],
    ["/v/%E0%A4%A", {}, 400],
    [`/v/${long}`, {}, 400],
    [`/evidence/${long}`, {}, 400],
    ["/tlog/proof/1e3", {}, 400],
  ];
  for (const [path, init, status] of cases) {
    const res = await reg.call(path, { ...init, auth: false });
    assert.equal(res.status, status, `${init.method ?? "GET"} ${path}`);
    if (status >= 400) await expectEnvelope(res, status, status === 404 ? "not_found" : "missing_field");
  }
  assert.equal(reg.fastPath.served, servedBefore);
});

test("the fast path spends the same buckets, and leaves refusals to Express's 429", async (t) => {
  const rate = { perSecond: 0.001, burst: 2 };
  const reg = await startTestRegistry(t, { rates: { write: rate, read: rate, token: { perSecond: 0, burst: 1 }, dns: { perSecond: 0, burst: 1 } }, rateClock: () => 0 });
  await registerFile(reg, "limited-file");
  const servedBefore = reg.fastPath.served;
  for (const path of ["/v/tok", "/tlog/proof/0"]) {
    assert.equal((await reg.call(path, { auth: false })).status, 200);
    assert.equal((await reg.call(path, { auth: false, headers: REFUSED_ORIGIN })).status, 200, "Express spends from the same bucket");
    const served = reg.fastPath.served;
    const limited = await reg.call(path, { auth: false });
    assert.equal(reg.fastPath.served, served, "a refusal is left to Express");
    const retryAfter = Number(limited.headers.get("retry-after"));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, String(retryAfter));
    assert.equal((await expectEnvelope(limited, 429, "rate_limited")).retry_after, retryAfter);
  }
  assert.equal(reg.fastPath.served, servedBefore + 2);
  const refusals = samples(await (await reg.call("/metrics", { auth: false })).text());
  assert.equal(refusals.get('rate_limit_refusals_total{bucket="write"}'), 1, "counted once, by Express");
  assert.equal(refusals.get('rate_limit_refusals_total{bucket="read"}'), 1);
  assert.equal(refusals.get('rate_limit_refusals_total{bucket="token"}'), 0);
});

test("fast answers are counted under the same route families as Express's", async (t) => {
  const reg = await startTestRegistry(t);
  await registerFile(reg, "counted-file");
  const servedBefore = reg.fastPath.served;
  const hits: [string, Record<string, string>][] = [
    ["/p/tok.png", {}],
    ["/p/tok.png", REFUSED_ORIGIN],
    ["/ocsp/r/tok", {}],
    ["/lic/v/tok", {}],
    ["/tlog/proof/0", {}],
    ["/tlog/proof/999", {}],
    ["/tlog/proof/999", REFUSED_ORIGIN],
    ["/evidence/counted-file", {}],
  ];
  for (const [path, headers] of hits) await (await reg.call(path, { auth: false, headers })).arrayBuffer();
  assert.equal(reg.fastPath.served, servedBefore + 6);
  const text = await (await reg.call("/metrics", { auth: false })).text();
  const s = samples(text);
  const count = (route: string, status: string) => s.get(`http_requests_total{route="${route}",method="GET",status="${status}"}`);
  assert.equal(count("/p/:name", "2xx"), 2);
  assert.equal(count("/ocsp/r/:token", "2xx"), 1);
  assert.equal(count("/lic/v/:token", "2xx"), 1);
  assert.equal(count("/tlog/proof/:index", "2xx"), 1);
  assert.equal(count("/tlog/proof/:index", "4xx"), 2);
  assert.equal(count("/evidence/:file_id", "2xx"), 1);
  assert.equal(s.get(`http_request_duration_seconds_count{route="/p/:name",method="GET",status="2xx"}`), 2);
});

test("a forked registry still answers 503 on beacons", async (t) => {
  const dataDir = tempDir(t);
  const first = await startTestRegistry(t, { dataDir });
  for (let i = 0; i < 3; i++) await first.call(`/v/tok-${i}`, { auth: false });
  assert.equal((await (await first.call("/tlog/head")).json()).size, 3);
  await first.close();
  const db = new Database(first.dbPath);
  db.exec("DELETE FROM tlog_leaves WHERE idx >= 1; DELETE FROM events WHERE tlog_index >= 1");
  db.close();

  const second = await startTestRegistry(t, { dataDir });
  for (const path of ["/p/tok.png", "/r/tok", "/v/tok"]) {
    await expectEnvelope(await second.call(path, { auth: false }), 503, "server_error");
  }
  assert.equal(second.fastPath.served, 0);
});

/** POSTs `json` (or raw `body`) on the fast path, then the same through Express (an Origin header); both answers must be equal. */
async function assertSamePost(reg: TestRegistry, path: string, status: number, body: string, headers: Record<string, string> = {}) {
  const post = (extra: Record<string, string>) =>
    reg.call(path, { method: "POST", body, headers: { "content-type": "application/json", authorization: `Bearer ${reg.token}`, ...headers, ...extra }, auth: false });
  const before = reg.fastPath.served;
  const fast = await answer(await post({}));
  assert.equal(reg.fastPath.served, before + 1, `the fast path should serve POST ${path}`);
  const slow = await answer(await post(REFUSED_ORIGIN));
  assert.equal(reg.fastPath.served, before + 1, `Express should serve POST ${path}`);
  assert.deepEqual(fast, slow, `POST ${path} ${body.slice(0, 40)}`);
  assert.equal(fast.status, status, `${path}: ${fast.body}`);
}

test("writes on the fast path answer as Express does: success, idempotent re-send, every kind of refusal", async (t) => {
  const reg = await startTestRegistry(t, { clock: FIXED_CLOCK });
  const issuer = createIssuer();
  const registration = JSON.stringify(issuer.registration({ file_id: "fast-write" }));
  await assertSamePost(reg, "/register", 200, registration);
  assert.equal(reg.service.registry.store.size(), 1, "the Express re-send was idempotent");
  const tampered = issuer.registration();
  (tampered.manifest as Record<string, unknown>)["original_filename"] = "changed";
  await assertSamePost(reg, "/register", 400, JSON.stringify(tampered));
  await assertSamePost(reg, "/register", 400, "{not json");
  await assertSamePost(reg, "/register", 400, "[1,2]");
  await assertSamePost(reg, "/register", 400, '"text"');
  await assertSamePost(reg, "/register", 400, "{}");
  await assertSamePost(reg, "/register", 200, "\ufeff" + registration, { "content-type": "application/json; charset=UTF-8" });
  const token = JSON.parse(registration).beacons[0].token_id as string;
  await assertSamePost(reg, "/attribute", 200, JSON.stringify({ token_id: "nobody" }));
  await assertSamePost(reg, "/attribute", 400, JSON.stringify({}));
  await assertSamePost(reg, "/dns_event", 400, JSON.stringify({ token_id: "" }));
  const before = reg.service.registry.store.size();
  const dns = await reg.call("/dns_event", { json: { token_id: token, client_ip: "192.0.2.9", qtype: "A", qname: "q" }, auth: false });
  assert.deepEqual(await dns.json(), { ok: true, tlog_index: before });
});

test("writes Express must read or refuse are left to it", async (t) => {
  const reg = await startTestRegistry(t, { maxBodyBytes: 700_000 });
  const served = reg.fastPath.served;
  const cases: [Record<string, string>, string, number][] = [
    [{ "content-type": "application/json", authorization: "Bearer wrong" }, "{}", 401],
    [{ "content-type": "application/json" }, "{}", 401],
    [{ "content-type": "text/plain", authorization: `Bearer ${reg.token}` }, "{}", 400],
    [{ "content-type": "application/json; charset=latin1", authorization: `Bearer ${reg.token}` }, "{}", 415],
    [{ "content-type": "application/json", authorization: `Bearer ${reg.token}` }, "", 400],
  ];
  for (const [headers, body, status] of cases) {
    const res = await reg.call("/register", { method: "POST", body, headers, auth: false });
    assert.equal(res.status, status, `${JSON.stringify(headers)} ${body.length}`);
  }
  const viaProxy = await reg.call("/dns_event", { json: { token_id: "x" }, headers: { "x-forwarded-for": "203.0.113.1" }, auth: false });
  assert.equal(viaProxy.status, 503);
  assert.equal(reg.fastPath.served, served);
});
