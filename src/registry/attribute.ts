/**
 * POST /attribute: which file and recipient a token, a mark or a perceptual
 * hash points to, with the most recent events for that file.
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

interface ManifestRow {
  file_id: string;
  recipient_id: string;
  issuer_id: string;
  manifest_json: string;
}

interface RecentEvent {
  kind: string;
  source_ip: string | null;
  user_agent: string | null;
  timestamp: number;
  qualified_timestamp: string | null;
  tlog_index: number | null;
}

export type Attribution =
  | { found: false }
  | {
      found: true;
      file_id: string;
      recipient_id: string;
      issuer_id: string;
      manifest: unknown;
      recent_events: RecentEvent[];
      events: RecentEvent[];
    };

export class Attributions {
  private readonly sql;

  constructor(registry: Registry) {
    const db = registry.db;
    this.sql = {
      byToken: db.prepare<[string], { file_id: string }>("SELECT file_id FROM beacons WHERE token_id = ?"),
      byMark: db.prepare<[string], { file_id: string }>("SELECT file_id FROM watermarks WHERE mark_id = ? ORDER BY registered_at DESC LIMIT 1"),
      byMarkLayer: db.prepare<[string, string], { file_id: string }>("SELECT file_id FROM watermarks WHERE mark_id = ? AND layer = ?"),
      byPerceptual: db.prepare<[string], { file_id: string }>(
        "SELECT file_id FROM corpus WHERE hash_kind = 'perceptual' AND hash_value = ? ORDER BY registered_at DESC LIMIT 1",
      ),
      manifest: db.prepare<[string], ManifestRow>(
        "SELECT file_id, recipient_id, issuer_id, manifest_json FROM manifests WHERE file_id = ?",
      ),
      recent: db.prepare<[string, number], RecentEvent>(
        `SELECT kind, source_ip, user_agent, timestamp, qualified_timestamp, tlog_index FROM events
         WHERE file_id = ? ORDER BY timestamp DESC, id DESC LIMIT ?`,
      ),
    };
  }

  /** Lookup order of CONTRACT.md: token_id, then mark_id (+layer), then perceptual_hash. */
  attribute(request: AttributeRequest): Attribution {
    if (!request.token_id && !request.mark_id && !request.perceptual_hash) {
      throw missingField("one of token_id, mark_id or perceptual_hash is required");
    }
    const hit =
      (request.token_id ? this.sql.byToken.get(request.token_id) : undefined) ??
      (request.mark_id
        ? request.layer
          ? this.sql.byMarkLayer.get(request.mark_id, request.layer)
          : this.sql.byMark.get(request.mark_id)
        : undefined) ??
      (request.perceptual_hash ? this.sql.byPerceptual.get(request.perceptual_hash) : undefined);
    const row = hit && this.sql.manifest.get(hit.file_id);
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
    };
  }
}
