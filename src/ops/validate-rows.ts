/**
 * Checks of the registry rows: against each other (orphans, identities,
 * indexes), against the log (each event's leaf describes it; each manifest's
 * register leaf describes it) and against the signed manifests (signature,
 * file id, parties, the beacon and watermark arrays). Every check is one
 * indexed pass over a table, so the whole is O(rows log rows).
 */
import type Database from "better-sqlite3";
import { z } from "zod";
import { manifestParties, verifyManifest } from "../core/manifest.js";
import type { ExampleId, Findings } from "./validate-findings.js";
import type { ProgressCallback } from "./progress.js";

export const ROW_FIELDS = [
  "orphan_beacons",
  "orphan_watermarks",
  "orphan_events",
  "orphan_corpus",
  "beacon_identity_mismatches",
  "watermark_identity_mismatches",
  "event_identity_mismatches",
  "malformed_event_extra_json",
  "malformed_corpus_metadata_json",
  "duplicate_event_tlog_indexes",
  "negative_event_tlog_indexes",
  "events_without_tlog_index",
  "event_tlog_indexes_out_of_range",
  "event_tlog_leaf_mismatches",
  "malformed_manifest_json",
  "invalid_manifest_signatures",
  "mismatched_manifest_file_ids",
  "manifest_identity_mismatches",
  "manifests_without_tlog_index",
  "manifest_tlog_indexes_out_of_range",
  "register_leaf_mismatches",
  "beacons_not_in_manifest",
  "watermarks_not_in_manifest",
  "signed_beacons_without_row",
  "signed_watermarks_without_row",
] as const;

const MARK_ID = "w.mark_id || '/' || w.layer";
const CORPUS_ID = "c.file_id || '/' || c.hash_kind || '/' || c.hash_value";

/** A beacon leaf as the registry writes it (JCS: members in key order), rebuilt from an event row. */
const CANONICAL_BEACON_LEAF = `CASE WHEN x.kind = 'dns'
  THEN json_object('event', 'beacon', 'file_id', x.file_id, 'kind', x.kind, 'qname', x.extra ->> '$.qname',
       'qtype', x.extra ->> '$.qtype', 'recipient_id', x.recipient_id, 'source_ip', x.source_ip,
       'timestamp', x.qualified_timestamp, 'token_id', x.token_id)
  ELSE json_object('event', 'beacon', 'file_id', x.file_id, 'kind', x.kind, 'recipient_id', x.recipient_id,
       'source_ip', x.source_ip, 'timestamp', x.qualified_timestamp, 'token_id', x.token_id, 'user_agent', x.user_agent)
  END`;

/**
 * Events whose leaf does not describe them. The leaf at the event's
 * tlog_index must be a beacon leaf with the same kind, token, file, recipient,
 * source address, user agent (not for DNS events) and timestamp, and for DNS
 * events the qname and qtype of `extra`. Extra members are allowed. A missing
 * or unparsable leaf is a mismatch. Values are compared as SQL values; a NULL
 * column matches a null or absent member.
 *
 * The leaf's timestamp is the row's `qualified_timestamp`, as the Rust
 * reference validator compares it; only a row without one is compared with
 * the integer `timestamp` column. The Python reference takes that column from
 * a second reading of the clock, after formatting the leaf, so it may lag the
 * leaf by a second or more on a correct row: that is EVENT_TIMESTAMP_DRIFT.
 *
 * Runs in SQLite: materialising every event row in JS costs more than all the
 * comparisons. Most leaves are byte for byte the canonical leaf rebuilt from
 * the row, which is checked first; only the others are parsed member by member.
 */
