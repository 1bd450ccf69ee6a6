/**
 * The fast path and Express are two dispatchers over one route table; this is
 * the property that they answer alike. Two registries start with the same
 * key, clock and settings and get the same requests in the same order: one
 * plain (the fast path takes it), the other with an Origin that CORS refuses,
 * which sends it through Express and changes nothing else in the answer.
 * Every answer pair must be byte-identical (status, headers but the
 * per-connection ones, body), and the registries' state stays in step.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { test, type TestContext } from "node:test";
import { gzipSync } from "node:zlib";
import Database from "better-sqlite3";
import { identityPath } from "../../src/core/identity.js";
import type { Route } from "../../src/http/route.js";
import type { ServeOptions } from "../../src/server.js";
import { createIssuer } from "../issuer.js";
import { tempDir } from "../temp.js";
import { startTestRegistry, type TestRegistry } from "./registry-server.js";

const VIA_EXPRESS = { origin: "https://refused.example" };
// Set per connection or per request (the request id is generated afresh; request-id.test.ts covers it).
const PER_CONNECTION = new Set(["date", "connection", "keep-alive", "x-request-id"]);
const FIXED_CLOCK = () => 1_800_000_000;
const LONG = "x".repeat(257);

interface Answer {
  status: number;
  headers: [string, string][];
  body: string;
}

interface Call {
  path: string;
  method: string;
  headers?: Record<string, string>;
  body?: string | Buffer | undefined;
  /** False for requests the fast path must leave to Express (a query of other characters, a parameter the route refuses). */
  taken?: boolean;
}

interface Twins {
  fast: TestRegistry;
  express: TestRegistry;
  /** Sends `call` to both, asserts who served it and that both answers are equal; returns the answer. */
  same(call: Call): Promise<Answer>;
}

/** Without `dataDirs`, two fresh data directories holding the same key. */
async function startTwins(t: TestContext, overrides: Partial<ServeOptions> = {}, dataDirs?: { fast: string; express: string }): Promise<Twins> {
  const fast = await startTestRegistry(t, { clock: FIXED_CLOCK, ...overrides, ...(dataDirs ? { dataDir: dataDirs.fast } : {}) });
  const dataDir = dataDirs?.express ?? tempDir(t);
  if (!dataDirs) fs.copyFileSync(identityPath(fast.dataDir), identityPath(dataDir));
  const express = await startTestRegistry(t, { clock: FIXED_CLOCK, ...overrides, dataDir });
  const send = async (reg: TestRegistry, call: Call, extra: Record<string, string>): Promise<Answer> => {
    const init = { method: call.method, headers: { ...call.headers, ...extra }, auth: false, ...(call.body === undefined ? {} : { body: call.body }) };
    const res = await reg.call(call.path, init);
    const headers = [...res.headers].filter(([name]) => !PER_CONNECTION.has(name));
    return { status: res.status, headers, body: Buffer.from(await res.arrayBuffer()).toString("latin1") };
  };
  return {
    fast,
    express,
    async same(call) {
      const label = `${call.method} ${call.path} ${JSON.stringify(call.headers ?? {})} ${String(call.body ?? "").slice(0, 60)}`;
      const before = fast.fastPath.served;
      const plain = await send(fast, call, {});
      assert.equal(fast.fastPath.served, before + (call.taken === false ? 0 : 1), `fast path took: ${label}`);
      const viaExpress = await send(express, call, VIA_EXPRESS);
      assert.equal(express.fastPath.served, 0, `Express served: ${label}`);
      assert.deepEqual(plain, viaExpress, label);
      return plain;
    },
  };
}

/** What the tests send: a registered file with its tokens, and valid bodies for each write. */
function fixtures() {
  const issuer = createIssuer();
  const registration = issuer.registration({ file_id: "twin-file" });
  const [http, dns] = registration.beacons as { token_id: string }[];
  return { issuer, registration, fileId: "twin-file", token: http!.token_id, dnsToken: dns!.token_id };
}

type Fixtures = ReturnType<typeof fixtures>;

/** Values for each path parameter name in the table: ones the route accepts, and ones it refuses (left to Express). */
function parameterValues(name: string, f: Fixtures): { accepted: string[]; refused: string[] } {
  switch (name) {
    case "name":
      return { accepted: [`${f.token}.png`, "unknown.png", "caf%C3%A9.png"], refused: ["tok", `${LONG}.png`, "%E0%A4%A.png"] };
    case "token":
      return { accepted: [f.token, "tok", "caf%C3%A9", "a%2Fb"], refused: [LONG, "%E0%A4%A"] };
    case "file_id":
      return { accepted: [f.fileId, "no-such-file"], refused: [LONG] };
    case "index":
      return { accepted: ["0", "3", "99999"], refused: ["1e3", "-1", "9007199254740992"] };
    case "path":
      return { accepted: ["0/000.p/1", "0/000.p/4", "0/000", "entries/000.p/2", "no/such/tile"], refused: [] };
    default:
      throw new Error(`the table has a parameter :${name} this test has no values for; add them here`);
  }
}

