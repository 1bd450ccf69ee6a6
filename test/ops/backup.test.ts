import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { startTestRegistry, type TestRegistry } from "../http/registry-server.js";
import { createIssuer } from "../issuer.js";
import { tempDir } from "../temp.js";
import { beaconHit, runMain } from "./monitor-support.js";

interface Acknowledged {
  fileId: string | null;
  tlogIndex: number;
}

/** Registrations and beacon hits from `writers` concurrent loops until stopped; `acked` grows as the registry answers. */
function writeLoad(reg: TestRegistry, writers: number) {
  const issuer = createIssuer("backup-load");
  const acked: Acknowledged[] = [];
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      const registration = issuer.registration();
      const answer = await reg.call("/register", { json: registration });
      assert.equal(answer.status, 200);
      const body = (await answer.json()) as { file_id: string; tlog_index: number };
      acked.push({ fileId: body.file_id, tlogIndex: body.tlog_index });
      const token = (registration.beacons[0] as { token_id: string }).token_id;
      await beaconHit(reg.url, token);
    }
  };
  const loops = Array.from({ length: writers }, loop);
  return {
    acked,
    /** Resolves once `count` writes are acknowledged. */
    async reach(count: number) {
      while (acked.length < count) await new Promise((resolve) => setImmediate(resolve));
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

test("backup under write load holds everything acknowledged before it began; the restored registry validates clean and serves", async (t) => {
  const reg = await startTestRegistry(t);
  const load = writeLoad(reg, 3);
  await load.reach(30);
  assert.equal((await reg.call("/tlog/head")).status, 200);
  writeFileSync(path.join(reg.dataDir, "operator-token"), "a-generated-operator-token-0123456789\n", { mode: 0o600 });
  const before = [...load.acked];
  const to = path.join(tempDir(t), "snapshot");
  const backup = await runMain(["backup", "--data-dir", reg.dataDir, "--db", reg.dbPath, "--to", to]);
  const during = load.acked.length;
  await load.stop();
  assert.equal(backup.code, 0, backup.stderr);
  const summary = JSON.parse(backup.stdout) as { tlog_size: number; backup: string; format: string };
  assert.equal(summary.backup, to);
  assert.equal(summary.format, "oversight-registry-backup/1");
  assert.deepEqual(readdirSync(to).sort(), ["backup.json", "operator-token", "oversight-registry.sqlite", "registry-identity.json", "tlog-signed-head.json"]);

  const snapshot = new Database(path.join(to, "oversight-registry.sqlite"), { readonly: true });
  try {
    const leaf = snapshot.prepare("SELECT 1 FROM tlog_leaves WHERE idx = ?").pluck();
    const manifest = snapshot.prepare("SELECT tlog_index FROM manifests WHERE file_id = ?").pluck();
    for (const write of before) {
      assert.equal(leaf.get(write.tlogIndex), 1, `leaf ${write.tlogIndex} acknowledged before the backup is missing`);
      assert.equal(manifest.get(write.fileId), write.tlogIndex);
    }
    assert.equal(snapshot.prepare("SELECT count(*) FROM tlog_leaves").pluck().get(), summary.tlog_size);
  } finally {
    snapshot.close();
  }
  assert.ok(during >= before.length);

  const restored = path.join(tempDir(t), "restored");
  const restore = await runMain(["restore", "--from", to, "--data-dir", restored]);
  assert.equal(restore.code, 0, restore.stderr);
  assert.equal((JSON.parse(restore.stdout) as { previous_data_dir: unknown }).previous_data_dir, null);
  assert.equal(readFileSync(path.join(restored, "operator-token"), "utf8"), "a-generated-operator-token-0123456789\n");
  const validation = await runMain(["--validate-db", "--data-dir", restored]);
  assert.equal(validation.code, 0, validation.stdout);
  assert.equal((JSON.parse(validation.stdout) as { ok: boolean; tlog_size: number }).tlog_size, summary.tlog_size);

  const again = await startTestRegistry(t, { dataDir: restored });
  const evidence = await again.call(`/evidence/${before[0]!.fileId!}`);
  assert.equal(evidence.status, 200);
  const head = (await (await again.call("/tlog/head")).json()) as { size: number };
  assert.equal(head.size, summary.tlog_size);
});

test("restore refuses a locked data directory, a snapshot that does not validate and an older one (unless allowed), changing nothing", async (t) => {
  // In a directory of its own: restore keeps the replaced data directory beside it.
  const reg = await startTestRegistry(t, { dataDir: path.join(tempDir(t), "data") });
  const load = writeLoad(reg, 1);
  await load.reach(3);
  await load.stop();
  await reg.call("/tlog/head");
  const older = path.join(tempDir(t), "older");
  assert.equal((await runMain(["backup", "--data-dir", reg.dataDir, "--db", reg.dbPath, "--to", older])).code, 0);

  const locked = await runMain(["restore", "--from", older, "--data-dir", reg.dataDir, "--db", reg.dbPath]);
  assert.equal(locked.code, 1);
  assert.match(locked.stderr, /^restore: the data directory is in use: .* is locked by process \d+/);

  const more = writeLoad(reg, 1);
  await more.reach(2);
  await more.stop();
  const newer = (await (await reg.call("/tlog/head")).json()) as { size: number; root: string };
  await reg.close();
  // SQLite's -wal and -shm come and go with every reader; the files that hold something are compared.
  const files = () =>
    readdirSync(reg.dataDir)
      .filter((name) => !/-(wal|shm)$/.test(name))
      .sort();
  const listing = files();

  const refused = await runMain(["restore", "--from", older, "--data-dir", reg.dataDir, "--db", reg.dbPath]);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    new RegExp(`^restore: the snapshot's signed head \\(size \\d+\\) is older than the data directory's \\(size ${newer.size}\\): .* give --allow-older`),
  );
  assert.deepEqual(files(), listing);
  assert.deepEqual(
    readdirSync(path.dirname(reg.dataDir)).filter((name) => name.includes(".restore-")),
    [],
  );

  const damaged = path.join(tempDir(t), "damaged");
  assert.equal((await runMain(["backup", "--data-dir", reg.dataDir, "--db", reg.dbPath, "--to", damaged])).code, 0);
  const db = new Database(path.join(damaged, "oversight-registry.sqlite"));
  db.prepare("UPDATE tlog_leaves SET leaf_data = CAST('tampered' AS BLOB) WHERE idx = 1").run();
  db.close();
  const invalid = await runMain(["restore", "--from", damaged, "--data-dir", reg.dataDir, "--db", reg.dbPath]);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /^restore: the snapshot in .*damaged does not validate \(.*leaf_hash_mismatches 1.*\); nothing was changed\n$/);
  assert.deepEqual(files(), listing);

  const token = readFileSync(path.join(reg.dataDir, "oversight-registry.sqlite"));
  writeFileSync(path.join(reg.dataDir, "notes.txt"), "the operator's own file\n");
  const allowed = await runMain(["restore", "--from", older, "--data-dir", reg.dataDir, "--db", reg.dbPath, "--allow-older"]);
  assert.equal(allowed.code, 0, allowed.stderr);
  const result = JSON.parse(allowed.stdout) as { previous_data_dir: string; tlog_size: number };
  assert.ok(existsSync(path.join(result.previous_data_dir, "oversight-registry.sqlite")));
  assert.deepEqual(readFileSync(path.join(result.previous_data_dir, "oversight-registry.sqlite")), token);
  assert.equal(readFileSync(path.join(reg.dataDir, "notes.txt"), "utf8"), "the operator's own file\n");
  const validation = await runMain(["--validate-db", "--data-dir", reg.dataDir, "--db", reg.dbPath]);
  assert.equal(validation.code, 0, validation.stdout);
  assert.equal((JSON.parse(validation.stdout) as { tlog_size: number }).tlog_size, result.tlog_size);
});

test("backup and restore usage and file errors are one sentence each", async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, "taken"), "");
  const cases: [string[], number, RegExp][] = [
    [["backup", "--data-dir", dir], 2, /^backup: --to DIR is required/],
    [["backup", "--to", path.join(dir, "x"), "--data-dir", dir], 1, /^backup: no registry database at .*oversight-registry\.sqlite; give --data-dir/],
    [["backup", "--to", path.join(dir, "taken"), "--data-dir", dir], 1, /^backup: .*taken already exists; a backup never overwrites anything/],
    [["restore", "--data-dir", dir], 2, /^restore: --from DIR is required/],
    [
      ["restore", "--from", path.join(dir, "none"), "--data-dir", path.join(dir, "data")],
      1,
      /^restore: cannot read .*none\/backup\.json: no such file or directory\n$/,
    ],
    [["restore", "--from", dir, "--data-dir", dir, "--allow-older=yes"], 2, /^restore: --allow-older takes no value/],
  ];
  for (const [args, code, message] of cases) {
    const run = await runMain(args);
    assert.equal(run.code, code, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(" "));
  }
  assert.ok(!existsSync(path.join(dir, "data")), "a refused restore created the data directory");
});
