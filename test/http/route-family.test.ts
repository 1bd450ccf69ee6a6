import assert from "node:assert/strict";
import { test } from "node:test";
import { methodLabel, requestLabels, routeFamily, statusClass } from "../../src/http/route-family.js";

test("paths map to their route family, parameters and queries dropped", () => {
  const cases: [string, string][] = [
    ["/register", "/register"],
    ["/tlog/head", "/tlog/head"],
    ["/tlog/head/", "/tlog/head"],
    ["/TLOG/HEAD", "/tlog/head"],
    ["/tlog/range?start=0&limit=5", "/tlog/range"],
    ["/tlog/proof/7?tree_size=9", "/tlog/proof/:index"],
    ["/evidence/file-1", "/evidence/:file_id"],
    ["/p/tok.png", "/p/:name"],
    ["/r/tok", "/r/:token"],
    ["/ocsp/r/tok", "/ocsp/r/:token"],
    ["/v/tok", "/v/:token"],
    ["/lic/v/tok", "/lic/v/:token"],
    ["/tile/0/000", "/tile/*"],
    ["/tile/entries/000.p/5", "/tile/*"],
    ["/.well-known/oversight-registry", "/.well-known/oversight-registry"],
    ["/metrics", "/metrics"],
  ];
  for (const [path, family] of cases) assert.equal(routeFamily(path), family, path);
});

test("anything else is one bounded family, whatever the client sends", () => {
  for (const path of ["/", "", "/wp-login.php", `/random/${"x".repeat(5000)}`, "/p/", "/evidence/", "/tlog", "//register", "/register/x"]) {
    assert.equal(routeFamily(path), "other", path);
  }
});

test("status classes and methods come from fixed sets", () => {
  assert.deepEqual([200, 204, 304, 404, 429, 503, 101].map(statusClass), ["2xx", "2xx", "3xx", "4xx", "4xx", "5xx", "1xx"]);
  assert.deepEqual([0, 99, 600, 1000, 2.5].map(statusClass), ["other", "other", "other", "other", "other"]);
  assert.deepEqual(["GET", "POST", "BREW", "get", undefined].map(methodLabel), ["GET", "POST", "OTHER", "OTHER", "OTHER"]);
});

test("requestLabels: one reused object per set of labels, the same values routeFamily, methodLabel and statusClass give", () => {
  const first = requestLabels("/tlog/proof/7", "GET", 200);
  assert.deepEqual(first, { route: "/tlog/proof/:index", method: "GET", status: "2xx" });
  assert.equal(requestLabels("/tlog/proof/12345", "GET", 200), first, "the same set is the same object");
  assert.notEqual(requestLabels("/tlog/proof/7", "GET", 201), first, "each status keeps its own");
  assert.deepEqual(requestLabels("/tlog/proof/7", "GET", 201), first);
  assert.deepEqual(requestLabels("/nowhere?x=1", "BREW", 999), { route: "other", method: "OTHER", status: "other" });
});
