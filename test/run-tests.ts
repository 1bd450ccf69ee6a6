/**
 * `node build/test/run-tests.js`: runs `node --test` over the compiled test
 * files, and only those. Given a directory, Node 20's runner executes every
 * .js file in it, helper modules included, and it has no glob support, so the
 * files are listed here. Finding none is a failure, not a green run of nothing.
 * tsc does not delete what a removed test compiled to, so a compiled file
 * whose TypeScript source is gone is left out (and named), not run stale.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const TEST_FILE_SUFFIX = ".test.js";
/** Two cores: more files at once only makes each test slower. */
const CONCURRENCY = 2;

/** Every `*.test.js` under `dir`, recursively, sorted so runs list them in a stable order. */
export function listTestFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listTestFiles(full));
    else if (entry.isFile() && entry.name.endsWith(TEST_FILE_SUFFIX)) found.push(full);
  }
  return found.sort();
}

/** The compiled test files of `dir` (build/test) whose source still exists under `sourceDir` (test/), and the others. */
export function splitStale(dir: string, sourceDir: string, files: readonly string[]): { current: string[]; stale: string[] } {
  const current: string[] = [];
  const stale: string[] = [];
  for (const file of files) {
    const source = path.join(sourceDir, path.relative(dir, file)).replace(/\.js$/, ".ts");
    (existsSync(source) ? current : stale).push(file);
  }
  return { current, stale };
}

function main(): number {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  const { current: files, stale } = splitStale(dir, path.resolve(dir, "..", "..", "test"), listTestFiles(dir));
  for (const file of stale) console.error(`run-tests: skipping ${path.relative(dir, file)}: its source is gone (a stale build output)`);
  if (files.length === 0) {
    console.error(`run-tests: no *${TEST_FILE_SUFFIX} file under ${dir}; build the tests first (npm run build:all)`);
    return 1;
  }
  const run = spawnSync(process.execPath, ["--test", `--test-concurrency=${CONCURRENCY}`, ...files], { stdio: "inherit" });
  if (run.error) {
    console.error(`run-tests: could not start node --test: ${run.error.message}`);
    return 1;
  }
  return run.status ?? 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main();
}
