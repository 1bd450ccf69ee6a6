/**
 * The registry key against the log: a log that has leaves, a signed head or a
 * recorded key needs the identity file it was signed with, or the registry
 * refuses to start (registry/log-identity.ts). The database keeps no head
 * signatures, only the largest signed size and root; the key its heads were
 * signed with is the one `registry_keys` records.
 */
import type Database from "better-sqlite3";
import { IdentityError, identityPath, readIdentity } from "../core/identity.js";
import { describeEvidence, logEvidence } from "../registry/log-identity.js";
import type { Findings } from "./validate-findings.js";

export const IDENTITY_FIELDS = ["identity_problems"] as const;

export function checkIdentity(db: Database.Database, findings: Findings, options: { dataDir: string; signedHeadFile: string }): void {
  findings.declare(...IDENTITY_FIELDS);
  const file = identityPath(options.dataDir);
  const evidence = logEvidence(db, options.signedHeadFile);
  let identity;
  try {
    identity = readIdentity(options.dataDir);
  } catch (error) {
    if (!(error instanceof IdentityError)) throw error;
    findings.add("identity_problems", error.message);
    return;
  }
  const recorded = evidence.recorded?.ed25519_pub ?? null;
  if (identity === null) {
    const facts = describeEvidence(evidence, options.signedHeadFile);
    if (facts.length > 0) findings.add("identity_problems", `${file} is missing but the log has ${facts.join(", ")}`);
  } else if (recorded !== null && recorded !== identity.publicKeyHex) {
    findings.add("identity_problems", `${file} holds the key ${identity.publicKeyHex} but the log's heads were signed with ${recorded}`);
  }
}
