/**
 * DNS bridge benchmark: `npm run bench:dns -- [--duration S] [--warmup S]
 * [--clients N] [--window N] [--synchronous FULL|NORMAL] [--drain-limit S]
 * [--load dnsperf|node] [--rate Q] [--profile DIR]`.
 *
 * Starts the registry and the bridge as their own processes on 127.0.0.1
 * (ephemeral ports, temp data dirs, the registry's rate limits off, a DNS
 * secret, synchronous=FULL for both unless told otherwise) and drives the
 * bridge over UDP with `--clients` queries outstanding at any time, every
 * query for a new beacon token (so every one is journaled). The load comes
 * from `dnsperf` when it is on the PATH (a C load generator, so the client
 * takes little of the cores the bridge and the registry share), else from
 * closed-loop clients in this process. Prints one JSON line: answered queries
 * per second, answer latency percentiles, and delivery into the registry
 * (events per second from the first query until the journal's backlog is
 * empty). Progress on stderr.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as dnsPacket from "dns-packet";
import { startChild, type BenchChild } from "./child.js";
import { flagValue, integerFlag } from "./flags.js";
import { cpuSample, type CpuSample } from "./http-measure.js";

const SECRET = randomBytes(24).toString("hex");
const APEX = "bench.invalid";
/** A query unanswered this long is counted lost and its client moves on. */
const LOST_AFTER_MS = 2000;

const log = (message: string) => process.stderr.write(`${message}\n`);

async function metric(metricsUrl: string, name: string): Promise<number> {
  const value = await optionalMetric(metricsUrl, name);
  if (value === null) throw new Error(`no ${name} in the bridge's metrics`);
  return value;
}

/** A metric an older bridge may not have (so this script can measure a baseline build too). */
async function optionalMetric(metricsUrl: string, name: string): Promise<number | null> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return match ? Number(match[1]) : null;
}

/** A histogram's cumulative bucket counts from the bridge's metrics, by upper bound in seconds. */
async function histogramBuckets(metricsUrl: string, name: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const match of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, "gm"))) {
    buckets.set(match[1] === "+Inf" ? Infinity : Number(match[1]), Number(match[2]));
  }
  return buckets;
}

/** The upper bound (ms) of the bucket holding the p-th percentile of what was observed between two readings. */
function bucketPercentileMs(before: Map<number, number>, after: Map<number, number>, p: number): number | null {
  const delta = [...after].map(([le, n]) => [le, n - (before.get(le) ?? 0)] as const).sort((a, b) => a[0] - b[0]);
  const total = delta.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const bound = delta.find(([, n]) => n >= (p / 100) * total)![0];
  return Number.isFinite(bound) ? bound * 1000 : null;
}

/** How many observations between two readings took longer than `seconds` (a bucket bound). */
function countAbove(before: Map<number, number>, after: Map<number, number>, seconds: number): number | null {
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  const within = after.get(seconds);
  return within === undefined ? null : total - (within - (before.get(seconds) ?? 0));
}

const STAGES = ["dns_beacon_answer_seconds", "dns_journal_commit_wait_seconds", "dns_journal_commit_seconds", "dns_journal_fsync_seconds"] as const;

interface LoadResult {
  answered: number;
  lost: number;
  latenciesMs: Float64Array;
  seconds: number;
}

type LoadGenerator = "dnsperf" | "node";

const beaconName = (token: number) => `${token.toString(16).padStart(32, "0")}.t.${APEX}`;

