// The image installs `dependencies` alone (npm prune --omit=dev), so a package
// that dist/ loads must be there, and one that only tests, benchmarks or the
// conformance harness load must not: it would ship in every image unused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../repo.js";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

/** `zod`, `@noble/hashes/sha2.js` → `@noble/hashes`; relative and `node:` imports are not packages. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith(".") || specifier.startsWith("node:")) return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** Packages loaded at run time: `import type` is erased by the compiler and loads nothing. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [
    ...[...text.matchAll(/^\s*(?:import|export)(?!\s+type\b)[^;]*?\bfrom\s*"([^"]+)"/gm)].map((m) => m[1]!),
    ...[...text.matchAll(/\bimport\s*\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]!),
    ...[...text.matchAll(/^\s*import\s*"([^"]+)"/gm)].map((m) => m[1]!),
  ];
  return specifiers.flatMap((s) => packageOf(s) ?? []);
}

test("dependencies are exactly the packages src/ loads at run time; everything else is a devDependency", () => {
  const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const loaded = new Set(sourceFiles(path.join(REPO_ROOT, "src")).flatMap(runtimeImports));
  assert.ok(loaded.has("better-sqlite3"), "the scan found src/'s imports");
  assert.deepEqual(Object.keys(manifest.dependencies).sort(), [...loaded].sort());
  for (const name of Object.keys(manifest.devDependencies)) {
    assert.ok(!loaded.has(name), `${name} is loaded by src/ but only a devDependency`);
  }
});
