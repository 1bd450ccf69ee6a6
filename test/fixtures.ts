import { readFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "./repo.js";

/** The repository's own fixtures (test/fixtures/README.md says where each came from). */
export const FIXTURES_DIR = path.join(REPO_ROOT, "test", "fixtures");

export function readFixture<T = any>(name: string): T {
  return JSON.parse(readFileSync(path.join(FIXTURES_DIR, name), "utf8")) as T;
}
