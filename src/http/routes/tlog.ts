/** The log's read routes: v1 head, proofs and ranges; Part 2 consistency, checkpoint and tiles. */
import { z } from "zod";
import type { RegistryService } from "../../registry/service.js";
import { JSON_TYPE, json } from "../answer.js";
import { IntegerParam, optionalInteger, optionalLimit, pathParam } from "../params.js";
import { route, type Route } from "../route.js";

const Index = pathParam(IntegerParam, "index must be a non-negative decimal integer");
export const ProofQuery = z.object({ tree_size: IntegerParam.optional() });
export const ConsistencyQuery = z.object({ first: IntegerParam, second: IntegerParam.optional() });
export const RangeQuery = z.object({ start: optionalInteger(0), limit: optionalLimit(500) });

/** Partial tiles and checkpoints change as the log grows; full tiles never do. */
const SHORT_LIVED = "public, max-age=5";
const IMMUTABLE = "public, max-age=31536000, immutable";
const READ = { methods: ["GET", "HEAD"], bucket: "read" } as const;

export function tlogRoutes(service: RegistryService): Route[] {
  const log = service.log;
  return [
    route({ ...READ, path: "/tlog/head", answer: () => json(log.head(), { "Cache-Control": "no-cache" }) }),
    route({
      ...READ,
      path: "/tlog/proof/:index",
      params: { index: Index },
      query: ProofQuery,
      answer: ({ params, query }) => ({ content: { type: JSON_TYPE, body: log.inclusionJson(params.index, query.tree_size) } }),
    }),
    route({
      ...READ,
      path: "/tlog/consistency",
      query: ConsistencyQuery,
      answer: ({ query }) => json(log.consistency(query.first, query.second)),
    }),
    route({
      ...READ,
      path: "/tlog/range",
      query: RangeQuery,
      answer: ({ query }) => ({ content: { type: JSON_TYPE, body: log.rangeJson(query.start, query.limit) } }),
    }),
    route({
      ...READ,
      path: "/checkpoint",
      answer: () => ({ headers: { "Cache-Control": SHORT_LIVED }, content: { type: "text/plain; charset=utf-8", body: log.checkpoint() } }),
    }),
    route({
      ...READ,
      path: "/tile/*path",
      params: { path: (segments: string | string[]) => ["tile", ...[segments].flat()].join("/") },
      answer: ({ params }) => {
        const { bytes, immutable } = log.tile(params.path);
        return { headers: { "Cache-Control": immutable ? IMMUTABLE : SHORT_LIVED }, content: { type: "application/octet-stream", body: bytes } };
      },
    }),
  ];
}
