/**
 * GET /evidence/{file_id}: everything the registry knows about a file, with
 * proofs that each event and the registration itself are in the log, signed
 * by the registry key. One snapshot: the head and every proof share one size.
 *
 * Anyone can add events to a file, so a bundle holds at most one page of
 * them and the work of a request stays bounded: the first page is the v1
 * bundle, and `next_cursor` asks for the next page of the same snapshot.
 */
import { z } from "zod";
import { notFound } from "../core/errors.js";
import { toHex } from "../core/hex.js";
import { SignedTreeHeadSchema, TreeSizeSchema, lowerHex, signTreeHead, type SignedTreeHead } from "../tlog/heads.js";
import { canonicalMembers } from "../verify/jcs.js";
import { formatCursor, parseCursor, type EvidenceCursor } from "./evidence-cursor.js";
import { InclusionProofSchema, type LogReads } from "./log-reads.js";
import type { Registry } from "./registry.js";
import { isoSeconds } from "./time.js";

export const DISCLAIMER =
  "This bundle records what the registry observed: registrations signed by issuers and beacon events reported to it. " +
  "A beacon event shows that a token was fetched from an address, not who opened the document. " +
  "Verify the signatures and proofs yourself; do not rely on the operator's word.";

/** Events a bundle page holds: each costs an inclusion proof and ~2.7 KB of JSON. */
export const EVIDENCE_PAGE_EVENTS = 25;
/**
 * Proofs built between two turns of the event loop (~0.5 ms at 1,000,000
 * leaves), so that other requests are answered while a page is built: a
 * cheap request waits behind one slice of each page being built, so the
 * slice bounds its latency (docs/ARCHITECTURE.md, bench:reads).
 */
export const PROOFS_PER_TURN = 5;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

interface ManifestRow {
  manifest_json: string;
  tlog_index: number | null;
}

/** Rows as stored: the v1 columns, and whatever columns later migrations added. */
const BeaconRowSchema = z.looseObject({
  token_id: z.string(),
  file_id: z.string(),
  recipient_id: z.string(),
  issuer_id: z.string(),
  kind: z.string(),
  registered_at: z.int(),
});
const WatermarkRowSchema = z.looseObject({
  mark_id: z.string(),
  layer: z.string(),
  file_id: z.string(),
  recipient_id: z.string(),
  issuer_id: z.string(),
  registered_at: z.int(),
});
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
type EventRow = z.infer<typeof EventRowSchema>;

const TlogProofItemSchema = z.object({
  event_row: z.int().nonnegative(),
  tlog_index: TreeSizeSchema,
  proof: InclusionProofSchema,
  /** The same object as `proof`: v1 clients read either name. */
  inclusion: InclusionProofSchema,
  leaf_data: z.string(),
});
type TlogProofItem = z.infer<typeof TlogProofItemSchema>;

/** docs/PROTOCOL.md#evidence-bundles, with the Part 2 members `leaf_data`, `registration` and `next_cursor`. */
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
  /** Present when more events of this snapshot follow: ask for them with `?cursor=`. */
  next_cursor: z.string().optional(),
  bundle_signature_ed25519: lowerHex(64),
});
export type EvidenceBundle = z.infer<typeof EvidenceBundleSchema>;
const SIGNATURE_MEMBER = "bundle_signature_ed25519";

