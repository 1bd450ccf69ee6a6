/**
 * Heads are published behind the write path and never on a read: a write is
 * acknowledged once its commit is durable, and a read that needs a size the
 * published head does not cover yet waits for the publication under way. The
 * publication is held by a state file whose writes the test releases (or
 * fails), so every race here is forced, not hoped for.
 */
import assert from "node:assert/strict";
import { EventEmitter, once } from "node:events";
import { test, type TestContext } from "node:test";
import { verifyTreeHead } from "../../src/tlog/heads.js";
import { readStateFile, signedHeadFile, SignedHeadRow, StateFileWriter, type SignedRecord, type StateFileSink } from "../../src/tlog/signed-head-record.js";
import { formatTilePath } from "../../src/tlog/tile-path.js";
import { createIssuer } from "../issuer.js";
import { samples } from "./metrics-text.js";
import { envelope, startTestRegistry, type TestRegistry } from "./registry-server.js";

/** A guard against a hang, should a write wait for its head after all; never waited for when the test passes. */
const HANG_GUARD = { timeout: 60_000 };
const VIA_EXPRESS = { origin: "https://refused.example" };

/** The real state file, with writes the test can hold until it releases them, or fail. */
class HeldStateFile {
  readonly writes = new EventEmitter();
  private held: Promise<void> | null = null;
  private releaseHeld = () => {};
  failing: Error | null = null;

  readonly open = (file: string): StateFileSink => {
    const real = new StateFileWriter(file);
    return {
      write: async (record: SignedRecord) => {
        this.writes.emit("write", record);
        if (this.held) await this.held;
        if (this.failing) throw this.failing;
        await real.write(record);
      },
      close: () => real.close(),
    };
  };

  hold(): void {
    this.held = new Promise((resolve) => (this.releaseHeld = resolve));
  }

  release(): void {
    this.held = null;
    this.releaseHeld();
  }

  /** Resolves with the record of the next publication that reaches the file. */
  nextWrite(): Promise<SignedRecord> {
    return once(this.writes, "write").then(([record]) => record as SignedRecord);
  }
}

/** Every commit's publication starts as soon as none runs (no gap), so each is seen on its own. */
async function startHeld(t: TestContext, dataDir?: string): Promise<{ reg: TestRegistry; file: HeldStateFile }> {
  const file = new HeldStateFile();
  const reg = await startTestRegistry(t, { openStateFile: file.open, headPublicationGapMs: 0, ...(dataDir ? { dataDir } : {}) }, "info");
  return { reg, file };
}

/** Resolves with the next line the server logs that contains `text`. */
function logs(reg: TestRegistry, text: string): Promise<string> {
  return new Promise((resolve) => {
    const seen = (line: string) => {
      if (!line.includes(text)) return;
      reg.logged.off("line", seen);
      resolve(line);
    };
    reg.logged.on("line", seen);
  });
}

/** Registers a file and logs one DNS event for its beacon; returns the event's leaf once its head is published. */
async function registerWithEvent(reg: TestRegistry, fileId: string): Promise<{ token: string; index: number }> {
  const body = createIssuer().registration({ file_id: fileId });
  assert.equal((await reg.call("/register", { json: body })).status, 200);
  const token = (body.beacons[0] as { token_id: string }).token_id;
  const index = await dnsEvent(reg, token);
  assert.equal((await reg.call("/tlog/head")).status, 200);
  return { token, index };
}

async function dnsEvent(reg: TestRegistry, token: string): Promise<number> {
  const answer = await reg.call("/dns_event", { json: { token_id: token, qtype: "A", qname: `${token}.t.example` }, auth: false });
  assert.equal(answer.status, 200);
  return (await answer.json()).tlog_index;
}

/** Resolves once the server has taken `count` more requests (its handlers have run up to their first wait). */
function requestsTaken(reg: TestRegistry, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const taken = () => {
      if (++seen < count) return;
      reg.http.off("request", taken);
      resolve();
    };
    reg.http.on("request", taken);
  });
}

