import assert from "node:assert/strict";
import { test } from "node:test";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { verifyEvidenceBundle } from "../../src/verify/evidence.js";
import { verifyEvidencePages } from "../../src/verify/evidence-pages.js";
import { VERIFY_EXIT, verifyEvidenceCommand } from "../../src/ops/verify-evidence.js";
import { captureIo } from "../ops/monitor-support.js";
import { tempDir } from "../temp.js";
import { EVIDENCE_PAGE_EVENTS, PROOFS_PER_TURN } from "../../src/registry/evidence.js";
import { createIssuer } from "../issuer.js";
import { expectEnvelope } from "./helpers.js";
import { startTestRegistry, type TestRegistry } from "./registry-server.js";

async function hits(reg: TestRegistry, tokenId: string, count: number): Promise<void> {
  const events = reg.service.events;
  await Promise.all(Array.from({ length: count }, (_, i) => events.beacon({ kind: "http_img", tokenId, sourceIp: "192.0.2.9", userAgent: `reader ${i}` })));
}

test("evidence pages: chain to exactly the snapshot's events, each verifies, the cursor ignores newer events, a page is built in slices, bad cursors are 400", async (t) => {
  const reg = await startTestRegistry(t);
  const issuer = createIssuer();
  const body = issuer.registration({ file_id: "paged-file" });
  await reg.call("/register", { json: body });
  const token = (body.beacons[0] as { token_id: string }).token_id;
  const total = 2 * EVIDENCE_PAGE_EVENTS + 7;
  await hits(reg, token, total);

  const firstRes = await reg.call("/evidence/paged-file");
  const first = await firstRes.json();
  assert.equal(firstRes.status, 200, JSON.stringify(first));
  const size = first.tlog_head.size;
  assert.equal(size, total + 1);
  assert.equal(first.events.length, EVIDENCE_PAGE_EVENTS);
  assert.equal(typeof first.next_cursor, "string");
  await hits(reg, token, 20);

  const pages = [first];
  while (pages.at(-1).next_cursor !== undefined) {
    const res = await reg.call(`/evidence/paged-file?cursor=${encodeURIComponent(pages.at(-1).next_cursor)}`);
    assert.equal(res.status, 200);
    pages.push(await res.json());
  }
  assert.equal(pages.length, 3);
  const ids = pages.flatMap((page) => page.events.map((e: { id: number }) => e.id));
  const expected = reg.service.registry.db
    .prepare("SELECT id FROM events WHERE file_id = ? AND tlog_index < ? ORDER BY timestamp, id")
    .pluck()
    .all("paged-file", size);
  assert.deepEqual(ids, expected);
  for (const page of pages) {
    assert.deepEqual(page.tlog_head, first.tlog_head);
    assert.equal(page.tlog_proofs.length, page.events.length);
    const failed = verifyEvidenceBundle(page, { registryPub: reg.service.registry.identity.publicKeyHex }).filter((c) => c.status !== "ok");
    assert.deepEqual(failed, []);
  }

  // A full page is built in slices of PROOFS_PER_TURN proofs and signed in one more slice;
  // the counter starts once the first slice is done, so it sees every turn but one.
  const slices = Math.ceil(EVIDENCE_PAGE_EVENTS / PROOFS_PER_TURN) + 1;
  let turns = 0;
  let built = false;
  const count = () => {
    turns++;
    if (!built) setImmediate(count);
  };
  const building = reg.service.evidence.bundle("paged-file");
  setImmediate(count);
  assert.equal(JSON.parse((await building).toString("utf8")).events.length, EVIDENCE_PAGE_EVENTS);
  built = true;
  assert.ok(turns >= slices - 2, `the event loop turned ${turns} times while the page was built`);

  const now = await (await reg.call("/evidence/paged-file")).json();
  assert.equal(now.tlog_head.size, size + 20);

  for (const cursor of ["", "abc", "1.2", "0.0.0", `${size + 21}.0.0`, "1.0.0.0", "99999999999999999.0.0"]) {
    const res = await reg.call(`/evidence/paged-file?cursor=${encodeURIComponent(cursor)}`);
    await expectEnvelope(res as Response, 400, "missing_field");
  }
  await expectEnvelope((await reg.call("/evidence/paged-file?cursor=1.0.0&cursor=2.0.0")) as Response, 400, "missing_field");
});

test("verify-evidence: follows every page of a URL, says a file is one page, and refuses pages of different heads", async (t) => {
  const reg = await startTestRegistry(t);
  const issuer = createIssuer();
  const body = issuer.registration({ file_id: "paged-cli" });
  await reg.call("/register", { json: body });
  const token = (body.beacons[0] as { token_id: string }).token_id;
  await hits(reg, token, EVIDENCE_PAGE_EVENTS + 1);
  const url = `${reg.url}/evidence/paged-cli`;
  const pub = reg.service.registry.identity.publicKeyHex;

  const fromUrl = captureIo();
  assert.equal(await verifyEvidenceCommand([url, "--registry-pub", pub], fromUrl.io), VERIFY_EXIT.ok, fromUrl.stdout());
  assert.match(fromUrl.stdout(), /^ok page 2: event row 0 inclusion/m);
  assert.match(fromUrl.stdout(), new RegExp(`^ok 2 pages: one file, one head, ${EVIDENCE_PAGE_EVENTS + 1} distinct events$`, "m"));
  assert.doesNotMatch(fromUrl.stdout(), /^skip/m);

  const first = await (await reg.call("/evidence/paged-cli")).json();
  const file = path.join(tempDir(t), "page.json");
  writeFileSync(file, JSON.stringify(first));
  const fromFile = captureIo();
  assert.equal(await verifyEvidenceCommand([file, "--registry-pub", pub], fromFile.io), VERIFY_EXIT.ok, fromFile.stdout());
  assert.match(fromFile.stdout(), new RegExp(`^skip later pages \\(the bundle continues at cursor ${first.next_cursor.replaceAll(".", "\\.")};`, "m"));

  await hits(reg, token, 1);
  const later = await (await reg.call("/evidence/paged-cli")).json();
  const mixed = verifyEvidencePages([first, later], { registryPub: pub }).filter((c) => c.status === "fail");
  assert.deepEqual(
    mixed.map((c) => c.what),
    ["2 pages"],
  );
  assert.match(mixed[0]!.detail!, /another tree head/);
});

test("evidence pages are built one at a time, in the order asked, and a page that fails does not hold up the next", async (t) => {
  const reg = await startTestRegistry(t);
  const body = createIssuer().registration({ file_id: "turns-file" });
  await reg.call("/register", { json: body });
  await hits(reg, (body.beacons[0] as { token_id: string }).token_id, EVIDENCE_PAGE_EVENTS);
  const evidence = reg.service.evidence;
  const settled: string[] = [];
  const note = (name: string, page: Promise<unknown>) =>
    page.then(
      () => settled.push(`${name} ok`),
      (error: { code?: string }) => settled.push(`${name} ${error.code}`),
    );
  // The unknown file fails at its first statement: built beside the full page, it would fail first.
  await Promise.all([
    note("full", evidence.bundle("turns-file")),
    note("unknown", evidence.bundle("no-such-file")),
    note("again", evidence.bundle("turns-file")),
  ]);
  assert.deepEqual(settled, ["full ok", "unknown not_found", "again ok"]);
});
