/** GET /evidence/{file_id} and GET /candidates/semantic. */
import { z } from "zod";
import { IdentifierSchema } from "../../core/manifest.js";
import { CandidatesAnswerSchema } from "../../registry/candidates.js";
import { EvidenceBundleSchema } from "../../registry/evidence.js";
import { JSON_TYPE, json } from "../answer.js";
import { jsonAnswer } from "../api-description.js";
import { optionalInteger, optionalLimit, pathParam } from "../params.js";
import { route, type RouteDeclaration } from "../route.js";

const FileId = pathParam(IdentifierSchema, "file_id must be 1..256 bytes");
/** `cursor`: the `next_cursor` of the previous page (docs/PROTOCOL.md, evidence bundle pages). */
export const EvidenceQuery = z.object({ cursor: z.string().optional() });
export const CandidatesQuery = z.object({ limit: optionalLimit(1000), since: optionalInteger(0) });

export const EVIDENCE_ROUTES: readonly RouteDeclaration[] = [
  route({
    methods: ["GET", "HEAD"],
    path: "/evidence/:file_id",
    bucket: "read",
    params: { file_id: FileId },
    query: EvidenceQuery,
    doc: {
      tag: "evidence",
      summary:
        "The signed evidence bundle of a file: its first page of events, or with `cursor` the page a previous page's `next_cursor` names (same snapshot)",
      ok: jsonAnswer(EvidenceBundleSchema),
      errors: [400, 404, 429, 503],
    },
    // The page comes as the canonical JSON bytes it was signed with.
    answer: async ({ params, query }, { service }) => ({ content: { type: JSON_TYPE, body: await service.evidence.bundle(params.file_id, query.cursor) } }),
  }),
  route({
    methods: ["GET", "HEAD"],
    path: "/candidates/semantic",
    bucket: "read",
    query: CandidatesQuery,
    doc: { tag: "evidence", summary: "Recent L3 semantic watermarks, newest first", ok: jsonAnswer(CandidatesAnswerSchema), errors: [400, 429] },
    answer: ({ query }, { service }) => json(service.candidates.semantic(query.limit, query.since)),
  }),
];
