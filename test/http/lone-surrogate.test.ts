import assert from "node:assert/strict";
import { test } from "node:test";
import { createIssuer } from "../issuer.js";
import { expectEnvelope } from "./helpers.js";
import { rawExchange } from "./raw-http.js";
import { startTestRegistry, type TestRegistry } from "./registry-server.js";

/** JSON.stringify writes a lone surrogate as the escape `\ud800`, exactly what a hostile client sends. */
const LONE = "\ud800";
/** An Origin header sends a request to Express even where the fast path would take it. */
const VIA_EXPRESS = { origin: "https://refused.example" };

/** POSTs `body` on the fast path, then through Express; returns both answers. */
async function bothPaths(reg: TestRegistry, path: string, body: unknown): Promise<Response[]> {
  const served = reg.fastPath.served;
  const fast = await reg.call(path, { json: body });
  assert.equal(reg.fastPath.served, served + 1, `the fast path should take ${path}`);
  const slow = await reg.call(path, { json: body, headers: VIA_EXPRESS });
  assert.equal(reg.fastPath.served, served + 1, `Express should take ${path}`);
  return [fast, slow];
}

async function expectRefused(reg: TestRegistry, path: string, body: unknown, field: string): Promise<void> {
  const size = reg.service.log.size();
  for (const res of await bothPaths(reg, path, body)) {
    const error = await expectEnvelope(res, 400, "missing_field");
    assert.ok(String(error.message).startsWith(`${field}: `), String(error.message));
    assert.match(String(error.message), /lone UTF-16 surrogate/);
  }
  assert.equal(reg.service.log.size(), size, "nothing was written");
}

test("a lone surrogate in any /dns_event field is 400 missing_field on both paths, and nothing is written", async (t) => {
  const reg = await startTestRegistry(t);
  const valid = { token_id: "dns-token", qname: "x.example", qtype: "A", client_ip: "192.0.2.1" };
  for (const field of Object.keys(valid)) {
    await expectRefused(reg, "/dns_event", { ...valid, [field]: `a${LONE}b` }, field);
  }
  for (const res of await bothPaths(reg, "/dns_event", valid)) assert.equal(res.status, 200);
});

test("a lone surrogate in any /attribute field is 400 missing_field on both paths", async (t) => {
  const reg = await startTestRegistry(t);
  for (const field of ["token_id", "mark_id", "layer", "perceptual_hash"]) {
    await expectRefused(reg, "/attribute", { mark_id: "mark", [field]: LONE }, field);
  }
});

test("a lone surrogate in a corpus key or value is 400 missing_field on both paths; in the manifest it cannot verify", async (t) => {
  const reg = await startTestRegistry(t);
  const issuer = createIssuer();
  const registration = issuer.registration();
  await expectRefused(reg, "/register", { ...registration, corpus: { perceptual: LONE } }, "corpus.perceptual");
  await expectRefused(reg, "/register", { ...registration, corpus: { [LONE]: "value" } }, "corpus.\ufffd");
  const unsigned = { ...registration, manifest: { ...registration.manifest, original_filename: LONE } };
  for (const res of await bothPaths(reg, "/register", unsigned)) await expectEnvelope(res, 400, "signature_invalid");
});

test("beacon tokens and user agents cannot carry a lone surrogate: both paths record well-formed text", async (t) => {
  const reg = await startTestRegistry(t);
  // %ED%A0%80 is the UTF-8-style encoding of U+D800, which decodeURIComponent refuses.
  for (const headers of [{}, VIA_EXPRESS]) {
    await expectEnvelope(await reg.call("/p/%ED%A0%80.png", { auth: false, headers }), 400, "missing_field");
  }
  // Header bytes ED A0 80 are read as latin1 text, which is always well-formed.
  for (const origin of ["", "Origin: https://refused.example\r\n"]) {
    const request = Buffer.concat([
      Buffer.from(`GET /v/ua-token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${origin}User-Agent: `),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from("\r\n\r\n"),
    ]);
    assert.equal((await rawExchange(reg.url, request)).status, 200);
    const [entry] = reg.service.log.range(reg.service.log.size() - 1, 1).entries;
    assert.equal(JSON.parse(entry!.leaf_data).user_agent, "\u00ed\u00a0\u0080");
  }
});
