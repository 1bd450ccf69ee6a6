import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { generateSeed } from "../../src/core/ed25519.js";
import { writeIdentity } from "../../src/core/identity.js";
import { monitorCommand, MONITOR_EXIT } from "../../src/ops/monitor.js";
import { fieldLine, formatState, readState, StateFileError, STATE_FORMAT, writeState, type MonitorState } from "../../src/ops/monitor-state.js";
import { RegistryClient, RegistryHttpError, RegistryProtocolError, WellKnownSchema } from "../../src/ops/registry-client.js";
import { signTreeHead } from "../../src/tlog/heads.js";
import { EMPTY_ROOT, leafHash } from "../../src/tlog/merkle.js";
import { tempDir } from "../temp.js";
import { beaconHit, captureIo, registrySigner, startRegistry } from "./monitor-support.js";
import { forgedBeaconLeaf, rewriteHistory } from "../registry/rewrite-history.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

async function serve(handler: Handler): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** A registry in front of the real one that answers some paths itself (a v1-only or malicious registry). */
async function proxy(target: string, override: (pathAndQuery: string, res: ServerResponse) => boolean | Promise<boolean>) {
  return serve(async (req, res) => {
    if (await override(req.url ?? "/", res)) return;
    const answer = await fetch(target + (req.url ?? "/"));
    res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
}

const noSleep = () => {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
};

describe("registry client", () => {
  test("honours retry_after on 429 and then returns the parsed answer", async (t) => {
    let calls = 0;
    const server = await serve((_req, res) => {
      calls++;
      if (calls === 1) sendJson(res, 429, { error: { code: "rate_limited", message: "slow down", retry_after: 2 } });
      else sendJson(res, 200, { ed25519_pub: "ab".repeat(32), version: "x" });
    });
    t.after(() => server.close());
    const { delays, sleep } = noSleep();
    const client = new RegistryClient(server.url, { sleep, random: () => 1 });
    const wellKnown = await client.wellKnown();
    assert.equal(wellKnown.ed25519_pub, "ab".repeat(32));
    assert.deepEqual(delays, [2000]);
    assert.equal(calls, 2);
  });

  test("backs off exponentially with jitter on 5xx and network errors, then gives up", async (t) => {
    let calls = 0;
    const server = await serve((req, res) => {
      calls++;
      if (calls === 2) req.socket.destroy();
      else sendJson(res, 503, { error: { code: "server_error", message: "busy" } });
    });
    t.after(() => server.close());
    const { delays, sleep } = noSleep();
    const client = new RegistryClient(server.url, { sleep, random: () => 0.5, baseDelayMs: 100, maxDelayMs: 300, maxAttempts: 4 });
    await assert.rejects(client.head(), (error: unknown) => error instanceof RegistryHttpError && error.status === 503);
    assert.equal(calls, 4);
    assert.deepEqual(delays, [50, 100, 150]);
  });

  test("does not retry a 4xx, and a 404 consistency request means 'not supported'", async (t) => {
    let calls = 0;
    const server = await serve((req, res) => {
      calls++;
      if (req.url?.startsWith("/tlog/consistency")) sendJson(res, 404, { error: { code: "not_found", message: "no such route" } });
      else sendJson(res, 400, { error: { code: "missing_field", message: "bad start" } });
    });
    t.after(() => server.close());
    const { delays, sleep } = noSleep();
    const client = new RegistryClient(server.url, { sleep });
    assert.equal(await client.consistency(1, 2), null);
    await assert.rejects(client.range(0, 10), (error: unknown) => error instanceof RegistryHttpError && error.code === "missing_field");
    assert.equal(calls, 2);
    assert.deepEqual(delays, []);
  });

  test("rejects answers outside the contract", async (t) => {
    const server = await serve((req, res) => {
      if (req.url === "/tlog/head") sendJson(res, 200, { size: -1, root: "zz", signature: "", signed_message: "" });
      else sendJson(res, 200, { first: 1, second: 3, proof: [] });
    });
    t.after(() => server.close());
    const client = new RegistryClient(server.url, { sleep: noSleep().sleep });
    await assert.rejects(client.head(), RegistryProtocolError);
    await assert.rejects(client.consistency(1, 2), /asked for consistency 1 -> 2/);
  });

  test("times out a registry that never answers", async (t) => {
    const server = await serve(() => undefined);
    t.after(() => server.close());
    const client = new RegistryClient(server.url, { sleep: noSleep().sleep, timeoutMs: 100, maxAttempts: 2 });
    await assert.rejects(client.head(), /timed out after 100 ms/);
  });
});

describe("monitor state and arguments", () => {
  test("the state file has one field per line, so an error can name the line to delete", (t) => {
    const file = path.join(tempDir(t), "state.json");
    const state: MonitorState = {
      format: STATE_FORMAT,
      registry_pub: "11".repeat(32),
      checkpoint_origin: "example.com/log",
      checkpoint_vkey: "example.com/log+01020304+AQ==",
      url: "http://127.0.0.1:1",
      head: null,
      compact_range: { size: 0, peaks: [] },
      updated_at: "2026-01-01T00:00:00Z",
    };
    writeState(file, state);
    const lines = readFileSync(file, "utf8").split("\n");
    assert.equal(lines[fieldLine(file, "registry_pub")! - 1], `  "registry_pub": "${"11".repeat(32)}",`);
    assert.equal(lines[fieldLine(file, "checkpoint_vkey")! - 1], `  "checkpoint_vkey": "example.com/log+01020304+AQ==",`);
    assert.deepEqual(readState(file), state);

    const withoutKey = lines.filter((_, i) => i !== fieldLine(file, "registry_pub")! - 1).join("\n");
    writeFileSync(file, withoutKey);
    assert.equal(readState(file)?.registry_pub, undefined);

    writeFileSync(file, formatState({ ...state, compact_range: { size: 1, peaks: ["22".repeat(32)] } }));
    assert.throws(() => readState(file), StateFileError);
  });

  test("bad arguments are a usage error: one sentence naming the flag, not the whole usage", async () => {
    const cases: [string[], string][] = [
      [["--url", "http://127.0.0.1:1"], "--state is required: the monitor's state file"],
      [["--url", "ftp://x", "--state", "s"], "--url must be an http(s) URL, got 'ftp://x'"],
      [["--state", "s"], "--url is required: the registry's base URL"],
      [["--url", "http://x", "--state", "s", "--interval", "soon"], "--interval must be a number of seconds, more than 0 and at most 86400, got 'soon'"],
      [["--url", "http://x", "--state", "s", "--timeout", "0"], "--timeout must be more than 0 seconds, got '0'"],
      [["--url", "http://x", "--state", "s", "--state", "t"], "--state is given more than once"],
      [["--url", "http://x", "--state", "s", "--wait"], "unknown flag --wait"],
    ];
    for (const [args, message] of cases) {
      const out = captureIo();
      assert.equal(await monitorCommand(args, out.io), MONITOR_EXIT.usage, args.join(" "));
      assert.equal(out.stderr(), `monitor: ${message}\n(oversight-registry monitor --help shows the usage)\n`);
    }
    const help = captureIo();
    assert.equal(await monitorCommand(["--help"], help.io), MONITOR_EXIT.ok);
    assert.match(help.stdout(), /^usage: oversight-registry monitor --url/);
  });

  test("a server answering outside the contract is reported as unavailable, not as misbehaviour", async (t) => {
    const server = await serve((_req, res) => sendJson(res, 200, { not: "a registry" }));
    t.after(() => server.close());
    const out = captureIo();
    const state = path.join(tempDir(t), "state.json");
    assert.equal(await monitorCommand(["--url", server.url, "--state", state, "--once"], out.io), MONITOR_EXIT.unavailable);
    assert.match(out.stderr(), /unexpected answer \(ed25519_pub/);
    assert.equal(existsSync(state), false);
  });
});

interface Run {
  code: number;
  entries: { index: number; leaf_hash: string; leaf: Record<string, unknown> }[];
  stderr: string;
}

async function runMonitor(url: string, state: string, ...flags: string[]): Promise<Run> {
  const out = captureIo();
  const code = await monitorCommand(["--url", url, "--state", state, "--once", "--timeout", "10", ...flags], out.io);
  const entries = out
    .stdout()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Run["entries"][number]);
  return { code, entries, stderr: out.stderr() };
}

function evidenceFiles(state: string): string[] {
  const dir = path.dirname(state);
  return readdirSync(dir)
    .filter((name) => name.startsWith(`${path.basename(state)}.evidence-`))
    .map((name) => path.join(dir, name));
}

function readEvidence(state: string): Record<string, any> {
  const files = evidenceFiles(state);
  assert.equal(files.length, 1, `one evidence file beside ${state}`);
  return JSON.parse(readFileSync(files[0]!, "utf8")) as Record<string, any>;
}

describe("monitor against a real registry", () => {
  test("follows the log, and catches forged heads, a rewritten history and a key change", async (t) => {
    const dir = tempDir(t, "oversight-monitor-");
    const dataDir = path.join(dir, "data");
    let registry = await startRegistry(dataDir);
    t.after(() => registry.stop());
    const stateA = path.join(dir, "a", "state.json");
    const stateB = path.join(dir, "b", "state.json");
    const stateP = path.join(dir, "p", "state.json");
    for (const state of [stateA, stateB, stateP]) mkdirSync(path.dirname(state), { recursive: true });
    const prom = path.join(dir, "textfile", "monitor.prom");

    await t.test("first contact pins the keys and prints every entry; later rounds print only new ones", async () => {
      for (const token of ["tok-a", "tok-b", "tok-c"]) await beaconHit(registry.url, token);
      const first = await runMonitor(registry.url, stateA);
      assert.equal(first.code, MONITOR_EXIT.ok, first.stderr);
      assert.deepEqual(
        first.entries.map((e) => [e.index, e.leaf.event, e.leaf.token_id]),
        [
          [0, "beacon", "tok-a"],
          [1, "beacon", "tok-b"],
          [2, "beacon", "tok-c"],
        ],
      );
      const wellKnown = WellKnownSchema.parse(await (await fetch(`${registry.url}/.well-known/oversight-registry`)).json());
      const state = readState(stateA)!;
      assert.equal(state.registry_pub, wellKnown.ed25519_pub);
      assert.equal(state.checkpoint_vkey, wellKnown.federation?.checkpoint_vkey);
      assert.equal(state.head?.size, 3);
      assert.equal(state.compact_range.size, 3);

      for (const token of ["tok-d", "tok-e"]) await beaconHit(registry.url, token);
      const second = await runMonitor(registry.url, stateA, "--metrics-file", prom);
      assert.equal(second.code, MONITOR_EXIT.ok, second.stderr);
      const findings = readFileSync(prom, "utf8");
      assert.match(findings, /^oversight_monitor_log_misbehaving 0$/m);
      assert.match(findings, /^oversight_monitor_verified_tree_size 5$/m);
      assert.match(findings, /^oversight_monitor_last_verified_timestamp_seconds \d+$/m);
      assert.equal(statSync(prom).mode & 0o777, 0o644, "readable by node_exporter");
      assert.deepEqual(
        second.entries.map((e) => [e.index, e.leaf.token_id]),
        [
          [3, "tok-d"],
          [4, "tok-e"],
        ],
      );
      assert.match(second.stderr, /consistency proof and recomputed root/);

      const idle = await runMonitor(registry.url, stateA);
      assert.equal(idle.code, MONITOR_EXIT.ok, idle.stderr);
      assert.deepEqual(idle.entries, []);
    });

    await t.test("works against a v1-only registry: forced, or when /tlog/consistency is 404", async (t) => {
      const v1 = await proxy(registry.url, (url, res) => {
        if (!url.startsWith("/tlog/consistency")) return false;
        sendJson(res, 404, { error: { code: "not_found", message: "unknown route" } });
        return true;
      });
      t.after(() => v1.close());
      const firstB = await runMonitor(registry.url, stateB, "--no-consistency");
      const firstP = await runMonitor(v1.url, stateP);
      assert.equal(firstB.entries.length, 5);
      assert.equal(firstP.entries.length, 5);
      await beaconHit(registry.url, "tok-f");
      const b = await runMonitor(registry.url, stateB, "--no-consistency");
      const p = await runMonitor(v1.url, stateP);
      for (const run of [b, p]) {
        assert.equal(run.code, MONITOR_EXIT.ok, run.stderr);
        assert.deepEqual(
          run.entries.map((e) => [e.index, e.leaf.token_id]),
          [[5, "tok-f"]],
        );
        assert.doesNotMatch(run.stderr, /consistency proof and/);
      }
      assert.match(p.stderr, /no \/tlog\/consistency \(404\)/);
      const a = await runMonitor(registry.url, stateA);
      assert.deepEqual(
        a.entries.map((e) => e.index),
        [5],
      );
    });

    await t.test("a bad signature and a shrunk log stop it with evidence, and the state stays put", async (t) => {
      const signer = registrySigner(dataDir);
      let forged: unknown = null;
      const evil = await proxy(registry.url, (url, res) => {
        if (url !== "/tlog/head" || forged === null) return false;
        sendJson(res, 200, forged);
        return true;
      });
      t.after(() => evil.close());
      const before = readFileSync(stateP, "utf8");
      const real = (await (await fetch(`${registry.url}/tlog/head`)).json()) as { signature: string };

      forged = { ...real, signature: (real.signature[0] === "0" ? "1" : "0") + real.signature.slice(1) };
      const badSig = await runMonitor(evil.url, stateP);
      assert.equal(badSig.code, MONITOR_EXIT.misbehaviour);
      assert.deepEqual(badSig.entries, []);
      const sigEvidence = readEvidence(stateP);
      assert.equal(sigEvidence.kind, "bad_signature");
      assert.deepEqual(sigEvidence.offending_head, forged);
      assert.equal(sigEvidence.verified_head.size, 6);
      assert.match(badSig.stderr, /evidence .* written to .*state\.json\.evidence-/);
      for (const file of evidenceFiles(stateP)) rmSync(file);

      forged = signTreeHead(signer, 4, EMPTY_ROOT);
      const shrunk = await runMonitor(evil.url, stateP);
      assert.equal(shrunk.code, MONITOR_EXIT.misbehaviour);
      const shrunkEvidence = readEvidence(stateP);
      assert.equal(shrunkEvidence.kind, "shrunk");
      assert.equal(shrunkEvidence.verified_head.size, 6);
      assert.equal(shrunkEvidence.offending_head.size, 4);
      assert.equal(readFileSync(stateP, "utf8"), before);
    });

    await t.test("range entries that do not match their hash or the signed root are caught", async (t) => {
      let mutate: (entry: { leaf_hash: string; leaf_data: string; leaf_data_hex: string }) => void = () => undefined;
      const evil = await proxy(registry.url, async (url, res) => {
        if (!url.startsWith("/tlog/range")) return false;
        const page = (await (await fetch(registry.url + url)).json()) as { entries: Parameters<typeof mutate>[0][] };
        if (page.entries[1]) mutate(page.entries[1]);
        sendJson(res, 200, page);
        return true;
      });
      t.after(() => evil.close());
      const rewrite = (entry: Parameters<typeof mutate>[0]) => {
        entry.leaf_data = entry.leaf_data.replace("tok-b", "tok-x");
        entry.leaf_data_hex = Buffer.from(entry.leaf_data, "utf8").toString("hex");
      };

      const cases: [string, typeof mutate, string, RegExp][] = [
        ["text", (e) => (e.leaf_data = e.leaf_data.replace("tok-b", "tok-x")), "bad_entry", /leaf 1: leaf_data is not the UTF-8 text/],
        ["bytes", rewrite, "bad_entry", /leaf 1: leaf_data_hex does not hash to the leaf_hash/],
        [
          "bytes and hash",
          (e) => {
            rewrite(e);
            e.leaf_hash = leafHash(Buffer.from(e.leaf_data_hex, "hex")).toString("hex");
          },
          "root_mismatch",
          /leaves served by \/tlog\/range give root [0-9a-f]{64}, but the signed head has root/,
        ],
      ];
      for (const [name, how, kind, message] of cases) {
        mutate = how;
        const state = path.join(dir, `entry-${name.replaceAll(" ", "-")}.json`);
        const run = await runMonitor(evil.url, state);
        assert.equal(run.code, MONITOR_EXIT.misbehaviour, `${name}: ${run.stderr}`);
        assert.deepEqual(run.entries, [], "nothing is printed before the round is proven");
        assert.match(run.stderr, message);
        assert.equal(readEvidence(state).kind, kind);
        assert.equal(existsSync(state), false);
      }
    });

    await t.test("a rewritten history (operator also rewrites its signed-head records) is caught as a fork", async () => {
      const beforeA = readFileSync(stateA, "utf8");
      const verified = readState(stateA)!.head!;
      await registry.stop();
      const forked = rewriteHistory(registry, 4, [forgedBeaconLeaf("evil-1"), forgedBeaconLeaf("evil-2"), forgedBeaconLeaf("evil-3")]);
      assert.equal(forked.size, 7);
      registry = await startRegistry(dataDir);

      const a = await runMonitor(registry.url, stateA);
      assert.equal(a.code, MONITOR_EXIT.misbehaviour, a.stderr);
      assert.deepEqual(a.entries, []);
      assert.match(a.stderr, /LOG MISBEHAVIOUR \(fork\).*consistency proof 6 -> 7 does not verify/);
      const evidence = readEvidence(stateA);
      assert.equal(evidence.kind, "fork");
      assert.deepEqual(evidence.verified_head, verified);
      assert.equal(evidence.offending_head.size, 7);
      assert.equal(evidence.offending_head.root, forked.root);
      assert.equal(evidence.consistency_proof.first, 6);
      assert.equal(evidence.consistency_proof.second, 7);
      assert.ok(evidence.consistency_proof.proof.length > 0);
      assert.equal(readFileSync(stateA, "utf8"), beforeA);

      const b = await runMonitor(registry.url, stateB, "--no-consistency");
      assert.equal(b.code, MONITOR_EXIT.misbehaviour, b.stderr);
      assert.deepEqual(b.entries, []);
      const rangeEvidence = readEvidence(stateB);
      assert.equal(rangeEvidence.kind, "fork");
      assert.equal(rangeEvidence.consistency_proof, null);
      assert.equal(rangeEvidence.recomputed.size, 7);
      assert.notEqual(rangeEvidence.recomputed.root, forked.root);

      const again = await runMonitor(registry.url, stateA, "--metrics-file", prom);
      assert.equal(again.code, MONITOR_EXIT.misbehaviour, "a fork is never forgotten");
      const findings = readFileSync(prom, "utf8");
      assert.match(findings, /^oversight_monitor_log_misbehaving\{kind="fork"\} 1$/m, findings);
      assert.match(findings, /^oversight_monitor_verified_tree_size 6$/m);
    });

    await t.test("a key change is a hard error naming the lines to delete; deleting them re-pins", async () => {
      const stateC = path.join(dir, "c-state.json");
      assert.equal((await runMonitor(registry.url, stateC)).code, MONITOR_EXIT.ok);
      await registry.stop();
      writeIdentity(dataDir, generateSeed());
      // The registry refuses a key other than the log's unless told it is a new identity.
      registry = await startRegistry(dataDir, undefined, ["--new-identity"]);
      await beaconHit(registry.url, "after-rotation");

      const changed = await runMonitor(registry.url, stateC);
      assert.equal(changed.code, MONITOR_EXIT.needsOperator, changed.stderr);
      assert.deepEqual(changed.entries, []);
      assert.ok(changed.stderr.includes(stateC), "names the state file");
      const named = [...changed.stderr.matchAll(/line (\d+) \("(\w+)"\)/g)].map((m) => [Number(m[1]), m[2]] as const);
      assert.deepEqual(
        named.map(([, field]) => field),
        ["registry_pub", "checkpoint_vkey"],
      );
      assert.equal(evidenceFiles(stateC).length, 0);

      const lines = readFileSync(stateC, "utf8").split("\n");
      for (const [line, field] of named) assert.match(lines[line - 1]!, new RegExp(`^ {2}"${field}":`));
      writeFileSync(stateC, lines.filter((_, i) => !named.some(([line]) => line === i + 1)).join("\n"));
      const repinned = await runMonitor(registry.url, stateC);
      assert.equal(repinned.code, MONITOR_EXIT.ok, repinned.stderr);
      assert.deepEqual(
        repinned.entries.map((e) => e.leaf.token_id),
        ["after-rotation"],
      );
      assert.equal(readState(stateC)!.registry_pub, registrySigner(dataDir).publicKeyHex);
    });

    await t.test("without --once it keeps watching, round after round, until stopped", { timeout: 20_000 }, async () => {
      const state = path.join(dir, "loop-state.json");
      const stop = new AbortController();
      const printed: string[] = [];
      let rounds = 0;
      const io = {
        signal: stop.signal,
        stdout: { write: (line: string) => printed.push((JSON.parse(line) as { leaf: { token_id: string } }).leaf.token_id) },
        stderr: {
          write: (line: string) => {
            if (!/ verified/.test(line)) return;
            rounds++;
            if (rounds === 1) void beaconHit(registry.url, "tok-loop");
            if (printed.includes("tok-loop")) stop.abort();
          },
        },
      };
      const code = await monitorCommand(["--url", registry.url, "--state", state, "--interval", "0.05"], io);
      assert.equal(code, MONITOR_EXIT.ok);
      assert.equal(printed.filter((token) => token === "tok-loop").length, 1);
      assert.equal(printed.at(-1), "tok-loop");
      assert.ok(rounds >= 2);
    });
  });
});
