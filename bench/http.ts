/**
 * HTTP benchmark: `npm run bench:http -- [--duration S] [--connections N] [--leaves N]
 * [--warmup S] [--scenarios a,b,...] [--client raw|agent] [--profile DIR] [--keep]`.
 *
 * Starts the registry as its own process on 127.0.0.1 (ephemeral port, temp
 * data dir, rate limits off, synchronous=FULL) and drives it over loopback
 * with a closed-loop keep-alive client. Phase 1 on an empty log: register,
 * beacon, dns, proof, evidence. Phase 2 preloads `--leaves` leaves straight
 * into a fresh SQLite file, starts a second server on it and measures
 * proof_at_N and evidence_at_N. Each scenario prints one JSON line on stdout;
 * progress and error details go to stderr. bench/README.md explains the figures.
 */
import { randomBytes, randomInt } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateSeed, signerFromSeed, type Signer } from "../src/core/ed25519.js";
import { loadOrCreateIdentity } from "../src/core/identity.js";
import { toHex } from "../src/core/hex.js";
import { canonicalize } from "../src/core/jcs.js";
import { manifestParties, manifestSignedBytes } from "../src/core/manifest.js";
import { openDatabase } from "../src/registry/database.js";
import { beaconLeaf, registerLeaf } from "../src/registry/leaves.js";
import { isoSeconds } from "../src/registry/time.js";
import { TlogStore } from "../src/tlog/store.js";
import { startBenchRegistry } from "./child.js";
import { runLoad, type ClientKind, type LoadRequest, type LoadResult } from "./load.js";
import { flagValue, integerFlag } from "./flags.js";

const SCENARIOS = [
  "register",
  "beacon",
  "dns",
  "proof",
  "evidence",
  "proof_at_N",
  "evidence_at_N",
  "proof_at_N_serial",
  "evidence_at_N_serial",
] as const;
type Scenario = (typeof SCENARIOS)[number];

const OPERATOR_TOKEN = `bench-${randomBytes(16).toString("hex")}`;
/** Upper bound on the register rate we prepare signed manifests for; running dry ends the scenario early (reported). */
const REGISTER_BUDGET_PER_S = 8000;
/** Registrations made untimed when `register` is not among the scenarios but later ones need files. */
const SEED_REGISTRATIONS = 2000;
const ISSUERS = 4;
const PRELOAD_BATCH = 10_000;
const PRELOAD_MAX_FILES = 10_000;
const PRELOAD_EVENTS_PER_FILE = 3;
const CLOCK_TICKS_PER_S = 100;
const DB_FILE = "oversight-registry.sqlite";

interface Flags {
  durationS: number;
  warmupS: number;
  connections: number;
  leaves: number;
  scenarios: Set<Scenario>;
  profileDir: string | null;
  client: ClientKind;
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
    keep: argv.includes("--keep"),
  };
}

const log = (message: string) => process.stderr.write(`${message}\n`);

