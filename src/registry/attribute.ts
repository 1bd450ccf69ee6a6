/**
 * POST /attribute: which file and recipient a token, a mark or a perceptual
 * hash points to, with the most recent events for that file.
 *
 * A token and a (mark, layer) pair have one owner (register.ts refuses a
 * second issuer). A mark without its layer, or a perceptual hash, may be
 * claimed by several files: the earliest claim wins — the file that claimed
 * it at the lowest log index, which its own re-registrations keep — so no
 * later registration, by anyone, can redirect the answer, and every other
 * claimant is listed beside it.
 */
import { z } from "zod";
import { missingField } from "../core/errors.js";
import { IdentifierSchema } from "../core/manifest.js";
import { WellFormedText } from "../core/text.js";
import type { Registry } from "./registry.js";

export const AttributeRequestSchema = z.looseObject({
  token_id: IdentifierSchema.nullish(),
  mark_id: IdentifierSchema.nullish(),
  layer: IdentifierSchema.nullish(),
  perceptual_hash: WellFormedText.min(1).max(1024).nullish(),
});
export type AttributeRequest = z.infer<typeof AttributeRequestSchema>;

export const RECENT_EVENTS_MAX = 50;
export const OTHER_CLAIMANTS_MAX = 100;

interface ManifestRow {
  file_id: string;
  recipient_id: string;
  issuer_id: string;
  manifest_json: string;
}

export const ClaimantSchema = z.object({
  file_id: z.string(),
  issuer_id: z.string(),
  issuer_pub: z.string(),
  tlog_index: z.int().nullable(),
});
export type Claimant = z.infer<typeof ClaimantSchema>;

const RecentEventSchema = z.object({
  kind: z.string(),
  source_ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  timestamp: z.int(),
  qualified_timestamp: z.string().nullable(),
  tlog_index: z.int().nullable(),
});
type RecentEvent = z.infer<typeof RecentEventSchema>;

export const AttributionSchema = z.discriminatedUnion("found", [
  z.object({ found: z.literal(false) }),
  z.object({
    found: z.literal(true),
    file_id: z.string(),
    recipient_id: z.string(),
    issuer_id: z.string(),
    manifest: z.record(z.string(), z.unknown()),
    recent_events: z.array(RecentEventSchema).max(RECENT_EVENTS_MAX),
    /** The same list as `recent_events`: v1 clients read either name. */
    events: z.array(RecentEventSchema).max(RECENT_EVENTS_MAX),
    /** Other files claiming the same mark or hash, earliest first; absent when there are none. */
    other_claimants: z.array(ClaimantSchema).max(OTHER_CLAIMANTS_MAX).optional(),
  }),
]);
export type Attribution = z.infer<typeof AttributionSchema>;

/**
 * The files a claim query finds, earliest claim first: a claim's index is the
 * register leaf at which its file first claimed the mark or hash (kept across
 * re-registrations, schema.ts). Rows without one (migrated, unlogged) come
 * first, as they predate every leaf; ties cannot reorder between calls.
 */
const CLAIMANTS = (claims: string) =>
  `SELECT m.file_id, m.issuer_id, m.issuer_ed25519_pub AS issuer_pub, c.claim AS tlog_index
   FROM (${claims}) c JOIN manifests m ON m.file_id = c.file_id
   ORDER BY c.claim IS NOT NULL, c.claim, m.registered_at, m.file_id LIMIT ${OTHER_CLAIMANTS_MAX + 1}`;

export class Attributions {
  private readonly sql;

  constructor(registry: Registry) {
    const db = registry.db;
    this.sql = {
      byToken: db.prepare<[string], Claimant>(
        CLAIMANTS("SELECT b.file_id, m.tlog_index AS claim FROM beacons b JOIN manifests m ON m.file_id = b.file_id WHERE b.token_id = ?"),
      ),
      byMark: db.prepare<[string], Claimant>(CLAIMANTS("SELECT file_id, MIN(claim_tlog_index) AS claim FROM watermarks WHERE mark_id = ? GROUP BY file_id")),
      byMarkLayer: db.prepare<[string, string], Claimant>(
        CLAIMANTS("SELECT file_id, claim_tlog_index AS claim FROM watermarks WHERE mark_id = ? AND layer = ?"),
      ),
      byPerceptual: db.prepare<[string], Claimant>(
        CLAIMANTS("SELECT file_id, claim_tlog_index AS claim FROM corpus WHERE hash_kind = 'perceptual' AND hash_value = ?"),
      ),
      manifest: db.prepare<[string], ManifestRow>("SELECT file_id, recipient_id, issuer_id, manifest_json FROM manifests WHERE file_id = ?"),
      recent: db.prepare<[string, number], RecentEvent>(
        `SELECT kind, source_ip, user_agent, timestamp, qualified_timestamp, tlog_index FROM events
         WHERE file_id = ? ORDER BY timestamp DESC, id DESC LIMIT ?`,
      ),
    };
  }

  /** Lookup order of docs/PROTOCOL.md#routes: token_id, then mark_id (+layer), then perceptual_hash. */
  attribute(request: AttributeRequest): Attribution {
    if (!request.token_id && !request.mark_id && !request.perceptual_hash) {
      throw missingField("one of token_id, mark_id or perceptual_hash is required");
    }
    const [winner, ...others] = this.claimants(request);
    const row = winner && this.sql.manifest.get(winner.file_id);
    if (!row) return { found: false };
    const events = this.sql.recent.all(row.file_id, RECENT_EVENTS_MAX);
    return {
      found: true,
      file_id: row.file_id,
      recipient_id: row.recipient_id,
      issuer_id: row.issuer_id,
      manifest: JSON.parse(row.manifest_json),
      recent_events: events,
      events,
      ...(others.length > 0 ? { other_claimants: others } : {}),
    };
  }

  /** The registered files the first identifier that points anywhere points to, the winner first. */
  private claimants({ token_id, mark_id, layer, perceptual_hash }: AttributeRequest): Claimant[] {
    let claims: Claimant[] = token_id ? this.sql.byToken.all(token_id) : [];
    if (claims.length === 0 && mark_id) claims = layer ? this.sql.byMarkLayer.all(mark_id, layer) : this.sql.byMark.all(mark_id);
    if (claims.length === 0 && perceptual_hash) claims = this.sql.byPerceptual.all(perceptual_hash);
    return claims;
  }
}
