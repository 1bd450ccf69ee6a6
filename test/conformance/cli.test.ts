/**
 * The conformance CLI as an operator runs it: a child process against a
 * running registry. Its secrets come from a file or the environment, and no
 * line it prints contains them.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { startTestRegistry } from "../http/registry-server.js";
import { tempDir } from "../temp.js";

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "conformance", "cli.js");

interface Run {
  code: number | null;
  output: string;
}

/** Runs the CLI with none of the caller's registry settings, plus `env`; resolves when it exits. */
function runCli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("OVERSIGHT_") && name !== "TRUSTED_PROXY") clean[name] = value;
  }
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...clean, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (output += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (output += s));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

test("the harness reads the operator token from --token-file and never prints it", async (t) => {
  const reg = await startTestRegistry(t);
  const file = path.join(tempDir(t), "token");
  fs.writeFileSync(file, `${reg.token}\n`, { mode: 0o600 });

  const run = await runCli(["--url", reg.url, "--token-file", file]);
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /^\[PASS\] auth: \/register and \/attribute without the operator token/m, "the token was used");
  assert.match(run.output, /^\d+ passed, 0 failed$/m);
  assert.ok(!run.output.includes(reg.token), "the token appears in the harness output");
});

test("the token from the environment works too, and failures do not print it", async (t) => {
  const reg = await startTestRegistry(t);
  // A registry that rejects the token makes the harness print failures, the likeliest place for a leak.
  const wrong = "wrong-operator-token-0123456789abcdef";
  const run = await runCli(["--url", reg.url], { OVERSIGHT_OPERATOR_TOKEN: wrong });
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, /^\[FAIL\] /m);
  assert.ok(!run.output.includes(wrong), "the token appears in the harness output");
});

test("secrets on the command line are refused without being echoed", async () => {
  for (const [flag, instead] of [
    ["--token", /OVERSIGHT_OPERATOR_TOKEN or use --token-file PATH/],
    ["--dns-secret", /OVERSIGHT_DNS_EVENT_SECRET or use --dns-secret-file PATH/],
  ] as const) {
    const secret = "command-line-secret-0123456789abcdef";
    for (const args of [[flag, secret], [`${flag}=${secret}`]]) {
      const run = await runCli(["--url", "http://127.0.0.1:9", ...args]);
      assert.equal(run.code, 2, run.output);
      assert.match(run.output, new RegExp(`${flag} is not accepted`));
      assert.match(run.output, instead);
      assert.ok(!run.output.includes(secret), run.output);
    }
  }
});

test("an unreadable or empty token file is a usage error naming the file", async (t) => {
  const dir = tempDir(t);
  const missing = path.join(dir, "missing");
  const missingRun = await runCli(["--url", "http://127.0.0.1:9", "--token-file", missing]);
  assert.equal(missingRun.code, 2, missingRun.output);
  assert.ok(missingRun.output.includes(`cannot read the operator token file ${missing}: ENOENT`), missingRun.output);
  const empty = path.join(dir, "empty");
  fs.writeFileSync(empty, "\n");
  const emptyRun = await runCli(["--url", "http://127.0.0.1:9", "--token-file", empty]);
  assert.equal(emptyRun.code, 2, emptyRun.output);
  assert.ok(emptyRun.output.includes(`the operator token file ${empty} is empty`), emptyRun.output);
});