/** Query strings for each route with a query schema: ones it accepts and ones it refuses (a repeated key, a value out of range, not a number). */
function queryValues(path: string): string[] {
  const counts = (...names: string[]) =>
    names.flatMap((name) => [`${name}=1`, `${name}=0`, `${name}=-1`, `${name}=x`, `${name}=1&${name}=2`, `${name}=%31`, `${name}=`]);
  switch (path) {
    case "/tlog/proof/:index":
      return [...counts("tree_size"), "tree_size=4", "tree_size=99999"];
    case "/tlog/consistency":
      return [...counts("first", "second"), "first=1&second=3", "first=2&second=4", "first=3&second=1", "second=2"];
    case "/tlog/range":
      return [...counts("start", "limit"), "start=1&limit=2", "limit=1000", "limit=1001", "start=99999", "start=0&limit=2&more=1"];
    case "/evidence/:file_id":
      return ["cursor=", "cursor=x", "cursor=1&cursor=2", "cursor=%E0%A4%A"];
    case "/candidates/semantic":
      return [...counts("limit", "since"), "limit=1&since=0"];
    default:
      throw new Error(`the table has a query on ${path} this test has no values for; add them here`);
  }
}

/** The JSON bodies of each write route: accepted ones and every kind the route must refuse. */
function writeBodies(path: string, f: Fixtures): string[] {
  switch (path) {
    case "/register": {
      const valid = JSON.stringify(f.registration);
      const tampered = structuredClone(f.registration);
      (tampered.manifest as Record<string, unknown>)["original_filename"] = "changed";
      return [valid, valid, JSON.stringify(tampered), JSON.stringify(f.issuer.registration())];
    }
    case "/attribute":
      return [JSON.stringify({ token_id: "nobody" }), JSON.stringify({ token_id: f.token }), JSON.stringify({})];
    case "/dns_event":
      return [JSON.stringify({ token_id: f.dnsToken, qtype: "A", qname: "q.example" }), JSON.stringify({ token_id: "" })];
    case "/dns_events":
      return [
        JSON.stringify({ events: [{ token_id: f.dnsToken, qtype: "A", qname: "q.example", event_id: "fast-1" }, { token_id: "" }] }),
        JSON.stringify({ events: [] }),
      ];
    default:
      throw new Error(`the table has a write ${path} this test has no bodies for; add them here`);
  }
}

const JSON_TYPE = { "content-type": "application/json" };

/** The requests for one route: plain ones on every method it serves, edge cases, and ones the fast path leaves to Express. */
function callsFor(route: Route, f: Fixtures, token: string): Call[] {
  const names = [...route.path.matchAll(/[:*]([A-Za-z_]+)/g)].map((m) => m[1]!);
  const fill = (values: Record<string, string>) => route.path.replace(/[:*]([A-Za-z_]+)/g, (_m, name: string) => values[name]!);
  const pathsOf = (kind: "accepted" | "refused") =>
    names.length === 0
      ? kind === "accepted"
        ? [route.path]
        : []
      : names.flatMap((name) => parameterValues(name, f)[kind].map((value) => fill({ [name]: value })));
  const calls: Call[] = [];
  for (const method of route.methods) {
    for (const path of pathsOf("accepted")) {
      if (route.body === undefined) {
        calls.push({
          path,
          method,
          ...(method === "POST" ? { headers: { "content-type": "application/ocsp-request" }, body: "0\u0003\u0002\u0001\u0000" } : {}),
        });
        continue;
      }
      const auth = { authorization: `Bearer ${token}` };
      for (const body of writeBodies(route.path, f)) calls.push({ path, method, headers: { ...JSON_TYPE, ...auth }, body });
      const [valid] = writeBodies(route.path, f);
      calls.push(
        { path, method, headers: { "content-type": "application/json; charset=UTF-8", ...auth }, body: `\ufeff${valid}` },
        { path, method, headers: { "content-type": "application/json", "content-encoding": "gzip", ...auth }, body: gzipSync(valid!) },
        { path, method, headers: { "content-type": "application/json; charset=latin1", ...auth }, body: valid },
        { path, method, headers: { "content-type": "text/plain", ...auth }, body: valid },
        ...["{not json", "[1,2]", "[1,2", '"text"', "3x", "\u00a0{}", " \n{}", "", "{}"].map((body) => ({
          path,
          method,
          headers: { ...JSON_TYPE, ...auth },
          body,
        })),
        { path, method, headers: JSON_TYPE, body: valid },
        { path, method, headers: { ...JSON_TYPE, authorization: "Bearer wrong-0123456789abcdef0123456789" }, body: valid },
        { path, method, headers: { ...JSON_TYPE, ...auth, "x-forwarded-for": "203.0.113.1" }, body: valid },
      );
    }
    for (const path of pathsOf("refused")) calls.push({ path, method, taken: false });
    const plainPath = fill(Object.fromEntries(names.map((n) => [n, parameterValues(n, f).accepted[0]!])));
    // A query the route has no schema for is ignored alike; one of other characters than RFC 3986's stays with Express.
    calls.push({ path: `${plainPath}?via=query`, method }, { path: `${plainPath}?`, method });
    for (const query of route.query ? queryValues(route.path) : []) calls.push({ path: `${plainPath}?${query}`, method });
    for (const query of ["via=[query]", "via={query}", "via=a|b", "via=a^b"]) calls.push({ path: `${plainPath}?${query}`, method, taken: false });
  }
  return calls;
}

