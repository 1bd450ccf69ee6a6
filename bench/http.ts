/**
 * HTTP benchmark: `npm run bench:http -- [--duration S] [--connections N] [--leaves N]
 * [--warmup S] [--scenarios a,b,...] [--client raw|agent] [--profile DIR] [--keep]
 * [--server-main PATH]`.
 *
 * First the two ceilings (ceilings.ts): a bare node:http hello-world server
 * through the same client, and one core's Ed25519 verify rate. Then the
 * registry as its own process on 127.0.0.1 (ephemeral port, temp data dir,
 * rate limits off, synchronous=FULL), driven over loopback with a
 * closed-loop keep-alive client. Phase 1 on an empty log: register, beacon,
 * health_under_beacons (/health beside 32 connections of beacon hits),
 * dns, head, head_after_write, proof, evidence, and health_under_bundles (/health while 4
 * connections pull a 5,000-event bundle). Phase 2 preloads `--leaves` leaves
 * straight into a fresh SQLite file (http-preload.ts), starts a second server
 * on it and measures proof_at_N and evidence_at_N. Each ceiling and scenario
 * prints one JSON line on stdout, every scenario with its share of its
 * ceiling; progress and error details go to stderr. bench/README.md explains
 * the figures.
 */
import { randomInt } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { measureCeilings } from "./ceilings.js";
import { flagValue, integerFlag } from "./flags.js";
import {
  DB_FILE,
  OPERATOR_TOKEN,
  loadOf,
  measure,
  measureLoad,
  startRegistry,
  type MeasureFlags,
  type Measurement,
  type RegistryProcess,
} from "./http-measure.js";
import { checkBundle, preload } from "./http-preload.js";
import { cycle, jsonHeaders, prepareRegistrations, treeSize, type Registration } from "./http-requests.js";
import { runLoad, type LoadRequest, type LoadResult } from "./load.js";
import { log, round } from "./output.js";

const SCENARIOS = [
  "register",
  "beacon",
  "beacon_serial",
  "health_under_beacons",
  "dns",
  "head",
  "head_after_write",
  "proof",
  "evidence",
  "health_under_bundles",
  "proof_at_N",
  "evidence_at_N",
  "proof_at_N_serial",
  "evidence_at_N_serial",
] as const;
type Scenario = (typeof SCENARIOS)[number];

/** Upper bound on the register rate we prepare signed manifests for; running dry ends the scenario early (reported). */
const REGISTER_BUDGET_PER_S = 8000;
/** Registrations made untimed when `register` is not among the scenarios but later ones need files. */
const SEED_REGISTRATIONS = 2000;
/** health_under_bundles: the events of the pulled file (issue #9: four clients on a 5,000-event bundle stall /health for seconds). */
const BUNDLE_EVENTS = 5000;
const BUNDLE_CONNECTIONS = 4;

interface Flags extends MeasureFlags {
  leaves: number;
  scenarios: Set<Scenario>;
  /** Keep the temp data directories (for profiling or inspection) instead of removing them. */
  keep: boolean;
}

function parseFlags(argv: string[]): Flags {
  const value = (name: string) => flagValue(argv, name);
  const count = (name: string, fallback: number, min: number) => integerFlag(argv, name, fallback, min);
  const scenarioList = value("scenarios")?.split(",") ?? [...SCENARIOS];
  for (const name of scenarioList) {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`unknown scenario '${name}' (known: ${SCENARIOS.join(", ")})`);
  }
  const profile = value("profile");
  const client = value("client") ?? "raw";
  if (client !== "raw" && client !== "agent") throw new Error(`--client is raw or agent, got '${client}'`);
  return {
    durationS: count("duration", 10, 1),
    warmupS: count("warmup", 1, 0),
    connections: count("connections", 32, 1),
    leaves: count("leaves", 1_000_000, 0),
    scenarios: new Set(scenarioList as Scenario[]),
    profileDir: profile === undefined ? null : path.resolve(profile),
    client,
    serverMain: value("server-main") ?? null,
    keep: argv.includes("--keep"),
    ceilings: null,
  };
}

