import assert from "node:assert/strict";
import { test } from "node:test";
import { INSPECTOR_CSP } from "../../src/http/routes/inspector.js";
import { envelope, startTestRegistry } from "./registry-server.js";

test("GET / serves the inspector page and its hashed files under the page's own strict policy", async (t) => {
  const reg = await startTestRegistry(t);
  const page = await reg.call("/", { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" }, auth: false });
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type")!, /^text\/html; charset=utf-8/);
  assert.equal(page.headers.get("cache-control"), "no-cache");
  assert.equal(page.headers.get("content-security-policy"), INSPECTOR_CSP);
  assert.doesNotMatch(INSPECTOR_CSP, /unsafe-inline|unsafe-eval/);
  const html = await page.text();
  assert.doesNotMatch(html, /<script>|<style>| style=| on[a-z]+=/, "nothing inline for the policy to refuse");
  const files = [...html.matchAll(/(?:src|href)="\/web\/([^"]+)"/g)].map((m) => m[1]!);
  assert.equal(files.length, 2, html);
  for (const file of files) {
    assert.match(file, /^(main|style)-[A-Z0-9]{8}\.(js|css)$/, "content-hashed names");
    const asset = await reg.call(`/web/${file}`, { auth: false });
    assert.equal(asset.status, 200, file);
    assert.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.match(asset.headers.get("content-type")!, file.endsWith(".js") ? /^text\/javascript/ : /^text\/css/);
    assert.ok((await asset.arrayBuffer()).byteLength > 1000, file);
  }
});

test("GET / for a client that asks for JSON stays the v1 404 envelope, and so does an unknown page file", async (t) => {
  const reg = await startTestRegistry(t);
  const json = await reg.call("/", { headers: { accept: "application/json" }, auth: false });
  assert.equal(json.status, 404);
  assert.equal((await envelope(json)).code, "not_found");
  const missing = await reg.call("/web/main-AAAAAAAA.js", { auth: false });
  assert.equal(missing.status, 404);
  assert.equal((await envelope(missing)).code, "not_found");
});
