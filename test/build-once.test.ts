// src/ is compiled once, to dist/: the tests, benchmarks and conformance
// harness import it through build/src, a link to dist/, so they exercise the
// very files that `npm start`, the `bin` entry and the image run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, realpathSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_ROOT } from "./repo.js";
import { VERSION } from "../src/version.js";

test("build/src is dist/, so the tests load the shipped build of src", () => {
  const dist = path.join(REPO_ROOT, "dist");
  assert.equal(realpathSync(path.join(REPO_ROOT, "build", "src")), realpathSync(dist));
  const loaded = fileURLToPath(import.meta.resolve("../src/version.js"));
  assert.equal(path.dirname(realpathSync(loaded)), realpathSync(dist));
  assert.ok(existsSync(path.join(dist, "main.js")));
  assert.notEqual(VERSION, "0.0.0", "dist/ finds package.json from where it runs");
});
