/**
 * `node build/conformance/cli.js [--url URL] [--token-file PATH] [--dns-secret-file PATH]`
 *
 * Without a URL it starts this repository's registry (dist/main.js) on an
 * ephemeral port with a temporary data directory and a random operator token,
 * runs every check against it, and stops it. Exits non-zero on any failure or
 * if the registry could not start.
 *
 * Secrets come from the environment or from files, never from the command
 * line: `npm run conformance -- …` prints its arguments, and so does `ps`.
 * Every line the harness prints has them masked, in case a registry echoes one.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { formatOutcome, formatSummary, runConformance } from "./checks.js";

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

/** build/conformance/cli.js → the repository root. */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface StartedRegistry {
  url: string;
  token: string;
  stop(): Promise<void>;
}

/** Environment for the child: none of the caller's registry settings leak in, so its configuration is known. */
function childEnv(token: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("OVERSIGHT_") && name !== "TRUSTED_PROXY") env[name] = value;
  }
  env.OVERSIGHT_OPERATOR_TOKEN = token;
  return env;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const force = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    child.once("exit", () => {
      clearTimeout(force);
      done();
    });
    child.kill("SIGTERM");
  });
}

/** Starts `node <repo>/dist/main.js --port 0 --data-dir <temp>` and waits for its "listening" line. */
export async function startRegistry(mainPath = join(REPO_ROOT, "dist", "main.js")): Promise<StartedRegistry> {
  if (!existsSync(mainPath)) throw new Error(`${mainPath} does not exist (run npm run build)`);
  const dataDir = mkdtempSync(join(tmpdir(), "oversight-conformance-"));
  const token = randomBytes(24).toString("hex");
  const child = spawn(process.execPath, [mainPath, "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir], {
    env: childEnv(token),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  const stop = async (): Promise<void> => {
    await stopChild(child);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const url = await new Promise<string>((found, failed) => {
      const timer = setTimeout(() => failed(new Error(`no "listening" line within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      const lines = createInterface({ input: child.stdout! });
      lines.on("line", (line) => {
        let record: unknown;
        try {
          record = JSON.parse(line);
        } catch {
          return;
        }
        const { msg, url } = (record ?? {}) as { msg?: unknown; url?: unknown };
        if (msg === "listening" && typeof url === "string") {
          clearTimeout(timer);
          // Keep draining stdout so the child never blocks on a full pipe.
          child.stdout!.resume();
          found(url);
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        failed(new Error(`registry exited (${signal ?? `code ${code}`}) before listening: ${stderr.trim().slice(-1000)}`));
      });
      child.once("error", (error) => {
        clearTimeout(timer);
        failed(error);
      });
    });
    return { url, token, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

const USAGE = `usage: conformance [--url URL] [--token-file PATH] [--dns-secret-file PATH]
(env: OVERSIGHT_REGISTRY_URL, OVERSIGHT_OPERATOR_TOKEN, OVERSIGHT_DNS_EVENT_SECRET)`;

/** Flags that once carried a secret on the command line, and where it goes instead. */
const SECRET_FLAGS = {
  token: "set OVERSIGHT_OPERATOR_TOKEN or use --token-file PATH",
  "dns-secret": "set OVERSIGHT_DNS_EVENT_SECRET or use --dns-secret-file PATH",
} as const;

class UsageError extends Error {}

/** The secret in `file` (surrounding whitespace dropped), or from the environment variable, or null. */
function readSecret(file: string | undefined, fromEnv: string | undefined, what: string): string | null {
  if (file === undefined) return fromEnv === undefined || fromEnv === "" ? null : fromEnv;
  let text: string;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch (error) {
    throw new UsageError(`cannot read the ${what} file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (text === "") throw new UsageError(`the ${what} file ${file} is empty`);
  return text;
}

/** Replaces every occurrence of a secret in `text`. */
function masked(text: string, secrets: readonly string[]): string {
  return secrets.reduce((out, secret) => out.split(secret).join("[redacted]"), text);
}

async function main(secrets: string[]): Promise<number> {
  const say = (line: string) => console.log(masked(line, secrets));
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      "token-file": { type: "string" },
      "dns-secret-file": { type: "string" },
      // Parsed only to be refused without echoing the value.
      token: { type: "string" },
      "dns-secret": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    say(USAGE);
    return 0;
  }
  for (const [flag, instead] of Object.entries(SECRET_FLAGS)) {
    if (values[flag as keyof typeof SECRET_FLAGS] !== undefined) {
      throw new UsageError(`--${flag} is not accepted: npm and ps show command lines, so the secret would leak; ${instead}`);
    }
  }
  const token = readSecret(values["token-file"], process.env.OVERSIGHT_OPERATOR_TOKEN, "operator token");
  const dnsSecret = readSecret(values["dns-secret-file"], process.env.OVERSIGHT_DNS_EVENT_SECRET, "DNS secret");
  for (const secret of [token, dnsSecret]) if (secret !== null) secrets.push(secret);

  const url = values.url ?? process.env.OVERSIGHT_REGISTRY_URL;
  let registry: StartedRegistry | null = null;
  if (url === undefined) {
    try {
      registry = await startRegistry();
    } catch (error) {
      say(`[FAIL] start the registry: ${error instanceof Error ? error.message : String(error)}`);
      say(formatSummary({ passed: 0, failed: 1, skipped: 0 }));
      return 1;
    }
    secrets.push(registry.token);
    say(`# started ${registry.url}`);
    const stop = registry.stop;
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void stop().finally(() => process.exit(130)));
  }
  try {
    const report = await runConformance({
      url: registry?.url ?? url!,
      token: registry?.token ?? token,
      dnsSecret: registry ? null : dnsSecret,
      selfStarted: registry !== null,
      onOutcome: (outcome) => say(formatOutcome(outcome)),
    });
    say(`# ${report.requests} requests, ${report.rateLimited} answered 429 and retried`);
    say(formatSummary(report));
    return report.failed === 0 ? 0 : 1;
  } finally {
    await registry?.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const secrets: string[] = [];
  main(secrets).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const usage = error instanceof UsageError || String((error as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS_");
      const text = usage ? `${(error as Error).message}\n${USAGE}` : error instanceof Error ? (error.stack ?? error.message) : String(error);
      console.error(masked(text, secrets));
      process.exitCode = usage ? 2 : 1;
    },
  );
}
