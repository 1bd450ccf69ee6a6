/** GET /health and GET /.well-known/oversight-registry. */
import { z } from "zod";
import { TreeSizeSchema, lowerHex } from "../../tlog/heads.js";
import { json } from "../answer.js";
import { jsonAnswer } from "../api-description.js";
import { route, type RouteDeclaration } from "../route.js";

export const SERVICE_NAME = "oversight-registry";

/** The Part 2 extensions, advertised under `federation` where v1 consumers ignore them. */
export const EXTENSIONS = ["inclusion_at_size", "consistency", "checkpoint", "tiles", "registration_proof", "leaf_data", "dns_event_batches"] as const;

export const HealthAnswerSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  service: z.literal(SERVICE_NAME),
  version: z.string(),
  tlog_size: TreeSizeSchema,
});

export const WellKnownAnswerSchema = z.object({
  ed25519_pub: lowerHex(32),
  version: z.string(),
  jurisdiction: z.string(),
  tlog_size: TreeSizeSchema,
  federation: z.object({
    spec_version: z.literal("v1"),
    canonicalization: z.literal("json-sort-keys-compact-utf8"),
    rekor_enabled: z.literal(false),
    checkpoint_origin: z.string(),
    checkpoint_vkey: z.string(),
    extensions: z.array(z.enum(EXTENSIONS)),
  }),
});

export const IDENTITY_ROUTES: readonly RouteDeclaration[] = [
  route({
    methods: ["GET", "HEAD"],
    path: "/health",
    bucket: "read",
    doc: {
      tag: "identity",
      summary: "Liveness; `degraded` while writes are refused: the log does not extend its largest signed head, or the writer thread stopped",
      ok: jsonAnswer(HealthAnswerSchema),
      errors: [429],
    },
    answer: (_call, { service: { registry }, version }) =>
      json({
        status: registry.writable() ? "ok" : "degraded",
        service: SERVICE_NAME,
        version,
        tlog_size: registry.store.size(),
      } satisfies z.infer<typeof HealthAnswerSchema>),
  }),
  route({
    methods: ["GET", "HEAD"],
    path: "/.well-known/oversight-registry",
    bucket: "read",
    doc: { tag: "identity", summary: "Who the registry is, and the extensions it serves", ok: jsonAnswer(WellKnownAnswerSchema), errors: [429] },
    answer: (_call, { service: { registry }, version, jurisdiction, origin }) =>
      json({
        ed25519_pub: registry.identity.publicKeyHex,
        version,
        jurisdiction,
        tlog_size: registry.store.size(),
        federation: {
          spec_version: "v1",
          canonicalization: "json-sort-keys-compact-utf8",
          rekor_enabled: false,
          checkpoint_origin: origin,
          checkpoint_vkey: registry.heads.verifierKey(),
          extensions: [...EXTENSIONS],
        },
      } satisfies z.infer<typeof WellKnownAnswerSchema>),
  }),
];
