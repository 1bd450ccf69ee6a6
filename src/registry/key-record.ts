/**
 * The keys this log has been signed with, kept in its own database
 * (`registry_keys`), newest last. The identity file beside the database can be
 * lost or swapped; this record is how the registry, `--validate-db` and
 * `--migrate-from` tell which key the log's heads were signed with, and it is
 * the durable trail of every deliberate key change.
 */
import type Database from "better-sqlite3";
import { z } from "zod";

export const KEY_RECORD_SQL = `
CREATE TABLE registry_keys (
    seq INTEGER PRIMARY KEY,
    ed25519_pub TEXT NOT NULL,
    previous_pub TEXT,
    recorded_at INTEGER NOT NULL,
    reason TEXT NOT NULL
);
`;

/**
 * created: the registry made the key, for a log that had none;
 * adopted: the key was in the identity file before this record existed;
 * migrated: `--migrate-from` set it (the source's key, or the target's when told so);
 * new-identity: the operator started a new key with `--new-identity`.
 */
export const KEY_REASONS = ["created", "adopted", "migrated", "new-identity"] as const;
export type KeyReason = (typeof KEY_REASONS)[number];

const KeyRecordSchema = z.object({
  ed25519_pub: z.string(),
  previous_pub: z.string().nullable(),
  recorded_at: z.int(),
  reason: z.string(),
});
export type KeyRecord = z.infer<typeof KeyRecordSchema>;

/** The key the log is signed with now, or null when none was ever recorded. */
export function recordedKey(db: Database.Database): KeyRecord | null {
  const row = db.prepare("SELECT ed25519_pub, previous_pub, recorded_at, reason FROM registry_keys ORDER BY seq DESC LIMIT 1").get();
  return row === undefined ? null : KeyRecordSchema.parse(row);
}

export function recordKey(db: Database.Database, entry: { pub: string; previous: string | null; reason: KeyReason; at: number }): void {
  db.prepare("INSERT INTO registry_keys (ed25519_pub, previous_pub, recorded_at, reason) VALUES (?, ?, ?, ?)").run(
    entry.pub,
    entry.previous,
    entry.at,
    entry.reason,
  );
}
