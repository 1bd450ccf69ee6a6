/**
 * Read-path benchmark: `npm run bench:reads -- [--leaves N] [--events N] [--duration S] [--server-main PATH]`.
 *
 * Builds a log of `--leaves` beacon leaves straight into a fresh SQLite file,
 * starts the registry on it as its own process, registers one file and gives
 * it `--events` beacon hits over HTTP (the largest bundle), then measures, one
 * JSON line each:
 * - `range_serial`: `/tlog/range` of 1,000 entries at random starts, one connection;
 * - `evidence_page_serial`: the largest bundle's first page, one connection;
 * - `health_under_bundle`: `/health` on one connection while 4 connections pull
 *   every page of the largest bundle over and over;
 * - `rss`: the server's resident memory idle, then after 20,000 proofs and
 *   300 ranges, and `rss_end` after everything, split into anonymous and
 *   file-backed memory (`/proc`, Linux only).
 * Every scenario's line also has the server's RSS when it ended. With
 * `--server-main`, another checkout's `build/src/main.js` is measured by this
 * client (started with this checkout's memory settings). Progress goes to
 * stderr. bench/README.md explains the figures.
 */
import { randomInt } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadOrCreateIdentity } from "../src/core/identity.js";
import { openDatabase } from "../src/registry/database.js";
import { beaconLeaf } from "../src/registry/leaves.js";
import { TlogStore } from "../src/tlog/store.js";
import { createIssuer } from "../test/issuer.js";
import { startBenchRegistry } from "./child.js";
import { DB_FILE, OPERATOR_TOKEN } from "./http-measure.js";
import { flagValue, integerFlag } from "./flags.js";
import { runLoad, type LoadRequest, type LoadResult } from "./load.js";

const BATCH = 10_000;
const RANGE = 1000;
const BUNDLE_PULLERS = 4;
const PROOFS = 20_000;
const RANGES = 300;

const leaves = integerFlag(process.argv, "leaves", 1_000_000);
const events = integerFlag(process.argv, "events", 5000);
const durationMs = integerFlag(process.argv, "duration", 10) * 1000;
const warmupMs = 1000;
const serverMain = flagValue(process.argv, "server-main");

const log = (message: string) => process.stderr.write(`${message}\n`);
const round = (x: number) => Number(x.toFixed(3));

function buildLog(dataDir: string): void {
  loadOrCreateIdentity(dataDir);
  const db = openDatabase(path.join(dataDir, DB_FILE), { synchronous: "NORMAL" });
  const store = new TlogStore(db);
  const userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
  const batch = db.transaction((from: number) => {
    const datas = [];
    for (let i = from; i < Math.min(from + BATCH, leaves); i++) {
      datas.push(
        beaconLeaf({
          kind: "http_img",
          tokenId: `unknown-${i}`,
          fileId: null,
          recipientId: null,
          sourceIp: `198.51.100.${i % 256}`,
          userAgent,
          timestamp: "2026-11-23T00:00:00Z",
        }),
      );
    }
    store.appendMany(datas);
  });
  for (let from = 0; from < leaves; from += BATCH) batch(from);
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
}

function rssMiB(pid: number): number | null {
  try {
    const kib = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kib === undefined ? null : round(Number(kib) / 1024);
  } catch {
    return null;
  }
}

/**
 * Where the resident memory is at the end: `anon_mib` is the process's own
 * (V8 heaps, malloc, SQLite's page cache), `file_mib` the mapped files
 * (node's binary and libraries), so a change in RSS can be told apart.
 */
function residentParts(pid: number): { anon_mib: number; file_mib: number } | null {
  try {
    const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? Number.NaN);
    const anon = kib("Anonymous");
    return { anon_mib: round(anon / 1024), file_mib: round((kib("Rss") - anon) / 1024) };
  } catch {
    return null;
  }
}

