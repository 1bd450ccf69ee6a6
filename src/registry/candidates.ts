/** GET /candidates/semantic: recent L3 semantic marks, for matchers that scan text for them. */
import { z } from "zod";
import type { Registry } from "./registry.js";
import { isoSeconds } from "./time.js";

export const SEMANTIC_LAYER = "L3_semantic";
export const CANDIDATES_MAX = 10000;

const CandidateSchema = z.object({ mark_id: z.string(), file_id: z.string(), recipient_id: z.string(), registered_at: z.int() });
type Candidate = z.infer<typeof CandidateSchema>;

export const CandidatesAnswerSchema = z.object({
  generated_at: z.iso.datetime(),
  count: z.int().nonnegative(),
  candidates: z.array(CandidateSchema).max(CANDIDATES_MAX),
});
export type CandidatesAnswer = z.infer<typeof CandidatesAnswerSchema>;

export class Candidates {
  private readonly sql;

  constructor(private readonly registry: Registry) {
    this.sql = registry.db.prepare<[string, number, number], Candidate>(
      `SELECT mark_id, file_id, recipient_id, registered_at FROM watermarks
       WHERE layer = ? AND registered_at >= ? ORDER BY registered_at DESC, rowid DESC LIMIT ?`,
    );
  }

  semantic(limit: number, since: number): CandidatesAnswer {
    const candidates = this.sql.all(SEMANTIC_LAYER, since, Math.min(Math.max(limit, 1), CANDIDATES_MAX));
    return { generated_at: isoSeconds(this.registry.clock()), count: candidates.length, candidates };
  }
}
