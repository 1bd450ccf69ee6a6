import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test, type TestContext } from "node:test";
import Database from "better-sqlite3";
import { IDENTITY_FILE, readIdentity } from "../../src/core/identity.js";
import { runMigration } from "../../src/ops/migrate.js";
import { progressReporter } from "../../src/ops/progress.js";
import { validateDatabase, ValidationError, type ValidationReport } from "../../src/ops/validate.js";
import { LOG_FIELDS } from "../../src/ops/validate-log.js";
import { ROW_FIELDS } from "../../src/ops/validate-rows.js";
import { openDatabase } from "../../src/registry/database.js";
import { MIGRATIONS } from "../../src/registry/schema.js";
import { beaconLeaf } from "../../src/registry/leaves.js";
import { isoSeconds, systemClock } from "../../src/registry/time.js";
import { HeadSigner } from "../../src/tlog/head-signer.js";
import { nodeId } from "../../src/tlog/schema.js";
import { readStateFile, signedHeadFile } from "../../src/tlog/signed-head-record.js";
import { TlogStore } from "../../src/tlog/store.js";
import { tempDir } from "../temp.js";
import { startTestRegistry } from "../http/registry-server.js";
import { copyFixture, copyFixtureTo } from "./migrate-support.js";
import { runMain } from "./monitor-support.js";

const PROBLEM_FIELDS = ["sqlite_integrity_errors", ...ROW_FIELDS, ...LOG_FIELDS] as const;

/** The fixture migrated once; every test works on its own copy. */
let golden: { dir: string; dbPath: string };
let goldenRoot: string | undefined;

after(() => {
  if (goldenRoot) rmSync(goldenRoot, { recursive: true, force: true });
});

before(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "validate-golden-"));
  goldenRoot = dir;
  const dataDir = path.join(dir, "data");
  const dbPath = path.join(dataDir, "registry.sqlite");
  await runMigration({ dbPath, dataDir, sourcePath: copyFixtureTo(path.join(dir, "source")), dryRun: false });
  golden = { dir: dataDir, dbPath };
});

function copyGolden(t: TestContext): { dataDir: string; dbPath: string } {
  const dataDir = tempDir(t, "validate-");
  const dbPath = path.join(dataDir, "registry.sqlite");
  copyFileSync(golden.dbPath, dbPath);
  copyFileSync(path.join(golden.dir, IDENTITY_FILE), path.join(dataDir, IDENTITY_FILE));
  return { dataDir, dbPath };
}

function withDb<T>(dbPath: string, change: (db: Database.Database) => T): T {
  const db = openDatabase(dbPath);
  try {
    return change(db);
  } finally {
    db.close();
  }
}

const one = (db: Database.Database, sql: string, ...params: unknown[]): any =>
  db
    .prepare(sql)
    .pluck()
    .get(...params);

/** Every problem field is zero except those named, which have exactly the counts given. */
function assertFindings(report: ValidationReport, expected: Record<string, number>): void {
  const actual = Object.fromEntries(PROBLEM_FIELDS.map((f) => [f, report[f]]).filter(([, n]) => n !== 0));
  assert.deepEqual(actual, expected, JSON.stringify(report.examples));
  assert.equal(report.ok, Object.keys(expected).length === 0);
}

const flip = (bytes: Buffer, at = 0): Buffer => {
  const copy = Buffer.from(bytes);
  copy[at]! ^= 0x01;
  return copy;
};

function editManifest(db: Database.Database, fileId: string, edit: (m: Record<string, unknown>) => void): void {
  const manifest = JSON.parse(one(db, "SELECT manifest_json FROM manifests WHERE file_id = ?", fileId)) as Record<string, unknown>;
  edit(manifest);
  db.prepare("UPDATE manifests SET manifest_json = ? WHERE file_id = ?").run(JSON.stringify(manifest), fileId);
}

