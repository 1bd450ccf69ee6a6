import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { generateSeed, signerFromSeed } from "../../src/core/ed25519.js";
import { RegistryError } from "../../src/core/errors.js";
import { toHex } from "../../src/core/hex.js";
import { firstVerified, type SignatureCheck } from "../../src/core/signature-check.js";
import { VerifyPool } from "../../src/core/verify-pool.js";
import { tempDir } from "../temp.js";
import { LOAD_MS } from "./verify-workers/slow-loading.js";

const signer = signerFromSeed(generateSeed());
const other = signerFromSeed(generateSeed());

function check(message: string, overrides: Partial<SignatureCheck> = {}): SignatureCheck {
  return { publicKey: signer.publicKey, signature: signer.sign(Buffer.from(message, "utf8")), messages: [message], ...overrides };
}

/** Checks whose answers cover every outcome: first form, second form, none, and malformed inputs. */
function cases(): [SignatureCheck, number][] {
  const legacy = check("legacy form");
  return [
    [check("héllo wörld"), 0],
    [{ ...legacy, messages: ["full form", "legacy form"] }, 1],
    [{ ...legacy, messages: ["full form", "another form"] }, -1],
    [check("bytes", { messages: [Buffer.from("bytes")] }), 0],
    [check("bytes in a view", { messages: [new Uint8Array(Buffer.from("xxbytes in a viewxx")).subarray(2, 17)] }), 0],
    [check("hex key", { publicKey: signer.publicKeyHex }), 0],
    [check("hex signature", { signature: toHex(signer.sign(Buffer.from("hex signature"))) }), 0],
    [check("other key", { publicKey: other.publicKey }), -1],
    [check("short key", { publicKey: signer.publicKey.subarray(1) }), -1],
    [check("bad hex key", { publicKey: "zz".repeat(32) }), -1],
    [check("short signature", { signature: Buffer.alloc(63) }), -1],
    [check("no messages", { messages: [] }), -1],
  ];
}

function startPool(t: import("node:test").TestContext, options: ConstructorParameters<typeof VerifyPool>[0] = {}): VerifyPool {
  const pool = new VerifyPool(options);
  t.after(() => pool.close());
  return pool;
}

test("firstVerified gives the index of the first message that verifies", () => {
  for (const [c, expected] of cases()) assert.equal(firstVerified(c), expected, JSON.stringify(c.messages));
});

/** The packages a compiled module loads, following its static imports through our own modules. */
function packagesLoaded(file: string, seen = new Set<string>(), packages = new Set<string>()): Set<string> {
  if (seen.has(file)) return packages;
  seen.add(file);
  for (const [, from, bare] of readFileSync(file, "utf8").matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"|^import\s*"([^"]+)"/gms)) {
    const specifier = (from ?? bare)!;
    if (specifier.startsWith(".")) packagesLoaded(path.resolve(path.dirname(file), specifier), seen, packages);
    else packages.add(specifier);
  }
  return packages;
}

test("a verification worker loads no package but node's own: zod (through the pool's errors) would cost each worker ~4.5 MiB of heap", () => {
  const packages = packagesLoaded(fileURLToPath(new URL("../../src/core/verify-worker.js", import.meta.url)));
  assert.deepEqual(
    [...packages].filter((name) => !name.startsWith("node:")),
    [],
  );
  assert.ok(packages.has("node:crypto"), "the walk follows the worker's imports down to ed25519.ts");
});

test("the pool answers what firstVerified answers, on its workers", async (t) => {
  const pool = startPool(t, { threads: 2 });
  assert.equal(pool.threads, 2);
  const all = cases();
  const answers = await Promise.all(all.map(([c]) => pool.verify(c)));
  assert.deepEqual(
    answers,
    all.map(([, expected]) => expected),
  );
  assert.equal(pool.stats.pooled, all.length);
  assert.equal(pool.stats.inThread, 0);
});

test("many checks at once, spread over the workers and several turns of the loop", async (t) => {
  const pool = startPool(t, { threads: 2 });
  const valid = Array.from({ length: 300 }, (_, i) => check(`message ${i}`));
  const answers: Promise<number>[] = [];
  for (let i = 0; i < valid.length; i++) {
    const c = valid[i]!;
    answers.push(pool.verify(i % 3 === 0 ? { ...c, messages: [`tampered ${i}`] } : c));
    if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  assert.deepEqual(
    await Promise.all(answers),
    valid.map((_, i) => (i % 3 === 0 ? -1 : 0)),
  );
  assert.equal(pool.stats.pooled, valid.length);
});

test("beyond maxQueued, checks are verified in the calling thread", async (t) => {
  const pool = startPool(t, { threads: 1, maxQueued: 2 });
  const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => pool.verify(check(`queued ${i}`))));
  assert.deepEqual(answers, [0, 0, 0, 0, 0]);
  assert.deepEqual({ pooled: pool.stats.pooled, inThread: pool.stats.inThread }, { pooled: 2, inThread: 3 });
});