function removeDataDir(dir: string, flags: Flags): void {
  if (flags.keep) log(`kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- phase 1: an empty log

async function phaseOne(flags: Flags, results: Measurement[]): Promise<void> {
  const wanted = (s: Scenario) => flags.scenarios.has(s);
  if (!SCENARIOS.some((s) => !s.includes("_at_N") && wanted(s))) return;

  const registerCount = wanted("register") ? (flags.durationS + flags.warmupS) * REGISTER_BUDGET_PER_S : SEED_REGISTRATIONS;
  const signStart = performance.now();
  const registrations = prepareRegistrations(registerCount);
  log(`signed ${registerCount} manifests in ${round((performance.now() - signStart) / 1000, 1)} s (not measured)`);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-http-"));
  const server = await startRegistry(dataDir, flags, "empty-log");
  try {
    let used = 0;
    const registerHeaders = jsonHeaders({ authorization: `Bearer ${OPERATOR_TOKEN}` });
    const nextRegistration = (): LoadRequest | null => {
      const registration = registrations[used];
      if (registration === undefined) return null;
      used++;
      return {
        method: "POST",
        path: "/register",
        body: registration.body,
        headers: registerHeaders,
      };
    };
    if (wanted("register")) {
      results.push(await measure("register", server, flags, nextRegistration));
    } else {
      const seeded = await runLoad({
        url: server.url,
        connections: flags.connections,
        durationMs: 600_000,
        warmupMs: 0,
        next: nextRegistration,
        client: flags.client,
      });
      for (const [kind, { count, sample }] of Object.entries(seeded.errorKinds)) log(`seeding registrations: ${count} × ${kind}: ${sample}`);
    }
    // Every prepared registration handed out was sent; the ones that failed are in the errors above.
    const registered = registrations.slice(0, used);

    const beacons = registered.map((r): LoadRequest => ({ method: "GET", path: `/p/${r.httpToken}.png`, headers: { "user-agent": "bench-http" } }));
    if (wanted("beacon")) results.push(await measure("beacon", server, flags, cycle(beacons)));
    // One connection: each hit commits alone, so this is what an event costs on disk at low load.
    if (wanted("beacon_serial")) results.push(await measure("beacon_serial", server, flags, cycle(beacons), undefined, 1));
    if (wanted("health_under_beacons")) results.push(await healthUnderBeacons(server, flags, beacons));
    if (wanted("dns")) {
      const dnsHeaders = jsonHeaders();
      const events = registered.map((r): LoadRequest => {
        const body = Buffer.from(JSON.stringify({ token_id: r.dnsToken, qtype: "A", qname: `${r.dnsToken}.b.example.net` }));
        return { method: "POST", path: "/dns_event", body, headers: dnsHeaders };
      });
      results.push(await measure("dns", server, flags, cycle(events)));
      if (wanted("head_after_write")) results.push(await headAfterWrite(server, flags, events));
    }
    if (wanted("head")) results.push(await measure("head", server, flags, () => ({ method: "GET", path: "/tlog/head" })));
    const size = await treeSize(server.url);
    if (wanted("proof")) {
      results.push(await measure("proof", server, flags, () => ({ method: "GET", path: `/tlog/proof/${randomInt(size)}` }), { leaves: size }));
    }
    if (wanted("evidence")) {
      const paths = registered.map((r) => `/evidence/${encodeURIComponent(r.fileId)}`);
      results.push(await measure("evidence", server, flags, () => ({ method: "GET", path: paths[randomInt(paths.length)]! }), { leaves: size }));
    }
    if (wanted("health_under_bundles")) results.push(await healthUnderBundles(server, flags, registered[0]!));
  } finally {
    await server.stop();
    removeDataDir(dataDir, flags);
  }
}

/**
 * On one connection, a DNS event and then at once `GET /tlog/head`: the
 * line's latencies are the head's, a read that needs the head covering the
 * write just acknowledged. A head that does not cover it counts as an error.
 */
async function headAfterWrite(server: RegistryProcess, flags: Flags, events: LoadRequest[]): Promise<Measurement> {
  const load = async (): Promise<LoadResult> => {
    const latencies: number[] = [];
    const errorKinds: LoadResult["errorKinds"] = {};
    let errors = 0;
    const fail = (kind: string, sample: string) => {
      errors++;
      errorKinds[kind] ??= { count: 0, sample };
      errorKinds[kind].count++;
    };
    const measuredFrom = performance.now() + flags.warmupS * 1000;
    const end = measuredFrom + flags.durationS * 1000;
    for (let i = 0; performance.now() < end; i++) {
      const event = events[i % events.length]!;
      const written = await fetch(server.url + event.path, { method: "POST", headers: event.headers ?? {}, body: event.body ?? null });
      const { tlog_index: index } = (await written.json()) as { tlog_index: number };
      const asked = performance.now();
      const head = await fetch(`${server.url}/tlog/head`);
      const { size } = (await head.json()) as { size: number };
      const took = performance.now() - asked;
      if (asked < measuredFrom) continue;
      latencies.push(took);
      if (!written.ok || !head.ok) fail(`${written.status}/${head.status}`, "");
      else if (!(size > index)) fail("head does not cover the write", `size ${size}, index ${index}`);
    }
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    return {
      requests: latencies.length,
      errors,
      warmupErrors: 0,
      elapsedMs: flags.durationS * 1000,
      rps: latencies.length / flags.durationS,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      errorKinds,
      exhausted: false,
    };
  };
  return measureLoad("head_after_write", server, flags, load, 1, { latency_of: "GET /tlog/head right after an acknowledged write" });
}

/**
 * /health from one connection while `--connections` connections send beacon
 * hits: how long a cheap request waits behind the write path (each commit's
 * fsync, when it holds the event loop). The line's rps and latencies are
 * /health's; the hits are in `beacon_*`.
 */
async function healthUnderBeacons(server: RegistryProcess, flags: Flags, beacons: LoadRequest[]): Promise<Measurement> {
  const health = loadOf(server, flags, () => ({ method: "GET", path: "/health" }), 1);
  const hits = loadOf(server, flags, cycle(beacons), flags.connections);
  const extra: Record<string, unknown> = { beacon_connections: flags.connections };
  const both = async () => {
    const [healthResult, hitResult] = await Promise.all([health(), hits()]);
    Object.assign(extra, { beacon_rps: round(hitResult.rps, 0), beacon_p99_ms: round(hitResult.p99Ms, 2), beacon_errors: hitResult.errors });
    return healthResult;
  };
  return measureLoad("health_under_beacons", server, flags, both, 1, extra);
}

/**
 * /health from one connection while BUNDLE_CONNECTIONS connections pull the
 * evidence bundle of one file with BUNDLE_EVENTS events: how long a cheap
 * request waits behind the heaviest read. The line's rps and latencies are
 * /health's; the bundle pulls are in `bundle_*`.
 */
async function healthUnderBundles(server: RegistryProcess, flags: Flags, file: Registration): Promise<Measurement> {
  let sent = 0;
  const hit: LoadRequest = { method: "GET", path: `/p/${file.httpToken}.png`, headers: { "user-agent": "bench-http" } };
  const next = () => (sent++ < BUNDLE_EVENTS ? hit : null);
  const seeded = await runLoad({ url: server.url, connections: flags.connections, durationMs: 600_000, warmupMs: 0, next, client: flags.client });
  if (seeded.errors > 0) throw new Error(`adding ${BUNDLE_EVENTS} events to ${file.fileId} failed ${seeded.errors} times`);
  const bundle: LoadRequest = { method: "GET", path: `/evidence/${encodeURIComponent(file.fileId)}` };
  const health = loadOf(server, flags, () => ({ method: "GET", path: "/health" }), 1);
  const bundles = loadOf(server, flags, () => bundle, BUNDLE_CONNECTIONS);
  const extra: Record<string, unknown> = { bundle_events: BUNDLE_EVENTS, bundle_connections: BUNDLE_CONNECTIONS };
  const both = async () => {
    const [healthResult, bundleResult] = await Promise.all([health(), bundles()]);
    Object.assign(extra, { bundle_rps: round(bundleResult.rps, 2), bundle_p50_ms: round(bundleResult.p50Ms, 1), bundle_errors: bundleResult.errors });
    return healthResult;
  };
  return measureLoad("health_under_bundles", server, flags, both, 1, extra);
}

// ---------------------------------------------------------------- phase 2: a large log

async function phaseTwo(flags: Flags, results: Measurement[]): Promise<void> {
  const wanted = (s: Scenario) => flags.scenarios.has(s);
  if (flags.leaves === 0 || !SCENARIOS.some((s) => s.includes("_at_N") && wanted(s))) return;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-http-large-"));
  try {
    const dbPath = path.join(dataDir, DB_FILE);
    const { files, size } = preload(dbPath, flags.leaves);
    log(`database: ${round(fs.statSync(dbPath).size / 2 ** 20, 1)} MiB`);
    const server = await startRegistry(dataDir, flags, "large-log");
    try {
      const served = await treeSize(server.url);
      if (served !== size) throw new Error(`the server sees ${served} leaves, ${size} were preloaded`);
      await checkBundle(server.url, files[0]!.fileId);
      const proof = (): LoadRequest => ({ method: "GET", path: `/tlog/proof/${randomInt(size)}` });
      const paths = files.map((f) => `/evidence/${encodeURIComponent(f.fileId)}`);
      const evidence = (): LoadRequest => ({ method: "GET", path: paths[randomInt(paths.length)]! });
      const extra = { leaves: size };
      if (wanted("proof_at_N")) results.push(await measure("proof_at_N", server, flags, proof, extra));
      if (wanted("evidence_at_N")) results.push(await measure("evidence_at_N", server, flags, evidence, extra));
      // One connection: the service time of one request, without queueing behind the others.
      if (wanted("proof_at_N_serial")) results.push(await measure("proof_at_N_serial", server, flags, proof, extra, 1));
      if (wanted("evidence_at_N_serial")) results.push(await measure("evidence_at_N_serial", server, flags, evidence, extra, 1));
    } finally {
      await server.stop();
    }
  } finally {
    removeDataDir(dataDir, flags);
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  if (flags.profileDir) fs.mkdirSync(flags.profileDir, { recursive: true });
  const results: Measurement[] = [];
  flags.ceilings = await measureCeilings(flags);
  await phaseOne(flags, results);
  await phaseTwo(flags, results);
  const failed = results.filter((m) => m.result.errors + m.result.warmupErrors > 0).map((m) => m.scenario);
  if (failed.length > 0) log(`errors in: ${failed.join(", ")}`);
  if (flags.profileDir) log(`server CPU profiles in ${flags.profileDir}`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  },
);
