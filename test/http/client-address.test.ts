import assert from "node:assert/strict";
import { test } from "node:test";
import express from "express";
import { clientAddress, isLoopback, normalizeAddress, type AddressedRequest } from "../../src/http/client-address.js";
import { startApp } from "./helpers.js";

async function serve(t: import("node:test").TestContext, trustedProxy: boolean) {
  const app = express();
  app.get("/ip", (req, res) => {
    res.json({ ip: clientAddress(req, trustedProxy) });
  });
  const server = await startApp(app);
  t.after(() => server.close());
  return async (headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}/ip`, { headers });
    return ((await res.json()) as { ip: string }).ip;
  };
}

test("without a trusted proxy the peer address is used and X-Forwarded-For is ignored", async (t) => {
  const ip = await serve(t, false);
  assert.equal(await ip(), "127.0.0.1");
  assert.equal(await ip({ "x-forwarded-for": "203.0.113.9" }), "127.0.0.1");
});

test("behind a trusted proxy the rightmost X-Forwarded-For entry is the client", async (t) => {
  const ip = await serve(t, true);
  assert.equal(await ip({ "x-forwarded-for": "198.51.100.1, 203.0.113.9" }), "203.0.113.9");
  assert.equal(await ip({ "x-forwarded-for": " 203.0.113.7 " }), "203.0.113.7");
  assert.equal(await ip({ "x-forwarded-for": "1.1.1.1, 2001:db8::1" }), "2001:db8::1");
  assert.equal(await ip({ "x-forwarded-for": "203.0.113.7:4711" }), "203.0.113.7");
  assert.equal(await ip({ "x-forwarded-for": "[2001:db8::2]:4711" }), "2001:db8::2");
  assert.equal(await ip({ "x-forwarded-for": "::ffff:192.0.2.1" }), "192.0.2.1");
  assert.equal(await ip({ "x-forwarded-for": "spoofed, 203.0.113.8," }), "203.0.113.8");
  assert.equal(await ip({ "x-forwarded-for": "" }), "127.0.0.1");
  assert.equal(await ip({ "x-forwarded-for": " , " }), "127.0.0.1");
  assert.equal(await ip(), "127.0.0.1");
  assert.equal((await ip({ "x-forwarded-for": "x".repeat(500) })).length, 64);
});

test("repeated X-Forwarded-For headers count as one list", () => {
  const req = { headers: { "x-forwarded-for": ["1.1.1.1", "2.2.2.2, 3.3.3.3"] }, socket: { remoteAddress: "10.0.0.1" } };
  assert.equal(clientAddress(req as unknown as AddressedRequest, true), "3.3.3.3");
  assert.equal(clientAddress(req as unknown as AddressedRequest, false), "10.0.0.1");
});

test("IPv4-mapped IPv6 peers are reported as IPv4", () => {
  assert.equal(normalizeAddress("::ffff:1.2.3.4"), "1.2.3.4");
  assert.equal(normalizeAddress("::FFFF:127.0.0.1"), "127.0.0.1");
  assert.equal(normalizeAddress("::ffff:999.1.1.1"), "::ffff:999.1.1.1");
  assert.equal(normalizeAddress("2001:db8::1"), "2001:db8::1");
  const req = { headers: {}, socket: { remoteAddress: "::ffff:192.0.2.33" } };
  assert.equal(clientAddress(req as unknown as AddressedRequest, false), "192.0.2.33");
});

test("isLoopback: 127.0.0.0/8 and ::1 in any spelling, nothing else", () => {
  for (const address of ["127.0.0.1", "127.255.0.9", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.2"]) {
    assert.equal(isLoopback(address), true, address);
  }
  for (const address of ["128.0.0.1", "10.0.0.1", "::2", "::", "0.0.0.0", "localhost", "unknown", "", "2001:db8::1", "::ffff:10.0.0.1"]) {
    assert.equal(isLoopback(address), false, address);
  }
});