function dnsperfOnPath(): boolean {
  try {
    execFileSync("dnsperf", ["-h"], { stdio: "ignore" });
    return true;
  } catch (error) {
    // `dnsperf -h` exits 1 after printing its usage; only a missing program is ENOENT.
    return (error as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

/** More names than the bridge can answer in the time, so dnsperf never runs out of new tokens. */
const DNSPERF_NAMES_PER_S = 30_000;

/**
 * dnsperf with `clients` queries outstanding, each name asked once (`-n 1`),
 * for `seconds`. `-v` prints one line per answer with its latency, from
 * which the percentiles come; lost queries are dnsperf's own count (timeout 2 s).
 */
async function dnsperfLoad(
  port: number,
  clients: number,
  rate: number | null,
  seconds: number,
  firstToken: number,
  dir: string,
): Promise<LoadResult & { nextToken: number }> {
  const names = DNSPERF_NAMES_PER_S * seconds;
  const file = path.join(dir, `queries-${firstToken}.txt`);
  const lines: string[] = [];
  for (let token = firstToken; token < firstToken + names; token++) lines.push(`${beaconName(token)} A`);
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
  const args = [
    "-s",
    "127.0.0.1",
    "-p",
    String(port),
    "-d",
    file,
    "-n",
    "1",
    "-l",
    String(seconds),
    "-c",
    String(clients),
    "-q",
    String(clients),
    "-t",
    String(LOST_AFTER_MS / 1000),
    "-v",
    // An offered rate: the latency at that rate, rather than at whatever rate the outstanding queries drive.
    ...(rate === null ? [] : ["-Q", String(rate)]),
  ];
  const child = spawn("dnsperf", args, { stdio: ["ignore", "pipe", "inherit"] });
  const latencies: number[] = [];
  let answered = 0;
  let tail = "";
  let partial = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    const text = partial + chunk;
    const end = text.lastIndexOf("\n");
    partial = text.slice(end + 1);
    for (const line of text.slice(0, end).split("\n")) {
      // "> NOERROR <name> A 0.000123": an answer and its latency in seconds; anything else is the summary.
      const answer = /^> NOERROR \S+ \S+ ([\d.]+)$/.exec(line);
      if (answer) {
        answered++;
        latencies.push(Number(answer[1]) * 1000);
      } else tail += `${line}\n`;
    }
  });
  const [code] = (await once(child, "exit")) as [number | null];
  fs.rmSync(file);
  const summary = (label: string) => {
    const match = new RegExp(`${label}:\\s+([\\d.]+)`).exec(tail);
    if (!match) throw new Error(`dnsperf printed no '${label}' (exit code ${code})`);
    return Number(match[1]);
  };
  return {
    answered,
    lost: summary("Queries lost"),
    latenciesMs: Float64Array.from(latencies).sort(),
    seconds: summary("Run time \\(s\\)"),
    nextToken: firstToken + names,
  };
}

/** Closed loop: each client sends its next query when the previous one is answered (or lost). */
async function udpLoad(port: number, clients: number, seconds: number, firstToken: number, record: boolean): Promise<LoadResult & { nextToken: number }> {
  let token = firstToken;
  let answered = 0;
  let lost = 0;
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const sockets = await Promise.all(
    Array.from({ length: clients }, async () => {
      const socket = dgram.createSocket("udp4");
      socket.bind(0, "127.0.0.1");
      await once(socket, "listening");
      return socket;
    }),
  );
  const started = performance.now();
  await Promise.all(
    sockets.map(
      (socket, i) =>
        new Promise<void>((resolve) => {
          let id = (i * 2003) & 0xffff;
          let sentAt = 0;
          let timer: NodeJS.Timeout | undefined;
          const next = () => {
            clearTimeout(timer);
            if (performance.now() >= deadline) {
              socket.close();
              resolve();
              return;
            }
            id = (id + 1) & 0xffff;
            const name = beaconName(token++);
            const packet = dnsPacket.encode({ type: "query", id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: "A", class: "IN" }] });
            sentAt = performance.now();
            timer = setTimeout(() => {
              lost++;
              next();
            }, LOST_AFTER_MS);
            socket.send(packet, port, "127.0.0.1");
          };
          socket.on("message", (reply) => {
            if (reply.readUInt16BE(0) !== id) return;
            answered++;
            if (record) latencies.push(performance.now() - sentAt);
            next();
          });
          next();
        }),
    ),
  );
  return { answered, lost, latenciesMs: Float64Array.from(latencies).sort(), seconds: (performance.now() - started) / 1000, nextToken: token };
}

/** CPU seconds a process used between two samples (all its threads); null without /proc. */
const cpuSeconds = (before: CpuSample, after: CpuSample) => (before.server === null || after.server === null ? null : after.server - before.server);

const percentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round = (n: number | null, digits = 3) => (n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits);

