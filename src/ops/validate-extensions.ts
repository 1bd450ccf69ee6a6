/**
 * Checks of the tables that are this registry's own extensions of v1: named
 * operator tokens (and the registrations that name them) and the DNS event
 * ids a bridge sends. Each is one indexed pass, O(rows log rows).
 */
import type Database from "better-sqlite3";
import { BOOTSTRAP_TOKEN_NAME, tokenRowProblem } from "../registry/operator-tokens.js";
import type { Findings } from "./validate-findings.js";

export const EXTENSION_FIELDS = ["malformed_operator_tokens", "registrations_by_unknown_tokens", "dns_event_ids_without_event"] as const;

/** A manifest whose `registered_by` names no token: the record of who registered it points nowhere (tokens are revoked, never deleted). */
const REGISTRATIONS_BY_UNKNOWN_TOKENS = `
SELECT m.file_id FROM manifests m
WHERE m.registered_by IS NOT NULL AND m.registered_by != :bootstrap
  AND NOT EXISTS (SELECT 1 FROM operator_tokens t WHERE t.name = m.registered_by)`;

/** An event id whose leaf is not a DNS event: a bridge sending that event again would be answered with another event's leaf. */
const DNS_EVENT_IDS_WITHOUT_EVENT = `
SELECT d.event_id FROM dns_event_ids d
WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.tlog_index = d.tlog_index AND e.kind = 'dns')`;

export function checkExtensionRows(db: Database.Database, findings: Findings): void {
  findings.declare(...EXTENSION_FIELDS);
  for (const row of db.prepare("SELECT name, secret_sha256, scopes, created_at, expires_at, last_used_at, revoked_at FROM operator_tokens").iterate()) {
    const problem = tokenRowProblem(row as Parameters<typeof tokenRowProblem>[0]);
    if (problem !== null) findings.add("malformed_operator_tokens", `${String((row as { name: unknown }).name)}: ${problem}`);
  }
  findings.addAll(
    "registrations_by_unknown_tokens",
    db.prepare(REGISTRATIONS_BY_UNKNOWN_TOKENS).pluck().iterate({ bootstrap: BOOTSTRAP_TOKEN_NAME }) as Iterable<string>,
  );
  findings.addAll("dns_event_ids_without_event", db.prepare(DNS_EVENT_IDS_WITHOUT_EVENT).pluck().iterate() as Iterable<string>);
}