test("close waits for the checks the workers hold; a closed pool verifies in the calling thread", async (t) => {
  const pool = startPool(t, { threads: 1 });
  const sent = [pool.verify(check("held by the worker")), pool.verify(check("also held"))];
  await new Promise((resolve) => setImmediate(resolve));
  const held = [...sent, pool.verify(check("still queued"))];
  const closed = pool.close();
  assert.equal(await pool.verify(check("while closing")), 0);
  await closed;
  assert.deepEqual(await Promise.all(held), [0, 0, 0]);
  assert.equal(await pool.verify(check("after close")), 0);
  assert.equal(pool.threads, 0);
  assert.deepEqual(pool.stats, { pooled: 2, inThread: 3, failed: 0, restarts: 0 });
});

test("a worker that crashes fails its checks with server_error and is replaced", async (t) => {
  const errors: unknown[] = [];
  // A million messages do not fit a 16 MiB heap: the worker runs out of memory while receiving them.
  const pool = startPool(t, { threads: 1, resourceLimits: { maxOldGenerationSizeMb: 16 }, onError: (e) => errors.push(e) });
  assert.equal(await pool.verify(check("before the crash")), 0);
  const huge = check("x", { messages: Array.from({ length: 1_000_000 }, (_, i) => `message number ${i}`) });
  const crashing = pool.verify(huge);
  // A worker holds two batches of up to 16 checks: these fill them, beside the one that crashes it.
  const alsoSent = Array.from({ length: 31 }, (_, i) => pool.verify(check(`sent to the worker ${i}`)));
  const stillQueued = pool.verify(check("queued until the worker has room"));
  await assert.rejects(crashing, (e) => e instanceof RegistryError && e.code === "server_error" && e.status === 500);
  for (const sent of alsoSent) await assert.rejects(sent, (e) => e instanceof RegistryError && e.code === "server_error");
  assert.equal(await stillQueued, 0, "checks the dead worker never held go to its replacement");
  assert.equal(pool.stats.restarts, 1);
  assert.equal(errors.length, 1);
  assert.equal(await pool.verify(check("after the crash")), 0);
  assert.equal(pool.threads, 1);
  assert.deepEqual(pool.stats, { pooled: 3, inThread: 0, failed: 32, restarts: 1 });
});

test("checks asked for in one turn of the loop reach an idle worker as one message", async (t) => {
  const pool = startPool(t, { threads: 1, workerModule: workerModule("batch-size") });
  assert.equal(await pool.verify(check("the worker is ready and idle after this")), 1);
  const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => pool.verify(check(`one turn ${i}`))));
  assert.deepEqual(answers, [5, 5, 5, 5, 5], "each check is answered with the size of the message that carried it");
  assert.equal(await pool.verify(check("a later turn")), 1);
});

/** A worker module from ./verify-workers/, which stand for workers that misbehave (or, batch-size, show how checks travel). */
const workerModule = (name: string) => new URL(`./verify-workers/${name}.js`, import.meta.url);
const isServerError = (e: unknown) => e instanceof RegistryError && e.code === "server_error";

