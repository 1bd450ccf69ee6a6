import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test, type TestContext } from "node:test";
import Database from "better-sqlite3";
import { IDENTITY_FILE, readIdentity, writeIdentity } from "../../src/core/identity.js";
import { LOCK_FILE, lockDataDir } from "../../src/data-dir-lock.js";
import { generateSeed } from "../../src/core/ed25519.js";
import { MigrationError, runMigration } from "../../src/ops/migrate.js";
import { SIGNED_HEAD_FILE } from "../../src/tlog/signed-head-record.js";
import { validateDatabase } from "../../src/ops/validate.js";
import type { Progress } from "../../src/ops/progress.js";
import { openDatabase } from "../../src/registry/database.js";
import { TlogStore } from "../../src/tlog/store.js";
import { startTestRegistry } from "../http/registry-server.js";
import { tempDir } from "../temp.js";
import { copyFixture, expected, migrateFixture, SOURCE_DB } from "./migrate-support.js";

const TABLES = ["manifests", "beacons", "watermarks", "events", "corpus"] as const;

function rows(file: string, sql: string): unknown[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

/** Every file under `dir` with its SHA-256, to show a failed run changed nothing. */
function snapshot(dir: string): Record<string, string> {
  if (!existsSync(dir)) return {};
  const files: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const file = path.join(dir, name);
    try {
      files[name] = createHash("sha256").update(readFileSync(file)).digest("hex");
    } catch {
      files[name] = "dir";
    }
  }
  return files;
}

function keyRecord(dbPath: string): unknown[] {
  return rows(dbPath, "SELECT ed25519_pub, previous_pub, reason FROM registry_keys ORDER BY seq");
}

const withoutWalFiles = (files: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(files).filter(([name]) => !/-(wal|shm)$/.test(name)));

