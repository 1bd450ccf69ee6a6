// The bridge's pure policies: retransmission window, backoff, and what each registry answer means.
import { test } from "node:test";
import assert from "node:assert/strict";
import { retryDelayMs, DEFAULT_BACKOFF } from "../../src/dns/backoff.js";
import { classify, classifyBatch } from "../../src/dns/delivery.js";
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

test("a batch's answers: per item on 200, every item alike otherwise, and 404/405/413 mean no batches here", () => {
  const results = [
    { ok: true, tlog_index: 7 },
    { error: { code: "missing_field", message: "event_id: bad" } },
    { error: { code: "rate_limited", message: "slow down", retry_after: 2 } },
    { error: { code: "server_error", message: "internal error" } },
    { surprise: true },
  ];
  const answer = classifyBatch(200, JSON.stringify({ results }), undefined, 5);
  assert.equal(answer.kind, "outcomes");
  const outcomes = answer.kind === "outcomes" ? answer.outcomes : [];
  assert.deepEqual(outcomes[0], { kind: "delivered", tlogIndex: 7 });
  assert.deepEqual(outcomes[1], { kind: "refused", status: 400, answer: JSON.stringify(results[1]) });
  assert.deepEqual(outcomes[2], { kind: "retry", reason: "rate limited (429)", retryAfterSeconds: 2 });
  assert.deepEqual([outcomes[3]?.kind, outcomes[4]?.kind], ["retry", "retry"]);

  for (const status of [404, 405, 413]) assert.deepEqual(classifyBatch(status, "", undefined, 3), { kind: "unsupported", status });
  const every = (status: number, body: string, header?: string) => {
    const outcome = classifyBatch(status, body, header, 3);
    assert.equal(outcome.kind, "outcomes");
    return outcome.kind === "outcomes" ? outcome.outcomes : [];
  };
  assert.deepEqual(every(401, "denied"), Array(3).fill({ kind: "refused", status: 401, answer: "denied" }));
  assert.deepEqual(
    every(429, "", "4").map((o) => (o as { retryAfterSeconds: number }).retryAfterSeconds),
    [4, 4, 4],
  );
  assert.deepEqual(
    every(503, "").map((o) => o.kind),
    ["retry", "retry", "retry"],
  );
  // A 200 that does not answer each item is not trusted for any of them.
  assert.deepEqual(
    every(200, JSON.stringify({ results: results.slice(0, 2) })).map((o) => o.kind),
    ["retry", "retry", "retry"],
  );
});