test("a write is acknowledged while the head covering it is still being published", HANG_GUARD, async (t) => {
  const { reg, file } = await startHeld(t);
  const { token, index: before } = await registerWithEvent(reg, "ack-file");
  file.hold();
  const publishing = file.nextWrite();
  const index = await dnsEvent(reg, token);
  assert.equal((await publishing).size, index + 1, "its publication is under way, held at the state file");
  assert.equal(new SignedHeadRow(reg.service.registry.db).read()?.size, index + 1, "the row committed with the leaf");
  assert.equal(readStateFile(signedHeadFile(reg.dataDir))?.size, before + 1, "the state file does not cover it yet");
  assert.ok(reg.service.log.head() instanceof Promise, "a read of the head waits");
  file.release();
  assert.equal((await reg.service.log.head()).size, index + 1);
  assert.equal(readStateFile(signedHeadFile(reg.dataDir))?.size, index + 1);
});

test(
  "every read naming the new size waits for the publication under way and covers the acknowledged write, on the fast path and through Express",
  HANG_GUARD,
  async (t) => {
    const { reg, file } = await startHeld(t);
    const { token } = await registerWithEvent(reg, "ryw-file");
    file.hold();
    const publishing = file.nextWrite();
    const index = await dnsEvent(reg, token);
    await publishing;
    const size = index + 1;

    const reads = {
      head: "/tlog/head",
      checkpoint: "/checkpoint",
      proof: `/tlog/proof/${index}`,
      proofExpress: `/tlog/proof/${index}`,
      proofAtSize: `/tlog/proof/${index}?tree_size=${size}`,
      consistency: "/tlog/consistency?first=1",
      tile: `/${formatTilePath({ index: 0, width: size, entries: true })}`,
      evidence: "/evidence/ryw-file",
    };
    const taken = requestsTaken(reg, Object.keys(reads).length);
    const servedBefore = reg.fastPath.served;
    const answers = Object.fromEntries(
      Object.entries(reads).map(([name, pathname]) => [
        name,
        reg.call(pathname, { auth: false, ...(name === "proofExpress" ? { headers: VIA_EXPRESS } : {}) }),
      ]),
    );
    await taken;
    assert.equal(readStateFile(signedHeadFile(reg.dataDir))?.size, index, "every read arrived while the publication was held");
    file.release();

    const got = Object.fromEntries(await Promise.all(Object.entries(answers).map(async ([name, answer]) => [name, await answer] as const)));
    for (const [name, answer] of Object.entries(got)) assert.equal(answer.status, 200, name);
    assert.equal(reg.fastPath.served - servedBefore, Object.keys(reads).length - 1, "all but the Origin one took the fast path");
    const head = await got.head!.json();
    assert.equal(head.size, size);
    assert.ok(verifyTreeHead(head, reg.service.registry.identity.publicKeyHex));
    assert.equal((await got.checkpoint!.text()).split("\n")[1], String(size));
    for (const name of ["proof", "proofExpress", "proofAtSize"]) {
      const proof = await got[name]!.json();
      assert.deepEqual([proof.tree_size, proof.root], [size, head.root], name);
    }
    assert.equal((await got.consistency!.json()).second, size);
    assert.equal(Buffer.from(await got.tile!.arrayBuffer()).length > 0, true);
    const bundle = await got.evidence!.json();
    assert.equal(bundle.tlog_head.size, size);
    assert.ok(
      bundle.tlog_proofs.some((item: { tlog_index: number }) => item.tlog_index === index),
      "the bundle proves the new event",
    );
  },
);

test("with the database refusing writes (as on a full disk), writes answer 503 and every read keeps answering", async (t) => {
  const reg = await startTestRegistry(t);
  const { token, index: last } = await registerWithEvent(reg, "full-disk-file");

  // From here on every write fails and SQLite rolls its whole transaction back, as it may on a full disk (SQLITE_FULL).
  reg.service.registry.db.exec("CREATE TRIGGER full_disk BEFORE INSERT ON tlog_leaves BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full'); END");
  const refused = await reg.call("/dns_event", { json: { token_id: token }, auth: false });
  assert.equal(refused.status, 503);
  assert.equal((await envelope(refused)).code, "server_error");

  const head = await reg.call("/tlog/head");
  assert.equal(head.status, 200);
  const signed = await head.json();
  assert.equal(signed.size, last + 1);
  assert.ok(verifyTreeHead(signed, reg.service.registry.identity.publicKeyHex));
  const checkpoint = await reg.call("/checkpoint");
  assert.equal(checkpoint.status, 200);
  assert.equal((await checkpoint.text()).split("\n")[1], String(last + 1));
  const proof = await reg.call(`/tlog/proof/${last}`);
  assert.equal(proof.status, 200);
  assert.equal((await proof.json()).root, signed.root);
  const bundle = await reg.call("/evidence/full-disk-file");
  assert.equal(bundle.status, 200);
  assert.equal((await bundle.json()).tlog_head.size, last + 1);
  assert.equal((await reg.call("/health")).status, 200);
});

