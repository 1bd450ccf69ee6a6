// The ready-made monitoring under deploy/: the alert rules pass promtool's
// check and their unit tests, and the Grafana dashboard queries only metrics a
// live registry exposes. promtool comes from Debian's `prometheus` package,
// which .ci/run installs; outside CI without it the promtool tests skip.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { monitorMetricsText } from "../../src/ops/monitor-metrics.js";
import { samples, sampledNames } from "../http/metrics-text.js";
import { startTestRegistry } from "../http/registry-server.js";
import { createIssuer } from "../issuer.js";
import { REPO_ROOT } from "../repo.js";

const RULES_DIR = path.join(REPO_ROOT, "deploy", "prometheus");
const DASHBOARD = path.join(REPO_ROOT, "deploy", "grafana", "oversight-registry.dashboard.json");
const hasPromtool = spawnSync("promtool", ["--version"], { stdio: "ignore" }).error === undefined;

function needPromtool(t: TestContext): boolean {
  if (hasPromtool) return true;
  if (process.env["CI"]) assert.fail("promtool is not on PATH (CI installs it: .ci/install-package promtool prometheus)");
  t.skip("promtool is not on PATH: run .ci/install-package promtool prometheus to check the alert rules");
  return false;
}

function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const run = spawnSync("promtool", args, { cwd: RULES_DIR, encoding: "utf8", input, timeout: 120_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

test("promtool accepts the alert rules and their unit tests pass", (t) => {
  if (!needPromtool(t)) return;
  const check = promtool(["check", "rules", "oversight-registry.rules.yml"]);
  assert.equal(check.status, 0, check.output);
  assert.match(check.output, /SUCCESS: 6 rules found/);
  const unit = promtool(["test", "rules", "oversight-registry.rules.test.yml"]);
  assert.equal(unit.status, 0, unit.output);
});

test("the monitor's textfile-collector output passes promtool's metrics lint", (t) => {
  if (!needPromtool(t)) return;
  for (const finding of [
    { misbehaving: false as const, verifiedSize: 12, verifiedAt: new Date(0) },
    { misbehaving: true as const, kind: "fork", verifiedSize: 6 },
  ]) {
    const text = monitorMetricsText(finding);
    const lint = promtool(["check", "metrics"], text);
    assert.equal(lint.status, 0, `${lint.output}\n${text}`);
  }
  assert.equal(
    samples(monitorMetricsText({ misbehaving: true, kind: "shrunk", verifiedSize: null })).get('oversight_monitor_log_misbehaving{kind="shrunk"}'),
    1,
  );
});

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** PromQL words that are not metric names. */
const PROMQL_WORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"]);

/** The metric names a PromQL expression reads: identifiers that are not functions, keywords, labels or durations. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, "")
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, "");
  const names: string[] = [];
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?/g)) {
    if (match[1] !== undefined || PROMQL_WORDS.has(match[0])) continue;
    names.push(match[0]);
  }
  return names;
}

test("the metric-name reader skips functions, labels, strings and durations", () => {
  assert.deepEqual(
    metricNames('histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job=~"$job",status="5xx"}[$__rate_interval])))'),
    ["http_request_duration_seconds_bucket"],
  );
  assert.deepEqual(metricNames("sum(rate(a_total[5m])) / sum(rate(b_total[5m])) and on (instance) c > 0"), ["a_total", "b_total", "c"]);
});

test("every metric the Grafana dashboard queries is in a live /metrics scrape", async (t) => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { panels: Panel[]; templating: { list: { definition?: string }[] } };
  const exprs: string[] = [];
  const walk = (panels: Panel[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) if (target.expr) exprs.push(target.expr);
      walk(panel.panels ?? []);
    }
  };
  walk(dashboard.panels);
  assert.ok(exprs.length >= 15, `only ${exprs.length} queries`);
  const queried = new Set(exprs.flatMap(metricNames));
  for (const variable of dashboard.templating.list) {
    const inner = /^label_values\((\w+)/.exec(variable.definition ?? "");
    if (inner) queried.add(inner[1]!);
  }

  const reg = await startTestRegistry(t);
  assert.equal((await reg.call("/register", { json: createIssuer().registration() })).status, 200);
  await reg.call("/v/tok", { auth: false });
  await reg.call("/tlog/head", { auth: false });
  const exposed = sampledNames(await (await reg.call("/metrics", { auth: false })).text());
  const missing = [...queried].filter((name) => !exposed.has(name));
  assert.deepEqual(missing, [], `queried by the dashboard but not exposed: ${missing.join(", ")}`);
});
