// Docker does not run on these machines, so the image is tested where it can
// be: its start command and its HEALTHCHECK, both read from the Dockerfile (so
// the test fails if they drift), run against the built dist/ with the image's
// environment and a temporary data directory standing in for the /data volume.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../src/config.js";
import { BridgeConfigError, loadBridgeConfig } from "../../src/dns/config.js";
import { IDENTITY_FILE } from "../../src/core/identity.js";
import { LOCK_FILE } from "../../src/data-dir-lock.js";
import { REGISTRY_MEMORY_ENV, REGISTRY_NODE_OPTIONS } from "../../src/memory-settings.js";
import { OPERATOR_TOKEN_FILE } from "../../src/operator-token.js";
import { tempDir } from "../temp.js";
import { freePort } from "./free-port.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const DOCKERFILE = path.join(REPO, "Dockerfile");

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions grouped by build stage (a new stage at each FROM). */
function parseDockerfile(text: string): Instruction[][] {
  const logical: string[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.endsWith("\\")) {
      pending += line.slice(0, -1) + " ";
      continue;
    }
    logical.push(pending + line);
    pending = "";
  }
  const stages: Instruction[][] = [];
  for (const line of logical) {
    const match = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    assert.ok(match, `unparsable Dockerfile line: ${line}`);
    const keyword = match[1]!.toUpperCase();
    if (keyword === "FROM") stages.push([]);
    if (keyword === "ARG" && stages.length === 0) continue;
    const stage = stages.at(-1);
    assert.ok(stage, `${keyword} before the first FROM`);
    stage.push({ keyword, args: match[2]! });
  }
  return stages;
}

function one(stage: Instruction[], keyword: string): string {
  const found = stage.filter((i) => i.keyword === keyword);
  assert.equal(found.length, 1, `expected one ${keyword} in the runtime stage`);
  return found[0]!.args;
}

function execForm(args: string, what: string): string[] {
  assert.ok(args.startsWith("["), `${what} must use the exec (JSON) form`);
  const parsed: unknown = JSON.parse(args);
  assert.ok(Array.isArray(parsed) && parsed.every((a) => typeof a === "string"), `${what}: not a string array`);
  return parsed as string[];
}

/** `KEY=value` or `KEY="value with spaces"` (no escapes inside), then spaces or the end. */
const ENV_PAIR = /([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"\\]*)"|([^\s"]*))(?:\s+|$)/y;

function envOf(stage: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of stage.filter((i) => i.keyword === "ENV")) {
    ENV_PAIR.lastIndex = 0;
    while (ENV_PAIR.lastIndex < args.length) {
      const pair = ENV_PAIR.exec(args);
      assert.ok(pair, `ENV must use KEY=value pairs: ${args}`);
      env[pair[1]!] = pair[2] ?? pair[3]!;
    }
  }
  return env;
}

interface Image {
  stages: Instruction[][];
  runtime: Instruction[];
  env: Record<string, string>;
  start: string[];
  healthcheck: string[];
}

function readImage(): Image {
  const stages = parseDockerfile(fs.readFileSync(DOCKERFILE, "utf8"));
  const runtime = stages.at(-1);
  assert.ok(runtime);
  const healthArgs = one(runtime, "HEALTHCHECK");
  const cmdAt = healthArgs.indexOf("CMD ");
  assert.ok(cmdAt >= 0, "HEALTHCHECK needs a CMD");
  return {
    stages,
    runtime,
    env: envOf(runtime),
    start: [...execForm(one(runtime, "ENTRYPOINT"), "ENTRYPOINT"), ...execForm(one(runtime, "CMD"), "CMD")],
    healthcheck: execForm(healthArgs.slice(cmdAt + 4).trim(), "HEALTHCHECK CMD"),
  };
}

/** The image runs `node` from PATH; here it is the node running this test. */
function local(argv: string[]): [string, string[]] {
  const [cmd, ...args] = argv;
  assert.ok(cmd);
  return [cmd === "node" ? process.execPath : cmd, args];
}

/** The parent's environment without any registry setting, plus the image's and the test's. */
function imageEnv(image: Image, overrides: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(OVERSIGHT_|TRUSTED_PROXY$)/.test(k)) env[k] = v;
  }
  return { ...env, ...image.env, ...overrides };
}

function runToExit(argv: string[], env: NodeJS.ProcessEnv): Promise<number | null> {
  const [cmd, args] = local(argv);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO, env, stdio: "ignore" });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

async function startImage(t: TestContext, image: Image, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const [cmd, args] = local(image.start);
  const child = spawn(cmd, args, { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => stop(child));
  let out = "";
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      for (const line of out.split("\n")) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === "listening" && entry.url) resolve(entry.url);
      }
    });
    child.on("exit", (code) => reject(new Error(`start command exited (${code})\n${out}\n${err}`)));
  });
  return { child, url };
}

