import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { createFileOnce, writeFileDurably } from "../../src/core/durable-file.js";
import { tempDir } from "../temp.js";

test("writeFileDurably replaces the file whole, mode 0600, creating the directory, leaving no temp files", (t) => {
  const dir = path.join(tempDir(t), "nested");
  const file = path.join(dir, "state.json");
  writeFileDurably(file, "one\n");
  writeFileDurably(file, "two\n");
  assert.equal(readFileSync(file, "utf8"), "two\n");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.deepEqual(readdirSync(dir), ["state.json"]);
});

test("createFileOnce creates a missing file and never replaces an existing one", (t) => {
  const file = path.join(tempDir(t), "token");
  assert.equal(createFileOnce(file, "first\n"), true);
  assert.equal(createFileOnce(file, "second\n"), false);
  assert.equal(readFileSync(file, "utf8"), "first\n");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(path.dirname(file)), ["token"]);
});