test(
  "a publication that fails leaves reads on the last published head (503 with retry_after for a size it cannot serve), is logged once and counted, and the next commit publishes",
  HANG_GUARD,
  async (t) => {
    const { reg, file } = await startHeld(t);
    const { token, index: published } = await registerWithEvent(reg, "failing-file");
    file.failing = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    const first = await dnsEvent(reg, token);
    const second = await dnsEvent(reg, token);
    // Each read waits for the publication under way, if any, and then answers from what is published.
    const head = await reg.call("/tlog/head");
    assert.equal(head.status, 200);
    assert.equal((await head.json()).size, published + 1, "the last published head");
    assert.equal((await reg.call("/checkpoint")).status, 200);
    assert.equal((await reg.call(`/tlog/proof/${published}`)).status, 200);
    const evidence = await reg.call("/evidence/failing-file");
    assert.equal(evidence.status, 200);
    assert.equal((await evidence.json()).tlog_head.size, published + 1);
    for (const pathname of [`/tlog/proof/${second}`, `/tlog/proof/${published}?tree_size=${second + 1}`, `/tlog/consistency?first=1&second=${second + 1}`]) {
      const unserved = await reg.call(pathname);
      assert.equal(unserved.status, 503, pathname);
      const error = await envelope(unserved);
      assert.deepEqual([error.code, error.retry_after, unserved.headers.get("retry-after")], ["server_error", 1, "1"], pathname);
    }
    assert.equal((await reg.call(`/tlog/proof/${second + 1}`)).status, 404, "a leaf the log does not have is still not found");
    assert.equal(readStateFile(signedHeadFile(reg.dataDir))?.size, published + 1);

    const failures = reg.logLines.filter((line) => line.includes("could not publish a tree head"));
    assert.equal(failures.length, 1, "logged once for the run of failures");
    assert.match(failures[0]!, /ENOSPC/);
    const metrics = samples(await (await reg.call("/metrics")).text());
    assert.equal(metrics.get("tlog_head_publication_failures_total"), 2, "one per failed publication");

    file.failing = null;
    const third = await dnsEvent(reg, token);
    const recovered = await (await reg.call("/tlog/head")).json();
    assert.equal(recovered.size, third + 1, "the next commit's publication covers every earlier one");
    assert.ok(first < third);
    assert.equal(readStateFile(signedHeadFile(reg.dataDir))?.size, third + 1);
  },
);

test("on shutdown the head of every acknowledged write is published, and a head the state file missed is recomputed on start", HANG_GUARD, async (t) => {
  const { reg, file } = await startHeld(t);
  const { token } = await registerWithEvent(reg, "shutdown-file");
  file.hold();
  const publishing = file.nextWrite();
  const held = await dnsEvent(reg, token);
  await publishing;
  const waiting = logs(reg, "waiting for the tree head publication under way");
  const closed = reg.close();
  await waiting;
  file.release();
  await closed;
  assert.equal(readStateFile(signedHeadFile(reg.dataDir))?.size, held + 1, "close waited for the publication");

  // A process that stops before writing the state file (here: every write of it fails) leaves it behind the row.
  const again = await startHeld(t, reg.dataDir);
  again.file.failing = new Error("EIO: i/o error, write");
  const lost = await dnsEvent(again.reg, token);
  await again.reg.close();
  assert.equal(readStateFile(signedHeadFile(reg.dataDir))?.size, held + 1);

  const restarted = await startTestRegistry(t, { dataDir: reg.dataDir });
  assert.equal(restarted.service.registry.fork, null, "the fork guards accept the log");
  const head = await (await restarted.call("/tlog/head")).json();
  assert.equal(head.size, lost + 1, "the acknowledged write is covered");
  assert.equal(readStateFile(signedHeadFile(reg.dataDir))?.size, lost + 1, "and the state file brought up to it at start");
});
