import assert from "node:assert/strict";
import path from "node:path";
import { test, type TestContext } from "node:test";
import type Database from "better-sqlite3";
import { runMigration } from "../../src/ops/migrate.js";
import { validateDatabase, type ValidationReport } from "../../src/ops/validate.js";
import { EXTENSION_FIELDS } from "../../src/ops/validate-extensions.js";
import { openDatabase } from "../../src/registry/database.js";
import { OperatorTokens } from "../../src/registry/operator-tokens.js";
import { tempDir } from "../temp.js";
import { copyFixture } from "./migrate-support.js";

/** The migrated fixture (24 manifests, 9 DNS events among 80) with one valid named token, `ci`. */
async function migrated(t: TestContext): Promise<{ dataDir: string; dbPath: string }> {
  const dataDir = tempDir(t, "validate-ext-");
  const dbPath = path.join(dataDir, "registry.sqlite");
  await runMigration({ dbPath, dataDir, sourcePath: copyFixture(t).sourcePath, dryRun: false });
  change(dbPath, (db) => new OperatorTokens(db).create({ name: "ci", scopes: { attribute: true }, now: 1_700_000_000, expiresAt: null }));
  return { dataDir, dbPath };
}

function change(dbPath: string, edit: (db: Database.Database) => unknown): void {
  const db = openDatabase(dbPath);
  try {
    edit(db);
  } finally {
    db.close();
  }
}

const validate = (where: { dataDir: string; dbPath: string }): Promise<ValidationReport> => validateDatabase(where);

function extensionCounts(report: ValidationReport): Record<string, number | null> {
  return Object.fromEntries(EXTENSION_FIELDS.map((field) => [field, report[field]]));
}

const indexOfEvent = (db: Database.Database, kind: string): number =>
  db.prepare("SELECT tlog_index FROM events WHERE kind = ? ORDER BY id LIMIT 1").pluck().get(kind) as number;

test("named tokens, registrations that name them and DNS event ids that name DNS events validate clean", async (t) => {
  const where = await migrated(t);
  change(where.dbPath, (db) => {
    const files = db.prepare("SELECT file_id FROM manifests ORDER BY file_id LIMIT 2").pluck().all() as string[];
    db.prepare("UPDATE manifests SET registered_by = ? WHERE file_id = ?").run("ci", files[0]);
    db.prepare("UPDATE manifests SET registered_by = ? WHERE file_id = ?").run("bootstrap", files[1]);
    db.prepare("INSERT INTO dns_event_ids (event_id, tlog_index) VALUES (?, ?)").run("0123abcd", indexOfEvent(db, "dns"));
  });
  const report = await validate(where);
  assert.deepEqual(extensionCounts(report), { malformed_operator_tokens: 0, registrations_by_unknown_tokens: 0, dns_event_ids_without_event: 0 });
  assert.equal(report.ok, true, JSON.stringify(report.examples));
});

test("token rows the server cannot read, registrations naming no token and event ids naming another leaf are each reported", async (t) => {
  const where = await migrated(t);
  change(where.dbPath, (db) => {
    const insert = db.prepare("INSERT INTO operator_tokens (name, secret_sha256, scopes, created_at) VALUES (?, ?, ?, ?)");
    insert.run("unknown-scope", Buffer.alloc(32, 1), '{"root":true}', 1);
    insert.run("short-digest", Buffer.alloc(16, 2), '{"admin":true}', 1);
    insert.run("text-time", Buffer.alloc(32, 3), '{"admin":true}', "yesterday");
    const file = db.prepare("SELECT file_id FROM manifests ORDER BY file_id LIMIT 1").pluck().get();
    db.prepare("UPDATE manifests SET registered_by = 'gone' WHERE file_id = ?").run(file);
    const eventId = db.prepare("INSERT INTO dns_event_ids (event_id, tlog_index) VALUES (?, ?)");
    eventId.run("points-at-a-pixel", indexOfEvent(db, "http_img"));
    eventId.run("points-past-the-log", 1_000_000);
  });
  const report = await validate(where);
  assert.deepEqual(extensionCounts(report), { malformed_operator_tokens: 3, registrations_by_unknown_tokens: 1, dns_event_ids_without_event: 2 });
  assert.equal(report.ok, false);
  const tokens = report.examples["malformed_operator_tokens"]?.join("\n") ?? "";
  assert.match(tokens, /^unknown-scope: scopes/m);
  assert.match(tokens, /^short-digest: secret_sha256 is not 32 bytes/m);
  assert.match(tokens, /^text-time: created_at/m);
  assert.deepEqual(report.examples["dns_event_ids_without_event"]?.toSorted(), ["points-at-a-pixel", "points-past-the-log"]);
});

test("a token row validation reports is one the server refuses too: a time that is not an integer", async (t) => {
  const where = await migrated(t);
  change(where.dbPath, (db) => db.prepare("UPDATE operator_tokens SET expires_at = 'never' WHERE name = 'ci'").run());
  assert.equal((await validate(where)).malformed_operator_tokens, 1);
  const db = openDatabase(where.dbPath, { readonly: true });
  t.after(() => db.close());
  assert.throws(() => new OperatorTokens(db).get("ci"));
});