async function main(argv: string[]): Promise<void> {
  const durationS = integerFlag(argv, "duration", 10);
  const warmupS = integerFlag(argv, "warmup", 2, 0);
  const clients = integerFlag(argv, "clients", 32);
  // The bridge's own default, so that the figures are the product's as an operator runs it.
  const window = integerFlag(argv, "window", 256);
  const drainLimitS = integerFlag(argv, "drain-limit", 300);
  const synchronous = (flagValue(argv, "synchronous") ?? "FULL").toUpperCase();
  if (synchronous !== "FULL" && synchronous !== "NORMAL") throw new Error(`--synchronous must be FULL or NORMAL, got '${synchronous}'`);
  const profile = flagValue(argv, "profile");
  const profileDir = profile === undefined ? null : path.resolve(profile);
  const loadFlag = flagValue(argv, "load");
  if (loadFlag !== undefined && loadFlag !== "dnsperf" && loadFlag !== "node") throw new Error(`--load must be dnsperf or node, got '${loadFlag}'`);
  const generator: LoadGenerator = (loadFlag as LoadGenerator | undefined) ?? (dnsperfOnPath() ? "dnsperf" : "node");
  const rate = flagValue(argv, "rate") === undefined ? null : integerFlag(argv, "rate", 0);
  if (rate !== null && generator !== "dnsperf") throw new Error("--rate needs the dnsperf load generator");

  const root = fs.mkdtempSync(path.join(os.tmpdir(), "oversight-bench-dns-"));
  const children: BenchChild[] = [];
  try {
    const registry = await startChild({
      label: "registry",
      args: ["--host", "127.0.0.1", "--port", "0", "--data-dir", path.join(root, "registry")],
      env: {
        OVERSIGHT_DNS_EVENT_SECRET: SECRET,
        OVERSIGHT_AUTH_DISABLED: "1",
        OVERSIGHT_RATE_WRITE_PER_S: "0",
        OVERSIGHT_RATE_READ_PER_S: "0",
        OVERSIGHT_RATE_TOKEN_PER_S: "0",
        OVERSIGHT_RATE_DNS_PER_S: "0",
        OVERSIGHT_SQLITE_SYNCHRONOUS: synchronous,
        OVERSIGHT_LOG_ORIGIN: "bench.invalid/oversight-registry",
        OVERSIGHT_LOG_LEVEL: "info",
      },
      readyMsg: "listening",
      nodeArgs: profileDir === null ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-name", "registry.cpuprofile"],
    });
    children.push(registry);
    const bridge = await startChild({
      label: "bridge",
      args: [
        "dns-bridge",
        "--beacon-domain",
        APEX,
        "--answer-ip",
        "192.0.2.1",
        "--registry-url",
        String(registry.ready["url"]),
        "--address",
        "127.0.0.1",
        "--port",
        "0",
        "--metrics-port",
        "0",
        "--data-dir",
        path.join(root, "bridge"),
        "--source-rate",
        "0",
        "--delivery-window",
        String(window),
        "--sqlite-synchronous",
        synchronous,
      ],
      env: { OVERSIGHT_DNS_EVENT_SECRET: SECRET, OVERSIGHT_LOG_LEVEL: "info" },
      readyMsg: "ready",
      // One .cpuprofile per thread, written when the bridge exits.
      nodeArgs: profileDir === null ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir],
    });
    children.push(bridge);
    const port = Number(bridge.ready["dns_port"]);
    const metricsUrl = String(bridge.ready["metrics_url"]);

    const drive = (seconds: number, firstToken: number, record: boolean) =>
      generator === "dnsperf" ? dnsperfLoad(port, clients, rate, seconds, firstToken, root) : udpLoad(port, clients, seconds, firstToken, record);
    let token = 1;
    if (warmupS > 0) {
      log(`warming up for ${warmupS} s`);
      token = (await drive(warmupS, token, false)).nextToken;
      for (let i = 0; (await metric(metricsUrl, "dns_journal_backlog")) > 0; i++) {
        if (i > drainLimitS * 10) throw new Error("the warm-up backlog never drained");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const deliveredBefore = await metric(metricsUrl, "dns_events_delivered_total");
    const requestsBefore = await optionalMetric(metricsUrl, "dns_delivery_requests_total");
    log(`measuring for ${durationS} s with ${clients} clients (${generator})`);
    const loadStart = performance.now();
    const stagesBefore = await Promise.all(STAGES.map((name) => histogramBuckets(metricsUrl, name)));
    const fsyncsBefore = await optionalMetric(metricsUrl, "dns_journal_fsync_seconds_count");
    const journaledBefore = await metric(metricsUrl, "dns_events_journaled_total");
    const cpuBefore = [cpuSample(bridge.pid), cpuSample(registry.pid)];
    const load = await drive(durationS, token, true);
    const cpuAfter = [cpuSample(bridge.pid), cpuSample(registry.pid)];
    const stagesAfter = await Promise.all(STAGES.map((name) => histogramBuckets(metricsUrl, name)));
    const fsyncsDuringLoad = fsyncsBefore === null ? null : (await metric(metricsUrl, "dns_journal_fsync_seconds_count")) - fsyncsBefore;
    const journaledDuringLoad = (await metric(metricsUrl, "dns_events_journaled_total")) - journaledBefore;
    const [answerP99, commitWaitP99, commitP99, fsyncP99] = STAGES.map((_, i) => bucketPercentileMs(stagesBefore[i]!, stagesAfter[i]!, 99));
    const backlogAtEnd = await metric(metricsUrl, "dns_journal_backlog");
    const deliveredDuringLoad = (await metric(metricsUrl, "dns_events_delivered_total")) - deliveredBefore;
    let drained = true;
    for (let i = 0; (await metric(metricsUrl, "dns_journal_backlog")) > 0; i++) {
      if (i > drainLimitS * 20) {
        drained = false;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const drainEnd = performance.now();
    const cpuDrained = [cpuSample(bridge.pid), cpuSample(registry.pid)];
    const requestsAfter = await optionalMetric(metricsUrl, "dns_delivery_requests_total");
    const delivered = (await metric(metricsUrl, "dns_events_delivered_total")) - deliveredBefore;
    const journaled = await metric(metricsUrl, "dns_events_journaled_total");
    const p50 = round(percentile(load.latenciesMs, 50));
    const p99 = round(percentile(load.latenciesMs, 99));
    const answeredPerS = Math.round(load.answered / load.seconds);
    const deliveredPerS = Math.round(delivered / ((drainEnd - loadStart) / 1000));
    const [load1] = os.loadavg();
    const perAnswerUs = (i: number) => {
      const seconds = cpuSeconds(cpuBefore[i]!, cpuAfter[i]!);
      return seconds === null ? null : Math.round((seconds * 1e6) / load.answered);
    };
    // From the first query until the backlog is delivered: the work of answering and of delivering every event, however much of the delivery fell after the load.
    const perEventUs = (i: number) => {
      const seconds = cpuSeconds(cpuBefore[i]!, cpuDrained[i]!);
      return seconds === null || delivered === 0 ? null : Math.round((seconds * 1e6) / delivered);
    };
    const [machineBefore, machineAfter] = [cpuBefore[0]!.machine, cpuAfter[0]!.machine];
    // The line to read first; the JSON below has every figure.
    log(
      `${clients} clients (${generator}): ${answeredPerS} answers/s (target >= 5000), p50 ${p50} ms, p99 ${p99} ms (target <= 5), ` +
        `delivered ${deliveredPerS}/s (target >= 3000), lost ${load.lost}; ${os.cpus().length} cores, load average ${load1!.toFixed(2)}`,
    );
    console.log(
      JSON.stringify({
        scenario: "dns_udp_journaled",
        cores: os.cpus().length,
        load_avg_1m: round(load1!, 2),
        clients,
        offered_per_s: rate,
        load_generator: generator,
        delivery_window: window,
        synchronous,
        duration_s: round(load.seconds, 2),
        answered: load.answered,
        lost: load.lost,
        answered_per_s: answeredPerS,
        p50_ms: p50,
        p99_ms: p99,
        max_ms: round(percentile(load.latenciesMs, 100)),
        // Little's law: the queries the load generator actually kept outstanding, on average (at most `clients`).
        mean_in_flight: round((load.answered / load.seconds) * (load.latenciesMs.reduce((a, b) => a + b, 0) / 1000 / Math.max(1, load.latenciesMs.length)), 2),
        // The bridge's own view, from its histograms (a bucket's upper bound): what the client's p99 adds is the sockets and the client.
        bridge_answer_p99_ms_at_most: answerP99,
        bridge_commit_wait_p99_ms_at_most: commitWaitP99,
        bridge_commit_p99_ms_at_most: commitP99,
        bridge_fsync_p99_ms_at_most: fsyncP99,
        // The slow ones: a commit (a checkpoint inside it) or an fsync over 5 ms holds every answer behind it.
        bridge_commits_over_5ms: countAbove(stagesBefore[2]!, stagesAfter[2]!, 0.005),
        bridge_fsyncs_over_5ms: countAbove(stagesBefore[3]!, stagesAfter[3]!, 0.005),
        // How many appends one fdatasync of the journal covered during the load: each costs the disk's latency and kernel CPU.
        journaled_per_fsync: fsyncsDuringLoad === null || fsyncsDuringLoad === 0 ? null : round(journaledDuringLoad / fsyncsDuringLoad, 2),
        // How many events one delivery request carried on average (batches of up to --window).
        events_per_delivery_request:
          requestsAfter === null || requestsBefore === null ? null : round(delivered / Math.max(1, requestsAfter - requestsBefore), 1),
        journaled_total: journaled,
        delivered_during_load_per_s: Math.round(deliveredDuringLoad / load.seconds),
        backlog_at_end_of_load: backlogAtEnd,
        delivered,
        drained,
        delivered_per_s_until_drained: deliveredPerS,
        bridge_cpu_us_per_answer: perAnswerUs(0),
        registry_cpu_us_per_answer: perAnswerUs(1),
        bridge_cpu_us_per_event_until_drained: perEventUs(0),
        registry_cpu_us_per_event_until_drained: perEventUs(1),
        // Cores' worth of CPU busy on the whole machine during the load: above the bridge's and the registry's, other work.
        machine_busy_cores:
          machineBefore === null || machineAfter === null
            ? null
            : round((os.cpus().length * (machineAfter.busy - machineBefore.busy)) / (machineAfter.total - machineBefore.total), 2),
      }),
    );
  } finally {
    for (const child of children.reverse()) await child.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
