import assert from "node:assert/strict";
import { test } from "node:test";
import express from "express";
import { errorHandler, notFoundHandler } from "../../src/http/error-handler.js";
import { TokenBuckets, rateLimit } from "../../src/http/rate-limit.js";
import { createLogger } from "../../src/log.js";
import { expectEnvelope, startApp } from "./helpers.js";
import { startTestRegistry, type TestRegistry } from "./registry-server.js";

test("a fresh key gets the whole burst, then waits for refill", () => {
  const buckets = new TokenBuckets({ perSecond: 10, burst: 3 });
  assert.equal(buckets.take("a", 0), 0);
  assert.equal(buckets.take("a", 0), 0);
  assert.equal(buckets.take("a", 0), 0);
  assert.equal(buckets.take("a", 0), 1);
  assert.equal(buckets.take("a", 99), 1);
  assert.equal(buckets.take("a", 100), 0);
  assert.equal(buckets.take("a", 100), 1);
  assert.equal(buckets.take("b", 100), 0, "keys are independent");
});

test("refill is proportional to elapsed time and capped at the burst", () => {
  const buckets = new TokenBuckets({ perSecond: 2, burst: 4 });
  for (let i = 0; i < 4; i++) assert.equal(buckets.take("k", 0), 0);
  assert.equal(buckets.take("k", 0), 1);
  // 1.5 s at 2/s refills 3 tokens.
  for (let i = 0; i < 3; i++) assert.equal(buckets.take("k", 1500), 0);
  assert.equal(buckets.take("k", 1500), 1);
  // A long idle period refills to the burst, not beyond.
  for (let i = 0; i < 4; i++) assert.equal(buckets.take("k", 1_000_000), 0);
  assert.equal(buckets.take("k", 1_000_000), 1);
});

test("retry-after is the whole seconds until one token is back, at least 1", () => {
  const slow = new TokenBuckets({ perSecond: 0.25, burst: 1 });
  assert.equal(slow.take("k", 0), 0);
  assert.equal(slow.take("k", 0), 4);
  assert.equal(slow.take("k", 1000), 3);
  assert.equal(slow.take("k", 3500), 1);
  assert.equal(slow.take("k", 4000), 0);
  const fast = new TokenBuckets({ perSecond: 1000, burst: 1 });
  assert.equal(fast.take("k", 0), 0);
  assert.equal(fast.take("k", 0), 1);
});

test("a refused request does not spend a token", () => {
  const buckets = new TokenBuckets({ perSecond: 1, burst: 1 });
  assert.equal(buckets.take("k", 0), 0);
  for (let ms = 0; ms < 1000; ms += 100) assert.equal(buckets.take("k", ms), 1);
  assert.equal(buckets.take("k", 1000), 0);
});

test("time going backwards never adds tokens", () => {
  const buckets = new TokenBuckets({ perSecond: 1, burst: 1 });
  assert.equal(buckets.take("k", 5000), 0);
  assert.equal(buckets.take("k", 0), 1);
});

test("without an explicit time, a bucket reads the clock it was given", () => {
  let ms = 5_000;
  const buckets = new TokenBuckets({ perSecond: 1, burst: 1, now: () => ms });
  assert.equal(buckets.take("k"), 0);
  assert.equal(buckets.take("k"), 1);
  ms += 999;
  assert.equal(buckets.take("k"), 1);
  ms += 1;
  assert.equal(buckets.take("k"), 0);
});

test("perSecond 0 disables the limiter and tracks nothing", () => {
  const buckets = new TokenBuckets({ perSecond: 0, burst: 1 });
  assert.equal(buckets.enabled, false);
  for (let i = 0; i < 100; i++) assert.equal(buckets.take(`k${i}`, 0), 0);
  assert.equal(buckets.size, 0);
});

test("memory is bounded: full buckets are dropped first, then the least recently used", () => {
  const buckets = new TokenBuckets({ perSecond: 1, burst: 2, maxKeys: 10 });
  for (let i = 0; i < 10; i++) buckets.take(`idle${i}`, 0);
  // Two seconds later every idle bucket is full again: the same as no bucket.
  buckets.take("hot", 2000);
  buckets.take("hot", 2000);
  assert.equal(buckets.size, 1);
  assert.equal(buckets.take("hot", 2000), 1, "eviction must not reset a key that is still limited");

  const crowded = new TokenBuckets({ perSecond: 1, burst: 2, maxKeys: 10 });
  crowded.take("old", 0);
  crowded.take("old", 0);
  for (let i = 0; i < 9; i++) crowded.take(`k${i}`, 1);
  crowded.take("old", 2); // refused; "old" becomes the most recently used
  crowded.take("new", 3);
  assert.ok(crowded.size <= 10);
  assert.equal(crowded.take("old", 3), 1, "the recently used key keeps its state");
  for (let i = 0; i < 10_000; i++) crowded.take(`flood${i}`, 4);
  assert.ok(crowded.size <= 10);
});

test("rejects a bad configuration", () => {
  assert.throws(() => new TokenBuckets({ perSecond: -1, burst: 1 }), RangeError);
  assert.throws(() => new TokenBuckets({ perSecond: Number.NaN, burst: 1 }), RangeError);
  assert.throws(() => new TokenBuckets({ perSecond: 1, burst: 0 }), RangeError);
});

