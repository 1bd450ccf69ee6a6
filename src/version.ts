/** The package version, read once from package.json beside dist/ (or build/). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

function findVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "oversight-registry" && pkg.version) return pkg.version;
    } catch {
      // not at this level; keep walking up
    }
    dir = path.dirname(dir);
  }
  return "0.0.0";
}

export const VERSION = findVersion();
