/**
 * `oversight-registry verify-evidence <bundle.json | URL> [--registry-pub <hex>] [--json]`
 *
 * Checks an evidence bundle offline (a URL is only fetched, never trusted)
 * and prints one line per check: `ok …`, `FAIL …`, `skip … (why)`, `warn …`;
 * with --json, one JSON object `{verified, counts, checks}` for programs.
 * From a URL every page of a paged bundle is fetched and checked; a file is
 * the one page it holds.
 * Exit 0 when nothing failed, 1 when something did.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import type { CommandIo } from "./monitor.js";
import { fetchJson } from "./registry-client.js";
import { verdictOf, type Check } from "../verify/evidence.js";
import { nextCursor, verifyEvidencePages } from "../verify/evidence-pages.js";

export const VERIFY_EXIT = { ok: 0, failed: 1, unreadable: 2, usage: 64 } as const;

const USAGE = "usage: oversight-registry verify-evidence <bundle.json | URL> [--registry-pub <hex>] [--json]\n";

export function formatCheck(check: Check): string {
  const label = { ok: "ok", fail: "FAIL", skip: "skip", warn: "warn" }[check.status];
  if (!check.detail) return `${label} ${check.what}`;
  return check.status === "skip" ? `${label} ${check.what} (${check.detail})` : `${label} ${check.what}: ${check.detail}`;
}

export async function verifyEvidenceCommand(args: string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let source: string;
  let registryPub: string | undefined;
  let json = false;
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { "registry-pub": { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.stdout.write(USAGE);
      return VERIFY_EXIT.ok;
    }
    if (positionals.length !== 1) throw new Error("expected exactly one bundle file or URL");
    source = positionals[0]!;
    registryPub = values["registry-pub"];
    json = values.json === true;
    if (registryPub !== undefined && !/^[0-9a-fA-F]{64}$/.test(registryPub)) throw new Error("--registry-pub must be 64 hex characters");
  } catch (error) {
    io.stderr.write(`verify-evidence: ${(error as Error).message}\n${USAGE}`);
    return VERIFY_EXIT.usage;
  }

  let pages: unknown[];
  try {
    pages = await loadPages(source);
  } catch (error) {
    io.stderr.write(`verify-evidence: cannot read ${source}: ${(error as Error).message}\n`);
    return VERIFY_EXIT.unreadable;
  }
  const checks = verifyEvidencePages(pages, registryPub === undefined ? {} : { registryPub: registryPub.toLowerCase() });
  const verdict = verdictOf(checks);
  if (json) {
    io.stdout.write(`${JSON.stringify({ ...verdict, checks })}\n`);
  } else {
    for (const check of checks) io.stdout.write(`${formatCheck(check)}\n`);
    const { ok, fail, skip, warn } = verdict.counts;
    io.stdout.write(`${verdict.verified ? "VERIFIED" : "NOT VERIFIED"}: ${ok} ok, ${fail} failed, ${skip} skipped, ${warn} warnings\n`);
  }
  return verdict.verified ? VERIFY_EXIT.ok : VERIFY_EXIT.failed;
}

/** A bound on the pages followed, so that a registry answering cursors forever cannot keep the command running. */
const MAX_PAGES = 100_000;

async function loadPages(source: string): Promise<unknown[]> {
  if (!/^https?:\/\//i.test(source)) return [JSON.parse(readFileSync(source, "utf8")) as unknown];
  const pages = [await fetchJson(source, z.unknown(), { maxAttempts: 3 })];
  for (let cursor = nextCursor(pages[0]); cursor !== undefined && pages.length < MAX_PAGES; cursor = nextCursor(pages.at(-1))) {
    const url = new URL(source);
    url.searchParams.set("cursor", cursor);
    pages.push(await fetchJson(url.href, z.unknown(), { maxAttempts: 3 }));
  }
  return pages;
}