test("the image's start command serves from /data and passes its own health check", async (t) => {
  const image = readImage();
  const dataDir = tempDir(t, "deploy-image-data-");
  const port = await freePort();
  assert.equal(image.env.OVERSIGHT_DATA, "/data", "the image keeps its state on the /data volume");
  // Stand-ins for what the container provides: the /data volume and its own
  // network namespace (loopback here). No secret is given, as on a first run.
  const env = imageEnv(image, {
    OVERSIGHT_DATA: dataDir,
    OVERSIGHT_HOST: "127.0.0.1",
    OVERSIGHT_PORT: String(port),
  });

  const { child, url } = await startImage(t, image, env);
  assert.equal(url, `http://127.0.0.1:${port}`);

  // Everything the registry keeps lives in the volume: key, operator token, database.
  const files = fs.readdirSync(dataDir);
  for (const kept of [IDENTITY_FILE, OPERATOR_TOKEN_FILE]) {
    assert.ok(files.includes(kept), `no ${kept} in the data dir: ${files.join(", ")}`);
  }
  const databases = files.filter((f) => {
    if (f === LOCK_FILE) return false;
    const p = path.join(dataDir, f);
    if (!fs.statSync(p).isFile() || fs.statSync(p).size < 16) return false;
    return fs.readFileSync(p).subarray(0, 16).toString("latin1") === "SQLite format 3\0";
  });
  assert.equal(databases.length, 1, `expected the SQLite database in the data dir: ${files.join(", ")}`);

  assert.equal(await runToExit(image.healthcheck, env), 0, "health check against a healthy registry");

  await stop(child);
  assert.equal(await runToExit(image.healthcheck, env), 1, "health check against a stopped registry");
});

