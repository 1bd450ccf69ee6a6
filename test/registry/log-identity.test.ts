import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { test, type TestContext } from "node:test";
import Database from "better-sqlite3";
import { generateSeed } from "../../src/core/ed25519.js";
import { IDENTITY_FILE, IdentityError, readIdentity, writeIdentity } from "../../src/core/identity.js";
import { createLogger } from "../../src/log.js";
import { validateDatabase } from "../../src/ops/validate.js";
import { SIGNED_HEAD_FILE, SignedHeadRow, writeStateFile } from "../../src/tlog/signed-head-record.js";
import { startServer, type ServeOptions } from "../../src/server.js";
import { startTestRegistry, testServeOptions } from "../http/registry-server.js";
import { createIssuer } from "../issuer.js";
import { tempDir } from "../temp.js";

/** Starts the registry with a logger whose lines the test reads. */
async function start(t: TestContext, dataDir: string, extra: Partial<ServeOptions> = {}) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "info", stream: { write: (line: string) => lines.push(JSON.parse(line)) } });
  const server = await startServer(testServeOptions(dataDir, extra), logger);
  t.after(() => server.close());
  return { server, lines };
}

/** A registry that registered one file and signed its head, then stopped: a log monitors have seen. */
async function signedLog(t: TestContext): Promise<{ dataDir: string; pub: string }> {
  const reg = await startTestRegistry(t);
  const dataDir = reg.dataDir;
  const registered = await reg.call("/register", { json: createIssuer().registration() });
  assert.equal(registered.status, 200);
  assert.equal((await (await reg.call("/tlog/head")).json()).size, 1);
  const pub = reg.service.registry.identity.publicKeyHex;
  await reg.close();
  return { dataDir, pub };
}

function keyRecord(dataDir: string): unknown[] {
  const db = new Database(path.join(dataDir, "oversight-registry.sqlite"), { readonly: true });
  try {
    return db.prepare("SELECT ed25519_pub, previous_pub, reason FROM registry_keys ORDER BY seq").all();
  } finally {
    db.close();
  }
}

