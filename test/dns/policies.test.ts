// The bridge's pure policies: retransmission window, backoff, and what each registry answer means.
import { test } from "node:test";
import assert from "node:assert/strict";
import { retryDelayMs, DEFAULT_BACKOFF } from "../../src/dns/backoff.js";
import { classify } from "../../src/dns/delivery.js";
import { RecentQueries } from "../../src/dns/retransmissions.js";

test("a resend (same resolver, id and name, any case) within the window is one query; later or different, a new one", () => {
  let ms = 0;
  const recent = new RecentQueries({ windowMs: 5000, maxEntries: 100, now: () => ms });
  assert.equal(recent.isRetransmission("192.0.2.1", 7, "Abc.t.x", "A"), false);
  assert.equal(recent.isRetransmission("192.0.2.1", 7, "aBC.t.x", "A"), true);
  assert.equal(recent.isRetransmission("192.0.2.2", 7, "abc.t.x", "A"), false);
  assert.equal(recent.isRetransmission("192.0.2.1", 8, "abc.t.x", "A"), false);
  assert.equal(recent.isRetransmission("192.0.2.1", 7, "abc.t.x", "AAAA"), false);
  ms = 5000;
  assert.equal(recent.isRetransmission("192.0.2.1", 7, "abc.t.x", "A"), false);
  recent.forget("192.0.2.1", 7, "abc.t.x", "A");
  assert.equal(recent.isRetransmission("192.0.2.1", 7, "abc.t.x", "A"), false);
});

test("the retransmission memory is bounded", () => {
  const recent = new RecentQueries({ windowMs: 60_000, maxEntries: 10, now: () => 0 });
  for (let i = 0; i < 1000; i++) recent.isRetransmission("192.0.2.1", i, "n", "A");
  assert.equal(recent.size, 10);
});

test("backoff doubles to its cap, jitters the upper half, and a retry_after wins (capped)", () => {
  const policy = { baseMs: 100, maxMs: 1000, maxRetryAfterMs: 5000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 10].map((n) => retryDelayMs(policy, n, null, 0.999999)),
    [100, 200, 400, 800, 1000, 1000],
  );
  assert.deepEqual(
    [1, 2, 3].map((n) => retryDelayMs(policy, n, null, 0)),
    [50, 100, 200],
  );
  assert.equal(retryDelayMs(policy, 3, 2, 0.5), 2000);
  assert.equal(retryDelayMs(policy, 3, 86_400, 0.5), 5000);
  assert.ok(retryDelayMs(DEFAULT_BACKOFF, 1_000_000, null, 0.5) <= DEFAULT_BACKOFF.maxMs);
});

test("registry answers: 200 delivered, 429 and 5xx retried (retry_after from the body or header), other 4xx refused", () => {
  assert.deepEqual(classify(200, '{"ok":true,"tlog_index":5}', undefined), { kind: "delivered", tlogIndex: 5 });
  assert.equal(classify(200, "<html>", undefined).kind, "retry");
  assert.deepEqual(classify(429, '{"error":{"code":"rate_limited","message":"x","retry_after":3}}', "9"), {
    kind: "retry",
    reason: "rate limited (429)",
    retryAfterSeconds: 3,
  });
  assert.equal((classify(429, "", "7") as { retryAfterSeconds: number }).retryAfterSeconds, 7);
  assert.deepEqual(classify(503, "", undefined), { kind: "retry", reason: "HTTP 503", retryAfterSeconds: null });
  assert.equal(classify(302, "", undefined).kind, "retry");
  assert.deepEqual(classify(401, "denied", undefined), { kind: "refused", status: 401, answer: "denied" });
  assert.equal(classify(400, "", undefined).kind, "refused");
});