const EVENT_LEAF_MISMATCHES = `
SELECT x.id FROM (
  SELECT e.id, e.kind, e.token_id, e.file_id, e.recipient_id, e.source_ip, e.user_agent, e.timestamp,
         e.qualified_timestamp, CASE WHEN json_valid(e.extra) THEN e.extra END AS extra,
         CAST(l.leaf_data AS TEXT) AS j
  FROM events e LEFT JOIN tlog_leaves l ON l.idx = e.tlog_index
  WHERE e.tlog_index >= 0 AND e.tlog_index < :size
) x
WHERE CASE
  WHEN x.qualified_timestamp IS NOT NULL AND x.j = ${CANONICAL_BEACON_LEAF} THEN 0
  WHEN json_valid(x.j) THEN NOT coalesce(
        x.j ->> '$.event' = 'beacon'
    AND x.j ->> '$.kind' = x.kind
    AND x.j ->> '$.token_id' = x.token_id
    AND (x.j ->> '$.file_id') IS x.file_id
    AND (x.j ->> '$.recipient_id') IS x.recipient_id
    AND (x.j ->> '$.source_ip') IS x.source_ip
    AND CASE WHEN x.qualified_timestamp IS NOT NULL THEN x.qualified_timestamp = x.j ->> '$.timestamp'
          ELSE unixepoch(x.j ->> '$.timestamp') = x.timestamp END
    AND CASE WHEN x.kind = 'dns'
          THEN (x.j ->> '$.qname') IS (x.extra ->> '$.qname') AND (x.j ->> '$.qtype') IS (x.extra ->> '$.qtype')
          ELSE (x.j ->> '$.user_agent') IS x.user_agent END, 0)
  ELSE 1 END`;

/**
 * Events whose integer `timestamp` is not the second of their
 * `qualified_timestamp`: how many, and the largest gap in seconds either way.
 */
const EVENT_TIMESTAMP_DRIFT = `
SELECT count(*) AS count, coalesce(CAST(max(abs(drift)) AS INTEGER), 0) AS max_seconds FROM (
  SELECT timestamp - unixepoch(qualified_timestamp) AS drift FROM events
  WHERE qualified_timestamp IS NOT NULL AND unixepoch(qualified_timestamp) IS NOT NULL
) WHERE drift != 0`;

export const EventTimestampDriftSchema = z.object({ count: z.int().nonnegative(), max_seconds: z.int().nonnegative() });
export type EventTimestampDrift = z.infer<typeof EventTimestampDriftSchema>;

/** Informational, never a problem: a correct row of the Python reference may drift (see EVENT_LEAF_MISMATCHES). */
export function eventTimestampDrift(db: Database.Database): EventTimestampDrift {
  return EventTimestampDriftSchema.parse(db.prepare(EVENT_TIMESTAMP_DRIFT).get());
}

/** Checks that are a single query yielding the ids of the offending rows. */
const SQL_CHECKS: readonly (readonly [(typeof ROW_FIELDS)[number], string])[] = [
  ["orphan_beacons", "SELECT b.token_id FROM beacons b LEFT JOIN manifests m ON m.file_id = b.file_id WHERE m.file_id IS NULL"],
  ["orphan_watermarks", `SELECT ${MARK_ID} FROM watermarks w LEFT JOIN manifests m ON m.file_id = w.file_id WHERE m.file_id IS NULL`],
  ["orphan_events", "SELECT e.id FROM events e LEFT JOIN manifests m ON m.file_id = e.file_id WHERE e.file_id IS NOT NULL AND m.file_id IS NULL"],
  ["orphan_corpus", `SELECT ${CORPUS_ID} FROM corpus c LEFT JOIN manifests m ON m.file_id = c.file_id WHERE m.file_id IS NULL`],
  [
    "beacon_identity_mismatches",
    "SELECT b.token_id FROM beacons b JOIN manifests m ON m.file_id = b.file_id WHERE b.recipient_id IS NOT m.recipient_id OR b.issuer_id IS NOT m.issuer_id",
  ],
  [
    "watermark_identity_mismatches",
    `SELECT ${MARK_ID} FROM watermarks w JOIN manifests m ON m.file_id = w.file_id WHERE w.recipient_id IS NOT m.recipient_id OR w.issuer_id IS NOT m.issuer_id`,
  ],
  [
    "event_identity_mismatches",
    "SELECT e.id FROM events e JOIN manifests m ON m.file_id = e.file_id WHERE e.recipient_id IS NOT m.recipient_id OR e.issuer_id IS NOT m.issuer_id",
  ],
  [
    // Every row after the first holding an index counts once, as the other implementations count.
    "duplicate_event_tlog_indexes",
    "SELECT e.id FROM events e WHERE e.tlog_index IS NOT NULL AND EXISTS (SELECT 1 FROM events f WHERE f.tlog_index = e.tlog_index AND f.id < e.id)",
  ],
  ["negative_event_tlog_indexes", "SELECT id FROM events WHERE tlog_index < 0"],
  ["events_without_tlog_index", "SELECT id FROM events WHERE tlog_index IS NULL"],
  ["event_tlog_indexes_out_of_range", "SELECT id FROM events WHERE tlog_index >= :size"],
  ["malformed_event_extra_json", "SELECT id FROM events WHERE extra IS NOT NULL AND trim(extra) != '' AND NOT json_valid(extra)"],
  ["event_tlog_leaf_mismatches", EVENT_LEAF_MISMATCHES],
  [
    "malformed_corpus_metadata_json",
    `SELECT ${CORPUS_ID} FROM corpus c WHERE c.metadata IS NOT NULL AND trim(c.metadata) != '' AND NOT json_valid(c.metadata)`,
  ],
  ["manifests_without_tlog_index", "SELECT file_id FROM manifests WHERE tlog_index IS NULL"],
  ["manifest_tlog_indexes_out_of_range", "SELECT file_id FROM manifests WHERE tlog_index < 0 OR tlog_index >= :size"],
];

