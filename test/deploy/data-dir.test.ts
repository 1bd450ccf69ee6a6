// The data directory as the command line meets it: one registry process per
// directory, a crashed holder's lock taken over, and another implementation's
// directory refused before anything is written into it.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { loadConfig } from "../../src/config.js";
import { LOCK_FILE } from "../../src/data-dir-lock.js";
import { MAIN_JS } from "../ops/monitor-support.js";
import { copyFixture, SOURCE_DB } from "../ops/migrate-support.js";
import { tempDir } from "../temp.js";

/** The parent's environment without any registry setting. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OVERSIGHT_|TRUSTED_PROXY$)/.test(k)) env[k] = v;
  return { ...env, OVERSIGHT_LOG_ORIGIN: "test.example/oversight-registry" };
}

interface Registry {
  child: ChildProcess;
  url: string;
  output: () => string;
}

function spawnRegistry(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [MAIN_JS, "--host", "127.0.0.1", "--port", "0", ...args], {
    env: cleanEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => (out += s));
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (out += s));
  return { child, output: () => out };
}

async function startRegistry(t: TestContext, args: string[]): Promise<Registry> {
  const { child, output } = spawnRegistry(args);
  t.after(() => stop(child));
  const url = await new Promise<string>((resolve, reject) => {
    const look = () => {
      for (const line of output().split("\n")) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === "listening" && entry.url) resolve(entry.url);
      }
    };
    child.stdout!.on("data", look);
    child.once("exit", (code) => reject(new Error(`registry exited (${code})\n${output()}`)));
  });
  return { child, url, output };
}

/** Runs a registry that is expected to refuse to start; one that starts anyway is stopped, so the test fails instead of hanging. */
function runToExit(args: string[]): Promise<{ code: number | null; output: string }> {
  const { child, output } = spawnRegistry(args);
  child.stdout!.on("data", () => {
    if (output().includes('"msg":"listening"')) child.kill("SIGTERM");
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, output: output() }));
  });
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill(signal);
  return exited;
}

/** Every file under `dir` with its size, mtime and SHA-256. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of (readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const file = path.join(dir, name);
    const stat = statSync(file);
    files[name] = stat.isDirectory() ? "dir" : `${stat.size} ${stat.mtimeMs} ${createHash("sha256").update(readFileSync(file)).digest("hex")}`;
  }
  return files;
}

function lockHolder(dataDir: string): { pid: number; released: number } {
  const db = new Database(path.join(dataDir, LOCK_FILE), { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT pid, released FROM holder").get() as { pid: number; released: number };
  } finally {
    db.close();
  }
}

test("a second registry on the same data directory exits non-zero, naming the holder, and writes nothing", async (t) => {
  const dataDir = tempDir(t, "data-dir-");
  const first = await startRegistry(t, ["--data-dir", dataDir]);
  assert.equal((await fetch(`${first.url}/health`)).status, 200);
  const before = snapshot(dataDir);

  const second = await runToExit(["--data-dir", dataDir]);
  assert.notEqual(second.code, 0);
  assert.match(second.output, new RegExp(`data directory is in use: .*registry\\.lock is locked by process ${first.child.pid}`));
  assert.doesNotMatch(second.output, /"listening"/);
  assert.deepEqual(snapshot(dataDir), before, "the second process changed nothing");
  assert.equal((await fetch(`${first.url}/health`)).status, 200, "the first one serves on");

  // A clean stop (SIGTERM) releases the lock: the next start takes it without a takeover.
  assert.equal(await stop(first.child), 0, `the first registry stopped cleanly (signal: ${first.child.signalCode})\n${first.output()}`);
  assert.deepEqual(lockHolder(dataDir), { pid: first.child.pid, released: 1 });
  const next = await startRegistry(t, ["--data-dir", dataDir]);
  assert.doesNotMatch(next.output(), /took over/);
  assert.equal(await stop(next.child, "SIGINT"), 0, `SIGINT stopped it cleanly (signal: ${next.child.signalCode})\n${next.output()}`);
  assert.equal(lockHolder(dataDir).released, 1, "SIGINT releases it too");
});

test("the lock of a killed registry does not block the next start: it is taken over, and logged", async (t) => {
  const dataDir = tempDir(t, "data-dir-");
  const crashed = await startRegistry(t, ["--data-dir", dataDir]);
  await stop(crashed.child, "SIGKILL");
  assert.deepEqual(lockHolder(dataDir), { pid: crashed.child.pid, released: 0 }, "a stale lock record with a dead pid");

  const next = await startRegistry(t, ["--data-dir", dataDir]);
  const takeover = next
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => String(l.msg).includes("took over the data directory lock"));
  assert.ok(takeover, next.output());
  assert.equal(takeover.level, "warn");
  assert.equal(takeover.previous_pid, crashed.child.pid);
  assert.equal(lockHolder(dataDir).pid, next.child.pid);
});

test("another implementation's data directory is refused before anything is written, pointing to --migrate-from", async (t) => {
  const { sourceDir, sourcePath } = copyFixture(t);
  const before = snapshot(sourceDir);
  const sqliteBytes = readFileSync(sourcePath);

  const served = await runToExit(["--data-dir", sourceDir]);
  assert.notEqual(served.code, 0);
  assert.match(served.output, /another registry implementation's data/);
  assert.match(served.output, /--migrate-from/);
  assert.match(served.output, new RegExp(`${SOURCE_DB} is a SQLite database without this registry's schema version`));
  assert.deepEqual(snapshot(sourceDir), before, "no operator-token, no lock, no -wal/-shm");
  assert.deepEqual(readFileSync(sourcePath), sqliteBytes);

  // Its log alone gives it away too, whatever database is named.
  const elsewhere = path.join(tempDir(t, "data-dir-"), "ours.sqlite");
  const byLog = await runToExit(["--data-dir", sourceDir, "--db", elsewhere]);
  assert.notEqual(byLog.code, 0);
  assert.match(byLog.output, /tlog\/leaves\.jsonl is another implementation's log.*--migrate-from/);
  assert.deepEqual(snapshot(sourceDir), before);
});

test("the identity and key flags parse where they belong and nowhere else", () => {
  assert.equal(loadConfig(["--new-identity"], {}).newIdentity, true);
  assert.equal(loadConfig([], {}).newIdentity, undefined);
  assert.equal(loadConfig(["--migrate-from", "/o.sqlite", "--use-source-key"], {}).migrate?.keyWinner, "source");
  assert.equal(loadConfig(["--migrate-from", "/o.sqlite", "--keep-target-key"], {}).migrate?.keyWinner, "target");
  for (const [argv, problem] of [
    [["--use-source-key"], /--use-source-key needs --migrate-from/],
    [["--migrate-from", "/o", "--use-source-key", "--keep-target-key"], /cannot be combined/],
    [["--migrate-from", "/o", "--new-identity"], /--new-identity is for serving/],
    [["--validate-db", "--new-identity"], /--new-identity is for serving/],
  ] as const) {
    assert.throws(() => loadConfig([...argv], {}), problem);
  }
});