/** A non-DNS event of a known file, and one of its beacons. */
const FIRST_EVENT = "SELECT id FROM events WHERE kind != 'dns' AND file_id IS NOT NULL ORDER BY id LIMIT 1";
const FIRST_FILE = "SELECT file_id FROM manifests ORDER BY file_id LIMIT 1";

test("the migrated fixture validates clean; validation changes no byte of the database", async (t) => {
  const { dataDir, dbPath } = copyGolden(t);
  const hash = () => createHash("sha256").update(readFileSync(dbPath)).digest("hex");
  const before = hash();
  const report = await validateDatabase({ dbPath, dataDir });
  assertFindings(report, {});
  assert.deepEqual(report.counts, { manifests: 24, beacons: 57, watermarks: 52, events: 80, corpus: 12 });
  assert.equal(report.tlog_size, 107);
  assert.equal(report.tlog_root, "c10b04411301093614cc9cd6fc3083aa60c3e82495055908ef8471129ddb9946");
  assert.deepEqual(report.signed_heads, []);
  assert.deepEqual(report.examples, {});
  assert.equal(report.aborted, null);
  assert.deepEqual(report.event_timestamp_drift, { count: 0, max_seconds: 0 });
  assert.equal(hash(), before);
});

test("a log that extends its signed heads (database row and state file) passes", async (t) => {
  const { dataDir, dbPath } = copyGolden(t);
  withDb(dbPath, (db) => {
    const store = new TlogStore(db);
    const signer = readIdentity(dataDir)!.signer;
    new HeadSigner({ db, store, signer, origin: "test.example/log", stateFile: signedHeadFile(dataDir), clock: systemClock }).publishCurrent();
    const now = 1_795_400_000;
    db.transaction(() => {
      const fields = { tokenId: "unknown-late", sourceIp: "198.51.100.7", userAgent: "ua", timestamp: isoSeconds(now) };
      const index = store.append(beaconLeaf({ kind: "ocsp", fileId: null, recipientId: null, ...fields }));
      db.prepare(
        `INSERT INTO events (token_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index)
         VALUES (?, 'ocsp', ?, ?, '{}', ?, ?, ?)`,
      ).run(fields.tokenId, fields.sourceIp, fields.userAgent, now, fields.timestamp, index);
    })();
  });
  const report = await validateDatabase({ dbPath, dataDir });
  assertFindings(report, {});
  assert.equal(report.tlog_size, 108);
  assert.deepEqual(
    report.signed_heads.map((h) => [h.source, h.size, h.extended]),
    [
      ["database", 107, true],
      ["state file", 107, true],
    ],
  );
});

interface Corruption {
  name: string;
  /** Changes the database; returns the id expected among the first field's examples. */
  apply(db: Database.Database, dataDir: string): string | number;
  expected: Record<string, number>;
}

