import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { METRICS_CONTENT_TYPE, callbackGauge } from "../../src/metrics/exposition.js";
import { createIssuer } from "../issuer.js";
import { samples } from "./metrics-text.js";
import { startTestRegistry, type TestRegistry } from "./registry-server.js";

async function scrape(reg: TestRegistry): Promise<Map<string, number>> {
  const res = await reg.call("/metrics", { auth: false });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), METRICS_CONTENT_TYPE);
  return samples(await res.text());
}

const requests = (route: string, method: string, status: string) => `http_requests_total{route="${route}",method="${method}",status="${status}"}`;
const latencyCount = (route: string, method: string, status: string) =>
  `http_request_duration_seconds_count{route="${route}",method="${method}",status="${status}"}`;

test("every request is counted, with its latency, by route family, method and status class, whichever stack answers", async (t) => {
  const reg = await startTestRegistry(t);
  await reg.call("/v/tok-1", { auth: false });
  await reg.call("/v/tok-2", { auth: false, headers: { origin: "https://elsewhere.example" } });
  await reg.call("/tlog/head", { auth: false });
  await reg.call("/tlog/proof/99", { auth: false });
  await reg.call(`/random/${Math.random()}`, { auth: false });
  await reg.call(`/random/${Math.random()}`, { auth: false, method: "POST" });
  assert.ok(reg.fastPath.served >= 1, "the fast path answered some of them");

  const s = await scrape(reg);
  assert.equal(s.get(requests("/v/:token", "GET", "2xx")), 2);
  assert.equal(s.get(latencyCount("/v/:token", "GET", "2xx")), 2);
  assert.equal(s.get(requests("/tlog/head", "GET", "2xx")), 1);
  assert.equal(s.get(requests("/tlog/proof/:index", "GET", "4xx")), 1);
  assert.equal(s.get(requests("other", "GET", "4xx")), 1);
  assert.equal(s.get(requests("other", "POST", "4xx")), 1);
  const buckets = [...s.keys()].filter((key) => key.startsWith("http_request_duration_seconds_bucket{") && key.includes('route="/tlog/head"'));
  assert.ok(buckets.some((key) => key.includes('le="+Inf"')) && buckets.length > 5, buckets.join("\n"));
});

test("each server has its own metrics registry, so several run in one process", async (t) => {
  const one = await startTestRegistry(t);
  const two = await startTestRegistry(t);
  await one.call("/tlog/head", { auth: false });
  await one.call("/tlog/head", { auth: false });
  await two.call("/tlog/head", { auth: false });
  assert.equal((await scrape(one)).get(requests("/tlog/head", "GET", "2xx")), 2);
  assert.equal((await scrape(two)).get(requests("/tlog/head", "GET", "2xx")), 1);
});

test("process and event-loop metrics are collected", async (t) => {
  const s = await scrape(await startTestRegistry(t));
  for (const name of [
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "nodejs_heap_size_used_bytes",
    "nodejs_eventloop_lag_seconds",
    "nodejs_eventloop_lag_p99_seconds",
  ]) {
    assert.ok(s.has(name), name);
  }
});

test("a registration shows in the commit, verification and log metrics", async (t) => {
  const reg = await startTestRegistry(t);
  const before = await scrape(reg);
  assert.equal(before.get("registry_batch_size_count"), 0);
  assert.equal(before.get("registry_commit_failures_total"), 0);
  assert.equal(before.get("signature_verify_duration_seconds_count"), 0);
  assert.equal(before.get("tlog_tree_size"), 0);
  assert.equal(before.has("tlog_seconds_since_signed_head"), false, "absent before the first signature");

  assert.equal((await reg.call("/register", { json: createIssuer().registration() })).status, 200);
  await reg.call("/tlog/head", { auth: false });
  const after = await scrape(reg);
  assert.equal(after.get("registry_batch_size_count"), 1);
  assert.equal(after.get("registry_commit_duration_seconds_count"), 1);
  assert.equal(after.get("registry_commit_failures_total"), 0);
  assert.ok(after.get("signature_verify_duration_seconds_count")! >= 1);
  assert.equal(after.get("signature_verify_queue_depth"), 0);
  assert.equal(after.get("tlog_tree_size"), 1);
  assert.ok(after.get("tlog_seconds_since_signed_head")! >= 0);
  assert.equal(after.get("proof_verification_failures_total"), 0);
  assert.equal(after.get("tlog_head_publication_failures_total"), 0);
  assert.equal(after.get("tlog_head_publication_duration_seconds_count"), 1, "the registration's commit was published once");
});

test("a gauge read at scrape time is left out when its reading is null or throws", async () => {
  const registry = new Registry();
  let size: number | null = 3;
  callbackGauge(registry, "tlog_tree_size", "Leaves in the log.", () => size);
  callbackGauge(registry, "broken", "Throws.", () => {
    throw new Error("db closed");
  });
  assert.equal(samples(await registry.metrics()).get("tlog_tree_size"), 3);
  size = null;
  const text = await registry.metrics();
  assert.equal(samples(text).has("tlog_tree_size"), false);
  assert.equal(samples(text).has("broken"), false);
  size = 70;
  assert.equal(samples(await registry.metrics()).get("tlog_tree_size"), 70);
});