function removeDataDir(dir: string, flags: Flags): void {
  if (flags.keep) log(`kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

// ---------------------------------------------------------------- the server process

interface RegistryProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

interface CpuSample {
  wall: number;
  /** CPU seconds (user + system, all threads) of the server process; null without /proc. */
  server: number | null;
  client: NodeJS.CpuUsage;
  /** Busy and total CPU seconds of the whole machine (all CPUs); null without /proc. */
  machine: { busy: number; total: number } | null;
}

function readProc(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

function cpuSample(pid: number): CpuSample {
  const stat = readProc(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat?.slice(stat.lastIndexOf(")") + 2).split(" ");
  const server = fields ? (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S : null;
  // First line of /proc/stat: user nice system idle iowait irq softirq steal …
  const ticks = readProc("/proc/stat")?.split("\n", 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const machine = ticks
    ? {
        busy: (ticks.reduce((a, b) => a + b, 0) - ticks[3]! - ticks[4]!) / CLOCK_TICKS_PER_S,
        total: ticks.reduce((a, b) => a + b, 0) / CLOCK_TICKS_PER_S,
      }
    : null;
  return { wall: performance.now() / 1000, server, client: process.cpuUsage(), machine };
}

/** Cores' worth of CPU used between two samples: by the server, by this client, and by the whole machine. */
function cpuShares(before: CpuSample, after: CpuSample): { server: number | null; client: number; machine: number | null } {
  const wall = after.wall - before.wall;
  const client = process.cpuUsage(before.client);
  const cores = os.availableParallelism();
  return {
    server: before.server === null || after.server === null ? null : (after.server - before.server) / wall,
    client: (client.user + client.system) / 1e6 / wall,
    machine:
      before.machine === null || after.machine === null
        ? null
        : (cores * (after.machine.busy - before.machine.busy)) / (after.machine.total - before.machine.total),
  };
}

async function startRegistry(dataDir: string, flags: Flags, label: string): Promise<RegistryProcess> {
  const nodeArgs = flags.profileDir ? ["--cpu-prof", "--cpu-prof-dir", flags.profileDir, "--cpu-prof-name", `server-${label}.cpuprofile`] : [];
  const server = await startBenchRegistry(dataDir, DB_FILE, OPERATOR_TOKEN, nodeArgs);
  return { url: String(server.ready["url"]), pid: server.pid, stop: () => server.stop() };
}

// ---------------------------------------------------------------- requests

interface Registration {
  fileId: string;
  httpToken: string;
  dnsToken: string;
  body: Buffer;
}

interface Issuer {
  id: string;
  signer: Signer;
}

const issuers: Issuer[] = Array.from({ length: ISSUERS }, (_, i) => ({ id: `bench-issuer-${i}`, signer: signerFromSeed(generateSeed()) }));

/** A signed manifest with 2 beacons and 2 watermarks, signed the way test/issuer.ts signs. */
function signedManifest(run: string, i: number): Record<string, unknown> {
  const issuer = issuers[i % issuers.length]!;
  const manifest: Record<string, unknown> = {
    file_id: `${run}-file-${i}`,
    issued_at: 1795395279,
    issuer_id: issuer.id,
    issuer_ed25519_pub: issuer.signer.publicKeyHex,
    recipient: { recipient_id: `${run}-recipient-${i % 997}`, x25519_pub: "00".repeat(32) },
    beacons: [
      { token_id: `${run}h${i}`, kind: "http" },
      { token_id: `${run}d${i}`, kind: "dns" },
    ],
    watermarks: [
      { mark_id: `${run}z${i}`, layer: "L1_zero_width" },
      { mark_id: `${run}s${i}`, layer: "L3_semantic" },
    ],
  };
  manifest["signature_ed25519"] = toHex(issuer.signer.sign(manifestSignedBytes(manifest)));
  return manifest;
}

function prepareRegistrations(count: number): Registration[] {
  const run = randomBytes(4).toString("hex");
  return Array.from({ length: count }, (_, i) => {
    const manifest = signedManifest(run, i);
    const body = Buffer.from(JSON.stringify({ manifest, beacons: manifest["beacons"], watermarks: manifest["watermarks"] }));
    return { fileId: manifest["file_id"] as string, httpToken: `${run}h${i}`, dnsToken: `${run}d${i}`, body };
  });
}

function jsonHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { "content-type": "application/json", ...extra };
}

/** Cycles through prepared requests. */
function cycle(requests: LoadRequest[]): () => LoadRequest {
  let next = 0;
  return () => requests[next++ % requests.length]!;
}

async function treeSize(url: string): Promise<number> {
  const res = await fetch(`${url}/tlog/head`);
  if (!res.ok) throw new Error(`GET /tlog/head answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { size: number }).size;
}

// ---------------------------------------------------------------- measuring

interface Measurement {
  scenario: string;
  connections: number;
  result: LoadResult;
  cpu: ReturnType<typeof cpuShares>;
  extra?: Record<string, unknown>;
}

async function measure(
  scenario: string,
  server: RegistryProcess,
  flags: Flags,
  next: () => LoadRequest | null,
  extra?: Record<string, unknown>,
  connections = flags.connections,
): Promise<Measurement> {
  log(`${scenario}: ${flags.warmupS} s warm-up, ${flags.durationS} s measured, ${connections} connections`);
  const warmupMs = flags.warmupS * 1000;
  let before = cpuSample(server.pid);
  // CPU is sampled over the measured window only, once the warm-up is over.
  const sampler = setTimeout(() => (before = cpuSample(server.pid)), warmupMs);
  const result = await runLoad({ url: server.url, connections, durationMs: flags.durationS * 1000, warmupMs, next, client: flags.client });
  clearTimeout(sampler);
  const measurement: Measurement = { scenario, connections, result, cpu: cpuShares(before, cpuSample(server.pid)), ...(extra ? { extra } : {}) };
  report(measurement);
  return measurement;
}

const share = (x: number | null) => (x === null ? null : round(x, 2));

