// The bridge as a process: `oversight-registry dns-bridge` from dist/, killed
// with SIGKILL in the middle of delivery and started again on its journal;
// `dns-bridge status`; and its refusal of bad settings.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { tempDir } from "../temp.js";
import { startTestRegistry, type TestRegistry } from "../http/registry-server.js";
import { APEX, DNS_SECRET, beaconName, tokenOf, udpQuery, until } from "./harness.js";

const MAIN_JS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "dist", "main.js");
const execFileAsync = promisify(execFile);
const BASE_ENV = { PATH: process.env["PATH"] ?? "" };

interface BridgeProcess {
  child: ChildProcess;
  dnsPort: number;
  lines: string[];
}

async function spawnBridge(t: TestContext, registryUrl: string, dataDir: string, extra: string[] = []): Promise<BridgeProcess> {
  const child = spawn(
    process.execPath,
    [
      MAIN_JS,
      "dns-bridge",
      "--beacon-domain",
      APEX,
      "--answer-ip",
      "192.0.2.53",
      "--registry-url",
      registryUrl,
      "--address",
      "127.0.0.1",
      "--port",
      "0",
      "--metrics-port",
      "0",
      "--data-dir",
      dataDir,
      "--sqlite-synchronous",
      "NORMAL",
      ...extra,
    ],
    { env: { ...BASE_ENV, OVERSIGHT_DNS_EVENT_SECRET: DNS_SECRET }, stdio: ["ignore", "pipe", "pipe"] },
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const lines: string[] = [];
  const reader = createInterface({ input: child.stdout! });
  const ready = new Promise<number>((resolve, reject) => {
    reader.on("line", (line) => {
      lines.push(line);
      const record = JSON.parse(line) as { msg: string; dns_port?: number };
      if (record.msg === "ready") resolve(record.dns_port!);
    });
    child.once("exit", (code) => reject(new Error(`the bridge exited (${code}) before it was ready: ${lines.join("\n")}`)));
  });
  return { child, dnsPort: await ready, lines };
}

function dnsTokens(reg: TestRegistry): string[] {
  const size = reg.service.registry.store.size();
  const tokens: string[] = [];
  for (let start = 0; start < size; start += 1000) {
    for (const e of reg.service.log.range(start, 1000).entries) tokens.push((JSON.parse(e.leaf_data) as { token_id: string }).token_id);
  }
  return tokens;
}

// Asynchronous: the registry these tests deliver to runs in this process, and a blocking spawn would stall it.
async function status(dataDir: string): Promise<{ pending: number; dead_letters: number; delivered: number }> {
  const { stdout } = await execFileAsync(process.execPath, [MAIN_JS, "dns-bridge", "status", "--data-dir", dataDir], { env: BASE_ENV, encoding: "utf8" });
  return JSON.parse(stdout) as { pending: number; dead_letters: number; delivered: number };
}

// A window of 1 sends one event a batch; of 10, ten, so the kill may land between a batch's commit and its settlement.
for (const window of [1, 10]) {
  test(`kill -9 in the middle of delivery (windows of ${window}), then restarted: every answered query is in the log exactly once`, async (t) => {
    const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
    const { port } = new URL(reg.url);
    await reg.close();
    const dataDir = tempDir(t, "oversight-dns-bridge-");
    const first = await spawnBridge(t, reg.url, dataDir, ["--delivery-window", String(window)]);
    const COUNT = 300;
    for (let i = 1; i <= COUNT; i++) assert.equal((await udpQuery(first.dnsPort, beaconName(tokenOf(i)), "A")).rcode, "NOERROR");
    assert.equal((await status(dataDir)).pending, COUNT);

    // The registry comes back; the bridge is killed as soon as delivery is under way.
    const live = await startTestRegistry(t, { dnsSecret: DNS_SECRET, dataDir: reg.dataDir, port: Number(port) });
    for (let i = 0; live.service.registry.store.size() === 0; i++) {
      assert.ok(i < 60_000, "delivery never started");
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    first.child.kill("SIGKILL");
    await once(first.child, "exit");
    const deliveredBeforeKill = live.service.registry.store.size();
    t.diagnostic(`delivered before kill -9: ${deliveredBeforeKill} of ${COUNT}`);

    const second = await spawnBridge(t, reg.url, dataDir);
    await until("the backlog delivered", async () => (await status(dataDir)).pending === 0);
    const tokens = dnsTokens(live);
    assert.equal(tokens.length, COUNT, "no event lost, none twice");
    assert.deepEqual([...tokens].sort(), Array.from({ length: COUNT }, (_, i) => tokenOf(i + 1)).sort());
    second.child.kill("SIGTERM");
    const [code] = await once(second.child, "exit");
    assert.equal(code, 0);
    assert.ok(second.lines.some((l) => l.includes('"shutting down"')));
  });
}

test("dns-bridge status on a directory without a journal is a clear error", async (t) => {
  const empty = tempDir(t);
  const run = spawnSync(process.execPath, [MAIN_JS, "dns-bridge", "status", "--data-dir", empty], { env: BASE_ENV, encoding: "utf8" });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /no journal in .*dns-bridge-journal\.sqlite/);
});

test("bad settings stop the bridge with one line each, naming the flag or variable and never echoing a secret", async (t) => {
  const dir = tempDir(t);
  const weakFile = path.join(dir, "secret");
  writeFileSync(weakFile, "changeme\n");
  const run = spawnSync(
    process.execPath,
    [MAIN_JS, "dns-bridge", "--answer-ip", "192.0.2.1,not-an-ip", "--registry-url", "ftp://x", "--port", "70000", "--secret-file", weakFile, "--data-dir", dir],
    { env: BASE_ENV, encoding: "utf8" },
  );
  assert.equal(run.status, 2);
  assert.match(run.stderr, /--beacon-domain \(or OVERSIGHT_DNS_BEACON_DOMAIN\) is required/);
  assert.match(run.stderr, /--answer-ip must be one or more IPv4 addresses/);
  assert.match(run.stderr, /--registry-url must be an http\(s\) URL/);
  assert.match(run.stderr, /--port must be an integer 0\.\.65535, got '70000'/);
  assert.match(run.stderr, /the secret file .* must be 32\.\.1024 visible ASCII/);
  assert.doesNotMatch(run.stderr, /changeme/);
  const unknown = spawnSync(process.execPath, [MAIN_JS, "dns-bridge", "--secret", "x"], { env: BASE_ENV, encoding: "utf8" });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /^dns-bridge: unknown flag --secret$/m);
  const both = spawnSync(
    process.execPath,
    [MAIN_JS, "dns-bridge", "--beacon-domain", APEX, "--answer-ip", "192.0.2.1", "--registry-url", "http://127.0.0.1:1", "--secret-file", weakFile],
    {
      env: { ...BASE_ENV, OVERSIGHT_DNS_EVENT_SECRET: DNS_SECRET },
      encoding: "utf8",
    },
  );
  assert.match(both.stderr, /both given; keep one/);
  assert.doesNotMatch(both.stderr, new RegExp(DNS_SECRET));
});
