import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { monitorCommand, MONITOR_EXIT } from "../../src/ops/monitor.js";
import { startTestRegistry } from "../http/registry-server.js";
import { createIssuer } from "../issuer.js";
import { tempDir } from "../temp.js";
import { beaconHit, captureIo } from "./monitor-support.js";

test("a watch list prints only the matching new entries, one line each or JSON, as they appear in a real registry", async (t) => {
  const reg = await startTestRegistry(t);
  const watched = createIssuer("acme-legal");
  const other = createIssuer("someone-else");
  const register = async (registration: ReturnType<typeof watched.registration>) => {
    const answer = await reg.call("/register", { json: registration });
    assert.equal(answer.status, 200);
  };
  const mine = watched.registration({ file_id: "acme-report.pdf" });
  const theirs = other.registration({ file_id: "their-file.pdf" });
  const watchedToken = (theirs.beacons[0] as { token_id: string }).token_id;
  await register(mine);
  await register(theirs);
  await beaconHit(reg.url, watchedToken);
  await beaconHit(reg.url, (theirs.beacons[1] as { token_id: string }).token_id);

  const dir = tempDir(t);
  const state = path.join(dir, "state.json");
  const flags = ["--url", reg.url, "--state", state, "--once", "--watch-issuer", watched.signer.publicKeyHex.toUpperCase(), "--watch-token", watchedToken];
  const first = captureIo();
  assert.equal(await monitorCommand([...flags, "--json"], first.io), MONITOR_EXIT.ok, first.stderr());
  const lines = first
    .stdout()
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { watched: string[]; index: number; leaf: Record<string, unknown> });
  assert.deepEqual(
    lines.map((line) => [line.index, line.watched, line.leaf["event"], line.leaf["file_id"]]),
    [
      [0, [`issuer ${watched.signer.publicKeyHex}`], "register", "acme-report.pdf"],
      [2, [`token ${watchedToken}`], "beacon", "their-file.pdf"],
    ],
  );

  await register(watched.registration({ file_id: "acme-second.pdf" }));
  await register(other.registration({ file_id: "unwatched.pdf" }));
  const listFile = path.join(dir, "watch.txt");
  writeFileSync(listFile, `# what acme watches\n\nissuer ${watched.signer.publicKeyHex}\nfile unwatched.pdf\n`);
  const second = captureIo();
  assert.equal(await monitorCommand(["--url", reg.url, "--state", state, "--once", "--watch-list", listFile], second.io), MONITOR_EXIT.ok, second.stderr());
  const printed = second.stdout().split("\n").filter(Boolean);
  assert.equal(printed.length, 2, second.stdout());
  assert.match(
    printed[0]!,
    new RegExp(`^#4 \\S+Z register file acme-second\\.pdf by issuer acme-legal for recipient-\\w+ \\[watched: issuer ${watched.signer.publicKeyHex}\\]$`),
  );
  assert.match(printed[1]!, /^#5 \S+Z register file unwatched\.pdf by issuer someone-else for recipient-\w+ \[watched: file unwatched\.pdf\]$/);
});

test("a bad watch entry or watch list is a usage error naming it", async (t) => {
  const dir = tempDir(t);
  const list = path.join(dir, "watch.txt");
  writeFileSync(list, "issuer " + "ab".repeat(32) + "\nrecipient bob\n");
  const base = ["--url", "http://127.0.0.1:9", "--state", path.join(dir, "s.json"), "--once"];
  const cases: [string[], string][] = [
    [["--watch-issuer", "acme"], "--watch-issuer: an issuer key is 64 hex characters (its Ed25519 public key), got 'acme'"],
    [["--watch-list", path.join(dir, "none.txt")], `cannot read the watch list ${path.join(dir, "none.txt")}: no such file or directory`],
    [["--watch-list", dir], `cannot read the watch list ${dir}: it is a directory, not a file`],
    [["--watch-list", list], `${list} line 2: expected 'issuer KEYHEX', 'file ID' or 'token TOKEN', got 'recipient bob'`],
  ];
  for (const [args, message] of cases) {
    const out = captureIo();
    assert.equal(await monitorCommand([...base, ...args], out.io), MONITOR_EXIT.usage, args.join(" "));
    assert.equal(out.stderr(), `monitor: ${message}\n(oversight-registry monitor --help shows the usage)\n`);
  }
});

test("the monitor's catch-up shows its progress on a terminal, and clears it when done", async (t) => {
  const reg = await startTestRegistry(t);
  const issuer = createIssuer();
  for (let i = 0; i < 3; i++) assert.equal((await reg.call("/register", { json: issuer.registration() })).status, 200);
  let stderr = "";
  const io = { stdout: { write: () => true }, stderr: { isTTY: true, write: (text: string) => (stderr += text) } };
  const state = path.join(tempDir(t), "state.json");
  assert.equal(await monitorCommand(["--url", reg.url, "--state", state, "--once"], io), MONITOR_EXIT.ok, stderr);
  assert.ok(stderr.includes("\r\x1b[Kmonitor: catching up leaves 0/3 (0%)"), JSON.stringify(stderr));
  assert.ok(stderr.includes("\r\x1b[K" + "monitor: head size 3"), JSON.stringify(stderr));
});
