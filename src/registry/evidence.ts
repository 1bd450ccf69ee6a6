/**
 * GET /evidence/{file_id}: everything the registry knows about a file, with
 * proofs that each event and the registration itself are in the log, signed
 * by the registry key. One snapshot: the head and every proof share one size.
 */
import { z } from "zod";
import { notFound } from "../core/errors.js";
import { canonicalBytes } from "../verify/jcs.js";
import { toHex } from "../core/hex.js";
import { SignedTreeHeadSchema, TreeSizeSchema, lowerHex, type SignedTreeHead } from "../tlog/heads.js";
import { InclusionProofSchema, type LogReads } from "./log-reads.js";
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

/** Rows as stored: the v1 columns, and whatever columns later migrations added. */
const BeaconRowSchema = z.looseObject({ token_id: z.string(), file_id: z.string(), recipient_id: z.string(), issuer_id: z.string(), kind: z.string(), registered_at: z.int() });
const WatermarkRowSchema = z.looseObject({ mark_id: z.string(), layer: z.string(), file_id: z.string(), recipient_id: z.string(), issuer_id: z.string(), registered_at: z.int() });
const EventRowSchema = z.looseObject({
  id: z.int(),
  token_id: z.string(),
  file_id: z.string().nullable(),
  recipient_id: z.string().nullable(),
  issuer_id: z.string().nullable(),
  kind: z.string(),
  source_ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  extra: z.string().nullable(),
  timestamp: z.int(),
  qualified_timestamp: z.string().nullable(),
  tlog_index: z.int().nullable(),
});

const TlogProofItemSchema = z.object({
  event_row: z.int().nonnegative(),
  tlog_index: TreeSizeSchema,
  proof: InclusionProofSchema,
  /** The same object as `proof`: v1 clients read either name. */
  inclusion: InclusionProofSchema,
  leaf_data: z.string(),
});
type TlogProofItem = z.infer<typeof TlogProofItemSchema>;

/** docs/PROTOCOL.md#evidence-bundles, with the Part 2 members `leaf_data` and `registration`. */
export const EvidenceBundleSchema = z.object({
  file_id: z.string(),
  bundle_generated_at: z.iso.datetime(),
  registry_pub: lowerHex(32),
  manifest: z.record(z.string(), z.unknown()),
  beacons: z.array(BeaconRowSchema),
  watermarks: z.array(WatermarkRowSchema),
  events: z.array(EventRowSchema),
  tlog_head: SignedTreeHeadSchema.nullable(),
  tlog_proofs: z.array(TlogProofItemSchema),
  registration: z.object({ tlog_index: TreeSizeSchema, proof: InclusionProofSchema, leaf_data: z.string() }).nullable(),
  disclaimer: z.string(),
  bundle_signature_ed25519: lowerHex(64),
});
export type EvidenceBundle = z.infer<typeof EvidenceBundleSchema>;

export class EvidenceBundles {
  private readonly sql;

  constructor(
    private readonly registry: Registry,
    private readonly reads: LogReads,
  ) {
    const db = registry.db;
    this.sql = {
      manifest: db.prepare<[string], ManifestRow>("SELECT manifest_json, tlog_index FROM manifests WHERE file_id = ?"),
      beacons: db.prepare<[string], z.infer<typeof BeaconRowSchema>>("SELECT * FROM beacons WHERE file_id = ? ORDER BY token_id"),
      watermarks: db.prepare<[string], z.infer<typeof WatermarkRowSchema>>(
        "SELECT * FROM watermarks WHERE file_id = ? ORDER BY mark_id, layer",
      ),
      events: db.prepare<[string], z.infer<typeof EventRowSchema>>("SELECT * FROM events WHERE file_id = ? ORDER BY timestamp, id"),
    };
  }

  bundle(fileId: string): EvidenceBundle {
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
    const proven = registered !== null && registered < size ? { index: registered, ...this.reads.provenLeaf(registered, size, root!) } : null;
    const registration = proven && { tlog_index: proven.index, proof: proven.proof, leaf_data: proven.leafData };

    const unsigned: Omit<EvidenceBundle, "bundle_signature_ed25519"> = {
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
    return { ...unsigned, bundle_signature_ed25519: toHex(this.registry.identity.signer.sign(canonicalBytes(unsigned))) };
  }
}