/** One scenario's line, with the server's RSS when it ended (which phase grows it). */
function line(scenario: string, result: LoadResult, pid: number, extra: Record<string, unknown> = {}): void {
  const figures = { rps: Math.round(result.rps), p50_ms: round(result.p50Ms), p99_ms: round(result.p99Ms), errors: result.errors, requests: result.requests };
  console.log(JSON.stringify({ scenario, ...figures, rss_mib: rssMiB(pid), cores: os.availableParallelism(), leaves, ...extra }));
}

/** Requests from `make` until `count` have been handed out, then none. */
function counted(count: number, make: () => LoadRequest): () => LoadRequest | null {
  let left = count;
  return () => (left-- > 0 ? make() : null);
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-reads-"));
  try {
    const began = performance.now();
    buildLog(dataDir);
    log(`built ${leaves} leaves in ${round((performance.now() - began) / 1000)} s`);
    const server = await startBenchRegistry(dataDir, DB_FILE, OPERATOR_TOKEN, [], serverMain === undefined ? undefined : path.resolve(serverMain));
    const url = String(server.ready["url"]);
    try {
      const idle = rssMiB(server.pid);
      const size = leaves + 1 + events;
      const registration = createIssuer("bench-reads").registration({ file_id: "largest-bundle" });
      const registered = await fetch(`${url}/register`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${OPERATOR_TOKEN}` },
        body: JSON.stringify(registration),
      });
      if (!registered.ok) throw new Error(`POST /register answered ${registered.status}: ${await registered.text()}`);
      const token = (registration.beacons[0] as { token_id: string }).token_id;
      await runLoad({ url, connections: 16, durationMs: 3_600_000, warmupMs: 0, next: counted(events, () => ({ method: "GET", path: `/p/${token}.png` })) });

      const range = (): LoadRequest => ({ method: "GET", path: `/tlog/range?start=${randomInt(size - RANGE)}&limit=${RANGE}` });
      const proofs = await runLoad({
        url,
        connections: 32,
        durationMs: 3_600_000,
        warmupMs: 0,
        next: counted(PROOFS, () => ({ method: "GET", path: `/tlog/proof/${randomInt(size)}` })),
      });
      await runLoad({ url, connections: 4, durationMs: 3_600_000, warmupMs: 0, next: counted(RANGES, range) });
      console.log(
        JSON.stringify({
          scenario: "rss",
          idle_mib: idle,
          after_mib: rssMiB(server.pid),
          proofs: PROOFS,
          ranges: RANGES,
          proof_rps: Math.round(proofs.rps),
          cores: os.availableParallelism(),
          leaves,
        }),
      );
      const pages = ["/evidence/largest-bundle"];
      for (;;) {
        const page = (await (await fetch(url + pages.at(-1)!)).json()) as { next_cursor?: string; events: unknown[] };
        if (page.next_cursor === undefined) break;
        pages.push(`/evidence/largest-bundle?cursor=${encodeURIComponent(page.next_cursor)}`);
      }
      log(`the largest bundle: ${events} events in ${pages.length} page(s)`);

      line("range_serial", await runLoad({ url, connections: 1, durationMs, warmupMs, next: range }), server.pid, { limit: RANGE });
      line("evidence_page_serial", await runLoad({ url, connections: 1, durationMs, warmupMs, next: () => ({ method: "GET", path: pages[0]! }) }), server.pid, {
        events,
      });

      let next = 0;
      const pull = (): LoadRequest => ({ method: "GET", path: pages[next++ % pages.length]! });
      const [health, bundles] = await Promise.all([
        runLoad({ url, connections: 1, durationMs, warmupMs, next: () => ({ method: "GET", path: "/health" }) }),
        runLoad({ url, connections: BUNDLE_PULLERS, durationMs, warmupMs, next: pull, timeoutMs: 120_000 }),
      ]);
      line("health_under_bundle", health, server.pid, {
        pullers: BUNDLE_PULLERS,
        pages: pages.length,
        page_rps: Math.round(bundles.rps),
        page_p99_ms: round(bundles.p99Ms),
        page_errors: bundles.errors,
      });

      console.log(JSON.stringify({ scenario: "rss_end", rss_mib: rssMiB(server.pid), ...residentParts(server.pid), cores: os.availableParallelism(), leaves }));
    } finally {
      await server.stop();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