test("the health check fails unless /health says ok", async (t) => {
  const image = readImage();
  for (const [answer, status, expected] of [
    [{ status: "ok", service: "oversight-registry" }, 200, 0],
    [{ status: "degraded", service: "oversight-registry" }, 503, 1],
    [{ status: "degraded", service: "oversight-registry" }, 200, 1],
    [{ error: { code: "not_found", message: "no" } }, 404, 1],
  ] as const) {
    const server = http.createServer((req, res) => {
      res.writeHead(req.url === "/health" ? status : 404, { "content-type": "application/json" });
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const address = server.address();
    assert.ok(typeof address === "object" && address);
    const env = imageEnv(image, { OVERSIGHT_PORT: String(address.port) });
    assert.equal(await runToExit(image.healthcheck, env), expected, JSON.stringify(answer));
  }
});

test("the image is multi-stage, non-root on uid 1000, with a /data volume", () => {
  const image = readImage();
  assert.ok(image.stages.length >= 2, "multi-stage build");
  assert.match(one(image.runtime, "USER"), /^1000(:1000)?$/);
  assert.deepEqual(execForm(one(image.runtime, "VOLUME"), "VOLUME"), ["/data"]);
  // better-sqlite3 is compiled once: one install in the whole build, in the
  // stage the runtime copies node_modules from, which then drops the dev
  // dependencies; the compiler stays behind in that stage.
  const modules = image.runtime.filter((i) => i.keyword === "COPY" && /\bnode_modules\b/.test(i.args));
  assert.equal(modules.length, 1);
  const from = /--from=(\S+)/.exec(modules[0]!.args)?.[1];
  const source = image.stages.find((s) => s.some((i) => i.keyword === "FROM" && new RegExp(`\\bAS\\s+${from}$`, "i").test(i.args)));
  assert.ok(source, `no stage named ${from}`);
  const isInstall = (i: Instruction) => i.keyword === "RUN" && /\bnpm (ci|install)\b/.test(i.args);
  assert.equal(image.stages.flat().filter(isInstall).length, 1, "one npm install in the whole build");
  const installAt = source.findIndex(isInstall);
  assert.ok(installAt >= 0, `the ${from} stage installs node_modules`);
  assert.ok(
    source.slice(installAt).some((i) => i.keyword === "RUN" && /\bnpm prune --omit=dev\b/.test(i.args)),
    "node_modules must be pruned to production dependencies after the install",
  );
  assert.ok(!image.runtime.some((i) => i.keyword === "RUN" && /\b(apt-get|apt) install\b/.test(i.args)), "no toolchain in the runtime stage");
});

test("every stage runs the Node LTS line that CI runs the suite on", () => {
  const text = fs.readFileSync(DOCKERFILE, "utf8");
  const image = readImage();
  const nodeImage = /^ARG NODE_IMAGE=node:(\d+)-\S+$/m.exec(text);
  assert.ok(nodeImage, "ARG NODE_IMAGE=node:<major>-<variant>");
  const major = Number(nodeImage[1]);
  // Even majors are the LTS lines; 20 reached end of life on 2026-04-30.
  assert.ok(major % 2 === 0 && major >= 22, `node:${major} is not a supported LTS line`);
  for (const stage of image.stages) assert.match(stage[0]!.args, /^\$\{NODE_IMAGE\}\s+AS\s+\S+$/i);
  const ciVersion = fs.readFileSync(path.join(REPO, ".nvmrc"), "utf8").trim();
  assert.match(ciVersion, /^\d+\.\d+\.\d+$/, ".nvmrc pins the exact version CI installs");
  assert.equal(Number(ciVersion.split(".")[0]), major, "CI's Node (.nvmrc) and the image's are the same major");
});

test("compose runs a Caddy with the HTTP/2 Rapid Reset fix (2.7.5 or later)", () => {
  const compose = fs.readFileSync(path.join(REPO, "docker-compose.yml"), "utf8");
  const caddy = /image: \$\{CADDY_IMAGE:-caddy:(\d+)\.(\d+)(?:\.(\d+))?\}/.exec(compose);
  assert.ok(caddy, "the caddy service's image is caddy:<major>.<minor>[.<patch>]");
  const [major, minor, patch] = [Number(caddy[1]), Number(caddy[2]), Number(caddy[3] ?? 0)];
  const fixed = major > 2 || (major === 2 && (minor > 7 || (minor === 7 && patch >= 5)));
  assert.ok(fixed, `caddy:${caddy.slice(1).filter(Boolean).join(".")} predates 2.7.5`);
});

test("the build context holds what the Dockerfile copies, and keeps secrets and data out", () => {
  const image = readImage();
  const ignored = fs
    .readFileSync(path.join(REPO, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  for (const copy of image.stages.flat().filter((i) => i.keyword === "COPY" && !i.args.includes("--from="))) {
    const sources = copy.args
      .split(/\s+/)
      .filter((a) => !a.startsWith("--"))
      .slice(0, -1);
    for (const source of sources) {
      assert.ok(fs.existsSync(path.join(REPO, source)), `COPY ${source}: not in the repository`);
      assert.ok(!ignored.includes(source), `COPY ${source}: excluded by .dockerignore`);
    }
  }
  for (const kept of [".env", "data", "node_modules", "dist", "build", ".git", "**/registry-identity.json", "*.sqlite"]) {
    assert.ok(ignored.includes(kept), `.dockerignore should exclude ${kept}`);
  }
});

test("the example environment names every setting the registry, the DNS bridge, Caddy and compose read", () => {
  const example = fs.readFileSync(path.join(REPO, ".env.example"), "utf8");
  const documented = new Map<string, string>();
  for (const line of example.split("\n")) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match) documented.set(match[1]!, match[2]!);
  }

  const read = new Set<string>();
  const recorder = new Proxy({} as NodeJS.ProcessEnv, {
    get: (_, name) => {
      if (typeof name === "string") read.add(name);
      return undefined;
    },
  });
  loadConfig([], recorder);
  assert.ok(read.has("OVERSIGHT_OPERATOR_TOKEN"), "the recorder saw the registry's settings");
  assert.throws(() => loadBridgeConfig([], recorder), BridgeConfigError, "the bridge's required settings are missing");
  assert.ok(read.has("OVERSIGHT_DNS_BEACON_DOMAIN") && read.has("OVERSIGHT_DNS_EVENT_SECRET_FILE"), "the recorder saw the bridge's settings");
  const caddyfile = fs.readFileSync(path.join(REPO, "Caddyfile"), "utf8");
  for (const match of caddyfile.matchAll(/\{\$([A-Z0-9_]+)/g)) read.add(match[1]!);
  const compose = fs.readFileSync(path.join(REPO, "docker-compose.yml"), "utf8");
  for (const match of compose.matchAll(/\$\{([A-Z0-9_]+)/g)) read.add(match[1]!);

  for (const name of read) assert.ok(documented.has(name), `.env.example does not mention ${name}`);
  for (const name of documented.keys()) assert.ok(read.has(name), `.env.example sets ${name}, which nothing reads`);
  for (const [name, value] of documented) {
    if (/TOKEN|SECRET|PASSWORD|KEY/.test(name)) assert.equal(value, "", `.env.example carries a value for ${name}`);
  }
});

test("the image starts node with the memory settings of src/memory-settings.ts, as the benchmarks do", () => {
  const { env } = readImage();
  assert.deepEqual((env["NODE_OPTIONS"] ?? "").split(/\s+/).filter(Boolean), [...REGISTRY_NODE_OPTIONS]);
  for (const [name, value] of Object.entries(REGISTRY_MEMORY_ENV)) assert.equal(env[name], value, name);
});