const CORRUPTIONS: Corruption[] = [
  {
    name: "an orphan beacon",
    apply: (db) => {
      db.prepare("INSERT INTO beacons VALUES ('ghost-token', 'ghost-file', 'r', 'i', 'dns', 0)").run();
      return "ghost-token";
    },
    expected: { orphan_beacons: 1 },
  },
  {
    name: "an orphan watermark",
    apply: (db) => {
      db.prepare(
        "INSERT INTO watermarks (mark_id, layer, file_id, recipient_id, issuer_id, registered_at) VALUES ('ghost-mark', 'L1_zero_width', 'ghost-file', 'r', 'i', 0)",
      ).run();
      return "ghost-mark/L1_zero_width";
    },
    expected: { orphan_watermarks: 1 },
  },
  {
    name: "an orphan event",
    apply: (db) => {
      const id = one(db, FIRST_EVENT);
      db.prepare("UPDATE events SET file_id = 'ghost-file' WHERE id = ?").run(id);
      return id;
    },
    expected: { orphan_events: 1, event_tlog_leaf_mismatches: 1 },
  },
  {
    name: "an orphan corpus row",
    apply: (db) => {
      db.prepare("INSERT INTO corpus (file_id, hash_kind, hash_value, metadata, registered_at) VALUES ('ghost-file', 'winnowing', 'abc', NULL, 0)").run();
      return "ghost-file/winnowing/abc";
    },
    expected: { orphan_corpus: 1 },
  },
  {
    name: "a beacon whose recipient differs from its manifest's",
    apply: (db) => {
      const token = one(db, "SELECT token_id FROM beacons ORDER BY token_id LIMIT 1");
      db.prepare("UPDATE beacons SET recipient_id = 'mallory' WHERE token_id = ?").run(token);
      return token;
    },
    expected: { beacon_identity_mismatches: 1 },
  },
  {
    name: "a watermark whose issuer differs from its manifest's",
    apply: (db) => {
      const [mark, layer] = db.prepare("SELECT mark_id, layer FROM watermarks ORDER BY rowid LIMIT 1").raw().get() as [string, string];
      db.prepare("UPDATE watermarks SET issuer_id = 'mallory' WHERE mark_id = ? AND layer = ?").run(mark, layer);
      return `${mark}/${layer}`;
    },
    expected: { watermark_identity_mismatches: 1 },
  },
  {
    name: "an event whose issuer differs from its manifest's",
    apply: (db) => {
      const id = one(db, FIRST_EVENT);
      db.prepare("UPDATE events SET issuer_id = 'mallory' WHERE id = ?").run(id);
      return id;
    },
    expected: { event_identity_mismatches: 1 },
  },
  {
    name: "malformed event extra JSON",
    apply: (db) => {
      const id = one(db, FIRST_EVENT);
      db.prepare("UPDATE events SET extra = '{oops' WHERE id = ?").run(id);
      return id;
    },
    expected: { malformed_event_extra_json: 1 },
  },
  {
    name: "malformed corpus metadata JSON",
    apply: (db) => {
      const row = db.prepare("SELECT file_id, hash_kind, hash_value FROM corpus ORDER BY rowid LIMIT 1").raw().get() as string[];
      db.prepare("UPDATE corpus SET metadata = '[1,' WHERE file_id = ? AND hash_kind = ? AND hash_value = ?").run(...row);
      return row.join("/");
    },
    expected: { malformed_corpus_metadata_json: 1 },
  },
  {
    name: "two events sharing a tlog_index",
    apply: (db) => {
      const [first, second] = db.prepare("SELECT id FROM events ORDER BY id LIMIT 2").pluck().all() as number[];
      db.prepare("UPDATE events SET tlog_index = (SELECT tlog_index FROM events WHERE id = ?) WHERE id = ?").run(first, second);
      return second!;
    },
    expected: { duplicate_event_tlog_indexes: 1, event_tlog_leaf_mismatches: 1, beacon_leaves_without_event: 1 },
  },
  {
    name: "a negative event tlog_index",
    apply: (db) => {
      const id = one(db, FIRST_EVENT);
      db.prepare("UPDATE events SET tlog_index = -3 WHERE id = ?").run(id);
      return id;
    },
    expected: { negative_event_tlog_indexes: 1, beacon_leaves_without_event: 1 },
  },
  {
    name: "an event without tlog_index",
    apply: (db) => {
      const id = one(db, FIRST_EVENT);
      db.prepare("UPDATE events SET tlog_index = NULL WHERE id = ?").run(id);
      return id;
    },
    expected: { events_without_tlog_index: 1, beacon_leaves_without_event: 1 },
  },
  {
    name: "an event tlog_index beyond the log",
    apply: (db) => {
      const id = one(db, FIRST_EVENT);
      db.prepare("UPDATE events SET tlog_index = 107 WHERE id = ?").run(id);
      return id;
    },
    expected: { event_tlog_indexes_out_of_range: 1, beacon_leaves_without_event: 1 },
  },
  {
    name: "an event whose leaf names another source address",
    apply: (db) => {
      const id = one(db, FIRST_EVENT);
      db.prepare("UPDATE events SET source_ip = '203.0.113.66' WHERE id = ?").run(id);
      return id;
    },
    expected: { event_tlog_leaf_mismatches: 1 },
  },
  {
    name: "an event whose qualified_timestamp is not its leaf's (its integer timestamp agreeing with it)",
    apply: (db) => {
      const id = one(db, FIRST_EVENT);
      db.prepare(
        `UPDATE events SET qualified_timestamp = strftime('%Y-%m-%dT%H:%M:%SZ', unixepoch(qualified_timestamp) + 1, 'unixepoch'),
           timestamp = timestamp + 1 WHERE id = ?`,
      ).run(id);
      return id;
    },
    expected: { event_tlog_leaf_mismatches: 1 },
  },
  {
    name: "an event without qualified_timestamp whose integer timestamp is not its leaf's second",
    apply: (db) => {
      const id = one(db, FIRST_EVENT);
      db.prepare("UPDATE events SET qualified_timestamp = NULL, timestamp = timestamp + 1 WHERE id = ?").run(id);
      return id;
    },
    expected: { event_tlog_leaf_mismatches: 1 },
  },
  {
    name: "a DNS event whose qname differs from its leaf",
    apply: (db) => {
      const id = one(db, "SELECT id FROM events WHERE kind = 'dns' ORDER BY id LIMIT 1");
      db.prepare(`UPDATE events SET extra = '{"qtype":"A","qname":"elsewhere.example"}' WHERE id = ?`).run(id);
      return id;
    },
    expected: { event_tlog_leaf_mismatches: 1 },
  },
  {
    name: "a deleted event row (its beacon leaf is left without one)",
    apply: (db) => {
      const [id, index] = db
        .prepare(`${FIRST_EVENT.replace("SELECT id", "SELECT id, tlog_index")}`)
        .raw()
        .get() as number[];
      db.prepare("DELETE FROM events WHERE id = ?").run(id);
      return index!;
    },
    expected: { beacon_leaves_without_event: 1 },
  },
  {
    // Leaf 0 is the first of two identical register leaves; the manifest points at the second.
    name: "a flipped byte in a leaf",
    apply: (db) => {
      db.prepare("UPDATE tlog_leaves SET leaf_data = ? WHERE idx = 0").run(flip(one(db, "SELECT leaf_data FROM tlog_leaves WHERE idx = 0"), 30));
      return 0;
    },
    expected: { leaf_hash_mismatches: 1 },
  },
  {
    name: "a flipped stored node hash",
    apply: (db) => {
      // The subtree over leaves 12..15; fsck names a node by its last leaf.
      const id = nodeId(2, 3);
      db.prepare("UPDATE tlog_nodes SET hash = ? WHERE id = ?").run(flip(one(db, "SELECT hash FROM tlog_nodes WHERE id = ?", id), 5), id);
      return 15;
    },
    expected: { node_hash_mismatches: 1 },
  },
  {
    name: "a deleted node",
    apply: (db) => {
      assert.equal(db.prepare("DELETE FROM tlog_nodes WHERE id = ?").run(nodeId(2, 3)).changes, 1);
      return 15;
    },
    expected: { missing_nodes: 1 },
  },
  {
    name: "a log truncated below its signed head (a fork)",
    apply: (db, dataDir) => {
      const signer = readIdentity(dataDir)!.signer;
      const stateFile = signedHeadFile(dataDir);
      new HeadSigner({ db, store: new TlogStore(db), signer, origin: "test.example/log", stateFile, clock: systemClock }).publishCurrent();
      // What a restored backup of size 100 looks like: leaves, their nodes and their events gone.
      db.prepare("DELETE FROM tlog_leaves WHERE idx >= 100").run();
      db.prepare("DELETE FROM tlog_nodes WHERE id >= ?").run(nodeId(0, 100));
      db.prepare("DELETE FROM events WHERE tlog_index >= 100").run();
      return "database size 107";
    },
    expected: { signed_head_mismatches: 2 },
  },
  {
    name: "a signed-head state file with another root at the current size",
    apply: (_db, dataDir) => {
      writeFileSync(signedHeadFile(dataDir), JSON.stringify({ size: 50, root: "ab".repeat(32), signed_at: 1 }));
      return "state file size 50";
    },
    expected: { signed_head_mismatches: 1 },
  },
  {
    name: "malformed manifest_json",
    apply: (db) => {
      const fileId = one(db, FIRST_FILE);
      db.prepare("UPDATE manifests SET manifest_json = '{\"file_id\":' WHERE file_id = ?").run(fileId);
      return fileId;
    },
    expected: { malformed_manifest_json: 1 },
  },
  {
    name: "a manifest whose signature is broken",
    apply: (db) => {
      const fileId = one(db, FIRST_FILE);
      editManifest(db, fileId, (m) => {
        const signature = m["signature_ed25519"] as string;
        m["signature_ed25519"] = (signature[0] === "0" ? "1" : "0") + signature.slice(1);
      });
      return fileId;
    },
    expected: { invalid_manifest_signatures: 1 },
  },
  {
    name: "a manifest_json whose file_id is not the row's",
    apply: (db) => {
      const fileId = one(db, FIRST_FILE);
      editManifest(db, fileId, (m) => {
        m["file_id"] = "someone-elses-file";
      });
      return fileId;
    },
    // The signature covers file_id, so it no longer verifies either.
    expected: { mismatched_manifest_file_ids: 1, invalid_manifest_signatures: 1 },
  },
  {
    name: "a manifest whose tlog_index is another file's register leaf",
    apply: (db) => {
      const [a, b] = db.prepare("SELECT file_id FROM manifests ORDER BY file_id LIMIT 2").pluck().all() as string[];
      db.prepare("UPDATE manifests SET tlog_index = (SELECT tlog_index FROM manifests WHERE file_id = ?) WHERE file_id = ?").run(b, a);
      return a!;
    },
    expected: { register_leaf_mismatches: 1 },
  },
  {
    name: "a manifest whose tlog_index is lost",
    apply: (db) => {
      const fileId = one(db, FIRST_FILE);
      db.prepare("UPDATE manifests SET tlog_index = NULL WHERE file_id = ?").run(fileId);
      return fileId;
    },
    expected: { manifests_without_tlog_index: 1 },
  },
  {
    name: "a beacon row that is not in its manifest",
    apply: (db) => {
      const fileId = one(db, FIRST_FILE);
      db.prepare("INSERT INTO beacons SELECT 'rogue-token', file_id, recipient_id, issuer_id, 'dns', registered_at FROM manifests WHERE file_id = ?").run(
        fileId,
      );
      return "rogue-token";
    },
    expected: { beacons_not_in_manifest: 1 },
  },
  {
    name: "a watermark row that is not in its manifest",
    apply: (db) => {
      const fileId = one(db, FIRST_FILE);
      db.prepare(
        "INSERT INTO watermarks (mark_id, layer, file_id, recipient_id, issuer_id, registered_at) SELECT 'rogue-mark', 'L2_whitespace', file_id, recipient_id, issuer_id, registered_at FROM manifests WHERE file_id = ?",
      ).run(fileId);
      return "rogue-mark/L2_whitespace";
    },
    expected: { watermarks_not_in_manifest: 1 },
  },
  {
    name: "a signed beacon whose row is gone",
    apply: (db) => {
      const token = one(db, "SELECT token_id FROM beacons ORDER BY token_id LIMIT 1");
      db.prepare("DELETE FROM beacons WHERE token_id = ?").run(token);
      return token;
    },
    expected: { signed_beacons_without_row: 1 },
  },
  {
    name: "a beacon re-pointed to another issuer's file (as the other implementations allow)",
    apply: (db) => {
      const [token, pub] = db
        .prepare("SELECT b.token_id, m.issuer_ed25519_pub FROM beacons b JOIN manifests m USING (file_id) ORDER BY b.token_id LIMIT 1")
        .raw()
        .get() as string[];
      db.prepare(
        `UPDATE beacons SET (file_id, recipient_id, issuer_id) =
           (SELECT file_id, recipient_id, issuer_id FROM manifests WHERE issuer_ed25519_pub != ? ORDER BY file_id LIMIT 1)
         WHERE token_id = ?`,
      ).run(pub, token);
      return token!;
    },
    expected: { signed_beacons_without_row: 1, beacons_not_in_manifest: 1 },
  },
];

