/**
 * The verifier in src/verify/ runs in browsers: it may import nothing of Node
 * (no node: modules, no Buffer) and nothing of the server outside src/verify/
 * but the pure time helper, or the inspector bundle would break.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "../repo.js";

const VERIFY_DIR = path.join(REPO_ROOT, "src", "verify");
const ALLOWED_OUTSIDE = new Set(["../registry/time.js"]);

test("src/verify imports only itself, @noble, zod and the pure time helper, and never uses Buffer", () => {
  const files = readdirSync(VERIFY_DIR).filter((f) => f.endsWith(".ts"));
  assert.ok(files.length >= 8, files.join(", "));
  for (const file of files) {
    const source = readFileSync(path.join(VERIFY_DIR, file), "utf8");
    for (const [, spec] of source.matchAll(/^import[^"]*"([^"]+)";$/gm)) {
      const fine = spec!.startsWith("./") || spec!.startsWith("@noble/") || spec === "zod" || ALLOWED_OUTSIDE.has(spec!);
      assert.ok(fine, `${file} imports ${spec}`);
    }
    assert.doesNotMatch(source, /\bBuffer[.<]|: Buffer\b|\bprocess\./, file);
  }
});
