import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { openDatabase } from "../../src/registry/database.js";
import { MIGRATIONS } from "../../src/registry/schema.js";
import { tempDir } from "../temp.js";

test("a database of the first schema gets its watermark and corpus claims from their file's register leaf", (t) => {
  const file = path.join(tempDir(t), "old.sqlite");
  const old = new Database(file);
  old.exec(MIGRATIONS[0]!);
  old.pragma("user_version = 1");
  old.exec(`
    INSERT INTO manifests (file_id, recipient_id, issuer_id, issuer_ed25519_pub, manifest_json, registered_at, tlog_index)
      VALUES ('logged', 'r', 'i', 'k', '{}', 0, 7), ('unlogged', 'r', 'i', 'k', '{}', 0, NULL);
    INSERT INTO watermarks (mark_id, layer, file_id, recipient_id, issuer_id, registered_at)
      VALUES ('m', 'L1_zero_width', 'logged', 'r', 'i', 0), ('m', 'L2_whitespace', 'unlogged', 'r', 'i', 0);
    INSERT INTO corpus (file_id, hash_kind, hash_value, metadata, registered_at) VALUES ('logged', 'perceptual', 'p', NULL, 0);
  `);
  old.close();

  const db = openDatabase(file);
  t.after(() => db.close());
  assert.equal(db.pragma("user_version", { simple: true }), MIGRATIONS.length);
  assert.deepEqual(db.prepare("SELECT file_id, claim_tlog_index FROM watermarks ORDER BY file_id").all(), [
    { file_id: "logged", claim_tlog_index: 7 },
    { file_id: "unlogged", claim_tlog_index: null },
  ]);
  assert.equal(db.prepare("SELECT claim_tlog_index FROM corpus").pluck().get(), 7);
});
