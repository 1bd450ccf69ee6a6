// `npm test` runs the compiled test files and nothing else: helper modules
// such as fixtures.js or http/helpers.js are imported by tests, never run as
// tests themselves, and an empty build fails instead of passing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_ROOT } from "./repo.js";
import { listTestFiles, splitStale } from "./run-tests.js";
import { tempDir } from "./temp.js";

const BUILD_TEST = path.dirname(fileURLToPath(import.meta.url));
const RUNNER = path.join(BUILD_TEST, "run-tests.js");

/** Source files under test/, relative to it, with `/` separators. */
function sources(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const relative = prefix + entry.name;
    if (entry.isDirectory()) return entry.name === "fixtures" ? [] : sources(path.join(dir, entry.name), `${relative}/`);
    return entry.name.endsWith(".ts") ? [relative] : [];
  });
}

test("the runner lists every compiled test file and no helper module", () => {
  const all = sources(path.join(REPO_ROOT, "test"));
  const tests = all.filter((name) => name.endsWith(".test.ts"));
  const helpers = all.filter((name) => !name.endsWith(".test.ts"));
  assert.ok(helpers.includes("fixtures.ts") && helpers.includes("http/helpers.ts"), "the helper modules this guards against exist");

  const listed = listTestFiles(BUILD_TEST).map((file) => path.relative(BUILD_TEST, file).split(path.sep).join("/"));
  const compiled = (name: string) => name.replace(/\.ts$/, ".js");
  for (const name of tests) assert.ok(listed.includes(compiled(name)), `${compiled(name)} is run`);
  for (const name of helpers) assert.ok(!listed.includes(compiled(name)), `${compiled(name)} is not run as a test`);
  for (const name of listed) assert.ok(name.endsWith(".test.js"), `${name} is a test file`);
});

test("npm test runs the compiled tests through the runner, not node --test over a directory", () => {
  const script: string = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).scripts.test;
  assert.match(script, /node build\/test\/run-tests\.js/);
  assert.doesNotMatch(script, /--test[^&]*build\/test\/?(\s|$)/);
});

test("a build without test files fails loudly instead of passing", (t) => {
  const dir = tempDir(t, "run-tests-empty-");
  // .mjs: outside the repository no package.json says the compiled module is an ES module.
  copyFileSync(RUNNER, path.join(dir, "run-tests.mjs"));
  const run = spawnSync(process.execPath, [path.join(dir, "run-tests.mjs")], { encoding: "utf8" });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /no \*\.test\.js file under/);
});

test("a compiled test whose source was removed is left out, not run stale", (t) => {
  const root = tempDir(t, "run-tests-stale-");
  const build = path.join(root, "build", "test");
  const source = path.join(root, "test");
  for (const dir of [path.join(build, "dns"), path.join(source, "dns")]) mkdirSync(dir, { recursive: true });
  for (const name of ["dns/kept.test.js", "dns/removed.test.js", "top.test.js"]) writeFileSync(path.join(build, name), "");
  for (const name of ["dns/kept.test.ts", "top.test.ts"]) writeFileSync(path.join(source, name), "");
  const { current, stale } = splitStale(build, source, listTestFiles(build));
  assert.deepEqual(
    current.map((file) => path.relative(build, file)),
    [path.join("dns", "kept.test.js"), "top.test.js"],
  );
  assert.deepEqual(
    stale.map((file) => path.relative(build, file)),
    [path.join("dns", "removed.test.js")],
  );
});
