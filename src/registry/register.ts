/**
 * POST /register: verify a signed manifest, pin its file to the issuer key,
 * and write its rows and its register leaf in one transaction.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { RegistryError, missingField } from "../core/errors.js";
import { CanonicalJsonError, canonicalize } from "../verify/jcs.js";
import { LIMITS, checkManifest, checkManifestLimits, manifestParties, manifestVerdict, sidecarMatches } from "../core/manifest.js";
import { utf8Length } from "../core/hex.js";
import { WellFormedText } from "../core/text.js";
import { firstVerified, type SignatureCheck, type SignatureVerifier } from "../core/verify-pool.js";
import { registerRefusal } from "../core/token-scopes.js";
import { registerLeaf } from "./leaves.js";
import type { Operator } from "./operator-access.js";
import type { Registry } from "./registry.js";
import { isoSeconds } from "./time.js";

export const RegisterRequestSchema = z.looseObject({
  manifest: z.record(z.string(), z.unknown()),
  beacons: z.array(z.unknown()).default([]),
  watermarks: z.array(z.unknown()).default([]),
  corpus: z.record(WellFormedText, WellFormedText).nullish(),
});
export type RegisterRequest = z.infer<typeof RegisterRequestSchema>;

export const RegisterResultSchema = z.object({
  ok: z.literal(true),
  file_id: z.string(),
  registered_beacons: z.int().nonnegative(),
  tlog_index: z.int().nonnegative(),
  /** Would describe a Rekor submission; this registry makes none. */
  rekor: z.null(),
});
export type RegisterResult = z.infer<typeof RegisterResultSchema>;

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

const BeaconItems = z.array(z.looseObject({ token_id: z.string(), kind: z.string() }));
const WatermarkItems = z.array(z.object({ mark_id: z.string(), layer: z.string() }));

