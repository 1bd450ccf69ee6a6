/**
 * Debian's chromium driven by playwright-core, launched as this machine's
 * closed network needs (no background connections) with a fresh profile.
 * Missing chromium fails under CI=true (.ci/run installs it) and is a visible
 * skip elsewhere.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestContext } from "node:test";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** null when the test was skipped for want of chromium (never under CI). */
export async function launchBrowser(t: TestContext): Promise<BrowserContext | null> {
  if (!existsSync(CHROMIUM)) {
    const message = `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does) to run the inspector's browser test`;
    if (process.env.CI) throw new Error(message);
    t.skip(message);
    return null;
  }
  const profile = mkdtempSync(path.join(os.tmpdir(), "inspector-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1100, height: 900 },
  });
  // One hook, in this order: chromium writes into its profile until it has exited.
  t.after(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

/** Everything the page logs as an error, throws, or refuses under its CSP. */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()} (${message.location().url})`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  return problems;
}

export const cspViolations = (page: Page): Promise<string[]> => page.evaluate("window.cspViolations");

/** Installed before any page script: CSP violations are events the console may not show. */
export async function recordCspViolations(context: BrowserContext): Promise<void> {
  // A string, not a function: this file is compiled for Node, where `document` has no type.
  await context.addInitScript(`
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) => window.cspViolations.push(event.violatedDirective + " " + event.blockedURI));
  `);
}
