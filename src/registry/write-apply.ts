/**
 * Applies one fact (write-facts.ts) to the write connection inside the
 * caller's transaction: its rows and its leaf, nothing else. Run by the write
 * sequencer, so an applied fact may be rolled back and applied again
 * (sequencer.ts); it only touches the database.
 */
import type Database from "better-sqlite3";
import { RegistryError } from "../core/errors.js";
import { OperatorTokens } from "./operator-tokens.js";
import { canonicalize } from "../verify/jcs.js";
import type { TlogStore } from "../tlog/store.js";
import { beaconLeaf, dnsLeaf, registerLeaf } from "./leaves.js";
import { isoSeconds } from "./time.js";
import { NO_LEAF, type BeaconFact, type DnsFact, type RegisterFact, type WriteFact } from "./write-facts.js";

interface ManifestRow {
  issuer_ed25519_pub: string;
  request_digest: string | null;
  tlog_index: number | null;
}

interface OwnerRow {
  file_id: string;
  issuer_ed25519_pub: string | null;
}

/** A watermark (mark, layer) or corpus (kind, value) row a file holds, and when the file first claimed it. */
interface ClaimRow {
  a: string;
  b: string;
  claim_tlog_index: number | null;
}

interface TokenOwner {
  file_id: string;
  recipient_id: string;
  issuer_id: string;
}

interface EventRow {
  tokenId: string;
  owner: TokenOwner | undefined;
  kind: string;
  sourceIp: string;
  userAgent: string;
  extra: string;
  now: number;
}

export class FactApplier {
  private readonly sql;
  private readonly tokens: OperatorTokens;

