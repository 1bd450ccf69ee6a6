/**
 * GET /evidence/{file_id}: everything the registry knows about a file, with
 * proofs that each event and the registration itself are in the log, signed
 * by the registry key. One snapshot: the head and every proof share one size.
 */
import { notFound } from "../core/errors.js";
import { canonicalBytes } from "../verify/jcs.js";
import { toHex } from "../core/hex.js";
import type { SignedTreeHead } from "../tlog/heads.js";
import type { InclusionProof, LogReads } from "./log-reads.js";
import type { Registry } from "./registry.js";
import { isoSeconds } from "./time.js";

export const DISCLAIMER =
  "This bundle records what the registry observed: registrations signed by issuers and beacon events reported to it. " +
  "A beacon event shows that a token was fetched from an address, not who opened the document. " +
  "Verify the signatures and proofs yourself; do not rely on the operator's word.";

interface ManifestRow {
  manifest_json: string;
  tlog_index: number | null;
}

interface EventRow {
  id: number;
  tlog_index: number | null;
  [column: string]: unknown;
}

interface TlogProofItem {
  event_row: number;
  tlog_index: number;
  proof: InclusionProof;
  inclusion: InclusionProof;
  leaf_data: string;
}

export class EvidenceBundles {
  private readonly sql;

  constructor(
    private readonly registry: Registry,
    private readonly reads: LogReads,
  ) {
    const db = registry.db;
    this.sql = {
      manifest: db.prepare<[string], ManifestRow>("SELECT manifest_json, tlog_index FROM manifests WHERE file_id = ?"),
      beacons: db.prepare<[string], Record<string, unknown>>("SELECT * FROM beacons WHERE file_id = ? ORDER BY token_id"),
      watermarks: db.prepare<[string], Record<string, unknown>>(
        "SELECT * FROM watermarks WHERE file_id = ? ORDER BY mark_id, layer",
      ),
      events: db.prepare<[string], EventRow>("SELECT * FROM events WHERE file_id = ? ORDER BY timestamp, id"),
    };
  }

  bundle(fileId: string): Record<string, unknown> {
    const manifest = this.sql.manifest.get(fileId);
    if (!manifest) throw notFound("no registration for this file_id");
    const events = this.sql.events.all(fileId);
    const head: SignedTreeHead | null = this.reads.size() > 0 ? this.reads.head() : null;
    const size = head?.size ?? 0;
    const root = head ? Buffer.from(head.root, "hex") : undefined;

    const proofs: TlogProofItem[] = [];
    events.forEach((event, row) => {
      const index = event.tlog_index;
      if (index === null || index < 0 || index >= size) return;
      const { proof, leafData } = this.reads.provenLeaf(index, size, root!);
      proofs.push({ event_row: row, tlog_index: index, proof, inclusion: proof, leaf_data: leafData });
    });
    const registered = manifest.tlog_index;
    const proven = registered !== null && registered < size ? this.reads.provenLeaf(registered, size, root!) : null;
    const registration = proven && { tlog_index: registered, proof: proven.proof, leaf_data: proven.leafData };

    const bundle: Record<string, unknown> = {
      file_id: fileId,
      bundle_generated_at: isoSeconds(this.registry.clock()),
      registry_pub: this.registry.identity.publicKeyHex,
      manifest: JSON.parse(manifest.manifest_json),
      beacons: this.sql.beacons.all(fileId),
      watermarks: this.sql.watermarks.all(fileId),
      events,
      tlog_head: head,
      tlog_proofs: proofs,
      registration,
      disclaimer: DISCLAIMER,
    };
    bundle["bundle_signature_ed25519"] = toHex(this.registry.identity.signer.sign(canonicalBytes(bundle)));
    return bundle;
  }
}
