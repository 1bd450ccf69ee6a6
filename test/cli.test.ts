import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { test } from "node:test";
import { fileProblem, readCommandLine } from "../src/cli/command-line.js";
import { tempDir } from "./temp.js";
import { runMain } from "./ops/monitor-support.js";

const SUBCOMMANDS = ["keygen", "register", "backup", "restore", "token", "monitor", "verify-evidence", "dns-bridge"];

test("oversight-registry --help lists every subcommand, and each has --help of its own", async () => {
  const top = await runMain(["--help"]);
  assert.equal(top.code, 0);
  for (const command of SUBCOMMANDS) assert.match(top.stdout, new RegExp(`oversight-registry ${command} `), command);
  for (const args of [
    ...SUBCOMMANDS.map((command) => [command, "--help"]),
    ["serve", "--help"],
    ["--port", "1", "-h"],
    ["dns-bridge", "status", "--help"],
    ["token", "create", "--help"],
  ]) {
    const run = await runMain(args);
    assert.equal(run.code, 0, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stdout, /usage/i, args.join(" "));
    assert.equal(run.stderr, "", args.join(" "));
  }
});

test("a bad setting is one line naming it, with a pointer to --help instead of the whole usage, exit 2", async () => {
  const run = await runMain(["--port", "x", "--verbose"]);
  assert.equal(run.code, 2);
  assert.equal(run.stderr, "unknown flag --verbose\n--port must be an integer 0..65535, got 'x'\n(oversight-registry --help lists the commands and flags)\n");
  const unknown = await runMain(["frobnicate", "--port", "1"]);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, "oversight-registry: unknown command 'frobnicate'\n(oversight-registry --help lists the commands and flags)\n");
});

test("serve checks that it can listen before it creates anything in the data directory", async (t) => {
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
  t.after(() => busy.close());
  const port = (busy.address() as net.AddressInfo).port;
  const dataDir = path.join(tempDir(t), "new-data");
  const run = await runMain(["--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDir], { OVERSIGHT_AUTH_DISABLED: "1" });
  assert.equal(run.code, 1);
  assert.equal(
    run.stderr,
    `oversight-registry: cannot listen on 127.0.0.1:${port}: the port is in use by another program; nothing was created (choose another --port / OVERSIGHT_PORT)\n`,
  );
  assert.equal(existsSync(dataDir), false);
});

test("the one parser reads --flag value and --flag=value and words every problem", () => {
  const options = { db: { type: "string" }, port: { type: "string" }, watch: { type: "string", multiple: true }, once: { type: "boolean" } } as const;
  assert.deepEqual(readCommandLine(["--db", "a", "--port=1", "--watch", "x", "--watch=y", "--once", "pos"], options), {
    values: { db: "a", port: "1", watch: ["x", "y"], once: true },
    positionals: ["pos"],
    problems: [],
  });
  assert.deepEqual(readCommandLine(["--db", "--port", "1", "-x", "--once=yes", "--port", "2", "--port="], options).problems, [
    "--db needs a value",
    "unknown flag -x",
    "--once takes no value, got 'yes'",
    "--port is given more than once",
    "--port needs a value",
  ]);
  assert.deepEqual(readCommandLine(["--db=-x"], options).values, { db: "-x" });
});

test("file-system errors are put in words", (t) => {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, "sub"));
  const words = (code: string) => fileProblem(Object.assign(new Error(`${code}: raw`), { code }));
  assert.equal(words("EACCES"), "permission denied");
  assert.equal(words("EPERM"), "permission denied");
  assert.equal(words("ENOENT"), "no such file or directory");
  assert.equal(words("EISDIR"), "it is a directory, not a file");
  assert.equal(fileProblem(new Error("something else")), "something else");
});

test("the DNS bridge says why it cannot read its secret file in words", async (t) => {
  const dir = tempDir(t);
  const run = await runMain([
    "dns-bridge",
    "--beacon-domain",
    "beacon.example.org",
    "--answer-ip",
    "192.0.2.1",
    "--registry-url",
    "http://127.0.0.1:9",
    "--secret-file",
    dir,
    "--data-dir",
    dir,
  ]);
  assert.equal(run.code, 2);
  assert.equal(
    run.stderr,
    `dns-bridge: cannot read the secret file ${dir}: it is a directory, not a file\n(oversight-registry dns-bridge --help shows the usage)\n`,
  );
});

test("a data directory that cannot be made is named with the cause in words", async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, "a-file"), "");
  const run = await runMain(["--port", "0", "--data-dir", path.join(dir, "a-file", "data")], { OVERSIGHT_AUTH_DISABLED: "1" });
  assert.equal(run.code, 1);
  assert.equal(run.stderr, `oversight-registry: cannot use ${path.join(dir, "a-file", "data")}: a part of the path is not a directory\n`);
});
