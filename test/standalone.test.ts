// The repository stands on its own: a fresh clone with nothing beside it has
// every fixture the tests read, and its docs, code and comments point inside
// it. CHANGELOG.md is history and may name what was true then.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { FIXTURES_DIR } from "./fixtures.js";
import { migrateFixture } from "./ops/migrate-support.js";
import { REPO_ROOT } from "./repo.js";

/** Written in pieces so that this file does not contain what it looks for. */
const OUTSIDE_REFERENCES = [["..", "shared"].join("/"), ["shared", "docs"].join("/"), ["shared", "fixtures"].join("/")];
const NOT_SOURCE = new Set([".git", "node_modules", "build", "dist", "data", ".work"]);
const PROTOCOL = path.join(REPO_ROOT, "docs", "PROTOCOL.md");

/** Text files of the repository, relative to its root, without build output and binary fixtures. */
function repositoryTextFiles(dir = REPO_ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return NOT_SOURCE.has(entry.name) ? [] : repositoryTextFiles(full);
    return entry.isFile() && !entry.name.endsWith(".sqlite") ? [path.relative(REPO_ROOT, full)] : [];
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(path.join(dir, entry.name)).map((name) => `${entry.name}/${name}`) : [entry.name],
  );
}

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");

test("fixtures are read from the repository's own test/fixtures, and its README names each one", () => {
  assert.equal(FIXTURES_DIR, path.join(REPO_ROOT, "test", "fixtures"));
  const described: string[] = [];
  let folder = "";
  for (const line of readFileSync(path.join(FIXTURES_DIR, "README.md"), "utf8").split("\n")) {
    const section = /^## `([^`]+)`/.exec(line);
    if (section) folder = section[1]!;
    const row = /^\| `([^`]+)` \|/.exec(line);
    if (row && !row[1]!.endsWith("/")) described.push(folder + row[1]!);
  }
  const present = filesUnder(FIXTURES_DIR).filter((name) => name !== "README.md");
  assert.deepEqual(described.sort(), present.sort());
});

test("nothing outside CHANGELOG.md refers to a folder beside the repository", () => {
  const offenders = repositoryTextFiles()
    .filter((file) => file !== "CHANGELOG.md")
    .flatMap((file) => {
      const text = readFileSync(path.join(REPO_ROOT, file), "utf8");
      return OUTSIDE_REFERENCES.filter((needle) => text.includes(needle)).map((needle) => `${file}: ${needle}`);
    });
  assert.deepEqual(offenders, []);
});

test("every link into docs/PROTOCOL.md names one of its headings", () => {
  const protocol = readFileSync(PROTOCOL, "utf8");
  const anchors = new Set([...protocol.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1]!)));
  const links = repositoryTextFiles().flatMap((file) => {
    const text = readFileSync(path.join(REPO_ROOT, file), "utf8");
    const targets = [...text.matchAll(/PROTOCOL\.md#([\p{L}\p{N}_-]+)/gu)].map((m) => m[1]!);
    if (file === path.relative(REPO_ROOT, PROTOCOL)) targets.push(...[...text.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!));
    return targets.map((target) => ({ file, target }));
  });
  assert.ok(links.length > 0);
  assert.deepEqual(
    links.filter(({ target }) => !anchors.has(target)),
    [],
  );
});

test("migrating the Python registry's data directory writes nothing into test/fixtures", async (t) => {
  const snapshot = () =>
    filesUnder(FIXTURES_DIR).map((name) => {
      const stat = statSync(path.join(FIXTURES_DIR, name));
      return `${name} ${stat.size} ${stat.mtimeMs}`;
    });
  const before = snapshot();
  await migrateFixture(t);
  assert.deepEqual(snapshot(), before);
  assert.equal(existsSync(path.join(FIXTURES_DIR, "python-registry", "oversight-registry.sqlite-wal")), false);
});
