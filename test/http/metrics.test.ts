import assert from "node:assert/strict";
import { test } from "node:test";
import express from "express";
import { RegistryError } from "../../src/core/errors.js";
import { errorHandler, notFoundHandler } from "../../src/http/error-handler.js";
import { METRICS_CONTENT_TYPE, Metrics, requestMetrics } from "../../src/http/metrics.js";
import { createLogger } from "../../src/log.js";
import { startApp } from "./helpers.js";

/** Parses the exposition text into `name{labels}` → value, checking every line is HELP, TYPE or a sample. */
function samples(text: string): Map<string, number> {
  assert.ok(text.endsWith("\n"));
  const out = new Map<string, number>();
  for (const line of text.trimEnd().split("\n")) {
    if (/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(match, `bad line: ${line}`);
    out.set(match[1]!, Number(match[2]));
  }
  return out;
}

test("an empty registry renders every family with zero values", () => {
  const text = new Metrics().render();
  assert.match(text, /# TYPE http_requests_total counter\n/);
  assert.match(text, /# TYPE registry_batch_size histogram\n/);
  assert.match(text, /# TYPE proof_verification_failures_total counter\n/);
  const s = samples(text);
  assert.equal(s.get("proof_verification_failures_total"), 0);
  assert.equal(s.get('registry_batch_size_bucket{le="+Inf"}'), 0);
  assert.equal(s.get("registry_batch_size_count"), 0);
});

test("batch sizes fill cumulative histogram buckets", () => {
  const metrics = new Metrics();
  for (const jobs of [1, 3, 3, 100, 5000]) metrics.observeBatch(jobs);
  metrics.proofVerificationFailed();
  const s = samples(metrics.render());
  assert.equal(s.get('registry_batch_size_bucket{le="1"}'), 1);
  assert.equal(s.get('registry_batch_size_bucket{le="2"}'), 1);
  assert.equal(s.get('registry_batch_size_bucket{le="4"}'), 3);
  assert.equal(s.get('registry_batch_size_bucket{le="128"}'), 4);
  assert.equal(s.get('registry_batch_size_bucket{le="1024"}'), 4);
  assert.equal(s.get('registry_batch_size_bucket{le="+Inf"}'), 5);
  assert.equal(s.get("registry_batch_size_sum"), 5107);
  assert.equal(s.get("registry_batch_size_count"), 5);
  assert.equal(s.get("proof_verification_failures_total"), 1);
});

test("gauges are read at render time; null or throwing callbacks are left out", () => {
  const metrics = new Metrics();
  let size = 3;
  metrics.gauge("tlog_tree_size", "Leaves in the log.", () => size);
  metrics.gauge("tlog_seconds_since_signed_head", "Seconds since the last signed head.", () => null);
  metrics.gauge("broken", "Throws.", () => {
    throw new Error("db closed");
  });
  assert.equal(samples(metrics.render()).get("tlog_tree_size"), 3);
  size = 70;
  const text = metrics.render();
  assert.equal(samples(text).get("tlog_tree_size"), 70);
  assert.match(text, /# TYPE tlog_tree_size gauge\n/);
  assert.doesNotMatch(text, /tlog_seconds_since_signed_head|broken/);
  assert.throws(() => metrics.gauge("bad name", "x", () => 1));
});

test("label values are escaped and unknown methods folded", () => {
  const metrics = new Metrics();
  metrics.request('/a"b\\c\nd', "BREW", 418);
  const text = metrics.render();
  assert.ok(text.includes('http_requests_total{route="/a\\"b\\\\c\\nd",method="OTHER",status="418"} 1\n'), text);
});

test("requests are counted by route template, method and status over HTTP", async (t) => {
  const metrics = new Metrics();
  const app = express();
  app.use(requestMetrics(metrics));
  app.get("/tlog/proof/:index", (_req, res) => {
    res.json({});
  });
  const router = express.Router();
  router.get("/:file_id", () => {
    throw new RegistryError("not_found", "no such file");
  });
  app.use("/evidence", router);
  app.get("/metrics", (_req, res) => {
    res.type(METRICS_CONTENT_TYPE).send(metrics.render());
  });
  app.use(notFoundHandler);
  app.use(errorHandler(createLogger({ level: "error", stream: { write: () => true } })));
  const server = await startApp(app);
  t.after(() => server.close());

  for (const index of [1, 2, 3]) await (await fetch(`${server.url}/tlog/proof/${index}`)).text();
  await (await fetch(`${server.url}/evidence/abc`)).text();
  await (await fetch(`${server.url}/random/${Math.random()}`)).text();
  await (await fetch(`${server.url}/random/${Math.random()}`, { method: "POST" })).text();

  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.headers.get("content-type"), METRICS_CONTENT_TYPE);
  const s = samples(await res.text());
  assert.equal(s.get('http_requests_total{route="/tlog/proof/:index",method="GET",status="200"}'), 3);
  assert.equal(s.get('http_requests_total{route="/evidence/:file_id",method="GET",status="404"}'), 1);
  assert.equal(s.get('http_requests_total{route="unmatched",method="GET",status="404"}'), 1);
  assert.equal(s.get('http_requests_total{route="unmatched",method="POST",status="404"}'), 1);
});