for (const corruption of CORRUPTIONS) {
  test(`validation catches ${corruption.name}`, async (t) => {
    const { dataDir, dbPath } = copyGolden(t);
    const example = withDb(dbPath, (db) => corruption.apply(db, dataDir));
    const report = await validateDatabase({ dbPath, dataDir });
    assertFindings(report, corruption.expected);
    const field = Object.keys(corruption.expected)[0]!;
    assert.ok(report.examples[field]?.includes(example), `${field} examples ${JSON.stringify(report.examples[field])} lack ${example}`);
  });
}

test("an integer timestamp drifted from qualified_timestamp (as the Python reference writes it) is reported, not a problem", async (t) => {
  const { dataDir, dbPath } = copyGolden(t);
  withDb(dbPath, (db) => {
    // The Python registry formats the leaf's time first and reads the clock again for the integer column.
    db.prepare("UPDATE events SET timestamp = timestamp + 1 WHERE id = ?").run(one(db, FIRST_EVENT));
    db.prepare("UPDATE events SET timestamp = timestamp + 5 WHERE id = ?").run(one(db, "SELECT id FROM events WHERE kind = 'dns' ORDER BY id LIMIT 1"));
  });
  const report = await validateDatabase({ dbPath, dataDir });
  assertFindings(report, {});
  assert.deepEqual(report.event_timestamp_drift, { count: 2, max_seconds: 5 });
});

