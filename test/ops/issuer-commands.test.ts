import assert from "node:assert/strict";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { verifyManifest } from "../../src/core/manifest.js";
import { startTestRegistry, TEST_TOKEN } from "../http/registry-server.js";
import { freePort } from "../deploy/free-port.js";
import { tempDir } from "../temp.js";
import { runMain } from "./monitor-support.js";

const FACTS = {
  file_id: "report-2026-q3.pdf",
  issuer_id: "acme-legal",
  recipient_id: "alice@example.org",
  content_hash: "aa".repeat(32),
  beacons: [{ token_id: "tok0123456789abcdef", kind: "http" }],
  watermarks: [{ mark_id: "mark0123456789", layer: "L1_zero_width" }],
};

test("keygen writes a 0600 key once and prints its public key; a second keygen refuses to overwrite it", async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "keys", "issuer.key");
  const made = await runMain(["keygen", "--out", file]);
  assert.equal(made.code, 0, made.stderr);
  const key = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  assert.equal(key["format"], "oversight-issuer-key/1");
  assert.equal(made.stdout, `${key["ed25519_pub"] as string}\n`);
  assert.equal(statSync(file).mode & 0o777, 0o600);

  const again = await runMain(["keygen", "--out", file]);
  assert.equal(again.code, 1);
  assert.equal(again.stderr, `keygen: ${file} already exists; keygen never overwrites a key (choose another --out)\n`);
  assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), key);
});

test("keygen's usage errors are one sentence naming the flag, exit 2", async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, "plain-file"), "");
  const cases: [string[], number, RegExp][] = [
    [["keygen"], 2, /^keygen: --out FILE is required: where to write the new key\n/],
    [["keygen", "--out"], 2, /^keygen: --out needs a value\n/],
    [["keygen", "--out", "k", "--force"], 2, /^keygen: unknown flag --force\n/],
    [
      ["keygen", "--out", path.join(dir, "plain-file", "k")],
      1,
      /^keygen: cannot write the key to .*plain-file\/k: (a part of the path is not a directory|it already exists)\n$/,
    ],
  ];
  for (const [args, code, message] of cases) {
    const run = await runMain(args);
    assert.equal(run.code, code, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.ok(run.stderr.split("\n").length <= 3, run.stderr);
  }
  const help = await runMain(["keygen", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: oversight-registry keygen --out FILE/);
});

test("register signs the issuer's facts with the keygen key and registers them with the token from the environment or a file", async (t) => {
  const reg = await startTestRegistry(t);
  const dir = tempDir(t);
  const keyFile = path.join(dir, "issuer.key");
  const pub = (await runMain(["keygen", "--out", keyFile])).stdout.trim();
  const manifestFile = path.join(dir, "manifest.json");
  writeFileSync(manifestFile, JSON.stringify(FACTS));

  const run = await runMain(["register", "--url", reg.url, "--key", keyFile, manifestFile], { OVERSIGHT_OPERATOR_TOKEN: TEST_TOKEN });
  assert.equal(run.code, 0, run.stderr);
  const answer = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.equal(answer["file_id"], FACTS.file_id);
  assert.equal(typeof answer["tlog_index"], "number");

  const evidence = (await (await reg.call(`/evidence/${FACTS.file_id}`)).json()) as { manifest: Record<string, unknown> };
  const manifest = evidence.manifest;
  assert.equal(manifest["issuer_ed25519_pub"], pub);
  assert.equal(manifest["issuer_id"], FACTS.issuer_id);
  assert.deepEqual(manifest["recipient"], { recipient_id: FACTS.recipient_id, x25519_pub: "" });
  assert.equal(manifest["version"], "OVERSIGHT-v1");
  assert.ok(verifyManifest(manifest).ok);

  const tokenFile = path.join(dir, "token");
  writeFileSync(tokenFile, `${TEST_TOKEN}\n`);
  writeFileSync(manifestFile, JSON.stringify({ ...FACTS, file_id: "second", beacons: [], watermarks: [] }));
  const second = await runMain(["register", "--url", `${reg.url}/`, "--key", keyFile, "--token-file", tokenFile, manifestFile]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal((JSON.parse(second.stdout) as Record<string, unknown>)["file_id"], "second");
});

test("register says in words what is wrong with its flags, files, manifest or the registry's answer", async (t) => {
  const reg = await startTestRegistry(t);
  const dir = tempDir(t);
  const keyFile = path.join(dir, "issuer.key");
  await runMain(["keygen", "--out", keyFile]);
  const file = (name: string, contents: string) => {
    writeFileSync(path.join(dir, name), contents);
    return path.join(dir, name);
  };
  const good = file("good.json", JSON.stringify(FACTS));
  mkdirSync(path.join(dir, "a-directory"));
  const env = { OVERSIGHT_OPERATOR_TOKEN: TEST_TOKEN };
  const closedPort = await freePort();
  const base = ["register", "--url", reg.url, "--key", keyFile];
  const cases: [string[], Record<string, string>, number, RegExp][] = [
    [["register", "--key", keyFile, good], env, 2, /^register: --url is required/],
    [["register", "--url", "ftp://x", "--key", keyFile, good], env, 2, /^register: --url must be an http\(s\) URL, got 'ftp:\/\/x'/],
    [["register", "--url", reg.url, good], env, 2, /^register: --key is required/],
    [base, env, 2, /^register: the manifest file is missing/],
    [[...base, good, "extra"], env, 2, /^register: unexpected argument 'extra' after the manifest file/],
    [
      ["register", "--url", reg.url, "--key", path.join(dir, "none.key"), good],
      env,
      1,
      /^register: cannot read the key file .*none\.key: no such file or directory\n$/,
    ],
    [["register", "--url", reg.url, "--key", good, good], env, 1, /^register: .*good\.json is not an issuer key file \(format: /],
    [[...base, path.join(dir, "a-directory")], env, 1, /^register: cannot read the manifest .*a-directory: it is a directory, not a file\n$/],
    [[...base, file("bad.json", "{")], env, 1, /^register: .*bad\.json is not JSON/],
    [
      [...base, file("extra.json", JSON.stringify({ ...FACTS, colour: "red" }))],
      env,
      1,
      /^register: .*extra\.json: the manifest has an unknown field 'colour'\n$/,
    ],
    [
      [...base, file("kind.json", JSON.stringify({ ...FACTS, beacons: [{ token_id: "t" }] }))],
      env,
      1,
      /^register: .*kind\.json: beacons\.0\.kind must be a string such as http or dns\n$/,
    ],
    [[...base, file("noid.json", JSON.stringify({ issuer_id: "x" }))], env, 1, /^register: .*noid\.json: file_id must be a string: the file's id\n$/],
    [
      [...base, good],
      {},
      1,
      /^register: the registry refused the registration \(HTTP 401 auth_required: .*\) \(give the operator token with OVERSIGHT_OPERATOR_TOKEN or --token-file\)\n$/,
    ],
    [
      ["register", "--url", `http://127.0.0.1:${closedPort}`, "--key", keyFile, good],
      env,
      1,
      /^register: cannot reach http:\/\/127\.0\.0\.1:\d+\/register: connection refused \(is the registry running at that address\?\)\n$/,
    ],
  ];
  for (const [args, runEnv, code, message] of cases) {
    const run = await runMain(args, runEnv);
    assert.equal(run.code, code, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(" "));
  }
  assert.equal((await reg.call(`/evidence/${FACTS.file_id}`)).status, 404);
});
