/** GET /evidence/{file_id} and GET /candidates/semantic. */
import { Router } from "express";
import { z } from "zod";
import { missingField } from "../../core/errors.js";
import { IdentifierSchema } from "../../core/manifest.js";
import type { RegistryService } from "../../registry/service.js";
import { optionalInteger, optionalLimit } from "../params.js";

const EvidenceQuery = z.object({ cursor: z.string().optional() });
const CandidatesQuery = z.object({ limit: optionalLimit(1000), since: optionalInteger(0) });

export function evidenceRoutes(service: RegistryService): Router {
  const router = Router();

  router.get("/evidence/:file_id", async (req, res) => {
    const fileId = IdentifierSchema.safeParse(req.params["file_id"]);
    if (!fileId.success) throw missingField("file_id must be 1..256 bytes");
    const { cursor } = EvidenceQuery.parse(req.query);
    res.json(await service.evidence.bundle(fileId.data, cursor));
  });

  router.get("/candidates/semantic", (req, res) => {
    const { limit, since } = CandidatesQuery.parse(req.query);
    res.json(service.candidates.semantic(limit, since));
  });
  return router;
}
