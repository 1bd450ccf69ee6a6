/**
 * `oversight-registry monitor --url <registry> --state <file> [--interval <s>] [--once]`
 *
 * For people who watch a log they do not run. Each round's new entries are
 * printed (one JSON line each) only after the new head is proven to extend
 * the last verified one, and only then is the state advanced. A fork, a
 * rewrite, a shrunk log or a bad signature stops the monitor and leaves both
 * heads and the proof in an evidence file beside the state.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { fileProblem, parseCommandLine, UsageError } from "../cli/command-line.js";
import { LogMisbehaviour, monitorRound, PinMismatchError, type MonitorEntry, type RoundSession } from "./monitor-round.js";
import { progressReporter } from "./progress.js";
import { buildWatchList, describeMatch, matchEntry, WatchListError, type WatchList } from "./watch-list.js";
import { writeFileDurably } from "../core/durable-file.js";
import { writeMonitorMetrics } from "./monitor-metrics.js";
import { readState, StateFileError, writeState } from "./monitor-state.js";
import { RegistryClient, RegistryHttpError, RegistryProtocolError } from "./registry-client.js";

export interface CommandIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown; isTTY?: boolean };
  /** Stops a long-running monitor after its current round (SIGINT/SIGTERM do the same). */
  signal?: AbortSignal;
}

/** Exit codes, so a supervisor can tell a lying log from a flaky network. */
export const MONITOR_EXIT = {
  ok: 0,
  misbehaviour: 1,
  /** A pinned key changed or the state file is unusable: a person must look. */
  needsOperator: 2,
  /** The registry could not be reached or answered outside the contract (--once). */
  unavailable: 3,
  usage: 64,
} as const;

const USAGE = `usage: oversight-registry monitor --url <registry> --state <file> [--interval <seconds>] [--once]
                                  [--no-consistency] [--timeout <seconds>] [--metrics-file <file.prom>]
                                  [--watch-issuer KEYHEX]... [--watch-file ID]... [--watch-token TOKEN]...
                                  [--watch-list FILE] [--json]
  Proves round after round that the log only grows. Without a watch list every
  new entry is printed as a JSON line; with one, only the entries that match it,
  one line each (a JSON line each with --json). docs/MONITORING.md.
`;