test("the middleware answers 429 rate_limited with retry_after and Retry-After, per key", async (t) => {
  const app = express();
  // A stopped clock: however slowly the requests go, no token comes back.
  const buckets = new TokenBuckets({ perSecond: 0.01, burst: 2, now: () => 0 });
  const refused: string[] = [];
  const choose = (req: express.Request) => ({ buckets, bucket: "read" as const, key: String(req.headers["x-key"] ?? "anon") });
  app.get(
    "/x",
    rateLimit(choose, (bucket) => refused.push(bucket)),
    (_req, res) => {
      res.json({ ok: true });
    },
  );
  app.use(notFoundHandler);
  app.use(errorHandler(createLogger({ level: "error", stream: { write: () => true } })));
  const server = await startApp(app);
  t.after(() => server.close());
  const get = (key: string) => fetch(`${server.url}/x`, { headers: { "x-key": key } });

  assert.equal((await get("a")).status, 200);
  assert.equal((await get("a")).status, 200);
  const limited = await get("a");
  const retryAfter = Number(limited.headers.get("retry-after"));
  assert.equal(retryAfter, 100);
  const error = await expectEnvelope(limited, 429, "rate_limited");
  assert.equal(error.retry_after, retryAfter);
  assert.equal((await get("b")).status, 200);
  assert.deepEqual(refused, ["read"], "the refusal is reported with its bucket");
});

// Rates slow enough that no token comes back while a test runs, however slow the machine.
const TRICKLE = 0.0001;
const DNS_SECRET = "dns-bridge-secret-0123456789abcdef";
/** The fast path leaves requests with an Origin to Express; CORS ignores this one. */
const VIA_EXPRESS = { origin: "https://refused.example" };

function postDns(reg: TestRegistry, tokenId: string, headers: Record<string, string> = {}) {
  return reg.call("/dns_event", { json: { token_id: tokenId, qtype: "A" }, auth: false, headers });
}

test("DNS events with the secret spend the DNS bridge's own bucket, not the address's write bucket", async (t) => {
  const reg = await startTestRegistry(t, {
    dnsSecret: DNS_SECRET,
    rates: {
      write: { perSecond: TRICKLE, burst: 30 },
      read: { perSecond: 0, burst: 1 },
      token: { perSecond: 0, burst: 1 },
      dns: { perSecond: 1000, burst: 5000 },
    },
  });
  const withSecret = { "x-oversight-dns-secret": DNS_SECRET };
  const statuses: number[] = [];
  for (let i = 0; i < 50; i++) {
    const res = await postDns(reg, `bridge-${i}`, i % 5 === 0 ? { ...withSecret, ...VIA_EXPRESS } : withSecret);
    statuses.push(res.status);
    await res.arrayBuffer();
  }
  assert.deepEqual(statuses, Array(50).fill(200));

  // Beacon hits from the same address still have their whole write bucket, and only that.
  const hits: number[] = [];
  for (let i = 0; i < 31; i++) {
    const res = await reg.call(`/v/hit-${i}`, { auth: false, ...(i % 2 === 0 ? {} : { headers: VIA_EXPRESS }) });
    hits.push(res.status);
    await res.arrayBuffer();
  }
  assert.deepEqual(hits, [...Array(30).fill(200), 429]);
  assert.equal((await postDns(reg, "after-hits", withSecret)).status, 200, "an empty write bucket does not stop the bridge");
  assert.equal(reg.service.registry.store.size(), 50 + 30 + 1);
});

test("the DNS bucket refuses with 429, retry_after and Retry-After on both paths; auth comes first", async (t) => {
  const reg = await startTestRegistry(t, {
    dnsSecret: DNS_SECRET,
    rates: {
      write: { perSecond: TRICKLE, burst: 5 },
      read: { perSecond: 0, burst: 1 },
      token: { perSecond: 0, burst: 1 },
      dns: { perSecond: TRICKLE, burst: 3 },
    },
  });
  const bearer = { authorization: `Bearer ${DNS_SECRET}` };
  const served = reg.fastPath.served;
  assert.equal((await postDns(reg, "d1", bearer)).status, 200);
  assert.equal((await postDns(reg, "d2", { ...bearer, ...VIA_EXPRESS })).status, 200);
  assert.equal((await postDns(reg, "d3", bearer)).status, 200);
  assert.equal(reg.fastPath.served, served + 2, "two went the fast way, one through Express, from one bucket");
  for (const headers of [bearer, { ...bearer, ...VIA_EXPRESS }]) {
    const limited = await postDns(reg, "d4", headers);
    const error = await expectEnvelope(limited, 429, "rate_limited");
    assert.ok(Number.isInteger(error.retry_after) && (error.retry_after as number) >= 1, String(error.retry_after));
    assert.equal(limited.headers.get("retry-after"), String(error.retry_after));
  }
  await expectEnvelope(await postDns(reg, "d5", { authorization: "Bearer wrong-secret-0123456789abcdef0123" }), 401, "auth_required");
  assert.equal((await reg.call("/v/still-open", { auth: false })).status, 200, "beacon hits keep the address bucket");
  assert.equal(reg.service.registry.store.size(), 4, "refused events write nothing");
});

test("without a secret, loopback DNS events share the address's write bucket with beacon hits", async (t) => {
  const reg = await startTestRegistry(t, {
    rates: {
      write: { perSecond: TRICKLE, burst: 3 },
      read: { perSecond: 0, burst: 1 },
      token: { perSecond: 0, burst: 1 },
      dns: { perSecond: 1000, burst: 5000 },
    },
  });
  assert.equal((await postDns(reg, "l1")).status, 200);
  assert.equal((await postDns(reg, "l2", VIA_EXPRESS)).status, 200);
  assert.equal((await reg.call("/v/l3", { auth: false })).status, 200);
  await expectEnvelope(await postDns(reg, "l4"), 429, "rate_limited");
  await expectEnvelope(await postDns(reg, "l5", VIA_EXPRESS), 429, "rate_limited");
  await expectEnvelope(await reg.call("/v/l6", { auth: false }), 429, "rate_limited");
});