test("every route of the table answers byte for byte alike on the fast path and through Express", async (t) => {
  const twins = await startTwins(t);
  const f = fixtures();
  const table = twins.fast.fastPath.table;
  assert.deepEqual(
    table.map((r) => r.path),
    twins.express.fastPath.table.map((r) => r.path),
  );
  // Writes first so the reads see a log with a file, its beacons and events; reads last so nothing changes between a pair.
  const ordered = [...table.filter((r) => r.body !== undefined), ...table.filter((r) => r.body === undefined)];
  for (const route of ordered) {
    const calls = callsFor(route, f, twins.fast.token);
    assert.ok(
      calls.some((call) => call.taken !== false),
      `${route.path} has plain requests`,
    );
    for (const call of calls) {
      // /metrics counts the requests before it: compared once, at the end.
      if (route.path === "/metrics") continue;
      await twins.same(call);
    }
  }
  assert.equal(twins.fast.service.log.size(), twins.express.service.log.size());
  const counted = async (reg: TestRegistry) =>
    (await (await reg.call("/metrics", { auth: false })).text()).split("\n").filter((line) => line.startsWith("http_requests_total{"));
  assert.deepEqual(await counted(twins.fast), await counted(twins.express), "requests are counted under the same route templates");
});

test("refusals from an empty bucket are the same 429 on both stacks, for every bucket of the table", async (t) => {
  const rate = { perSecond: 0.001, burst: 1 };
  const twins = await startTwins(t, { rates: { write: rate, read: rate, token: rate, dns: rate }, rateClock: () => 0 });
  const f = fixtures();
  const seen = new Set<string>();
  for (const route of twins.fast.fastPath.table) {
    if (route.bucket === null || seen.has(route.bucket)) continue;
    seen.add(route.bucket);
    const [plain] = callsFor(route, f, twins.fast.token);
    await twins.same(plain!);
    const limited = await twins.same(plain!);
    assert.equal(limited.status, 429, `${route.path}: ${limited.body}`);
  }
  assert.deepEqual([...seen].sort(), ["beacon", "dns", "operator", "read"]);
});

test("a failure after the fast path took a request gets Express's 500 envelope", async (t) => {
  const twins = await startTwins(t);
  for (const reg of [twins.fast, twins.express]) {
    reg.service.registry.db.exec("CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
  }
  const { body } = await twins.same({ path: "/v/tok", method: "GET" });
  assert.deepEqual(JSON.parse(body), { error: { code: "server_error", message: "internal error" } });
});

test("a forked registry answers 503 on beacons on both stacks", async (t) => {
  const twins = await startTwins(t);
  for (const reg of [twins.fast, twins.express]) {
    for (let i = 0; i < 3; i++) await reg.call(`/v/tok-${i}`, { auth: false });
    assert.equal((await (await reg.call("/tlog/head")).json()).size, 3, "a head is signed at size 3");
    await reg.close();
    const db = new Database(reg.dbPath);
    db.exec("DELETE FROM tlog_leaves WHERE idx >= 1; DELETE FROM events WHERE tlog_index >= 1");
    db.close();
  }
  const forked = await startTwins(t, {}, { fast: twins.fast.dataDir, express: twins.express.dataDir });
  for (const path of ["/p/tok.png", "/r/tok", "/v/tok"]) {
    const { status } = await forked.same({ path, method: "GET" });
    assert.equal(status, 503);
  }
});