export class EvidenceBundles {
  private readonly sql;
  /** The page being built, or the last one; the next starts after it. */
  private building: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly registry: Registry,
    private readonly reads: LogReads,
  ) {
    const db = registry.db;
    this.sql = {
      manifest: db.prepare<[string], ManifestRow>("SELECT manifest_json, tlog_index FROM manifests WHERE file_id = ?"),
      beacons: db.prepare<[string], z.infer<typeof BeaconRowSchema>>("SELECT * FROM beacons WHERE file_id = ? ORDER BY token_id"),
      watermarks: db.prepare<[string], z.infer<typeof WatermarkRowSchema>>("SELECT * FROM watermarks WHERE file_id = ? ORDER BY mark_id, layer"),
      // Events in the snapshot (a leaf below its size, or none: migrated rows), after the cursor.
      events: db.prepare<[string, number, number, number, number], EventRow>(
        `SELECT * FROM events WHERE file_id = ? AND (tlog_index IS NULL OR tlog_index < ?)
           AND (timestamp, id) > (?, ?) ORDER BY timestamp, id LIMIT ?`,
      ),
    };
  }

  /**
   * The first page (the v1 bundle) at the current head, or the page `cursor`
   * names, as its canonical JSON in UTF-8: the answer's body, so that one
   * serialization serves the signature and the answer. Pages are built one
   * at a time, each starting on a turn of its own: interleaved, every page in
   * progress put one slice before each cheap request, so N clients pulling
   * pages held /health for N slices a turn (bench:reads); in turn, they hold
   * it for one, and take as long in all.
   */
  bundle(fileId: string, cursor?: string): Promise<Buffer> {
    const page = this.building.then(nextTurn).then(() => this.build(fileId, cursor));
    this.building = page.catch(() => undefined);
    return page;
  }

  private async build(fileId: string, cursor?: string): Promise<Buffer> {
    const manifest = this.sql.manifest.get(fileId);
    if (!manifest) throw notFound("no registration for this file_id");
    const at = cursor === undefined ? null : parseCursor(cursor, this.registry.publishedSize());
    const head = await this.headAt(at?.treeSize);
    const size = head?.size ?? 0;
    const root = head ? Buffer.from(head.root, "hex") : undefined;

    const rows = this.sql.events.all(fileId, size, at?.timestamp ?? Number.MIN_SAFE_INTEGER, at?.id ?? 0, EVIDENCE_PAGE_EVENTS + 1);
    const events = rows.slice(0, EVIDENCE_PAGE_EVENTS);
    const last = events[events.length - 1];
    const next: EvidenceCursor | null = rows.length > events.length && last ? { treeSize: size, timestamp: last.timestamp, id: last.id } : null;
    const beacons = this.sql.beacons.all(fileId);
    const watermarks = this.sql.watermarks.all(fileId);

    // The registration's leaf (row null) is proven in the first slice with the events' leaves: one read of nodes for all.
    const registered = manifest.tlog_index;
    const leaves: { row: number | null; index: number }[] = registered !== null && registered < size ? [{ row: null, index: registered }] : [];
    events.forEach((event, row) => {
      if (event.tlog_index !== null) leaves.push({ row, index: event.tlog_index });
    });
    let registration: EvidenceBundle["registration"] = null;
    const proofs: TlogProofItem[] = [];
    for (let from = 0; from < leaves.length; from += PROOFS_PER_TURN) {
      if (from > 0) await nextTurn();
      const slice = leaves.slice(from, from + PROOFS_PER_TURN);
      const proven = this.reads.provenLeaves(
        slice.map((leaf) => leaf.index),
        size,
        root!,
      );
      slice.forEach(({ row, index }, i) => {
        const { proof, leafData } = proven[i]!;
        if (row === null) registration = { tlog_index: index, proof, leaf_data: leafData };
        else proofs.push({ event_row: row, tlog_index: index, proof, inclusion: proof, leaf_data: leafData });
      });
    }

    // Signing a page of one slice (a few events, ~0.2 ms) fits in that
    // slice; a longer page's (~0.5 ms for 25 events) is a slice of its own.
    if (leaves.length > PROOFS_PER_TURN) await nextTurn();
    return this.signed({
      file_id: fileId,
      bundle_generated_at: isoSeconds(this.registry.clock()),
      registry_pub: this.registry.identity.publicKeyHex,
      manifest: JSON.parse(manifest.manifest_json),
      beacons,
      watermarks,
      events,
      tlog_head: head,
      tlog_proofs: proofs,
      registration,
      disclaimer: DISCLAIMER,
      ...(next ? { next_cursor: formatCursor(next) } : {}),
    });
  }

  /**
   * The signed page's canonical JSON as UTF-8: the unsigned page's members
   * are serialized and encoded once, for the signature, and the answer is
   * those bytes with the signature member put in its place (RFC 8785 order).
   * Bytes rather than text: a string answer was flattened to count its bytes
   * and encoded again on the socket, ~15 KB each per page.
   */
  private signed(unsigned: Omit<EvidenceBundle, "bundle_signature_ed25519">): Buffer {
    const canonical = canonicalMembers(unsigned);
    const texts = (before: boolean) => canonical.filter(([key]) => key < SIGNATURE_MEMBER === before).map(([, text]) => text);
    // `beacons` and `bundle_generated_at` always sort before the signature member and `disclaimer` after it, so
    // the member goes between two members, comma first.
    const head = Buffer.from(`{${texts(true).join(",")}`, "utf8");
    const tail = Buffer.from(`,${texts(false).join(",")}}`, "utf8");
    const signature = toHex(this.registry.identity.signer.sign(Buffer.concat([head, tail])));
    return Buffer.concat([head, Buffer.from(`,"${SIGNATURE_MEMBER}":"${signature}"`, "latin1"), tail]);
  }

  /**
   * The published head, covering every commit made before the request, or
   * for a later page a head of the size its cursor holds (a published head's
   * size once): a true statement about a prefix of the log, signed here
   * without being stored.
   */
  private async headAt(treeSize: number | undefined): Promise<SignedTreeHead | null> {
    const current = await this.reads.head();
    if (current.size === 0) return null;
    if (treeSize === undefined || treeSize === current.size) return current;
    return signTreeHead(this.registry.identity.signer, treeSize, this.registry.store.root(treeSize));
  }
}