export interface RowCheckOptions {
  tlogSize: number;
  onProgress?: ProgressCallback;
}

export function checkRows(db: Database.Database, findings: Findings, options: RowCheckOptions): void {
  findings.declare(...ROW_FIELDS);
  SQL_CHECKS.forEach(([field, sql], done) => {
    options.onProgress?.({ phase: "row checks", done, total: SQL_CHECKS.length });
    const statement = db.prepare(sql).pluck();
    const ids = (sql.includes(":size") ? statement.iterate({ size: options.tlogSize }) : statement.iterate()) as Iterable<ExampleId>;
    findings.addAll(field, ids);
  });
  checkManifests(db, findings, options);
}

const PROGRESS_EVERY = 50_000;

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

interface ManifestRow {
  file_id: string;
  recipient_id: string;
  issuer_id: string;
  issuer_ed25519_pub: string;
  manifest_json: string;
  registered_at: number;
  tlog_index: number | null;
  leaf_data: Buffer | null;
}

interface OwnerRow {
  file_id: string;
  issuer_ed25519_pub: string | null;
  registered_at: number | null;
  tlog_index: number | null;
}

function checkManifests(db: Database.Database, findings: Findings, options: RowCheckOptions): void {
  const total = db.prepare("SELECT count(*) FROM manifests").pluck().get() as number;
  const rows = db.prepare(
    `SELECT m.file_id, m.recipient_id, m.issuer_id, m.issuer_ed25519_pub, m.manifest_json, m.registered_at, m.tlog_index, l.leaf_data
     FROM manifests m LEFT JOIN tlog_leaves l ON l.idx = m.tlog_index`,
  );
  const arrays = new SignedArrayCheck(db, findings);
  let done = 0;
  for (const row of rows.iterate() as Iterable<ManifestRow>) {
    const manifest = parseObject(row.manifest_json);
    if (manifest === null) {
      findings.add("malformed_manifest_json", row.file_id);
    } else {
      if (!verifyManifest(manifest).ok) findings.add("invalid_manifest_signatures", row.file_id);
      if (manifest["file_id"] !== row.file_id) findings.add("mismatched_manifest_file_ids", row.file_id);
      const parties = manifestParties(manifest);
      if (parties.recipientId !== row.recipient_id || parties.issuerId !== row.issuer_id || parties.issuerPub !== row.issuer_ed25519_pub.toLowerCase()) {
        findings.add("manifest_identity_mismatches", row.file_id);
      }
      arrays.check(row, manifest);
    }
    const inRange = row.tlog_index !== null && row.tlog_index >= 0 && row.tlog_index < options.tlogSize;
    if (inRange && !registerLeafMatches(row, manifest)) findings.add("register_leaf_mismatches", row.file_id);
    if (++done % PROGRESS_EVERY === 0) options.onProgress?.({ phase: "manifests", done, total });
  }
}

/**
 * Whether the leaf at manifests.tlog_index is this file's register leaf: same
 * file, recipient, issuer and issuer key, and the manifest's array lengths.
 */
function registerLeafMatches(row: ManifestRow, manifest: Record<string, unknown> | null): boolean {
  if (row.leaf_data === null) return false;
  const leaf = parseObject(row.leaf_data.toString("utf8"));
  if (leaf === null) return false;
  const matches =
    leaf["event"] === "register" &&
    leaf["file_id"] === row.file_id &&
    leaf["recipient_id"] === row.recipient_id &&
    leaf["issuer_id"] === row.issuer_id &&
    typeof leaf["issuer_pub"] === "string" &&
    leaf["issuer_pub"].toLowerCase() === row.issuer_ed25519_pub.toLowerCase();
  if (!matches || manifest === null) return matches;
  const length = (value: unknown): number => (Array.isArray(value) ? value.length : 0);
  return leaf["n_beacons"] === length(manifest["beacons"]) && leaf["n_watermarks"] === length(manifest["watermarks"]);
}

