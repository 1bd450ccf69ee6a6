/**
 * Running and measuring bench:http's registry: the server as its own
 * process, CPU shares from /proc over the measured window, and one JSON line
 * per scenario on stdout, with its share of the ceiling that bounds it.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { shareOfCeiling, type Ceilings } from "./ceilings.js";
import { startBenchRegistry } from "./child.js";
import { log, round } from "./output.js";
import { runLoad, type ClientKind, type LoadRequest, type LoadResult } from "./load.js";

export const OPERATOR_TOKEN = `bench-${randomBytes(16).toString("hex")}`;
export const DB_FILE = "oversight-registry.sqlite";
const CLOCK_TICKS_PER_S = 100;

/** The flags measuring needs. */
export interface MeasureFlags {
  durationS: number;
  warmupS: number;
  connections: number;
  profileDir: string | null;
  client: ClientKind;
  /** The registry's main.js to start (`--server-main`, for an A/B against another build with this client); null: this build's. */
  serverMain: string | null;
  /** Measured at the start of the run; null while the ceilings themselves are measured. */
  ceilings: Ceilings | null;
}

export interface RegistryProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export interface CpuSample {
  wall: number;
  /** CPU seconds (user + system, all threads) of the server process; null without /proc. */
  server: number | null;
  client: NodeJS.CpuUsage;
  /** Bytes the server process caused to be written to storage (/proc/<pid>/io write_bytes); null without /proc. */
  diskWritten: number | null;
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

export function cpuSample(pid: number): CpuSample {
  const stat = readProc(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat?.slice(stat.lastIndexOf(")") + 2).split(" ");
  const server = fields ? (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S : null;
  // First line of /proc/stat: user nice system idle iowait irq softirq steal …
  const ticks = readProc("/proc/stat")?.split("\n", 1)[0]?.trim().split(/\s+/).slice(1, 9).map(Number);
  const machine = ticks
    ? {
        busy: (ticks.reduce((a, b) => a + b, 0) - ticks[3]! - ticks[4]!) / CLOCK_TICKS_PER_S,
        total: ticks.reduce((a, b) => a + b, 0) / CLOCK_TICKS_PER_S,
      }
    : null;
  const io = readProc(`/proc/${pid}/io`)?.match(/^write_bytes: (\d+)$/m);
  const diskWritten = io ? Number(io[1]) : null;
  return { wall: performance.now() / 1000, server, client: process.cpuUsage(), diskWritten, machine };
}

/** Cores' worth of CPU used between two samples: by the server, by this client, and by the whole machine. */
export function cpuShares(before: CpuSample, after: CpuSample): { server: number | null; client: number; machine: number | null } {
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

export async function startRegistry(dataDir: string, flags: MeasureFlags, label: string): Promise<RegistryProcess> {
  // One directory per server and node's default names: every thread (the main one, the writer, the
  // verify workers) writes its own profile; one --cpu-prof-name for all of them kept only the last to stop.
  const nodeArgs = flags.profileDir ? ["--cpu-prof", "--cpu-prof-dir", path.join(flags.profileDir, `server-${label}`)] : [];
  const server = await startBenchRegistry(dataDir, DB_FILE, OPERATOR_TOKEN, nodeArgs, flags.serverMain ?? undefined);
  return { url: String(server.ready["url"]), pid: server.pid, stop: () => server.stop() };
}

export interface Measurement {
  scenario: string;
  connections: number;
  result: LoadResult;
  cpu: ReturnType<typeof cpuShares>;
  /** Bytes written to storage by the server over the measured window; null without /proc. */
  diskWritten: number | null;
  extra?: Record<string, unknown>;
}

/** Runs `next` on `connections` for the flags' warm-up and duration. */
export function loadOf(target: { url: string }, flags: MeasureFlags, next: () => LoadRequest | null, connections = flags.connections) {
  return () => runLoad({ url: target.url, connections, durationMs: flags.durationS * 1000, warmupMs: flags.warmupS * 1000, next, client: flags.client });
}

export async function measure(
  scenario: string,
  server: RegistryProcess,
  flags: MeasureFlags,
  next: () => LoadRequest | null,
  extra?: Record<string, unknown>,
  connections = flags.connections,
): Promise<Measurement> {
  return measureLoad(scenario, server, flags, loadOf(server, flags, next, connections), connections, extra);
}

/** Measures what `load` does (one or more loads at once; its result is the one reported), with the server's CPU over the measured window. */
export async function measureLoad(
  scenario: string,
  server: RegistryProcess,
  flags: MeasureFlags,
  load: () => Promise<LoadResult>,
  connections: number,
  extra?: Record<string, unknown>,
): Promise<Measurement> {
  log(`${scenario}: ${flags.warmupS} s warm-up, ${flags.durationS} s measured, ${connections} connections`);
  let before = cpuSample(server.pid);
  let countersBefore = writeCounters(server);
  // CPU is sampled over the measured window only, once the warm-up is over.
  const sampler = setTimeout(() => {
    before = cpuSample(server.pid);
    countersBefore = writeCounters(server);
  }, flags.warmupS * 1000);
  const result = await load();
  clearTimeout(sampler);
  const after = cpuSample(server.pid);
  const [from, to] = [await countersBefore, await writeCounters(server)];
  const published =
    from.published === null || to.published === null ? {} : { head_publications_per_s: Math.round((to.published - from.published) / flags.durationS) };
  const commits = to.commits - from.commits;
  const grouped = commits === 0 ? {} : { jobs_per_commit: round((to.jobs - from.jobs) / commits, 1) };
  const diskWritten = before.diskWritten === null || after.diskWritten === null ? null : after.diskWritten - before.diskWritten;
  const measurement: Measurement = { scenario, connections, result, cpu: cpuShares(before, after), diskWritten, extra: { ...extra, ...published, ...grouped } };
  report(measurement, flags.ceilings);
  return measurement;
}

/**
 * Heads the server has published (`tlog_head_publication_duration_seconds_count`; null for a build
 * without that metric), and its write transactions and the jobs they held (`registry_batch_size`).
 */
async function writeCounters(server: RegistryProcess): Promise<{ published: number | null; commits: number; jobs: number }> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const metric = (name: string): number | null => {
    const line = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
    return line ? Number(line[1]) : null;
  };
  return {
    published: metric("tlog_head_publication_duration_seconds_count"),
    commits: metric("registry_batch_size_count") ?? 0,
    jobs: metric("registry_batch_size_sum") ?? 0,
  };
}

const share = (x: number | null) => (x === null ? null : round(x, 2));

function report({ scenario, connections, result, cpu, diskWritten, extra }: Measurement, ceilings: Ceilings | null): void {
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
    disk_kb_per_request: diskWritten === null || result.requests === 0 ? null : round(diskWritten / 1024 / result.requests, 1),
    ...(ceilings ? shareOfCeiling(scenario, result.rps, ceilings) : {}),
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
