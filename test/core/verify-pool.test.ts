import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { generateSeed, signerFromSeed } from "../../src/core/ed25519.js";
import { RegistryError } from "../../src/core/errors.js";
import { toHex } from "../../src/core/hex.js";
import { VerifyPool, firstVerified, type SignatureCheck } from "../../src/core/verify-pool.js";

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

test("the pool answers what firstVerified answers, on its workers", async (t) => {
  const pool = startPool(t, { threads: 2 });
  assert.equal(pool.threads, 2);
  const all = cases();
  const answers = await Promise.all(all.map(([c]) => pool.verify(c)));
  assert.deepEqual(answers, all.map(([, expected]) => expected));
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
  assert.deepEqual(await Promise.all(answers), valid.map((_, i) => (i % 3 === 0 ? -1 : 0)));
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
  const held = [pool.verify(check("held by the worker")), pool.verify(check("also held")), pool.verify(check("still queued"))];
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
  const alsoSent = pool.verify(check("sent to the worker behind it"));
  const stillQueued = pool.verify(check("queued until the worker has room"));
  await assert.rejects(crashing, (e) => e instanceof RegistryError && e.code === "server_error" && e.status === 500);
  await assert.rejects(alsoSent, (e) => e instanceof RegistryError && e.code === "server_error");
  assert.equal(await stillQueued, 0, "checks the dead worker never held go to its replacement");
  assert.equal(pool.stats.restarts, 1);
  assert.equal(errors.length, 1);
  assert.equal(await pool.verify(check("after the crash")), 0);
  assert.equal(pool.threads, 1);
  assert.deepEqual(pool.stats, { pooled: 3, inThread: 0, failed: 2, restarts: 1 });
});

test("a worker that stops answering is replaced and its checks fail with server_error", async (t) => {
  const pool = startPool(t, { threads: 1, stallMs: 25 });
  assert.equal(await pool.verify(check("warm-up")), 0);
  // Hashing 64 MiB takes the worker far longer than the 25 ms it may stay silent.
  const slow = check("x", { messages: [new Uint8Array(64 * 1024 * 1024)] });
  await assert.rejects(pool.verify(slow), (e) => e instanceof RegistryError && e.code === "server_error");
  assert.equal(pool.stats.restarts, 1);
  assert.equal(await pool.verify(check("after the stall")), 0);
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