function report({ scenario, connections, result, cpu, extra }: Measurement): void {
  const line: Record<string, unknown> = {
    scenario,
    rps: Math.round(result.rps),
    p50_ms: round(result.p50Ms, 3),
    p99_ms: round(result.p99Ms, 3),
    errors: result.errors,
    requests: result.requests,
    cores: os.availableParallelism(),
    connections,
    server_cpu: share(cpu.server),
    client_cpu: share(cpu.client),
    machine_cpu: share(cpu.machine),
    other_cpu: cpu.server === null || cpu.machine === null ? null : share(Math.max(0, cpu.machine - cpu.server - cpu.client)),
    ...extra,
  };
  if (result.exhausted) line["exhausted"] = true;
  if (result.warmupErrors > 0) line["warmup_errors"] = result.warmupErrors;
  if (result.errors + result.warmupErrors > 0) {
    line["error_kinds"] = Object.fromEntries(Object.entries(result.errorKinds).map(([kind, { count }]) => [kind, count]));
    for (const [kind, { count, sample }] of Object.entries(result.errorKinds)) log(`${scenario}: ${count} × ${kind}: ${sample}`);
  }
  if (result.exhausted) log(`${scenario}: ran out of prepared requests before the end; the rate is over ${round(result.elapsedMs / 1000, 1)} s`);
  console.log(JSON.stringify(line));
}

// ---------------------------------------------------------------- phase 1: an empty log

async function phaseOne(flags: Flags, results: Measurement[]): Promise<void> {
  const wanted = (s: Scenario) => flags.scenarios.has(s);
  if (!["register", "beacon", "dns", "proof", "evidence"].some((s) => wanted(s as Scenario))) return;

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
      const seeded = await runLoad({ url: server.url, connections: flags.connections, durationMs: 600_000, warmupMs: 0, next: nextRegistration, client: flags.client });
      for (const [kind, { count, sample }] of Object.entries(seeded.errorKinds)) log(`seeding registrations: ${count} × ${kind}: ${sample}`);
    }
    // Every prepared registration handed out was sent; the ones that failed are in the errors above.
    const registered = registrations.slice(0, used);

    if (wanted("beacon")) {
      const beacons = registered.map((r): LoadRequest => ({ method: "GET", path: `/p/${r.httpToken}.png`, headers: { "user-agent": "bench-http" } }));
      results.push(await measure("beacon", server, flags, cycle(beacons)));
    }
    if (wanted("dns")) {
      const dnsHeaders = jsonHeaders();
      const events = registered.map((r): LoadRequest => {
        const body = Buffer.from(JSON.stringify({ token_id: r.dnsToken, qtype: "A", qname: `${r.dnsToken}.b.example.net` }));
        return { method: "POST", path: "/dns_event", body, headers: dnsHeaders };
      });
      results.push(await measure("dns", server, flags, cycle(events)));
    }
    const size = await treeSize(server.url);
    if (wanted("proof")) {
      results.push(await measure("proof", server, flags, () => ({ method: "GET", path: `/tlog/proof/${randomInt(size)}` }), { leaves: size }));
    }
    if (wanted("evidence")) {
      const paths = registered.map((r) => `/evidence/${encodeURIComponent(r.fileId)}`);
      results.push(await measure("evidence", server, flags, () => ({ method: "GET", path: paths[randomInt(paths.length)]! }), { leaves: size }));
    }
  } finally {
    await server.stop();
    removeDataDir(dataDir, flags);
  }
}

// ---------------------------------------------------------------- phase 2: a large log

type PlanItem = { kind: "register"; file: number } | { kind: "event"; file: number } | { kind: "filler" };

/**
 * The order of the preloaded leaves: file k registers at about k × stride,
 * its events land at random later points, and unknown-token beacon hits fill
 * the rest, so proofs and bundles reach all over the tree.
 */
function* preloadPlan(leaves: number, files: number): Generator<PlanItem> {
  const eventsAt: number[][] = Array.from({ length: files }, () => []);
  for (let file = 0; file < files; file++) {
    for (let e = 0; e < PRELOAD_EVENTS_PER_FILE; e++) eventsAt[file + randomInt(files - file)]!.push(file);
  }
  const stride = leaves / files;
  let emitted = 0;
  for (let block = 0; block < files; block++) {
    yield { kind: "register", file: block };
    emitted++;
    for (const file of eventsAt[block]!) {
      yield { kind: "event", file };
      emitted++;
    }
    for (; emitted < Math.round((block + 1) * stride); emitted++) yield { kind: "filler" };
  }
}

interface PreloadedFile {
  fileId: string;
  manifest: Record<string, unknown>;
}