/**
 * Beacon and watermark rows against the manifest's signed arrays. A row must
 * be an item of its file's signed array (a beacon also of the same kind).
 * A signed item must have its row under this file, unless it was re-owned
 * legitimately: its row belongs to another file of the same issuer key that
 * was registered later (a larger register leaf index, or when either has
 * none, a registered_at at least as late). That is the only move the
 * registry allows (docs/PROTOCOL.md#ownership); a token held by another
 * issuer's file is reported.
 */
class SignedArrayCheck {
  private readonly sql;

  constructor(
    db: Database.Database,
    private readonly findings: Findings,
  ) {
    const owner = "m.issuer_ed25519_pub, m.registered_at, m.tlog_index";
    this.sql = {
      beacons: db.prepare("SELECT token_id, kind FROM beacons WHERE file_id = ?").raw(),
      marks: db.prepare("SELECT mark_id, layer FROM watermarks WHERE file_id = ?").raw(),
      beaconOwner: db.prepare(`SELECT b.file_id, ${owner} FROM beacons b LEFT JOIN manifests m ON m.file_id = b.file_id WHERE b.token_id = ?`),
      markOwner: db.prepare(`SELECT w.file_id, ${owner} FROM watermarks w LEFT JOIN manifests m ON m.file_id = w.file_id WHERE w.mark_id = ? AND w.layer = ?`),
    };
  }

  check(row: ManifestRow, manifest: Record<string, unknown>): void {
    const signedBeacons = new Map<string, unknown>();
    for (const item of items(manifest["beacons"])) {
      if (typeof item["token_id"] === "string") signedBeacons.set(item["token_id"], item["kind"]);
    }
    const seenBeacons = new Set<string>();
    for (const [token, kind] of this.sql.beacons.iterate(row.file_id) as Iterable<[string, string]>) {
      seenBeacons.add(token);
      if (!signedBeacons.has(token) || signedBeacons.get(token) !== kind) this.findings.add("beacons_not_in_manifest", token);
    }
    for (const token of signedBeacons.keys()) {
      if (seenBeacons.has(token)) continue;
      const owner = this.sql.beaconOwner.get(token) as OwnerRow | undefined;
      if (!movedByIssuer(owner, row)) this.findings.add("signed_beacons_without_row", token);
    }

    const signedMarks = new Map<string, [string, string]>();
    for (const item of items(manifest["watermarks"])) {
      const { mark_id: markId, layer } = item;
      if (typeof markId === "string" && typeof layer === "string") signedMarks.set(markKey(markId, layer), [markId, layer]);
    }
    const seenMarks = new Set<string>();
    for (const [markId, layer] of this.sql.marks.iterate(row.file_id) as Iterable<[string, string]>) {
      const key = markKey(markId, layer);
      seenMarks.add(key);
      if (!signedMarks.has(key)) this.findings.add("watermarks_not_in_manifest", `${markId}/${layer}`);
    }
    for (const [key, [markId, layer]] of signedMarks) {
      if (seenMarks.has(key)) continue;
      const owner = this.sql.markOwner.get(markId, layer) as OwnerRow | undefined;
      if (!movedByIssuer(owner, row)) this.findings.add("signed_watermarks_without_row", `${markId}/${layer}`);
    }
  }
}

const markKey = (markId: string, layer: string): string => JSON.stringify([markId, layer]);

function items(value: unknown): Record<string, unknown>[] {
  if (!Array.isArray(value)) return [];
  return value.filter((item): item is Record<string, unknown> => typeof item === "object" && item !== null && !Array.isArray(item));
}

function movedByIssuer(owner: OwnerRow | undefined, row: ManifestRow): boolean {
  if (!owner || owner.issuer_ed25519_pub === null || owner.registered_at === null) return false;
  if (owner.issuer_ed25519_pub.toLowerCase() !== row.issuer_ed25519_pub.toLowerCase()) return false;
  if (owner.tlog_index !== null && row.tlog_index !== null) return owner.tlog_index > row.tlog_index;
  return owner.registered_at >= row.registered_at;
}
