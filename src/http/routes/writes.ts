/**
 * POST /register, /attribute (operator) and /dns_event (DNS bridge). Auth,
 * then the bucket, then the body, as docs/PROTOCOL.md#routes orders the
 * checks; each hands its parsed request to one use-case.
 */
import { AttributeRequestSchema, AttributionSchema } from "../../registry/attribute.js";
import { DnsEventAnswerSchema, DnsEventSchema, type DnsEventAnswer } from "../../registry/events.js";
import { RegisterRequestSchema, RegisterResultSchema } from "../../registry/register.js";
import { json } from "../answer.js";
import { BODY_ERRORS, jsonAnswer } from "../api-description.js";
import { route, type RouteDeclaration } from "../route.js";

export const WRITE_ROUTES: readonly RouteDeclaration[] = [
  route({
    methods: ["POST"],
    path: "/register",
    auth: { operator: "register" },
    bucket: "operator",
    body: RegisterRequestSchema,
    doc: { tag: "writes", summary: "Register a signed manifest", ok: jsonAnswer(RegisterResultSchema), errors: [...BODY_ERRORS, 401, 403, 409, 429, 503] },
    answer: async ({ body, operator }, { service }) => json(await service.registrations.register(body, operator)),
  }),
  route({
    methods: ["POST"],
    path: "/attribute",
    auth: { operator: "attribute" },
    bucket: "operator",
    body: AttributeRequestSchema,
    doc: {
      tag: "writes",
      summary: "Which file a token, a mark or a perceptual hash belongs to",
      ok: jsonAnswer(AttributionSchema),
      errors: [...BODY_ERRORS, 401, 403, 429],
    },
    answer: ({ body }, { service }) => json(service.attributions.attribute(body)),
  }),
  route({
    methods: ["POST"],
    path: "/dns_event",
    auth: "dns",
    bucket: "dns",
    body: DnsEventSchema,
    doc: {
      tag: "writes",
      summary: "A DNS bridge reports a lookup of a beacon name",
      ok: jsonAnswer(DnsEventAnswerSchema),
      errors: [...BODY_ERRORS, 401, 429, 503],
    },
    answer: async ({ body, address }, { service }) => {
      const { tlogIndex } = await service.events.dns(body, address);
      return json({ ok: true, tlog_index: tlogIndex } satisfies DnsEventAnswer);
    },
  }),
];