  constructor(
    db: Database.Database,
    private readonly store: TlogStore,
  ) {
    this.tokens = new OperatorTokens(db);
    this.sql = {
      manifest: db.prepare<[string], ManifestRow>("SELECT issuer_ed25519_pub, request_digest, tlog_index FROM manifests WHERE file_id = ?"),
      beaconOwner: db.prepare<[string], OwnerRow>(
        `SELECT b.file_id, m.issuer_ed25519_pub FROM beacons b LEFT JOIN manifests m ON m.file_id = b.file_id WHERE b.token_id = ?`,
      ),
      markOwner: db.prepare<[string, string], OwnerRow>(
        `SELECT w.file_id, m.issuer_ed25519_pub FROM watermarks w LEFT JOIN manifests m ON m.file_id = w.file_id
         WHERE w.mark_id = ? AND w.layer = ?`,
      ),
      deleteBeacons: db.prepare<[string]>("DELETE FROM beacons WHERE file_id = ?"),
      deleteWatermarks: db.prepare<[string]>("DELETE FROM watermarks WHERE file_id = ?"),
      deleteCorpus: db.prepare<[string]>("DELETE FROM corpus WHERE file_id = ?"),
      upsertManifest: db.prepare(
        `INSERT OR REPLACE INTO manifests
         (file_id, recipient_id, issuer_id, issuer_ed25519_pub, manifest_json, registered_at, tlog_index, request_digest, registered_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      upsertBeacon: db.prepare("INSERT OR REPLACE INTO beacons (token_id, file_id, recipient_id, issuer_id, kind, registered_at) VALUES (?, ?, ?, ?, ?, ?)"),
      upsertWatermark: db.prepare(
        `INSERT OR REPLACE INTO watermarks (mark_id, layer, file_id, recipient_id, issuer_id, registered_at, claim_tlog_index)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertCorpus: db.prepare(
        `INSERT OR REPLACE INTO corpus (file_id, hash_kind, hash_value, metadata, registered_at, claim_tlog_index)
         VALUES (?, ?, ?, NULL, ?, ?)`,
      ),
      markClaims: db.prepare<[string], ClaimRow>("SELECT mark_id AS a, layer AS b, claim_tlog_index FROM watermarks WHERE file_id = ?"),
      corpusClaims: db.prepare<[string], ClaimRow>("SELECT hash_kind AS a, hash_value AS b, claim_tlog_index FROM corpus WHERE file_id = ?"),
      owner: db.prepare<[string], TokenOwner>("SELECT file_id, recipient_id, issuer_id FROM beacons WHERE token_id = ?"),
      eventIdIndex: db.prepare<[string], number>("SELECT tlog_index FROM dns_event_ids WHERE event_id = ?").pluck(),
      rememberEventId: db.prepare("INSERT INTO dns_event_ids (event_id, tlog_index) VALUES (?, ?)"),
      insertEvent: db.prepare(
        `INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
    };
  }

  /** The fact's leaf index (NO_LEAF for a fact without one); throws the fact's own RegistryError when it is refused. */
  apply(fact: WriteFact): number {
    switch (fact.kind) {
      case "register":
        return this.register(fact);
      case "beacon":
        return this.beacon(fact);
      case "dns":
        return this.dns(fact);
      case "token_used":
        this.tokens.touch(fact.name, fact.at);
        return NO_LEAF;
    }
  }

  private register(fact: RegisterFact): number {
    const existing = this.sql.manifest.get(fact.fileId);
    if (existing && existing.issuer_ed25519_pub !== fact.issuerPub) {
      throw new RegistryError("issuer_mismatch", "file_id is already registered under another issuer key");
    }
    if (existing && existing.request_digest === fact.digest && existing.tlog_index !== null) return existing.tlog_index;

    for (const beacon of fact.beacons) {
      this.assertOwnable(this.sql.beaconOwner.get(beacon.token_id), fact, `beacon token ${JSON.stringify(beacon.token_id)}`);
    }
    for (const mark of fact.watermarks) {
      this.assertOwnable(this.sql.markOwner.get(mark.mark_id, mark.layer), fact, `watermark ${JSON.stringify(mark.mark_id)}`);
    }

    const now = fact.at;
    const markClaims = claimsOf(existing ? this.sql.markClaims.all(fact.fileId) : []);
    const corpusClaims = claimsOf(existing ? this.sql.corpusClaims.all(fact.fileId) : []);
    if (existing) {
      this.sql.deleteBeacons.run(fact.fileId);
      this.sql.deleteWatermarks.run(fact.fileId);
      this.sql.deleteCorpus.run(fact.fileId);
    }
    const index = this.store.append(
      registerLeaf({
        fileId: fact.fileId,
        recipientId: fact.recipientId,
        issuerId: fact.issuerId,
        issuerPub: fact.issuerPub,
        nBeacons: fact.beacons.length,
        nWatermarks: fact.watermarks.length,
        timestamp: isoSeconds(now),
      }),
    );
    this.sql.upsertManifest.run(fact.fileId, fact.recipientId, fact.issuerId, fact.issuerPub, fact.manifestJson, now, index, fact.digest, fact.operator);
    for (const beacon of fact.beacons) {
      this.sql.upsertBeacon.run(beacon.token_id, fact.fileId, fact.recipientId, fact.issuerId, beacon.kind, now);
    }
    for (const mark of fact.watermarks) {
      const claim = markClaims.get(claimKey(mark.mark_id, mark.layer)) ?? index;
      this.sql.upsertWatermark.run(mark.mark_id, mark.layer, fact.fileId, fact.recipientId, fact.issuerId, now, claim);
    }
    for (const [kind, value] of fact.corpus) {
      this.sql.insertCorpus.run(fact.fileId, kind, value, now, corpusClaims.get(claimKey(kind, value)) ?? index);
    }
    return index;
  }

  /** docs/PROTOCOL.md#ownership: the first file keeps a token or mark against other issuers; an issuer may move its own. */
  private assertOwnable(owner: OwnerRow | undefined, fact: RegisterFact, what: string): void {
    if (!owner || owner.file_id === fact.fileId) return;
    if (owner.issuer_ed25519_pub !== null && owner.issuer_ed25519_pub !== fact.issuerPub) {
      throw new RegistryError("issuer_mismatch", `${what} already belongs to a file of another issuer`);
    }
  }

  private beacon(fact: BeaconFact): number {
    const owner = this.sql.owner.get(fact.tokenId);
    const index = this.store.append(
      beaconLeaf({
        kind: fact.beacon,
        tokenId: fact.tokenId,
        fileId: owner?.file_id ?? null,
        recipientId: owner?.recipient_id ?? null,
        sourceIp: fact.sourceIp,
        userAgent: fact.userAgent,
        timestamp: isoSeconds(fact.at),
      }),
    );
    this.insertEvent({ tokenId: fact.tokenId, owner, kind: fact.beacon, sourceIp: fact.sourceIp, userAgent: fact.userAgent, extra: "{}", now: fact.at }, index);
    return index;
  }

  /** The lookup of an `eventId` and its insert share the batch's transaction, so two sends of one id never both append. */
  private dns(fact: DnsFact): number {
    if (fact.eventId !== null) {
      const earlier = this.sql.eventIdIndex.get(fact.eventId);
      if (earlier !== undefined) return earlier;
    }
    const owner = this.sql.owner.get(fact.tokenId);
    const index = this.store.append(
      dnsLeaf({
        tokenId: fact.tokenId,
        fileId: owner?.file_id ?? null,
        recipientId: owner?.recipient_id ?? null,
        sourceIp: fact.sourceIp,
        qname: fact.qname,
        qtype: fact.qtype,
        timestamp: isoSeconds(fact.at),
      }),
    );
    const extra = canonicalize({ qtype: fact.qtype, qname: fact.qname });
    this.insertEvent({ tokenId: fact.tokenId, owner, kind: "dns", sourceIp: fact.sourceIp, userAgent: "", extra, now: fact.at }, index);
    if (fact.eventId !== null) this.sql.rememberEventId.run(fact.eventId, index);
    return index;
  }

  private insertEvent(row: EventRow, tlogIndex: number): void {
    this.sql.insertEvent.run(
      row.tokenId,
      row.owner?.file_id ?? null,
      row.owner?.recipient_id ?? null,
      row.owner?.issuer_id ?? null,
      row.kind,
      row.sourceIp,
      row.userAgent,
      row.extra,
      row.now,
      isoSeconds(row.now),
      tlogIndex,
    );
  }
}

const claimKey = (a: string, b: string): string => JSON.stringify([a, b]);

/** What a file already claims, so a re-registration keeps the index of its first claim (attribute.ts ranks by it). */
function claimsOf(rows: ClaimRow[]): Map<string, number> {
  const claims = new Map<string, number>();
  for (const row of rows) if (row.claim_tlog_index !== null) claims.set(claimKey(row.a, row.b), row.claim_tlog_index);
  return claims;
}
