/**
 * The registry's tables. The first five keep the other registry v1
 * implementations' columns exactly, so migrating a data directory is a copy;
 * what we add is appended as extra columns or tables.
 */
import { TLOG_SCHEMA_SQL } from "../tlog/schema.js";
import { KEY_RECORD_SQL } from "./key-record.js";
import { OPERATOR_TOKENS_SQL } from "./operator-tokens.js";

export const REGISTRY_TABLES = ["manifests", "beacons", "watermarks", "events", "corpus"] as const;
export type RegistryTable = (typeof REGISTRY_TABLES)[number];

const V1_TABLES_SQL = `
CREATE TABLE manifests (
    file_id TEXT PRIMARY KEY,
    recipient_id TEXT NOT NULL,
    issuer_id TEXT NOT NULL,
    issuer_ed25519_pub TEXT NOT NULL,
    manifest_json TEXT NOT NULL,
    registered_at INTEGER NOT NULL,
    tlog_index INTEGER,
    request_digest TEXT
);
CREATE TABLE beacons (
    token_id TEXT PRIMARY KEY,
    file_id TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    issuer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    registered_at INTEGER NOT NULL
);
CREATE TABLE watermarks (
    mark_id TEXT NOT NULL,
    layer TEXT NOT NULL,
    file_id TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    issuer_id TEXT NOT NULL,
    registered_at INTEGER NOT NULL,
    PRIMARY KEY (mark_id, layer)
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id TEXT NOT NULL,
    file_id TEXT,
    recipient_id TEXT,
    issuer_id TEXT,
    kind TEXT NOT NULL,
    source_ip TEXT,
    user_agent TEXT,
    extra TEXT,
    timestamp INTEGER NOT NULL,
    qualified_timestamp TEXT,
    tlog_index INTEGER
);
CREATE TABLE corpus (
    file_id TEXT NOT NULL,
    hash_kind TEXT NOT NULL,
    hash_value TEXT NOT NULL,
    metadata TEXT,
    registered_at INTEGER NOT NULL,
    PRIMARY KEY (file_id, hash_kind, hash_value)
);
CREATE INDEX idx_events_token ON events(token_id);
CREATE INDEX idx_events_file ON events(file_id);
CREATE INDEX idx_events_tlog ON events(tlog_index);
CREATE INDEX idx_corpus_hash ON corpus(hash_kind, hash_value);
CREATE INDEX idx_beacons_file ON beacons(file_id);
CREATE INDEX idx_watermarks_file ON watermarks(file_id);
CREATE INDEX idx_watermarks_layer ON watermarks(layer, registered_at);
`;

/**
 * A watermark or corpus row's claim: the log index of the registration at
 * which its file first claimed it. A re-registration keeps it, so /attribute
 * can rank claims on one mark or hash by who claimed first, whatever was
 * registered again since. Rows copied from a registry that kept none take
 * their file's register leaf, the earliest claim the log can show.
 */
export const BACKFILL_CLAIMS_SQL = `
UPDATE watermarks SET claim_tlog_index = (SELECT m.tlog_index FROM manifests m WHERE m.file_id = watermarks.file_id)
  WHERE claim_tlog_index IS NULL;
UPDATE corpus SET claim_tlog_index = (SELECT m.tlog_index FROM manifests m WHERE m.file_id = corpus.file_id)
  WHERE claim_tlog_index IS NULL;
`;

const CLAIM_INDEX_SQL = `
ALTER TABLE watermarks ADD COLUMN claim_tlog_index INTEGER;
ALTER TABLE corpus ADD COLUMN claim_tlog_index INTEGER;
${BACKFILL_CLAIMS_SQL}`;

/**
 * The `event_id` a DNS bridge may send with each /dns_event, and the leaf it
 * became: a bridge that cannot tell whether an acknowledgement reached it
 * (killed between our commit and its own) sends the event again, and gets the
 * original answer instead of a second leaf.
 */
const DNS_EVENT_IDS_SQL = `
CREATE TABLE dns_event_ids (
    event_id TEXT PRIMARY KEY,
    tlog_index INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * Evidence bundles page a file's events in (timestamp, id) order from a
 * cursor: this index makes each page a seek and a short walk, not a sort of
 * every event of the file. It leads with file_id, so the old index goes.
 */
const EVENTS_BY_FILE_TIME_SQL = `
DROP INDEX idx_events_file;
CREATE INDEX idx_events_file_time ON events(file_id, timestamp);
`;

/** Numbered schema migrations; `PRAGMA user_version` is the count applied. */
export const MIGRATIONS: readonly string[] = [
  V1_TABLES_SQL + TLOG_SCHEMA_SQL,
  CLAIM_INDEX_SQL,
  KEY_RECORD_SQL,
  DNS_EVENT_IDS_SQL,
  OPERATOR_TOKENS_SQL,
  EVENTS_BY_FILE_TIME_SQL,
];
