/** GET /evidence/{file_id} and GET /candidates/semantic. */
import { z } from "zod";
import { IdentifierSchema } from "../../core/manifest.js";
import type { RegistryService } from "../../registry/service.js";
import { json } from "../answer.js";
import { optionalInteger, optionalLimit, pathParam } from "../params.js";
import { route, type Route } from "../route.js";

const FileId = pathParam(IdentifierSchema, "file_id must be 1..256 bytes");
/** `cursor`: the `next_cursor` of the previous page (docs/PROTOCOL.md, evidence bundle pages). */
export const EvidenceQuery = z.object({ cursor: z.string().optional() });
export const CandidatesQuery = z.object({ limit: optionalLimit(1000), since: optionalInteger(0) });

export function evidenceRoutes(service: RegistryService): Route[] {
  return [
    route({
      methods: ["GET", "HEAD"],
      path: "/evidence/:file_id",
      bucket: "read",
      params: { file_id: FileId },
      query: EvidenceQuery,
      answer: async ({ params, query }) => json(await service.evidence.bundle(params.file_id, query.cursor)),
    }),
    route({
      methods: ["GET", "HEAD"],
      path: "/candidates/semantic",
      bucket: "read",
      query: CandidatesQuery,
      answer: ({ query }) => json(service.candidates.semantic(query.limit, query.since)),
    }),
  ];
}
