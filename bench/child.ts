/**
 * The registry's own command line as a separate process for the benchmarks:
 * started without the caller's registry settings (a DNS secret, a proxy,
 * another database would change what is measured), ready on a named log line,
 * stopped with SIGTERM (SIGKILL only if it hangs).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { REGISTRY_MEMORY_ENV, REGISTRY_NODE_OPTIONS } from "../src/memory-settings.js";
import { log } from "./output.js";

/** dist/main.js: build/src is a link to dist/ (npm run build:all). */
export const MAIN_JS = fileURLToPath(new URL("../src/main.js", import.meta.url));

export interface BenchChild {
  /** The log record that said the process is ready. */
  ready: Record<string, unknown>;
  pid: number;
  stop(): Promise<void>;
}

export interface ChildOptions {
  label: string;
  /** The script to run (default: the registry's main.js). */
  script?: string;
  /** Arguments of the script. */
  args: string[];
  env: Record<string, string>;
  /** The `msg` of the log line that means ready. */
  readyMsg: string;
  /** The start of the `msg` of a later log line to wait for as well. */
  settledMsg?: string;
  /** Arguments of node itself (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

export async function startChild({ label, script = MAIN_JS, args, env, readyMsg, settledMsg, nodeArgs = [] }: ChildOptions): Promise<BenchChild> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("OVERSIGHT_") && name !== "TRUSTED_PROXY"));
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, script, ...args], {
    env: { ...inherited, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr!.on("data", (chunk: Buffer) => process.stderr.write(`[${label}] ${chunk}`));
  const exited = once(child, "exit");
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let readyRecord: Record<string, unknown> | null = null;
    let settled = settledMsg === undefined;
    const check = () => {
      if (readyRecord !== null && settled) resolve(readyRecord);
    };
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let record: Record<string, unknown> = {};
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        log(`[${label}] ${line}`);
        return;
      }
      const msg = String(record["msg"]);
      if (msg === readyMsg) readyRecord = record;
      if (settledMsg !== undefined && msg.startsWith(settledMsg)) settled = true;
      if (msg !== readyMsg && record["level"] !== "info") log(`[${label}] ${line}`);
      check();
    });
    child.once("exit", (code, signal) => reject(new Error(`${label} exited before it was ready (code ${code}, signal ${signal})`)));
    child.once("error", reject);
  });
  return {
    ready,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A registry serving `dataDir`'s database on an ephemeral loopback port: rate
 * limits off, synchronous=FULL, a throwaway origin; ready once it listens and
 * has filled its proof node cache (or said it could not), so the figures are
 * those of a registry that has been up a while.
 */
export function startBenchRegistry(dataDir: string, dbFile: string, operatorToken: string, nodeArgs: string[] = [], script = MAIN_JS): Promise<BenchChild> {
  return startChild({
    label: "server",
    script,
    // Started as the Dockerfile starts it, so the memory figures are the deployed ones.
    nodeArgs: [...REGISTRY_NODE_OPTIONS, ...nodeArgs],
    args: ["--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir, "--db", path.join(dataDir, dbFile)],
    env: {
      OVERSIGHT_OPERATOR_TOKEN: operatorToken,
      OVERSIGHT_RATE_WRITE_PER_S: "0",
      OVERSIGHT_RATE_READ_PER_S: "0",
      OVERSIGHT_RATE_TOKEN_PER_S: "0",
      OVERSIGHT_SQLITE_SYNCHRONOUS: "FULL",
      OVERSIGHT_LOG_ORIGIN: "bench.invalid/oversight-registry",
      OVERSIGHT_LOG_LEVEL: "info",
      ...REGISTRY_MEMORY_ENV,
    },
    readyMsg: "listening",
    settledMsg: "proof node cache",
  });
}
