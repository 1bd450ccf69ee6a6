/** The log's read routes: v1 head, proofs and ranges; Part 2 consistency, checkpoint and tiles. */
import { Router } from "express";
import { z } from "zod";
import { missingField } from "../../core/errors.js";
import type { RegistryService } from "../../registry/service.js";
import { IntegerParam, optionalInteger, optionalLimit } from "../params.js";

const ProofQuery = z.object({ tree_size: IntegerParam.optional() });
const ConsistencyQuery = z.object({ first: IntegerParam, second: IntegerParam.optional() });
const RangeQuery = z.object({ start: optionalInteger(0), limit: optionalLimit(500) });

/** Partial tiles and checkpoints change as the log grows; full tiles never do. */
const SHORT_LIVED = "public, max-age=5";
const IMMUTABLE = "public, max-age=31536000, immutable";

export function tlogRoutes(service: RegistryService): Router {
  const router = Router();
  const log = service.log;

  router.get("/tlog/head", (_req, res) => {
    res.set("Cache-Control", "no-cache").json(log.head());
  });

  router.get("/tlog/proof/:index", (req, res) => {
    const index = IntegerParam.safeParse(req.params["index"]);
    if (!index.success) throw missingField("index must be a non-negative decimal integer");
    const { tree_size } = ProofQuery.parse(req.query);
    res.json(log.inclusion(index.data, tree_size));
  });

  router.get("/tlog/consistency", (req, res) => {
    const { first, second } = ConsistencyQuery.parse(req.query);
    res.json(log.consistency(first, second));
  });

  router.get("/tlog/range", (req, res) => {
    const { start, limit } = RangeQuery.parse(req.query);
    res.set("Content-Type", "application/json; charset=utf-8").send(log.rangeJson(start, limit));
  });

  router.get("/checkpoint", (_req, res) => {
    res.set("Cache-Control", SHORT_LIVED).type("text/plain; charset=utf-8").send(log.checkpoint());
  });

  router.get("/tile/*path", (req, res) => {
    const segments = req.params["path"] as unknown as string[];
    const { bytes, immutable } = log.tile(["tile", ...segments].join("/"));
    res.set("Cache-Control", immutable ? IMMUTABLE : SHORT_LIVED).type("application/octet-stream").send(bytes);
  });
  return router;
}
