import assert from "node:assert/strict";
import { test } from "node:test";
import { createIssuer, type TestIssuer } from "../issuer.js";
import { startTestRegistry, type TestRegistry } from "./registry-server.js";

/** An Origin header sends a request to Express even where the fast path would take it. */
const VIA_EXPRESS = { origin: "https://refused.example" };

async function register(reg: TestRegistry, issuer: TestIssuer, fileId: string, extra: Record<string, unknown>, corpus?: Record<string, string>) {
  const body = { ...issuer.registration({ file_id: fileId, ...extra }), ...(corpus ? { corpus } : {}) };
  const res = await reg.call("/register", { json: body });
  assert.equal(res.status, 200, await res.clone().text());
  return { tlogIndex: (await res.json()).tlog_index as number, body };
}

/** The /attribute answer, the same on the fast path and through Express. */
async function attribute(reg: TestRegistry, request: Record<string, string>) {
  const fast = await (await reg.call("/attribute", { json: request })).json();
  const slow = await (await reg.call("/attribute", { json: request, headers: VIA_EXPRESS })).json();
  assert.deepEqual(fast, slow);
  return fast;
}

test("a mark registered by a second issuer under another layer does not redirect /attribute; the second claim is listed", async (t) => {
  const reg = await startTestRegistry(t);
  const a = createIssuer("issuer-a");
  const b = createIssuer("issuer-b");
  const first = await register(reg, a, "file-a", { watermarks: [{ mark_id: "shared-mark", layer: "L1_zero_width" }], beacons: [] });
  const second = await register(reg, b, "file-b", { watermarks: [{ mark_id: "shared-mark", layer: "L2_whitespace" }], beacons: [] });
  assert.ok(first.tlogIndex < second.tlogIndex);

  const answer = await attribute(reg, { mark_id: "shared-mark" });
  assert.equal(answer.file_id, "file-a");
  assert.equal(answer.issuer_id, "issuer-a");
  assert.deepEqual(answer.other_claimants, [{ file_id: "file-b", issuer_id: "issuer-b", issuer_pub: b.signer.publicKeyHex, tlog_index: second.tlogIndex }]);

  const exact = await attribute(reg, { mark_id: "shared-mark", layer: "L2_whitespace" });
  assert.equal(exact.file_id, "file-b");
  assert.equal("other_claimants" in exact, false, "a (mark, layer) pair has one owner");
});

test("a perceptual hash registered again by a second issuer does not redirect /attribute; the second claim is listed", async (t) => {
  const reg = await startTestRegistry(t);
  const a = createIssuer("issuer-a");
  const b = createIssuer("issuer-b");
  const c = createIssuer("issuer-c");
  await register(reg, a, "file-a", {}, { perceptual: "phash-1" });
  const second = await register(reg, b, "file-b", {}, { perceptual: "phash-1" });
  const third = await register(reg, c, "file-c", {}, { perceptual: "phash-1" });

  const answer = await attribute(reg, { perceptual_hash: "phash-1" });
  assert.equal(answer.file_id, "file-a");
  assert.equal(answer.issuer_id, "issuer-a");
  assert.deepEqual(answer.other_claimants, [
    { file_id: "file-b", issuer_id: "issuer-b", issuer_pub: b.signer.publicKeyHex, tlog_index: second.tlogIndex },
    { file_id: "file-c", issuer_id: "issuer-c", issuer_pub: c.signer.publicKeyHex, tlog_index: third.tlogIndex },
  ]);
});

test("an unambiguous answer has no other_claimants member", async (t) => {
  const reg = await startTestRegistry(t);
  const { body } = await register(reg, createIssuer("issuer-a"), "file-a", {}, { perceptual: "phash-2" });
  const token = (body.beacons[0] as { token_id: string }).token_id;
  const mark = (body.watermarks[0] as { mark_id: string }).mark_id;
  const requests: Record<string, string>[] = [{ token_id: token }, { mark_id: mark }, { perceptual_hash: "phash-2" }];
  for (const request of requests) {
    const answer = await attribute(reg, request);
    assert.equal(answer.file_id, "file-a", JSON.stringify(request));
    assert.equal("other_claimants" in answer, false, JSON.stringify(request));
  }
  assert.deepEqual(await attribute(reg, { mark_id: "nobody" }), { found: false });
});

test("re-registering a file keeps the rank of its first claim on a mark or hash, and a mark it adds later ranks after earlier claims", async (t) => {
  const reg = await startTestRegistry(t);
  const a = createIssuer("issuer-a");
  const b = createIssuer("issuer-b");
  const mark = (mark_id: string, layer: string) => ({ mark_id, layer });
  const first = await register(reg, a, "file-a", { watermarks: [mark("kept", "L1_zero_width")], beacons: [] }, { perceptual: "phash-kept" });
  const rival = await register(
    reg,
    b,
    "file-b",
    { watermarks: [mark("kept", "L2_whitespace"), mark("added", "L2_whitespace")], beacons: [] },
    {
      perceptual: "phash-kept",
    },
  );
  // issuer-a registers its file again (a changed manifest: a new leaf), now also claiming "added".
  const again = await register(
    reg,
    a,
    "file-a",
    { watermarks: [mark("kept", "L1_zero_width"), mark("added", "L1_zero_width")], beacons: [], size_bytes: 1 },
    {
      perceptual: "phash-kept",
    },
  );
  assert.ok(first.tlogIndex < rival.tlogIndex && rival.tlogIndex < again.tlogIndex);

  const rivalClaim = { file_id: "file-b", issuer_id: "issuer-b", issuer_pub: b.signer.publicKeyHex, tlog_index: rival.tlogIndex };
  for (const request of [{ mark_id: "kept" }, { perceptual_hash: "phash-kept" }] as Record<string, string>[]) {
    const answer = await attribute(reg, request);
    assert.equal(answer.file_id, "file-a", JSON.stringify(request));
    assert.deepEqual(answer.other_claimants, [rivalClaim], JSON.stringify(request));
  }
  const added = await attribute(reg, { mark_id: "added" });
  assert.equal(added.file_id, "file-b", "a claim made after the rival's ranks after it, whatever the file's first registration");
  assert.deepEqual(added.other_claimants, [{ file_id: "file-a", issuer_id: "issuer-a", issuer_pub: a.signer.publicKeyHex, tlog_index: again.tlogIndex }]);
});
