/** The log's read routes: v1 head, proofs and ranges; Part 2 consistency, checkpoint and tiles. */
import { z } from "zod";
import { thenEventually } from "../../core/eventually.js";
import { ConsistencyProofSchema, InclusionProofSchema, RangePageSchema } from "../../registry/log-reads.js";
import { SignedTreeHeadSchema } from "../../tlog/heads.js";
import { JSON_TYPE, json } from "../answer.js";
import { jsonAnswer } from "../api-description.js";
import { IntegerParam, optionalInteger, optionalLimit, pathParam } from "../params.js";
import { route, type RouteDeclaration } from "../route.js";

const Index = pathParam(IntegerParam, "index must be a non-negative decimal integer");
export const ProofQuery = z.object({ tree_size: IntegerParam.optional() });
export const ConsistencyQuery = z.object({ first: IntegerParam, second: IntegerParam.optional() });
export const RangeQuery = z.object({ start: optionalInteger(0), limit: optionalLimit(500) });

/** Partial tiles and checkpoints change as the log grows; full tiles never do. */
const SHORT_LIVED = "public, max-age=5";
const IMMUTABLE = "public, max-age=31536000, immutable";
/** The head changes with every write: a cache must ask again each time. */
const HEAD_CACHE = "no-cache";
const CHECKPOINT_TYPE = "text/plain; charset=utf-8";
const READ = { methods: ["GET", "HEAD"], bucket: "read" } as const;
const TILE_PATH_RULE = "C2SP tlog-tiles: N in 3-digit groups, all but the last prefixed with `x` (x001/x234/067), then `.p/{W}` for a partial tile";

export const TLOG_ROUTES: readonly RouteDeclaration[] = [
  route({
    ...READ,
    path: "/tlog/head",
    doc: { tag: "log", summary: "The signed tree head", ok: jsonAnswer(SignedTreeHeadSchema), cacheControl: HEAD_CACHE, errors: [429, 503] },
    answer: (_call, { service: { log } }) => thenEventually(log.head(), (head) => json(head, { "Cache-Control": HEAD_CACHE })),
  }),
  route({
    ...READ,
    path: "/tlog/proof/:index",
    params: { index: Index },
    query: ProofQuery,
    doc: {
      tag: "log",
      summary: "Inclusion proof of a leaf, at the current size or at `tree_size`",
      ok: jsonAnswer(InclusionProofSchema),
      errors: [400, 404, 429, 503],
    },
    answer: ({ params, query }, { service: { log } }) =>
      thenEventually(log.inclusionJson(params.index, query.tree_size), (body) => ({ content: { type: JSON_TYPE, body } })),
  }),
  route({
    ...READ,
    path: "/tlog/consistency",
    query: ConsistencyQuery,
    doc: { tag: "log", summary: "Consistency proof between two tree sizes", ok: jsonAnswer(ConsistencyProofSchema), errors: [400, 404, 429, 503] },
    answer: ({ query }, { service: { log } }) => thenEventually(log.consistency(query.first, query.second), (proof) => json(proof)),
  }),
  route({
    ...READ,
    path: "/tlog/range",
    query: RangeQuery,
    doc: { tag: "log", summary: "Leaves from `start`, `limit` clamped to 1..1000", ok: jsonAnswer(RangePageSchema), errors: [400, 429] },
    answer: ({ query }, { service: { log } }) => {
      const page = log.rangeJson(query.start, query.limit);
      return { content: { type: JSON_TYPE, body: page.parts }, release: page.release };
    },
  }),
  route({
    ...READ,
    path: "/checkpoint",
    doc: {
      tag: "log",
      summary: "The C2SP checkpoint, a signed note",
      ok: { kind: "text", type: CHECKPOINT_TYPE },
      cacheControl: SHORT_LIVED,
      errors: [429, 503],
    },
    answer: (_call, { service: { log } }) =>
      thenEventually(log.checkpoint(), (body) => ({ headers: { "Cache-Control": SHORT_LIVED }, content: { type: CHECKPOINT_TYPE, body } })),
  }),
  route({
    ...READ,
    path: "/tile/*path",
    params: { path: (segments: string | string[]) => ["tile", ...[segments].flat()].join("/") },
    doc: {
      tag: "log",
      summary: "Hash tiles and entry bundles",
      ok: { kind: "bytes", type: "application/octet-stream" },
      errors: [404, 429, 503],
      paths: [
        {
          path: "/tile/{L}/{N}",
          params: z.object({ L: z.string(), N: z.string() }),
          summary: `Hash tile of level L; ${TILE_PATH_RULE}. Full tiles are immutable`,
        },
        { path: "/tile/entries/{N}", params: z.object({ N: z.string() }), summary: `Entry bundle; ${TILE_PATH_RULE}. Full bundles are immutable` },
      ],
    },
    answer: ({ params }, { service: { log } }) =>
      thenEventually(log.tile(params.path), ({ bytes, immutable }) => ({
        headers: { "Cache-Control": immutable ? IMMUTABLE : SHORT_LIVED },
        content: { type: "application/octet-stream", body: bytes },
      })),
  }),
];
