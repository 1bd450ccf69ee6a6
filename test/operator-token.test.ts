import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { secretWeakness } from "../src/core/secret-strength.js";
import { OPERATOR_TOKEN_FILE, OperatorTokenError, resolveOperatorToken } from "../src/operator-token.js";
import { tempDir } from "./temp.js";

const modeOf = (file: string) => fs.statSync(file).mode & 0o777;

test("auth disabled wins over everything", (t) => {
  const dataDir = path.join(tempDir(t, "oversight-token-"), "data");
  assert.deepEqual(resolveOperatorToken({ configured: "from-env-0123456789abcdef0123456789", authDisabled: true, dataDir }), {
    token: null,
    source: "disabled",
  });
  assert.equal(fs.existsSync(dataDir), false);
});

test("a configured token is used as is and nothing is written", (t) => {
  const dataDir = path.join(tempDir(t, "oversight-token-"), "data");
  const configured = "from-env-0123456789abcdef0123456789";
  assert.deepEqual(resolveOperatorToken({ configured, authDisabled: false, dataDir }), { token: configured, source: "env" });
  assert.equal(fs.existsSync(dataDir), false);
});

test("without one, a token is generated into a new 0700 data dir as a 0600 file, then reused", (t) => {
  const dataDir = path.join(tempDir(t, "oversight-token-"), "nested", "data");
  const first = resolveOperatorToken({ authDisabled: false, dataDir });
  const file = path.join(dataDir, OPERATOR_TOKEN_FILE);
  assert.equal(first.source, "generated");
  assert.equal(first.path, file);
  assert.match(first.token!, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(first.token!, "base64url").length, 32);
  assert.equal(secretWeakness(first.token!), null, "the generated token meets the rule it enforces on files");
  assert.equal(modeOf(file), 0o600);
  assert.equal(modeOf(dataDir), 0o700);
  assert.equal(fs.readFileSync(file, "utf8"), `${first.token}\n`);
  assert.deepEqual(fs.readdirSync(dataDir), [OPERATOR_TOKEN_FILE]);

  const second = resolveOperatorToken({ authDisabled: false, dataDir });
  assert.deepEqual(second, { token: first.token, source: "file", path: file });
  assert.equal(resolveOperatorToken({ configured: null, authDisabled: false, dataDir }).token, first.token);
});

test("two data dirs get different tokens", (t) => {
  const a = resolveOperatorToken({ authDisabled: false, dataDir: tempDir(t, "oversight-token-") });
  const b = resolveOperatorToken({ authDisabled: false, dataDir: tempDir(t, "oversight-token-") });
  assert.notEqual(a.token, b.token);
});

test("an operator-written file is trimmed, and a loose mode is reported", (t) => {
  const dataDir = tempDir(t, "oversight-token-");
  const file = path.join(dataDir, OPERATOR_TOKEN_FILE);
  fs.writeFileSync(file, "  my-own-token-0123456789abcdef0123456789 \n", { mode: 0o644 });
  fs.chmodSync(file, 0o644);
  const resolved = resolveOperatorToken({ authDisabled: false, dataDir });
  assert.equal(resolved.token, "my-own-token-0123456789abcdef0123456789");
  assert.equal(resolved.source, "file");
  assert.match(resolved.warning!, /readable by other users \(mode 644\)/);
});

test("a weak token file is an error naming the file and how to make one, not silently replaced", (t) => {
  const dataDir = tempDir(t, "oversight-token-");
  const file = path.join(dataDir, OPERATOR_TOKEN_FILE);
  const weak: [string, RegExp][] = [
    ["short\n", /its length is 5/],
    // Long enough for the old 16-character rule, too short for this one.
    ["0123456789abcdef0123\n", /its length is 20/],
    [`${"z".repeat(40)}\n`, /too few different characters \(1\)/],
    ["0123456789abcdef 0123456789abcdef\n", /spaces, control or non-ASCII/],
  ];
  for (const [content, why] of weak) {
    fs.writeFileSync(file, content, { mode: 0o600 });
    assert.throws(
      () => resolveOperatorToken({ authDisabled: false, dataDir }),
      (error: unknown) => {
        assert.ok(error instanceof OperatorTokenError);
        assert.match(error.message, why);
        assert.ok(error.message.includes(file), error.message);
        assert.match(error.message, /openssl rand -hex 32/);
        assert.match(error.message, /delete the file/);
        assert.ok(!error.message.includes(content.trim()), `the message quotes the token: ${error.message}`);
        return true;
      },
    );
    assert.equal(fs.readFileSync(file, "utf8"), content);
  }
});

test("an unreadable token path is an error", (t) => {
  const dataDir = tempDir(t, "oversight-token-");
  fs.mkdirSync(path.join(dataDir, OPERATOR_TOKEN_FILE));
  assert.throws(() => resolveOperatorToken({ authDisabled: false, dataDir }), OperatorTokenError);
});
