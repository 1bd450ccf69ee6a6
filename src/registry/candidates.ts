/** GET /candidates/semantic: recent L3 semantic marks, for matchers that scan text for them. */
import type { Registry } from "./registry.js";
import { isoSeconds } from "./time.js";

export const SEMANTIC_LAYER = "L3_semantic";
export const CANDIDATES_MAX = 10000;

interface Candidate {
  mark_id: string;
  file_id: string;
  recipient_id: string;
  registered_at: number;
}

export class Candidates {
  private readonly sql;

  constructor(private readonly registry: Registry) {
    this.sql = registry.db.prepare<[string, number, number], Candidate>(
      `SELECT mark_id, file_id, recipient_id, registered_at FROM watermarks
       WHERE layer = ? AND registered_at >= ? ORDER BY registered_at DESC, rowid DESC LIMIT ?`,
    );
  }

  semantic(limit: number, since: number): { generated_at: string; count: number; candidates: Candidate[] } {
    const candidates = this.sql.all(SEMANTIC_LAYER, since, Math.min(Math.max(limit, 1), CANDIDATES_MAX));
    return { generated_at: isoSeconds(this.registry.clock()), count: candidates.length, candidates };
  }
}
