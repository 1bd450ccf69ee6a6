import assert from "node:assert/strict";
import { test } from "node:test";
import { createEdge } from "../../src/http/edge.js";
import { rawExchange } from "./raw-http.js";
import { startTestRegistry } from "./registry-server.js";

const OFF = { perSecond: 0, burst: 1 };
const RATES = { write: OFF, read: OFF, token: OFF, dns: OFF };
// Set per connection or per request.
const PER_CONNECTION = new Set(["date", "connection", "x-request-id"]);

/** The answer's header lines in the order they were sent, but the per-connection ones. */
const headerLines = (text: string) =>
  text
    .slice(0, text.indexOf("\r\n\r\n"))
    .split("\r\n")
    .slice(1)
    .filter((line) => !PER_CONNECTION.has(line.slice(0, line.indexOf(":")).toLowerCase()));

test("the fast path sends the security headers helmet sends through Express, in the same order and bytes", async (t) => {
  const reg = await startTestRegistry(t);
  assert.equal((await reg.call("/p/unknown-token.png", { auth: false })).status, 200);
  const request = (extra: string) => `GET /tlog/proof/0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${extra}\r\n`;
  const served = reg.fastPath.served;
  const fast = await rawExchange(reg.url, request(""));
  assert.equal(reg.fastPath.served, served + 1, "the fast path took the plain request");
  const viaExpress = await rawExchange(reg.url, request("Origin: https://refused.example\r\n"));
  assert.equal(reg.fastPath.served, served + 1, "Express took the one with an Origin");
  assert.equal(fast.status, 200);
  assert.ok(fast.headers.has("content-security-policy") && fast.headers.has("strict-transport-security"));
  assert.deepEqual(headerLines(fast.text), headerLines(viaExpress.text));
  assert.equal(fast.body, viaExpress.body);
});

test("the recorded security headers are the ones helmet sets on an answer, in its order", () => {
  const edge = createEdge(RATES, { operatorToken: null, dnsSecret: null });
  const set = (apply: (res: { setHeader: (name: string, value: string) => void; removeHeader: () => void }) => void) => {
    const headers: [string, string][] = [];
    apply({ setHeader: (name, value) => headers.push([name, value]), removeHeader: () => {} });
    return headers;
  };
  const recorded = set((res) => edge.setSecurityHeaders(res as never));
  const byHelmet = set((res) => edge.securityHeaders({} as never, res as never, () => {}));
  assert.ok(recorded.length >= 10, `${recorded.length} headers`);
  assert.deepEqual(recorded, byHelmet);
});