const seconds = (max: number) =>
  z
    .string()
    .regex(/^\d{1,9}(\.\d{1,6})?$/, { error: `must be a number of seconds, more than 0 and at most ${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .positive({ error: `must be more than 0 seconds` })
        .max(max, { error: `must be at most ${max} seconds` }),
    );

const MonitorOptionsSchema = z.object({
  url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  state: z.string({ error: "is required: the monitor's state file" }).min(1, { error: "needs a file name" }),
  interval: seconds(86_400).default(60),
  timeout: seconds(3_600).default(30),
  once: z.boolean().default(false),
  noConsistency: z.boolean().default(false),
  json: z.boolean().default(false),
  /** node_exporter textfile-collector file the findings are written to (monitor-metrics.ts). */
  metricsFile: z.string().min(1).optional(),
});
export type MonitorOptions = z.infer<typeof MonitorOptionsSchema> & { watch: WatchList | null };

const FLAGS = {
  url: { type: "string" },
  state: { type: "string" },
  interval: { type: "string" },
  timeout: { type: "string" },
  once: { type: "boolean" },
  "no-consistency": { type: "boolean" },
  "watch-issuer": { type: "string", multiple: true },
  "watch-file": { type: "string", multiple: true },
  "watch-token": { type: "string", multiple: true },
  "watch-list": { type: "string" },
  json: { type: "boolean" },
  "metrics-file": { type: "string" },
} as const;

/** Throws UsageError (one sentence naming the flag) or WatchListError. */
export function parseMonitorArgs(args: string[], cwd = process.cwd()): MonitorOptions | "help" {
  const parsed = parseCommandLine(args, FLAGS, { min: 0, max: 0, name: "" });
  if (parsed === "help") return "help";
  const { values } = parsed;
  if (values.url === undefined) throw new UsageError("--url is required: the registry's base URL");
  const options = MonitorOptionsSchema.safeParse({ ...values, noConsistency: values["no-consistency"], metricsFile: values["metrics-file"] });
  if (!options.success) {
    const issue = options.error.issues[0]!;
    const key = String(issue.path[0] ?? "");
    const flag = key === "noConsistency" ? "no-consistency" : key === "metricsFile" ? "metrics-file" : key;
    const given = (values as Record<string, unknown>)[flag];
    throw new UsageError(`--${flag} ${issue.message}${typeof given === "string" ? `, got '${given.slice(0, 80)}'` : ""}`);
  }
  const listFile = values["watch-list"] === undefined ? undefined : path.resolve(cwd, values["watch-list"]);
  let file: { text: string; source: string } | undefined;
  if (listFile !== undefined) {
    try {
      file = { text: readFileSync(listFile, "utf8"), source: listFile };
    } catch (error) {
      throw new WatchListError(`cannot read the watch list ${listFile}: ${fileProblem(error)}`);
    }
  }
  const watch = buildWatchList({ issuers: values["watch-issuer"] ?? [], files: values["watch-file"] ?? [], tokens: values["watch-token"] ?? [] }, file);
  return { ...options.data, watch };
}

export async function monitorCommand(args: string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const say = (message: string) => io.stderr.write(`monitor: ${message}\n`);
  let options: MonitorOptions | "help";
  try {
    options = parseMonitorArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof WatchListError)) throw error;
    io.stderr.write(`monitor: ${error.message}\n(oversight-registry monitor --help shows the usage)\n`);
    return MONITOR_EXIT.usage;
  }
  if (options === "help") {
    io.stdout.write(USAGE);
    return MONITOR_EXIT.ok;
  }
  const client = new RegistryClient(options.url, {
    timeoutMs: options.timeout * 1000,
    onRetry: (n) => say(`${n.url}: ${n.reason}; retrying in ${Math.round(n.delayMs / 100) / 10} s (attempt ${n.attempt + 1})`),
  });
  // The first round of a new state file may read the whole log: a person at a terminal sees how far it got.
  const session: RoundSession = {
    useConsistency: !options.noConsistency,
    notice: say,
    onProgress: progressReporter("monitor: catching up", { stream: io.stderr }),
  };
  if (options.once) return runRound(options, client, session, io);

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  if (io.signal?.aborted) stop.abort();
  io.signal?.addEventListener("abort", onSignal);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    for (;;) {
      const code = await runRound(options, client, session, io);
      if (code === MONITOR_EXIT.misbehaviour || code === MONITOR_EXIT.needsOperator) return code;
      if (await sleepOrStop(options.interval * 1000, stop.signal)) return MONITOR_EXIT.ok;
    }
  } finally {
    io.signal?.removeEventListener("abort", onSignal);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

async function runRound(options: MonitorOptions, client: RegistryClient, session: RoundSession, io: CommandIo): Promise<number> {
  const say = session.notice;
  try {
    const previous = readState(options.state);
    if (previous && previous.url !== client.baseUrl) say(`state ${options.state} was last used with ${previous.url}; now watching ${client.baseUrl}`);
    const outcome = await monitorRound(client, options.state, previous, session, new Date());
    for (const entry of outcome.entries) printEntry(entry, options, io);
    writeState(options.state, outcome.state);
    const head = outcome.state.head!;
    if (options.metricsFile) writeMonitorMetrics(options.metricsFile, { misbehaving: false, verifiedSize: head.size, verifiedAt: new Date() });
    const how = outcome.consistencyChecked ? "consistency proof and recomputed root" : "recomputed root";
    say(
      outcome.entries.length === 0
        ? `head size ${head.size} root ${head.root} verified; no new entries`
        : `head size ${head.size} root ${head.root} verified (${how}); ${outcome.entries.length} new entries from index ${outcome.previousSize}`,
    );
    return MONITOR_EXIT.ok;
  } catch (error) {
    if (error instanceof LogMisbehaviour) {
      const file = writeEvidence(options.state, client.baseUrl, error);
      if (options.metricsFile) {
        writeMonitorMetrics(options.metricsFile, { misbehaving: true, kind: error.kind, verifiedSize: error.details.verified_head?.size ?? null });
      }
      say(`LOG MISBEHAVIOUR (${error.kind}): ${error.message}`);
      say(`evidence (both heads and the proof) written to ${file}; the state was not advanced`);
      return MONITOR_EXIT.misbehaviour;
    }
    if (error instanceof PinMismatchError || error instanceof StateFileError) {
      say(error.message);
      return MONITOR_EXIT.needsOperator;
    }
    if (error instanceof RegistryHttpError || error instanceof RegistryProtocolError) {
      say(`round failed: ${error.message}`);
      return MONITOR_EXIT.unavailable;
    }
    throw error;
  }
}

/** Every entry as a JSON line without a watch list; with one, the matching entries only, for a person or (--json) a program. */
function printEntry(entry: MonitorEntry, options: MonitorOptions, io: CommandIo): void {
  if (options.watch === null) {
    io.stdout.write(`${JSON.stringify(entry)}\n`);
    return;
  }
  const reasons = matchEntry(options.watch, entry);
  if (reasons.length === 0) return;
  io.stdout.write(options.json ? `${JSON.stringify({ watched: reasons, ...entry })}\n` : `${describeMatch(entry, reasons)}\n`);
}

/** `<state>.evidence-<UTC time>.json`, never overwriting an earlier one. */
export function writeEvidence(statePath: string, url: string, finding: LogMisbehaviour, now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");
  let file = `${statePath}.evidence-${stamp}.json`;
  for (let n = 1; existsSync(file); n++) file = `${statePath}.evidence-${stamp}-${n}.json`;
  const evidence = {
    kind: finding.kind,
    message: finding.message,
    detected_at: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    registry_url: url,
    state_file: statePath,
    ...finding.details,
  };
  writeFileDurably(file, `${JSON.stringify(evidence, null, 2)}\n`);
  return file;
}

/** Resolves true when stopped, false when the time is up. */
function sleepOrStop(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(false);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(true);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
