/**
 * Which key signs this log, decided once at start-up. A new key is a new log:
 * monitors and auditors pinned the old one, and every head they hold was
 * signed with it. So the registry creates a key only for a log nothing was
 * ever signed for, and otherwise refuses to start without the key the log
 * records, unless the operator says `--new-identity`; that change is logged
 * and recorded in the `registry_keys` table (key-record.ts).
 */
import type Database from "better-sqlite3";
import { existsSync } from "node:fs";
import { IdentityError, identityPath, loadOrCreateIdentity, readIdentity, type RegistryIdentity } from "../core/identity.js";
import { recordedKey, recordKey, type KeyReason, type KeyRecord } from "./key-record.js";

export const NEW_IDENTITY_FLAG = "--new-identity";

/** What in the database and data dir says a log exists that some key has signed or will be held to. */
export interface LogEvidence {
  leaves: number;
  signedSize: number | null;
  stateFile: boolean;
  recorded: KeyRecord | null;
}

export function logEvidence(db: Database.Database, signedHeadFile: string): LogEvidence {
  const maxIndex = db.prepare("SELECT max(idx) FROM tlog_leaves").pluck().get() as number | null;
  const signedSize = db.prepare("SELECT size FROM tlog_signed WHERE id = 1").pluck().get() as number | undefined;
  return {
    leaves: maxIndex === null ? 0 : maxIndex + 1,
    signedSize: signedSize ?? null,
    stateFile: existsSync(signedHeadFile),
    recorded: recordedKey(db),
  };
}

/** Plain words for the refusal messages; empty when nothing binds the log to a key. */
export function describeEvidence(evidence: LogEvidence, signedHeadFile: string): string[] {
  const facts: string[] = [];
  if (evidence.leaves > 0) facts.push(`${evidence.leaves} leaves`);
  if (evidence.signedSize !== null) facts.push(`a signed head of size ${evidence.signedSize} (tlog_signed)`);
  if (evidence.stateFile) facts.push(`a signed-head record ${signedHeadFile}`);
  if (evidence.recorded) facts.push(`the recorded key ${evidence.recorded.ed25519_pub} (registry_keys)`);
  return facts;
}

export interface IdentityChange {
  previous: string | null;
  current: string;
  reason: KeyReason;
}

export interface EstablishedIdentity {
  identity: RegistryIdentity;
  /** Set when the log's key changed or was first recorded now. */
  change: IdentityChange | null;
}

export interface EstablishOptions {
  db: Database.Database;
  dataDir: string;
  dbPath: string;
  signedHeadFile: string;
  /** The operator's `--new-identity`: accept a new key for a log that had another. */
  newIdentity: boolean;
  now?: () => number;
}

export function establishIdentity(options: EstablishOptions): EstablishedIdentity {
  const { db, dataDir, newIdentity } = options;
  const evidence = logEvidence(db, options.signedHeadFile);
  const file = identityPath(dataDir);
  const existing = readIdentity(dataDir);
  const recorded = evidence.recorded?.ed25519_pub ?? null;
  const at = (options.now ?? (() => Math.floor(Date.now() / 1000)))();
  const record = (identity: RegistryIdentity, reason: KeyReason): EstablishedIdentity => {
    const change = { previous: recorded, current: identity.publicKeyHex, reason };
    recordKey(db, { pub: change.current, previous: change.previous, reason, at });
    return { identity, change };
  };

  if (existing === null) {
    const facts = describeEvidence(evidence, options.signedHeadFile);
    if (facts.length > 0 && !newIdentity) {
      throw new IdentityError(
        file,
        `is missing, but the log in ${options.dbPath} has ${facts.join(", ")}; its heads were signed with ` +
          `${recorded ?? "that key"}. Restore registry-identity.json from your backup into the data directory. ` +
          `A new key is a new log: to start one anyway, start once with ${NEW_IDENTITY_FLAG}`,
      );
    }
    return record(loadOrCreateIdentity(dataDir).identity, newIdentity ? "new-identity" : "created");
  }
  if (recorded === existing.publicKeyHex || (recorded === null && !newIdentity)) {
    if (newIdentity) refuseIdleFlag(file, existing);
    return recorded === null ? record(existing, "adopted") : { identity: existing, change: null };
  }
  if (recorded === null) refuseIdleFlag(file, existing);
  if (!newIdentity) {
    throw new IdentityError(
      file,
      `holds the key ${existing.publicKeyHex}, but this log's heads were signed with ${recorded} (registry_keys in ` +
        `${options.dbPath}). Restore the matching registry-identity.json from your backup. A new key is a new log: ` +
        `to sign this log with the key in the file from now on, start once with ${NEW_IDENTITY_FLAG}`,
    );
  }
  return record(existing, "new-identity");
}

/** Left in a unit file, the flag would silently swap keys the next time a file goes missing. */
function refuseIdleFlag(file: string, identity: RegistryIdentity): never {
  throw new IdentityError(
    file,
    `holds the key ${identity.publicKeyHex}, which is already this log's key: ${NEW_IDENTITY_FLAG} has nothing to change; remove it`,
  );
}