const withoutLock = (files: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(files).filter(([name]) => name !== LOCK_FILE));

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof MigrationError, `expected a MigrationError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

test("migrating the Python registry's data directory gives exactly EXPECTED.json, then validates clean", async (t) => {
  const { sourcePath } = copyFixture(t);
  const dataDir = path.join(tempDir(t), "data");
  const dbPath = path.join(dataDir, "registry.sqlite");
  const progress: Progress[] = [];
  const report = await runMigration({ dbPath, dataDir, sourcePath, dryRun: false, onProgress: (p) => progress.push(p) });
  const want = expected();

  assert.deepEqual(
    { manifests: report.manifests, beacons: report.beacons, watermarks: report.watermarks, events: report.events, corpus: report.corpus },
    want.tables,
  );
  assert.equal(report.tlog_size, want.tlog_size);
  assert.equal(report.tlog_root, want.tlog_root);
  assert.equal(report.identity_copied, true);
  assert.equal(report.registry_pub, want.registry_pub);
  assert.equal(report.dry_run, false);
  assert.deepEqual(report.warnings, []);
  assert.deepEqual(progress.at(-1), { phase: "done", done: 0, total: null });
  assert.ok(progress.some((p) => p.phase === "events" && p.done === want.tables.events && p.total === want.tables.events));

  // What is on disk, read back independently of the report.
  assert.equal(readIdentity(dataDir)?.publicKeyHex, want.registry_pub);
  const db = openDatabase(dbPath);
  t.after(() => db.close());
  const store = new TlogStore(db);
  assert.equal(store.size(), want.tlog_size);
  assert.equal(store.root().toString("hex"), want.tlog_root);
  for (const table of TABLES) {
    assert.equal(db.prepare(`SELECT count(*) FROM ${table}`).pluck().get(), want.tables[table], table);
  }

  // Event ids, their log indexes and corpus metadata are kept as they were.
  const eventSql = "SELECT id, token_id, kind, extra, timestamp, qualified_timestamp, tlog_index FROM events ORDER BY id";
  assert.deepEqual(db.prepare(eventSql).all(), rows(sourcePath, eventSql));
  const corpusSql = "SELECT file_id, hash_kind, hash_value, metadata, registered_at FROM corpus ORDER BY 1, 2, 3";
  assert.deepEqual(db.prepare(corpusSql).all(), rows(sourcePath, corpusSql));

  // A re-registered file points at its last register leaf.
  const registers = store
    .leaves(0, store.size())
    .map((leaf) => ({ index: leaf.index, leaf: JSON.parse(leaf.leafData.toString("utf8")) as Record<string, unknown> }))
    .filter(({ leaf }) => leaf["event"] === "register");
  const byFile = new Map<string, number[]>();
  for (const { index, leaf } of registers) byFile.set(leaf["file_id"] as string, [...(byFile.get(leaf["file_id"] as string) ?? []), index]);
  const reRegistered = [...byFile].filter(([, indexes]) => indexes.length > 1);
  assert.ok(reRegistered.length > 0, "the fixture re-registers some files");
  for (const [fileId, indexes] of byFile) {
    assert.equal(db.prepare("SELECT tlog_index FROM manifests WHERE file_id = ?").pluck().get(fileId), indexes.at(-1), fileId);
  }

  const validation = await validateDatabase({ dbPath, dataDir });
  assert.equal(validation.ok, true, JSON.stringify(validation.examples));
  assert.equal(validation.tlog_root, want.tlog_root);
});

test("a dry run reports the same and writes nothing: no database, no data dir, no identity", async (t) => {
  const { sourcePath, sourceDir } = copyFixture(t);
  const dataDir = path.join(tempDir(t), "data");
  const dbPath = path.join(dataDir, "registry.sqlite");
  const sourceBefore = snapshot(sourceDir);
  const report = await runMigration({ dbPath, dataDir, sourcePath, dryRun: true });
  assert.equal(report.dry_run, true);
  assert.equal(report.tlog_root, expected().tlog_root);
  assert.equal(report.events, expected().tables.events);
  assert.equal(report.identity_copied, true);
  assert.equal(existsSync(dataDir), false);
  // A read-only SQLite reader of a WAL database may leave an empty -wal and its -shm index; the data files are unchanged.
  assert.deepEqual(withoutWalFiles(snapshot(sourceDir)), sourceBefore, "the source is only read");
  if (existsSync(`${sourcePath}-wal`)) assert.equal(statSync(`${sourcePath}-wal`).size, 0);

  const real = await runMigration({ dbPath, dataDir, sourcePath, dryRun: false });
  assert.deepEqual({ ...real, dry_run: true }, report);
});

test("a dry run into an existing empty database leaves it byte for byte as it was", async (t) => {
  const { sourcePath } = copyFixture(t);
  const dataDir = tempDir(t);
  const dbPath = path.join(dataDir, "registry.sqlite");
  openDatabase(dbPath).close();
  const before = snapshot(dataDir);
  await runMigration({ dbPath, dataDir, sourcePath, dryRun: true });
  assert.deepEqual(snapshot(dataDir), before);
});

test("a target that already holds data is refused and left untouched", async (t) => {
  const { dataDir, dbPath } = await migrateFixture(t);
  const { sourcePath } = copyFixture(t);
  const before = snapshot(dataDir);
  await rejectsWith(runMigration({ dbPath, dataDir, sourcePath, dryRun: false }), /already holds data/);
  await rejectsWith(runMigration({ dbPath, dataDir, sourcePath, dryRun: true }), /already holds data/);
  assert.deepEqual(snapshot(dataDir), before);
});

test("a target holding only log leaves is refused too", async (t) => {
  const { sourcePath } = copyFixture(t);
  const dataDir = tempDir(t);
  const dbPath = path.join(dataDir, "registry.sqlite");
  const db = openDatabase(dbPath);
  db.transaction(() => new TlogStore(db).append(Buffer.from("{}")))();
  db.close();
  await rejectsWith(runMigration({ dbPath, dataDir, sourcePath, dryRun: false }), /already holds data/);
});

test("a data directory whose log was already signed is refused", async (t) => {
  const { sourcePath } = copyFixture(t);
  const dataDir = tempDir(t);
  writeFileSync(path.join(dataDir, SIGNED_HEAD_FILE), JSON.stringify({ size: 1, root: "00".repeat(32), signed_at: 0 }));
  await rejectsWith(runMigration({ dbPath: path.join(dataDir, "registry.sqlite"), dataDir, sourcePath, dryRun: false }), /already signed its log/);
  assert.equal(existsSync(path.join(dataDir, "registry.sqlite")), false);
});

test("the source is refused as its own target, by path, through a symlink and through a symlinked folder", async (t) => {
  const { sourcePath, sourceDir } = copyFixture(t);
  const before = snapshot(sourceDir);
  const links = tempDir(t);
  const fileLink = path.join(links, "link.sqlite");
  symlinkSync(sourcePath, fileLink);
  const dirLink = path.join(links, "dir");
  symlinkSync(sourceDir, dirLink);
  for (const dbPath of [sourcePath, fileLink, path.join(dirLink, SOURCE_DB), path.join(sourceDir, ".", "tlog", "..", SOURCE_DB)]) {
    for (const dryRun of [false, true]) {
      await rejectsWith(runMigration({ dbPath, dataDir: sourceDir, sourcePath, dryRun }), /is the target database/);
    }
  }
  assert.deepEqual(snapshot(sourceDir), before, "refused before the source is even opened");
});

const LEAVES = (sourceDir: string) => path.join(sourceDir, "tlog", "leaves.jsonl");

function editLine(sourceDir: string, lineNumber: number, edit: (record: Record<string, unknown>) => string): void {
  const lines = readFileSync(LEAVES(sourceDir), "utf8").split("\n");
  lines[lineNumber - 1] = edit(JSON.parse(lines[lineNumber - 1]!) as Record<string, unknown>);
  writeFileSync(LEAVES(sourceDir), lines.join("\n"));
}

const BAD_LOGS: { name: string; line: number; edit: (record: Record<string, unknown>) => string; message: RegExp }[] = [
  {
    name: "a wrong leaf hash",
    line: 40,
    edit: (r) => JSON.stringify({ ...r, leaf_hash: "ab".repeat(32) }),
    message: /line 40: leaf_hash .* does not match/,
  },
  {
    name: "leaf bytes that do not hash to leaf_hash (hex preferred over text)",
    line: 12,
    edit: (r) => JSON.stringify({ ...r, leaf_data_hex: Buffer.from(`${String(r["leaf_data"])} `).toString("hex") }),
    message: /line 12: leaf_hash .* does not match/,
  },
  {
    name: "a gap in the indexes",
    line: 61,
    edit: (r) => JSON.stringify({ ...r, index: 61 }),
    message: /line 61: index 61 where 60 was expected/,
  },
  { name: "a line that is not JSON", line: 107, edit: (r) => JSON.stringify(r).slice(0, 50), message: /line 107: is not valid JSON/ },
  {
    name: "a record without leaf_hash",
    line: 1,
    edit: (r) => JSON.stringify({ ...r, leaf_hash: undefined }),
    message: /line 1: leaf_hash/,
  },
];

for (const bad of BAD_LOGS) {
  test(`a log with ${bad.name} fails with its line number and writes nothing`, async (t) => {
    const { sourcePath, sourceDir } = copyFixture(t);
    editLine(sourceDir, bad.line, bad.edit);
    const dataDir = path.join(tempDir(t), "data");
    const dbPath = path.join(dataDir, "registry.sqlite");
    await rejectsWith(runMigration({ dbPath, dataDir, sourcePath, dryRun: false }), bad.message);
    // Only the data directory's lock file stays (it is never removed, see data-dir-lock.ts).
    assert.deepEqual(Object.keys(snapshot(dataDir)), [LOCK_FILE], "no database file, no identity");
  });
}

test("a bad log line leaves an existing empty target database untouched", async (t) => {
  const { sourcePath, sourceDir } = copyFixture(t);
  editLine(sourceDir, 100, (r) => JSON.stringify({ ...r, index: 0 }));
  const dataDir = tempDir(t);
  const dbPath = path.join(dataDir, "registry.sqlite");
  openDatabase(dbPath).close();
  const before = snapshot(dataDir);
  await rejectsWith(runMigration({ dbPath, dataDir, sourcePath, dryRun: false }), /line 100: index 0 where 99 was expected/);
  assert.deepEqual(withoutLock(snapshot(dataDir)), before);
});

test("a bad source row fails naming its table and rowid", async (t) => {
  const { sourcePath } = copyFixture(t);
  const source = new Database(sourcePath);
  source.prepare("UPDATE events SET timestamp = 'yesterday' WHERE id = 17").run();
  source.close();
  const dataDir = path.join(tempDir(t), "data");
  await rejectsWith(runMigration({ dbPath: path.join(dataDir, "r.sqlite"), dataDir, sourcePath, dryRun: false }), /source table events, rowid 17: timestamp/);
  assert.equal(existsSync(path.join(dataDir, "r.sqlite")), false);
});

test("a source that is not a registry database is refused with the missing table", async (t) => {
  const dir = tempDir(t);
  const sourcePath = path.join(dir, "other.sqlite");
  const other = new Database(sourcePath);
  other.exec("CREATE TABLE manifests (file_id TEXT)");
  other.close();
  await rejectsWith(runMigration({ dbPath: path.join(dir, "new.sqlite"), dataDir: dir, sourcePath, dryRun: false }), /lacks column\(s\) recipient_id/);
});

test("the log can come from another folder; a missing one is an error naming the flag", async (t) => {
  const { sourcePath, sourceDir } = copyFixture(t);
  const elsewhere = path.join(tempDir(t), "log");
  mkdirSync(elsewhere);
  writeFileSync(path.join(elsewhere, "leaves.jsonl"), readFileSync(LEAVES(sourceDir)));
  writeFileSync(LEAVES(sourceDir), "");
  const dataDir = path.join(tempDir(t), "data");
  const report = await runMigration({ dbPath: path.join(dataDir, "r.sqlite"), dataDir, sourcePath, tlogDir: elsewhere, dryRun: true });
  assert.equal(report.tlog_root, expected().tlog_root);
  await rejectsWith(
    runMigration({ dbPath: path.join(dataDir, "r.sqlite"), dataDir, sourcePath, tlogDir: dataDir, dryRun: true }),
    /does not exist; give its folder with --migrate-tlog/,
  );
});

test("a data dir key the target database does not record as its own is refused unless a flag says which key wins", async (t) => {
  const { sourcePath } = copyFixture(t);
  const dataDir = tempDir(t);
  const dbPath = path.join(dataDir, "r.sqlite");
  const own = writeIdentity(dataDir, generateSeed(), 1);
  const before = snapshot(dataDir);
  for (const dryRun of [true, false]) {
    await rejectsWith(runMigration({ dbPath, dataDir, sourcePath, dryRun }), /holds the key .* --use-source-key .* --keep-target-key/);
  }
  assert.deepEqual(snapshot(dataDir), before, "a refused migration writes nothing, not even the lock");

  const kept = await runMigration({ dbPath, dataDir, sourcePath, dryRun: false, keyWinner: "target" });
  assert.equal(kept.identity_copied, false);
  assert.equal(kept.replaced_pub, null);
  assert.equal(kept.registry_pub, own.publicKeyHex);
  assert.equal(readIdentity(dataDir)?.publicKeyHex, own.publicKeyHex);
  assert.match(kept.warnings.join("\n"), /--keep-target-key/);
  assert.deepEqual(keyRecord(dbPath), [{ ed25519_pub: own.publicKeyHex, previous_pub: null, reason: "migrated" }]);
});

test("--use-source-key replaces the data dir's key and keeps its file under another name", async (t) => {
  const { sourcePath } = copyFixture(t);
  const dataDir = tempDir(t);
  const dbPath = path.join(dataDir, "r.sqlite");
  const own = writeIdentity(dataDir, generateSeed(), 1);
  const ownFile = readFileSync(path.join(dataDir, IDENTITY_FILE), "utf8");
  const report = await runMigration({ dbPath, dataDir, sourcePath, dryRun: false, keyWinner: "source" });
  assert.equal(report.identity_copied, true);
  assert.equal(report.registry_pub, expected().registry_pub);
  assert.equal(report.replaced_pub, own.publicKeyHex);
  assert.equal(readIdentity(dataDir)?.publicKeyHex, expected().registry_pub);
  assert.equal(readFileSync(report.replaced_identity_file!, "utf8"), ownFile);
  assert.deepEqual(keyRecord(dbPath), [{ ed25519_pub: expected().registry_pub, previous_pub: own.publicKeyHex, reason: "migrated" }]);
});

test("the documented Docker flow: a first start's fresh key for an empty log gives way to the source's, no flag needed", async (t) => {
  const { sourcePath } = copyFixture(t);
  const dataDir = tempDir(t);
  const dbPath = path.join(dataDir, "oversight-registry.sqlite");
  const first = await startTestRegistry(t, { dataDir, dbPath });
  const fresh = first.service.registry.identity.publicKeyHex;
  await first.close();

  const report = await runMigration({ dbPath, dataDir, sourcePath, dryRun: false });
  assert.equal(report.registry_pub, expected().registry_pub);
  assert.equal(report.replaced_pub, fresh);
  assert.match(report.warnings.join("\n"), /replaced the data directory's key .* never signed with/);
  assert.equal(readIdentity(dataDir)?.publicKeyHex, expected().registry_pub);
  assert.deepEqual(keyRecord(dbPath), [
    { ed25519_pub: fresh, previous_pub: null, reason: "created" },
    { ed25519_pub: expected().registry_pub, previous_pub: fresh, reason: "migrated" },
  ]);

  // The registry then serves the migrated log under the source's key, which is what monitors pinned.
  const served = await startTestRegistry(t, { dataDir, dbPath });
  assert.equal(served.service.registry.identity.publicKeyHex, expected().registry_pub);
  assert.equal(served.service.registry.store.size(), expected().tlog_size);
});

test("a migration waits for no one: a data directory locked by a running registry is refused, a dry run is not", async (t) => {
  const { sourcePath } = copyFixture(t);
  const dataDir = tempDir(t);
  const dbPath = path.join(dataDir, "r.sqlite");
  const lock = lockDataDir(dataDir, "serve");
  t.after(() => lock.release());
  await rejectsWith(runMigration({ dbPath, dataDir, sourcePath, dryRun: false }), /data directory is in use: .*registry\.lock is locked by process/);
  assert.equal(existsSync(dbPath), false);
  assert.equal((await runMigration({ dbPath, dataDir, sourcePath, dryRun: true })).tlog_size, expected().tlog_size);
});

test("a malformed source identity stops the migration before anything is written", async (t: TestContext) => {
  const { sourcePath, sourceDir } = copyFixture(t);
  writeFileSync(path.join(sourceDir, "registry-identity.json"), '{"ed25519_priv": "zz"}', { mode: 0o600 });
  const dataDir = path.join(tempDir(t), "data");
  await rejectsWith(runMigration({ dbPath: path.join(dataDir, "r.sqlite"), dataDir, sourcePath, dryRun: false }), /registry identity/);
  assert.equal(existsSync(dataDir), false);
});