async function refuses(t: TestContext, dataDir: string, pattern: RegExp, extra: Partial<ServeOptions> = {}): Promise<void> {
  await assert.rejects(start(t, dataDir, extra), (error: unknown) => {
    assert.ok(error instanceof IdentityError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

test("a fresh data directory gets a new key, logged and recorded as created", async (t) => {
  const dataDir = tempDir(t);
  const { server, lines } = await start(t, dataDir);
  const pub = server.service.registry.identity.publicKeyHex;
  assert.ok(lines.some((l) => l.msg === "created registry identity" && l.level === "info" && l.ed25519_pub === pub));
  await server.close();
  assert.deepEqual(keyRecord(dataDir), [{ ed25519_pub: pub, previous_pub: null, reason: "created" }]);
});

test("a log with leaves and a signed head but no identity file refuses to start, names the file and the backup", async (t) => {
  const { dataDir, pub } = await signedLog(t);
  rmSync(path.join(dataDir, IDENTITY_FILE));
  const before = readdirSync(dataDir).sort();
  await refuses(t, dataDir, new RegExp(`registry-identity\\.json: is missing, but the log .* has 1 leaves.*signed with ${pub}.*backup.*--new-identity`));
  assert.equal(existsSync(path.join(dataDir, IDENTITY_FILE)), false, "no new key was made");
  assert.deepEqual(readdirSync(dataDir).sort(), before);

  // Each piece of evidence is enough: the recorded key, the tlog_signed row, the state file, the leaves.
  const db = new Database(path.join(dataDir, "oversight-registry.sqlite"));
  db.exec("DELETE FROM registry_keys");
  await refuses(t, dataDir, /has 1 leaves, a signed head of size 1 \(tlog_signed\), a signed-head record [^;]*; its heads/);
  db.exec("DELETE FROM tlog_signed");
  db.close();
  rmSync(path.join(dataDir, SIGNED_HEAD_FILE));
  await refuses(t, dataDir, /has 1 leaves; its heads were signed with that key/);

  const unsigned = tempDir(t);
  await (await start(t, unsigned)).server.close();
  rmSync(path.join(unsigned, IDENTITY_FILE));
  await refuses(t, unsigned, /has the recorded key [0-9a-f]{64} \(registry_keys\)/);
});

test("a signed empty log (state file and tlog_signed row, no leaves) without its key refuses too", async (t) => {
  const reg = await startTestRegistry(t);
  assert.equal((await (await reg.call("/tlog/head")).json()).size, 0);
  await reg.close();
  assert.equal(existsSync(path.join(reg.dataDir, SIGNED_HEAD_FILE)), false, "the empty head commits to nothing and is not recorded");
  // As an earlier version left an empty log whose head was read: both records at size 0.
  const record = { size: 0, root: createHash("sha256").digest(), signedAt: 1_700_000_000 };
  writeStateFile(path.join(reg.dataDir, SIGNED_HEAD_FILE), record);
  const db = new Database(reg.dbPath);
  new SignedHeadRow(db).write(record);
  db.close();
  rmSync(path.join(reg.dataDir, IDENTITY_FILE));
  await refuses(t, reg.dataDir, /a signed head of size 0 \(tlog_signed\), a signed-head record/);
});

test("--new-identity starts a new key for the log, warns, records old and new key, and is refused when idle", async (t) => {
  const { dataDir, pub } = await signedLog(t);
  rmSync(path.join(dataDir, IDENTITY_FILE));
  const { server, lines } = await start(t, dataDir, { newIdentity: true });
  const fresh = server.service.registry.identity.publicKeyHex;
  assert.notEqual(fresh, pub);
  const warning = lines.find((l) => l.level === "warn" && String(l.msg).includes("new registry key"));
  assert.ok(warning, JSON.stringify(lines));
  assert.equal(warning.previous_pub, pub);
  assert.equal(warning.ed25519_pub, fresh);
  await server.close();
  assert.deepEqual(keyRecord(dataDir).at(-1), { ed25519_pub: fresh, previous_pub: pub, reason: "new-identity" });

  // From now on the new key is the log's: it starts without the flag, and the flag left in place is refused.
  await (await start(t, dataDir)).server.close();
  await refuses(t, dataDir, /already this log's key: --new-identity has nothing to change; remove it/, { newIdentity: true });
});

test("an identity file with another key than the log's refuses to start unless --new-identity", async (t) => {
  const { dataDir, pub } = await signedLog(t);
  const other = writeIdentity(dataDir, generateSeed());
  await refuses(t, dataDir, new RegExp(`holds the key ${other.publicKeyHex}, but this log's heads were signed with ${pub}`));
  const { server } = await start(t, dataDir, { newIdentity: true });
  assert.equal(server.service.registry.identity.publicKeyHex, other.publicKeyHex);
  await server.close();
  assert.deepEqual(keyRecord(dataDir).at(-1), { ed25519_pub: other.publicKeyHex, previous_pub: pub, reason: "new-identity" });
});

test("--validate-db reports a log whose identity file is missing or holds another key", async (t) => {
  const { dataDir } = await signedLog(t);
  const dbPath = path.join(dataDir, "oversight-registry.sqlite");
  const intact = await validateDatabase({ dbPath, dataDir });
  assert.equal(intact.ok, true, JSON.stringify(intact.examples));
  assert.equal(intact.identity_problems, 0);

  const saved = readIdentity(dataDir)!;
  rmSync(path.join(dataDir, IDENTITY_FILE));
  const missing = await validateDatabase({ dbPath, dataDir });
  assert.equal(missing.ok, false);
  assert.equal(missing.identity_problems, 1);
  assert.match(String(missing.examples.identity_problems?.[0]), /registry-identity\.json is missing but the log has 1 leaves/);

  writeIdentity(dataDir, generateSeed());
  const swapped = await validateDatabase({ dbPath, dataDir });
  assert.equal(swapped.ok, false);
  assert.match(String(swapped.examples.identity_problems?.[0]), new RegExp(`heads were signed with ${saved.publicKeyHex}`));
});