test("a state file with an uppercase root and an extra key: validation and the server refuse it in the same words", async (t) => {
  const { dataDir, dbPath } = copyGolden(t);
  const stateFile = signedHeadFile(dataDir);
  withDb(dbPath, (db) => {
    const signer = readIdentity(dataDir)!.signer;
    new HeadSigner({ db, store: new TlogStore(db), signer, origin: "test.example/log", stateFile, clock: systemClock }).publishCurrent();
  });
  const written = readStateFile(stateFile)!;
  writeFileSync(
    stateFile,
    JSON.stringify({ size: written.size, root: written.root.toString("hex").toUpperCase(), signed_at: written.signedAt, edited_by: "hand" }),
  );

  const report = await validateDatabase({ dbPath, dataDir });
  assertFindings(report, { malformed_signed_heads: 1 });
  assert.deepEqual(report.examples["malformed_signed_heads"], ["state file"]);
  const head = report.signed_heads.find((h) => h.source === "state file");
  assert.match(head?.problem ?? "", /state file .* is malformed \(.*root.*edited_by|state file .* is malformed \(.*edited_by.*root/);

  const server = await startTestRegistry(t, { dataDir, dbPath });
  assert.equal(server.service.registry.fork?.message, `refusing to sign: ${head!.problem}`);
  const write = await server.call("/dns_event", { json: { token_id: "after-the-edit" } });
  assert.equal(write.status, 503);
});

/** Overwrites `pages` whole pages from the middle of the file with garbage; the header page stays as it was. */
function overwriteMiddlePages(dbPath: string, pages: number): void {
  const db = openDatabase(dbPath, { readonly: true });
  const pageSize = db.pragma("page_size", { simple: true }) as number;
  db.close();
  const count = statSync(dbPath).size / pageSize;
  const first = Math.max(1, Math.floor(count / 2) - Math.floor(pages / 2));
  assert.ok(first + pages < count, `a file of ${count} pages has no ${pages} pages in its middle`);
  const garbage = Buffer.alloc(pages * pageSize);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 131 + 17) % 251;
  const fd = openSync(dbPath, "r+");
  try {
    writeSync(fd, garbage, 0, garbage.length, first * pageSize);
  } finally {
    closeSync(fd);
  }
}

test("a physically damaged database: the command line prints a report naming SQLite's findings and exits 1, no stack trace", async (t) => {
  const { dataDir, dbPath } = copyGolden(t);
  overwriteMiddlePages(dbPath, 2);
  const { code, stdout, stderr } = await runMain(["--db", dbPath, "--data-dir", dataDir, "--validate-db"]);
  assert.equal(code, 1, stderr);
  const report = JSON.parse(stdout) as ValidationReport;
  assert.equal(report.ok, false);
  assert.ok(report.sqlite_integrity_errors > 0, stdout);
  assert.ok((report.examples["sqlite_integrity_errors"] ?? []).length > 0, stdout);
  assert.doesNotMatch(stderr, /^\s+at /m);
  assert.doesNotMatch(stdout, /^\s+at |\n\s+at /);
});

test("a file that is not a database at all is reported the same way", async (t) => {
  const { dataDir, dbPath } = copyGolden(t);
  const header = Buffer.alloc(4096, 0x5a);
  writeFileSync(dbPath, header);
  const report = await validateDatabase({ dbPath, dataDir });
  assert.equal(report.ok, false);
  assert.equal(report.sqlite_integrity_errors, 1);
  assert.match(report.aborted ?? "", /not a database/);
  assert.equal(report.counts, null);
});

test("a database that does not exist is a ValidationError, and none is created", async (t) => {
  const dir = tempDir(t);
  const dbPath = path.join(dir, "missing.sqlite");
  await assert.rejects(validateDatabase({ dbPath, dataDir: dir }), ValidationError);
  assert.equal(existsSync(dbPath), false);
});

test("another implementation's database is refused with a pointer to --migrate-from", async (t) => {
  const { sourcePath, sourceDir } = copyFixture(t);
  await assert.rejects(validateDatabase({ dbPath: sourcePath, dataDir: sourceDir }), (error: unknown) => {
    assert.ok(error instanceof ValidationError);
    assert.match(error.message, /schema version 0.*--migrate-from/);
    return true;
  });
  assert.equal(existsSync(`${sourcePath}-wal`) || existsSync(`${sourcePath}-shm`), false, "nothing is left in the other implementation's directory");
});

test("progress is drawn on a terminal only, throttled, and cleared at the end", () => {
  const written: string[] = [];
  let clock = 0;
  const report = progressReporter("validating", { stream: { isTTY: true, write: (s) => written.push(s) }, intervalMs: 100, now: () => clock });
  report({ phase: "tlog", done: 1, total: 10 });
  clock = 50;
  report({ phase: "tlog", done: 5, total: 10 });
  clock = 150;
  report({ phase: "tlog", done: 10, total: 10 });
  report({ phase: "events", done: 1_000, total: null });
  report({ phase: "done", done: 0, total: null });
  assert.deepEqual(written, ["\r\x1b[Kvalidating tlog 1/10 (10%)", "\r\x1b[Kvalidating tlog 10/10 (100%)", "\r\x1b[Kvalidating events 1,000", "\r\x1b[K"]);

  const silent: string[] = [];
  const piped = progressReporter("validating", { stream: { isTTY: false, write: (s) => silent.push(s) } });
  piped({ phase: "tlog", done: 1, total: 1 });
  piped({ phase: "done", done: 0, total: null });
  assert.deepEqual(silent, []);
});

test("a database an older release wrote is refused with a pointer to starting the registry on it", async (t) => {
  const dir = tempDir(t);
  const dbPath = path.join(dir, "older.sqlite");
  const db = new Database(dbPath);
  db.exec(MIGRATIONS[0]!);
  db.pragma("user_version = 1");
  db.close();
  await assert.rejects(validateDatabase({ dbPath, dataDir: dir }), (error: unknown) => {
    assert.ok(error instanceof ValidationError);
    assert.match(error.message, /schema version 1, not \d+: an older release.*start the registry on it once/);
    return true;
  });
});