/** Writes the log, the manifests and the events rows directly, as the server would have, without HTTP. */
function preload(dbPath: string, leaves: number): { files: PreloadedFile[]; size: number } {
  const fileCount = Math.max(1, Math.min(PRELOAD_MAX_FILES, Math.floor(leaves / 100)));
  const run = randomBytes(4).toString("hex");
  const files = Array.from({ length: fileCount }, (_, i) => {
    const manifest = signedManifest(run, i);
    return { fileId: manifest["file_id"] as string, manifest };
  });

  // A log with leaves and no key is refused at start (a lost key is not replaced silently): the key comes first, as in a real registry.
  loadOrCreateIdentity(path.dirname(dbPath));
  const db = openDatabase(dbPath, { synchronous: "NORMAL" });
  const store = new TlogStore(db);
  const sql = {
    manifest: db.prepare(
      `INSERT INTO manifests (file_id, recipient_id, issuer_id, issuer_ed25519_pub, manifest_json, registered_at, tlog_index, request_digest)
       VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`,
    ),
    beacon: db.prepare("INSERT INTO beacons (token_id, file_id, recipient_id, issuer_id, kind, registered_at) VALUES (?, ?, ?, ?, ?, ?)"),
    watermark: db.prepare(
      "INSERT INTO watermarks (mark_id, layer, file_id, recipient_id, issuer_id, registered_at) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    event: db.prepare(
      `INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index)
       VALUES (?, ?, ?, ?, 'http_img', ?, ?, '{}', ?, ?, ?)`,
    ),
  };
  const userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
  const start = Math.floor(Date.now() / 1000) - leaves;

  const write = (item: PlanItem, index: number) => {
    const now = start + index;
    const timestamp = isoSeconds(now);
    if (item.kind === "register") {
      const { manifest } = files[item.file]!;
      const parties = manifestParties(manifest);
      store.append(registerLeaf({ ...parties, nBeacons: 2, nWatermarks: 2, timestamp }));
      sql.manifest.run(parties.fileId, parties.recipientId, parties.issuerId, parties.issuerPub, canonicalize(manifest), now, index);
      for (const b of manifest["beacons"] as { token_id: string; kind: string }[]) {
        sql.beacon.run(b.token_id, parties.fileId, parties.recipientId, parties.issuerId, b.kind, now);
      }
      for (const w of manifest["watermarks"] as { mark_id: string; layer: string }[]) {
        sql.watermark.run(w.mark_id, w.layer, parties.fileId, parties.recipientId, parties.issuerId, now);
      }
      return;
    }
    const owner = item.kind === "event" ? manifestParties(files[item.file]!.manifest) : null;
    const tokenId = item.kind === "event" ? `${run}h${item.file}` : `${run}-unknown-${index}`;
    const sourceIp = `198.51.100.${index % 256}`;
    store.append(
      beaconLeaf({
        kind: "http_img",
        tokenId,
        fileId: owner?.fileId ?? null,
        recipientId: owner?.recipientId ?? null,
        sourceIp,
        userAgent,
        timestamp,
      }),
    );
    sql.event.run(tokenId, owner?.fileId ?? null, owner?.recipientId ?? null, owner?.issuerId ?? null, sourceIp, userAgent, now, timestamp, index);
  };

  const plan = preloadPlan(leaves, fileCount);
  const batch = db.transaction(() => {
    for (let n = 0; n < PRELOAD_BATCH; n++) {
      const item = plan.next();
      if (item.done) return false;
      write(item.value, store.size());
    }
    return true;
  });
  const began = performance.now();
  let lastReport = began;
  while (batch()) {
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      log(`preloaded ${store.size()} leaves`);
    }
  }
  const size = store.size();
  log(`preloaded ${size} leaves (${fileCount} files, ${PRELOAD_EVENTS_PER_FILE} events each) in ${round((performance.now() - began) / 1000, 1)} s`);
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return { files, size };
}

/** The preloaded rows must make real bundles: one proof per event, plus the registration's. */
async function checkBundle(url: string, fileId: string): Promise<void> {
  const res = await fetch(`${url}/evidence/${encodeURIComponent(fileId)}`);
  if (!res.ok) throw new Error(`GET /evidence answered ${res.status}: ${await res.text()}`);
  const bundle = (await res.json()) as { tlog_proofs?: unknown[]; registration?: unknown };
  if (bundle.tlog_proofs?.length !== PRELOAD_EVENTS_PER_FILE || !bundle.registration) {
    throw new Error(`a preloaded file's bundle lacks proofs: ${JSON.stringify(bundle).slice(0, 500)}`);
  }
}

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
