import assert from "node:assert/strict";
import { test } from "node:test";
import { createEdge } from "../../src/http/edge.js";
import { rawExchange, type RawAnswer } from "./raw-http.js";
import { startTestRegistry, type TestRegistry } from "./registry-server.js";

const OFF = { perSecond: 0, burst: 1 };
const RATES = { write: OFF, read: OFF, token: OFF, dns: OFF };
const REFUSED_ORIGIN = "Origin: https://refused.example\r\n";

/** The answer's header lines in the order they were sent, the Date (it may tick between two answers) aside. */
const headerLines = (text: string) =>
  text
    .slice(0, text.indexOf("\r\n\r\n"))
    .split("\r\n")
    .filter((line) => !line.toLowerCase().startsWith("date:"));

/**
 * Sends `request` plain (the fast path takes it) and with an Origin CORS
 * refuses (Express serves it, and nothing else in the answer changes);
 * asserts both answers have the same status line, header lines and body.
 */
async function sameOnBothStacks(reg: TestRegistry, request: (extra: string) => string, label: string): Promise<RawAnswer> {
  const served = reg.fastPath.served;
  const fast = await rawExchange(reg.url, request(""));
  assert.equal(reg.fastPath.served, served + 1, `the fast path took the plain request: ${label}`);
  const viaExpress = await rawExchange(reg.url, request(REFUSED_ORIGIN));
  assert.equal(reg.fastPath.served, served + 1, `Express took the one with an Origin: ${label}`);
  assert.deepEqual(headerLines(fast.text), headerLines(viaExpress.text), label);
  assert.equal(fast.body, viaExpress.body, label);
  return fast;
}

const get =
  (path: string, method = "GET") =>
  (extra: string) =>
    `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: same-id\r\n${extra}\r\n`;
const post = (path: string, headers: string, body: string) => (extra: string) =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: same-id\r\nContent-Type: application/json\r\n` +
  `Content-Length: ${Buffer.byteLength(body)}\r\n${headers}${extra}\r\n${body}`;

test("the fast path sends the headers Express sends, in the same order and bytes: security headers, then the answer's", async (t) => {
  const reg = await startTestRegistry(t, { maxBodyBytes: 64 });
  assert.equal((await reg.call("/p/unknown-token.png", { auth: false })).status, 200);
  const proof = await sameOnBothStacks(reg, get("/tlog/proof/0"), "a proof");
  assert.equal(proof.status, 200);
  // The order of a proof's head as the registry has always sent it (Express's).
  assert.deepEqual(
    headerLines(proof.text).map((line) => line.split(":")[0]),
    [
      "HTTP/1.1 200 OK",
      "X-Request-Id",
      "Content-Security-Policy",
      "Cross-Origin-Opener-Policy",
      "Cross-Origin-Resource-Policy",
      "Origin-Agent-Cluster",
      "Referrer-Policy",
      "Strict-Transport-Security",
      "X-Content-Type-Options",
      "X-DNS-Prefetch-Control",
      "X-Download-Options",
      "X-Frame-Options",
      "X-Permitted-Cross-Domain-Policies",
      "X-XSS-Protection",
      "Vary",
      "Content-Type",
      "Content-Length",
      "Connection",
    ],
  );
  assert.ok(proof.text.includes("\r\nX-Request-Id: same-id\r\n"));
  const head = await sameOnBothStacks(reg, get("/tlog/proof/0", "HEAD"), "HEAD of a proof");
  assert.equal(head.body, "");
  assert.equal((await sameOnBothStacks(reg, get("/tlog/head"), "an answer with its own Cache-Control")).headers.get("cache-control"), "no-cache");
  assert.equal((await sameOnBothStacks(reg, get("/tlog/proof/7"), "an error")).status, 404);
  const refused = await sameOnBothStacks(reg, post("/register", "Authorization: Bearer wrong\r\n", "{}"), "a header set by a handler");
  assert.equal(refused.status, 401);
  assert.ok(refused.headers.has("www-authenticate"));
  const large = await sameOnBothStacks(reg, post("/register", `Authorization: Bearer ${reg.token}\r\n`, `{"x":"${"y".repeat(100)}"}`), "413");
  assert.equal(large.status, 413);
  assert.equal(large.headers.get("connection"), "close");
});

test("a refusal's Retry-After is in the same place on both stacks", async (t) => {
  const rate = { perSecond: 0.001, burst: 1 };
  const reg = await startTestRegistry(t, { rates: { ...RATES, read: rate }, rateClock: () => 0 });
  assert.notEqual((await reg.call("/tlog/head", { auth: false })).status, 429, "the one token is spent");
  const limited = await sameOnBothStacks(reg, get("/tlog/head"), "a 429");
  assert.equal(limited.status, 429);
  assert.ok(limited.headers.has("retry-after"));
});

test("the recorded security headers are the ones helmet sets on an answer, in its order", () => {
  const edge = createEdge(RATES, { operatorToken: null, dnsSecret: null });
  const set = (apply: (res: { setHeader: (name: string, value: string) => void; removeHeader: () => void }) => void) => {
    const headers: [string, string][] = [];
    apply({ setHeader: (name, value) => headers.push([name, value]), removeHeader: () => {} });
    return headers;
  };
  const recorded: [string, string][] = [];
  for (let i = 0; i < edge.securityHeaderList.length; i += 2) recorded.push([edge.securityHeaderList[i]!, edge.securityHeaderList[i + 1]!]);
  const byHelmet = set((res) => edge.securityHeaders({} as never, res as never, () => {}));
  assert.ok(recorded.length >= 10, `${recorded.length} headers`);
  assert.deepEqual(recorded, byHelmet);
});
