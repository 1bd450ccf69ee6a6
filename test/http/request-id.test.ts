import assert from "node:assert/strict";
import { test } from "node:test";
import { chooseRequestId } from "../../src/http/request-id.js";
import { startTestRegistry, type TestRegistry } from "./registry-server.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function records(reg: TestRegistry): Record<string, unknown>[] {
  return reg.logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

test("a caller's id is kept when it is a sane token; anything else gets a fresh UUID", () => {
  for (const id of ["abc", "3f2a9c1e-0000-4000-8000-000000000000", "trace.1:2+3/4=5_6-7", "x".repeat(128)]) {
    assert.equal(chooseRequestId(id), id);
  }
  for (const header of [undefined, "", "x".repeat(129), "has space", 'quo"te', "line\nbreak", "ünï", ["a", "b"]]) {
    assert.match(chooseRequestId(header), UUID, JSON.stringify(header));
  }
  assert.notEqual(chooseRequestId(undefined), chooseRequestId(undefined));
});

test("every answer carries its request id, whichever stack answers it", async (t) => {
  const reg = await startTestRegistry(t);
  const served = reg.fastPath.served;
  const fast = await reg.call("/v/tok", { auth: false });
  assert.equal(reg.fastPath.served, served + 1);
  const express = await reg.call("/tlog/head", { auth: false });
  const missing = await reg.call("/nowhere", { auth: false });
  const ids = [fast, express, missing].map((res) => res.headers.get("x-request-id") ?? "");
  for (const id of ids) assert.match(id, UUID);
  assert.equal(new Set(ids).size, 3);

  const given = await reg.call("/tlog/head", { auth: false, headers: { "x-request-id": "edge-42" } });
  assert.equal(given.headers.get("x-request-id"), "edge-42");
  const refused = await reg.call("/tlog/head", { auth: false, headers: { "x-request-id": "x".repeat(500) } });
  assert.match(refused.headers.get("x-request-id") ?? "", UUID);
});

test("one debug line per request, with its id, route family, status and duration", async (t) => {
  const reg = await startTestRegistry(t, {}, "debug");
  await reg.call("/v/tok", { auth: false });
  const res = await reg.call("/tlog/proof/77?tree_size=80", { auth: false, headers: { "x-request-id": "trace-7" } });
  await res.arrayBuffer();
  const lines = records(reg).filter((r) => r.msg === "request");
  assert.equal(lines.length, 2, reg.logLines.join(""));
  const [beacon, proof] = lines;
  assert.equal(beacon!.level, "debug");
  assert.equal(beacon!.route, "/v/:token");
  assert.equal(beacon!.status, 200);
  assert.match(String(beacon!.request_id), UUID);
  assert.deepEqual(
    { request_id: proof!.request_id, method: proof!.method, path: proof!.path, route: proof!.route, status: proof!.status },
    { request_id: "trace-7", method: "GET", path: "/tlog/proof/77", route: "/tlog/proof/:index", status: 404 },
  );
  assert.equal(typeof proof!.duration_ms, "number");
});

test("a failed request's error line carries the id its answer was given", async (t) => {
  const reg = await startTestRegistry(t);
  assert.equal((await reg.call("/v/tok", { auth: false })).status, 200);
  reg.service.registry.db.exec("DROP TABLE tlog_leaves");
  const res = await reg.call("/tlog/range?start=0&limit=1", { auth: false });
  assert.equal(res.status, 500);
  const id = res.headers.get("x-request-id");
  assert.match(id ?? "", UUID);
  const failed = records(reg).filter((r) => r.msg === "request failed");
  assert.equal(failed.length, 1, reg.logLines.join(""));
  assert.equal(failed[0]!.request_id, id);
  assert.equal(failed[0]!.level, "error");
});
