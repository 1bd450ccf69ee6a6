// The repository stands on its own: a fresh clone with nothing beside it has
// every fixture the tests read.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { FIXTURES_DIR } from "./fixtures.js";
import { migrateFixture } from "./ops/migrate-support.js";
import { REPO_ROOT } from "./repo.js";

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(path.join(dir, entry.name)).map((name) => `${entry.name}/${name}`) : [entry.name],
  );
}

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
