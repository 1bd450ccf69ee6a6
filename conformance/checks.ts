/**
 * The conformance check runner: runs every check in order against one
 * registry and reports each as pass, fail or skip. Later checks use what
 * earlier ones registered, so the order below is part of the design.
 */
import { RegistryClient } from "./client.js";
import { activityChecks } from "./checks-activity.js";
import { type Check, CheckFailure, CheckSkipped, type Context } from "./checks-common.js";
import { evidenceChecks } from "./checks-evidence.js";
import { federationChecks } from "./checks-federation.js";
import { identityChecks } from "./checks-identity.js";
import { registerChecks } from "./checks-register.js";
import { tlogChecks } from "./checks-tlog.js";

export const ALL_CHECKS: readonly Check[] = [...identityChecks, ...registerChecks, ...activityChecks, ...evidenceChecks, ...tlogChecks, ...federationChecks];

export interface ConformanceOptions {
  url: string;
  token?: string | null;
  dnsSecret?: string | null;
  /** The caller started the registry with no DNS secret (enables the strict loopback DNS check). */
  selfStarted?: boolean;
  /** Called as each check finishes, e.g. to print progress. */
  onOutcome?: (outcome: Outcome) => void;
}

export interface Outcome {
  name: string;
  status: "pass" | "fail" | "skip";
  reason?: string;
}

export interface ConformanceReport {
  outcomes: Outcome[];
  passed: number;
  failed: number;
  skipped: number;
  /** HTTP requests made, and how many of them were answered 429 (each retried once). */
  requests: number;
  rateLimited: number;
}

export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
  return `${error.name === "Error" ? "" : `${error.name}: `}${error.message}${cause}`;
}

async function runOne(check: Check, ctx: Context): Promise<Outcome> {
  try {
    await check.run(ctx);
    return { name: check.name, status: "pass" };
  } catch (error) {
    if (error instanceof CheckSkipped) return { name: check.name, status: "skip", reason: error.message };
    if (error instanceof CheckFailure) return { name: check.name, status: "fail", reason: error.message };
    return { name: check.name, status: "fail", reason: describe(error) };
  }
}

export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const client = new RegistryClient(options.url, options.token ?? null);
  const ctx: Context = {
    client,
    token: options.token ?? null,
    dnsSecret: options.dnsSecret ?? null,
    selfStarted: options.selfStarted ?? false,
    loopback: isLoopbackUrl(options.url),
    state: {},
  };
  const outcomes: Outcome[] = [];
  for (const check of ALL_CHECKS) {
    const outcome = await runOne(check, ctx);
    outcomes.push(outcome);
    options.onOutcome?.(outcome);
  }
  const count = (status: Outcome["status"]): number => outcomes.filter((o) => o.status === status).length;
  return { outcomes, passed: count("pass"), failed: count("fail"), skipped: count("skip"), requests: client.requests, rateLimited: client.rateLimited };
}

export function formatOutcome(outcome: Outcome): string {
  const tag = { pass: "PASS", fail: "FAIL", skip: "SKIP" }[outcome.status];
  return outcome.reason === undefined ? `[${tag}] ${outcome.name}` : `[${tag}] ${outcome.name}: ${outcome.reason}`;
}

/** The closing line test runners read: `N passed, M failed` (`, K skipped` only when some were). */
/** Skips on their own line, so the last line is exactly `N passed, M failed` for tools that parse it. */
export function formatSummary(report: Pick<ConformanceReport, "passed" | "failed" | "skipped">): string {
  const skipped = report.skipped > 0 ? `${report.skipped} skipped\n` : "";
  return `${skipped}${report.passed} passed, ${report.failed} failed`;
}