test("a worker that is ready but stops answering is replaced and its checks fail with server_error, until it keeps failing", async (t) => {
  const errors: unknown[] = [];
  const pool = startPool(t, { threads: 1, stallMs: 25, workerModule: workerModule("silent"), onError: (e) => errors.push(e) });
  await assert.rejects(pool.verify(check("held by a silent worker")), isServerError);
  assert.deepEqual({ ...pool.stats, threads: pool.threads }, { pooled: 0, inThread: 0, failed: 1, restarts: 1, threads: 1 });
  await assert.rejects(pool.verify(check("held by its replacement")), isServerError);
  await assert.rejects(pool.verify(check("held by the last replacement")), isServerError);
  assert.equal(pool.threads, 0, "a worker that never answered is not started a fourth time");
  assert.equal(await pool.verify(check("in the calling thread")), 0);
  assert.deepEqual(pool.stats, { pooled: 0, inThread: 1, failed: 3, restarts: 2 });
  assert.equal(errors.length, 3);
  assert.match(String(errors[0]), /answered nothing for 25 ms/);
});

test("checks held by a worker that never says it is ready are queued again, not failed", async (t) => {
  const errors: unknown[] = [];
  const pool = startPool(t, { threads: 1, stallMs: 25, startupMs: 0, workerModule: workerModule("never-ready"), onError: (e) => errors.push(e) });
  // Each replacement gets the check in turn; once none is left, the calling thread answers it.
  assert.equal(await pool.verify(check("never started")), 0);
  assert.equal(pool.threads, 0);
  assert.deepEqual(pool.stats, { pooled: 0, inThread: 1, failed: 0, restarts: 2 });
  assert.equal(errors.length, 3);
  assert.match(String(errors[0]), /was not ready after 25 ms/);
});

test("a worker that answers before it says it is ready is replaced; its checks are queued again", async (t) => {
  const errors: unknown[] = [];
  const pool = startPool(t, { threads: 1, workerModule: workerModule("unannounced"), onError: (e) => errors.push(e) });
  assert.equal(await pool.verify(check("never trusted", { publicKey: other.publicKey })), -1);
  assert.deepEqual(pool.stats, { pooled: 0, inThread: 1, failed: 0, restarts: 2 });
  assert.match(String(errors[0]), /answered before it said it was ready/);
});

test("a healthy worker that is slow to load is not taken for a stalled one", async (t) => {
  // The stall clock starts when the worker says it is ready: its load time, far beyond stallMs, does not count.
  const pool = startPool(t, { threads: 1, stallMs: LOAD_MS / 3, workerModule: workerModule("slow-loading") });
  assert.equal(await pool.verify(check("sent while the worker loads")), 0);
  assert.equal(await pool.verify(check("sent once it is ready")), 0);
  assert.deepEqual(pool.stats, { pooled: 2, inThread: 0, failed: 0, restarts: 0 });
});

test("an idle pool that nobody closes does not keep the process alive", async () => {
  const poolModule = new URL("../../src/core/verify-pool.js", import.meta.url).href;
  const script = `
    import { VerifyPool } from ${JSON.stringify(poolModule)};
    const pool = new VerifyPool({ threads: 1 });
    const answer = await pool.verify({ publicKey: "00".repeat(32), signature: "00".repeat(64), messages: ["m"] });
    console.log(JSON.stringify({ answer, pooled: pool.stats.pooled }));
  `;
  // Were the idle worker referenced, the child would never exit and the timeout would kill it.
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], { timeout: 30_000 });
  assert.deepEqual(JSON.parse(stdout), { answer: -1, pooled: 1 });
});

test("workers start in a process whose flags a worker would refuse", async (t) => {
  // Node 24's test runner starts each test file with flags such as
  // --stack-trace-limit, which a Worker given them explicitly refuses. The
  // script is a file: --input-type would take the path that passes flags on.
  const poolModule = new URL("../../src/core/verify-pool.js", import.meta.url).href;
  const script = `
    import { VerifyPool } from ${JSON.stringify(poolModule)};
    const pool = new VerifyPool({ threads: 1 });
    await pool.verify({ publicKey: "00".repeat(32), signature: "00".repeat(64), messages: ["m"] });
    console.log(JSON.stringify({ threads: pool.threads, pooled: pool.stats.pooled }));
    await pool.close();
  `;
  const file = path.join(tempDir(t, "verify-pool-flags-"), "pool.mjs");
  writeFileSync(file, script);
  const { stdout } = await promisify(execFile)(process.execPath, ["--stack-trace-limit=20", file]);
  assert.deepEqual(JSON.parse(stdout), { threads: 1, pooled: 1 });
});