export class Registrations {
  private readonly sql;
  /**
   * `verifier` checks manifest signatures off this thread (the server's worker
   * pool); without one they are checked here.
   */
  constructor(
    private readonly registry: Registry,
    private readonly verifier: SignatureVerifier | null = null,
  ) {
    const db = registry.db;
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
    };
  }

  /** Checks in the order docs/PROTOCOL.md#routes gives (auth and rate limits are the HTTP layer's), then one sequenced write. */
  /** `operator`: whose token sent it (null with auth disabled); its scope must cover the issuer, and the row records its name. */
  async register(request: RegisterRequest, operator: Operator | null = null): Promise<RegisterResult> {
    const { manifest } = request;
    const fileId = manifest["file_id"];
    if (typeof fileId !== "string" || fileId.length === 0) throw missingField("manifest.file_id is required");
    if (utf8Length(fileId) > LIMITS.identifierBytes) {
      throw missingField(`manifest.file_id is longer than ${LIMITS.identifierBytes} bytes`);
    }
    checkManifestLimits(manifest);
    const corpus = Object.entries(request.corpus ?? {});
    checkCorpusLimits(corpus);
    const corpusJson = canonicalOrRefuse(request.corpus ?? null, "corpus");

    const check = checkManifest(manifest);
    if (!check.ok) throw new RegistryError(check.code, check.reason);
    if (operator !== null) {
      const { issuerId, issuerPub } = manifestParties(manifest);
      const refusal = registerRefusal(operator.scopes, issuerId, issuerPub);
      if (refusal !== null) throw new RegistryError("auth_required", `${refusal}; token ${JSON.stringify(operator.name)}`, { status: 403 });
    }
    const signed: SignatureCheck = { publicKey: check.publicKey, signature: check.signature, messages: check.forms };
    const verdict = manifestVerdict(check, this.verifier ? await this.verifier.verify(signed) : firstVerified(signed));
    if (!verdict.ok) throw new RegistryError(verdict.code, verdict.reason);
    if (!sidecarMatches(manifest["beacons"] ?? [], request.beacons)) {
      throw new RegistryError("sidecar_mismatch", "beacons differ from the manifest's signed beacons");
    }
    if (!sidecarMatches(manifest["watermarks"] ?? [], request.watermarks)) {
      throw new RegistryError("sidecar_mismatch", "watermarks differ from the manifest's signed watermarks");
    }

    const parties = manifestParties(manifest);
    const beacons = BeaconItems.parse(manifest["beacons"] ?? []);
    const watermarks = WatermarkItems.parse(manifest["watermarks"] ?? []);
    // Verification already canonicalized every member; joining them is what canonicalize(manifest) would return.
    const manifestJson = check.canonical ?? canonicalOrRefuse(manifest, "manifest");
    // JCS of {manifest, beacons, watermarks, corpus}: members in key order, the manifest's text reused.
    const digest = createHash("sha256")
      .update(
        `{"beacons":${canonicalize(request.beacons)},"corpus":${corpusJson},` + `"manifest":${manifestJson},"watermarks":${canonicalize(request.watermarks)}}`,
      )
      .digest("hex");

    const tlogIndex = await this.registry.write(() => {
      const existing = this.sql.manifest.get(parties.fileId);
      if (existing && existing.issuer_ed25519_pub !== parties.issuerPub) {
        throw new RegistryError("issuer_mismatch", "file_id is already registered under another issuer key");
      }
      if (existing && existing.request_digest === digest && existing.tlog_index !== null) return existing.tlog_index;

      for (const beacon of beacons) {
        this.assertOwnable(this.sql.beaconOwner.get(beacon.token_id), parties, `beacon token ${JSON.stringify(beacon.token_id)}`);
      }
      for (const mark of watermarks) {
        this.assertOwnable(this.sql.markOwner.get(mark.mark_id, mark.layer), parties, `watermark ${JSON.stringify(mark.mark_id)}`);
      }

      const now = this.registry.clock();
      const markClaims = claimsOf(existing ? this.sql.markClaims.all(parties.fileId) : []);
      const corpusClaims = claimsOf(existing ? this.sql.corpusClaims.all(parties.fileId) : []);
      if (existing) {
        this.sql.deleteBeacons.run(parties.fileId);
        this.sql.deleteWatermarks.run(parties.fileId);
        this.sql.deleteCorpus.run(parties.fileId);
      }
      const index = this.registry.store.append(
        registerLeaf({
          fileId: parties.fileId,
          recipientId: parties.recipientId,
          issuerId: parties.issuerId,
          issuerPub: parties.issuerPub,
          nBeacons: beacons.length,
          nWatermarks: watermarks.length,
          timestamp: isoSeconds(now),
        }),
      );
      this.sql.upsertManifest.run(
        parties.fileId,
        parties.recipientId,
        parties.issuerId,
        parties.issuerPub,
        manifestJson,
        now,
        index,
        digest,
        operator?.name ?? null,
      );
      for (const beacon of beacons) {
        this.sql.upsertBeacon.run(beacon.token_id, parties.fileId, parties.recipientId, parties.issuerId, beacon.kind, now);
      }
      for (const mark of watermarks) {
        const claim = markClaims.get(claimKey(mark.mark_id, mark.layer)) ?? index;
        this.sql.upsertWatermark.run(mark.mark_id, mark.layer, parties.fileId, parties.recipientId, parties.issuerId, now, claim);
      }
      for (const [kind, value] of corpus) {
        this.sql.insertCorpus.run(parties.fileId, kind, value, now, corpusClaims.get(claimKey(kind, value)) ?? index);
      }
      return index;
    });
    return { ok: true, file_id: parties.fileId, registered_beacons: beacons.length, tlog_index: tlogIndex, rekor: null };
  }

  /** docs/PROTOCOL.md#ownership: the first file keeps a token or mark against other issuers; an issuer may move its own. */
  private assertOwnable(owner: OwnerRow | undefined, parties: { fileId: string; issuerPub: string }, what: string): void {
    if (!owner || owner.file_id === parties.fileId) return;
    if (owner.issuer_ed25519_pub !== null && owner.issuer_ed25519_pub !== parties.issuerPub) {
      throw new RegistryError("issuer_mismatch", `${what} already belongs to a file of another issuer`);
    }
  }
}

const claimKey = (a: string, b: string): string => JSON.stringify([a, b]);

/** What a file already claims, so a re-registration keeps the index of its first claim (attribute.ts ranks by it). */
function claimsOf(rows: ClaimRow[]): Map<string, number> {
  const claims = new Map<string, number>();
  for (const row of rows) if (row.claim_tlog_index !== null) claims.set(claimKey(row.a, row.b), row.claim_tlog_index);
  return claims;
}

function checkCorpusLimits(entries: [string, string][]): void {
  if (entries.length > LIMITS.corpusEntries) throw missingField(`corpus has more than ${LIMITS.corpusEntries} entries`);
  for (const [kind, value] of entries) {
    for (const field of [kind, value]) {
      if (field.length === 0 || utf8Length(field) > LIMITS.corpusFieldBytes) {
        throw missingField(`corpus keys and values must be 1..${LIMITS.corpusFieldBytes} bytes`);
      }
    }
  }
}

/** Text that cannot be canonicalized (a lone UTF-16 surrogate) is a malformed request, not a server failure. */
function canonicalOrRefuse(value: unknown, what: string): string {
  try {
    return canonicalize(value);
  } catch (error) {
    if (error instanceof CanonicalJsonError) throw missingField(`${what} cannot be canonicalized: ${error.message}`);
    throw error;
  }
}
