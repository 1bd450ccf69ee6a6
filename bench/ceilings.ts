/**
 * The two limits bench:http reads each scenario against, measured in the same
 * run on the same machine: the rate of a bare node:http hello-world server
 * through the bench's own client (no route can beat it), and the Ed25519
 * verify rate of one core (every registration verifies a signature, on every
 * core the registry has). Each scenario's line says which ceiling bounds it
 * and what share of it the scenario reached.
 */
import { fileURLToPath } from "node:url";
import os from "node:os";
import { generateSeed, signerFromSeed, verifyEd25519 } from "../src/core/ed25519.js";
import { startChild } from "./child.js";
import type { MeasureFlags } from "./http-measure.js";
import { runLoad } from "./load.js";
import { log, round } from "./output.js";

export interface Ceilings {
  /** Requests per second of the hello-world server. */
  helloRps: number;
  /** Ed25519 verifications per second on one core. */
  verifyPerS: number;
  cores: number;
}

const HELLO_JS = fileURLToPath(new URL("./hello-server.js", import.meta.url));
const VERIFY_SECONDS = 3;
/** Checking the clock every verification would be part of what is measured. */
const VERIFY_BATCH = 256;

/** Which ceiling bounds a scenario (registrations: signature checks on every core; the rest: HTTP), and the share of it reached. */
export function shareOfCeiling(scenario: string, rps: number, ceilings: Ceilings): Record<string, unknown> {
  const [ceiling, rate] =
    scenario === "register" ? [`ed25519_verify_x${ceilings.cores}`, ceilings.verifyPerS * ceilings.cores] : ["http_hello_world", ceilings.helloRps];
  return { ceiling, ceiling_rps: Math.round(rate), share_of_ceiling: rate > 0 ? round(rps / rate, 3) : null };
}

export async function measureCeilings(flags: MeasureFlags): Promise<Ceilings> {
  const cores = os.availableParallelism();
  const hello = await startChild({ label: "hello", script: HELLO_JS, args: [], env: {}, readyMsg: "listening" });
  let helloRps: number;
  try {
    log(`ceiling http_hello_world: ${flags.warmupS} s warm-up, ${flags.durationS} s measured, ${flags.connections} connections`);
    const result = await runLoad({
      url: String(hello.ready["url"]),
      connections: flags.connections,
      durationMs: flags.durationS * 1000,
      warmupMs: flags.warmupS * 1000,
      next: () => ({ method: "GET", path: "/" }),
      client: flags.client,
    });
    helloRps = result.rps;
    const line = {
      ceiling: "http_hello_world",
      rps: Math.round(result.rps),
      p50_ms: round(result.p50Ms, 3),
      p99_ms: round(result.p99Ms, 3),
      errors: result.errors,
      cores,
      connections: flags.connections,
    };
    console.log(JSON.stringify(line));
  } finally {
    await hello.stop();
  }
  log(`ceiling ed25519_verify_one_core: ${VERIFY_SECONDS} s`);
  const verifyPerS = verifyRate(VERIFY_SECONDS * 1000);
  console.log(JSON.stringify({ ceiling: "ed25519_verify_one_core", per_s: Math.round(verifyPerS), us_each: round(1e6 / verifyPerS, 1), cores }));
  return { helloRps, verifyPerS, cores };
}

/** Verifications per second of one signature on this thread, through the registry's own verifyEd25519 (node:crypto). */
function verifyRate(durationMs: number): number {
  const signer = signerFromSeed(generateSeed());
  const message = Buffer.from("bench:http ceiling: one manifest signature");
  const signature = signer.sign(message);
  let count = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < durationMs) {
    for (let i = 0; i < VERIFY_BATCH; i++) {
      if (!verifyEd25519(signer.publicKey, message, signature)) throw new Error("the ceiling's own signature does not verify");
    }
    count += VERIFY_BATCH;
    elapsed = performance.now() - start;
  }
  return (count * 1000) / elapsed;
}
