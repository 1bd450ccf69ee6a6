/**
 * `oversight-registry monitor --url <registry> --state <file> [--interval <s>] [--once]`
 *
 * For people who watch a log they do not run. Each round's new entries are
 * printed (one JSON line each) only after the new head is proven to extend
 * the last verified one, and only then is the state advanced. A fork, a
 * rewrite, a shrunk log or a bad signature stops the monitor and leaves both
 * heads and the proof in an evidence file beside the state.
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import { LogMisbehaviour, monitorRound, PinMismatchError, type RoundSession } from "./monitor-round.js";
import { writeFileDurably } from "../core/durable-file.js";
import { writeMonitorMetrics } from "./monitor-metrics.js";
import { readState, StateFileError, writeState } from "./monitor-state.js";
import { RegistryClient, RegistryHttpError, RegistryProtocolError } from "./registry-client.js";

export interface CommandIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
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
`;

const MonitorOptionsSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  state: z.string().min(1),
  interval: z.coerce.number().positive().max(86_400).default(60),
  timeout: z.coerce.number().positive().max(3_600).default(30),
  once: z.boolean().default(false),
  noConsistency: z.boolean().default(false),
  /** node_exporter textfile-collector file the findings are written to (monitor-metrics.ts). */
  metricsFile: z.string().min(1).optional(),
});
export type MonitorOptions = z.infer<typeof MonitorOptionsSchema>;

export function parseMonitorArgs(args: string[]): MonitorOptions | "help" {
  const { values, positionals } = parseArgs({
    args,
    options: {
      url: { type: "string" },
      state: { type: "string" },
      interval: { type: "string" },
      timeout: { type: "string" },
      once: { type: "boolean" },
      "no-consistency": { type: "boolean" },
      "metrics-file": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return "help";
  if (positionals.length > 0) throw new Error(`unexpected argument ${positionals[0]}`);
  const parsed = MonitorOptionsSchema.safeParse({ ...values, noConsistency: values["no-consistency"], metricsFile: values["metrics-file"] });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(issue ? `--${String(issue.path[0] ?? "")}: ${issue.message}` : "invalid arguments");
  }
  return parsed.data;
}

export async function monitorCommand(args: string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const say = (message: string) => io.stderr.write(`monitor: ${message}\n`);
  let options: MonitorOptions | "help";
  try {
    options = parseMonitorArgs(args);
  } catch (error) {
    io.stderr.write(`monitor: ${(error as Error).message}\n${USAGE}`);
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
  const session: RoundSession = { useConsistency: !options.noConsistency, notice: say };
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
    for (const entry of outcome.entries) io.stdout.write(`${JSON.stringify(entry)}\n`);
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

/** `<state>.evidence-<UTC time>.json`, never overwriting an earlier one. */
export function writeEvidence(statePath: string, url: string, finding: LogMisbehaviour, now = new Date()): string {
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
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
