/**
 * The monitor's findings for Prometheus, as a file for node_exporter's
 * textfile collector (`--collector.textfile.directory`): whether the last
 * round found the log misbehaving, the size it last verified, and when. The
 * file is replaced atomically (its temporary name does not end in `.prom`,
 * so the collector never reads half of it) and is world-readable, since the
 * exporter usually runs as another user.
 */
import { writeFileDurably } from "../core/durable-file.js";

export type MonitorFinding = { misbehaving: false; verifiedSize: number; verifiedAt: Date } | { misbehaving: true; kind: string; verifiedSize: number | null };

/** The file's text in the Prometheus exposition format. */
export function monitorMetricsText(finding: MonitorFinding): string {
  const lines = [
    "# HELP oversight_monitor_log_misbehaving 1 when the monitor's last round found the log misbehaving (fork, shrunk log, rewritten entry, bad signature or checkpoint) and wrote an evidence file.",
    "# TYPE oversight_monitor_log_misbehaving gauge",
    finding.misbehaving ? `oversight_monitor_log_misbehaving{kind="${finding.kind}"} 1` : "oversight_monitor_log_misbehaving 0",
  ];
  if (finding.verifiedSize !== null) {
    lines.push(
      "# HELP oversight_monitor_verified_tree_size Size of the last head the monitor verified.",
      "# TYPE oversight_monitor_verified_tree_size gauge",
      `oversight_monitor_verified_tree_size ${finding.verifiedSize}`,
    );
  }
  if (!finding.misbehaving) {
    lines.push(
      "# HELP oversight_monitor_last_verified_timestamp_seconds When the monitor last verified the log, in Unix seconds.",
      "# TYPE oversight_monitor_last_verified_timestamp_seconds gauge",
      `oversight_monitor_last_verified_timestamp_seconds ${Math.floor(finding.verifiedAt.getTime() / 1000)}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export function writeMonitorMetrics(file: string, finding: MonitorFinding): void {
  writeFileDurably(file, monitorMetricsText(finding), 0o644);
}
