/**
 * `npm run bench:web -- [--leaves N] [--runs R]`: the inspector page's size
 * and the first render of its log view against a registry of N leaves
 * (default 1,000,000, preloaded as bench:http does), in Debian's chromium.
 *
 * From navigation start, on the page's own clock (its performance marks):
 * `rendered` when the log view shows the registry's identity and the latest
 * entries, `verified` when the head, the checkpoint and the visitor's last
 * head are verified on screen. A fresh browser profile each run (cold cache,
 * first visit), then a second visit in the same profile, which also checks the
 * head against the one it remembered. Prints one JSON line
 * per figure on stdout; medians over R runs.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "../test/web/browser.js";
import { startBenchRegistry } from "./child.js";
import { integerFlag } from "./flags.js";
import { DB_FILE, OPERATOR_TOKEN } from "./http-measure.js";
import { preload } from "./http-preload.js";

const log = (message: string) => process.stderr.write(`${message}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const WEB_DIR = new URL("../src/web/", import.meta.url);

interface Marks {
  rendered: number;
  verified: number;
}

function pageSize(): void {
  for (const name of fs.readdirSync(WEB_DIR)) {
    if (!/\.(js|css)$/.test(name)) continue;
    const body = fs.readFileSync(new URL(name, WEB_DIR));
    console.log(JSON.stringify({ figure: "page_file", file: name, raw_bytes: body.length, gzip_bytes: zlib.gzipSync(body, { level: 9 }).length }));
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const leaves = integerFlag(argv, "leaves", 1_000_000, 1);
  const runs = integerFlag(argv, "runs", 5, 1);
  pageSize();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-web-"));
  try {
    const { size } = preload(path.join(dataDir, DB_FILE), leaves);
    const server = await startBenchRegistry(dataDir, DB_FILE, OPERATOR_TOKEN);
    try {
      const url = String(server.ready["url"]);
      const cold: Marks[] = [];
      const warm: Marks[] = [];
      for (let run = 0; run < runs; run++) {
        const profile = fs.mkdtempSync(path.join(os.tmpdir(), "bench-web-chromium-"));
        const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
        try {
          const page = await context.newPage();
          const marks = async (): Promise<Marks> => {
            await page.locator('[data-fact="Signed head"].good').waitFor();
            await page.locator('[data-fact="Checkpoint"].good').waitFor();
            const at = (name: string) => `performance.getEntriesByName("inspector:log-${name}")[0].startTime`;
            return { rendered: Number(await page.evaluate(at("rendered"))), verified: Number(await page.evaluate(at("verified"))) };
          };
          await page.goto(`${url}/`);
          cold.push(await marks());
          await page.goto(`${url}/?from=${size - 1}`);
          await page.locator('[data-fact="Since your last visit"].good').waitFor();
          warm.push(await marks());
        } finally {
          await context.close();
          fs.rmSync(profile, { recursive: true, force: true });
        }
      }
      for (const [visit, list] of [
        ["first_visit", cold],
        ["second_visit", warm],
      ] as const) {
        for (const mark of ["rendered", "verified"] as const) {
          const ms = list.map((m) => Math.round(m[mark]));
          console.log(JSON.stringify({ figure: `log_view_${mark}_ms`, visit, leaves: size, runs, median: median(ms), all: ms }));
        }
      }
      console.log(JSON.stringify({ figure: "nproc", value: os.availableParallelism() }));
    } finally {
      await server.stop();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
