/**
 * POST /register, /attribute (operator), /dns_event and /dns_events (DNS bridge). Auth,
 * then the bucket, then the body, as docs/PROTOCOL.md#routes orders the
 * checks; each hands its parsed request to one use-case.
 */
import { AttributeRequestSchema, AttributionSchema } from "../../registry/attribute.js";
import { DnsEventBatchAnswerSchema, DnsEventBatchSchema, recordDnsEvents, type DnsEventBatchAnswer } from "../../registry/dns-event-batch.js";
import { DnsEventAnswerSchema, DnsEventSchema, type DnsEventAnswer } from "../../registry/events.js";
import { RegisterRequestSchema, RegisterResultSchema } from "../../registry/register.js";
import { json } from "../answer.js";
import { toRegistryError } from "../error-handler.js";
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
  route({
    methods: ["POST"],
    path: "/dns_events",
    auth: "dns",
    bucket: "dns",
    body: DnsEventBatchSchema,
    doc: {
      tag: "writes",
      summary: "A DNS bridge reports many lookups at once (extension): each item as /dns_event, answered item by item in order",
      ok: jsonAnswer(DnsEventBatchAnswerSchema),
      errors: [...BODY_ERRORS, 401, 429, 503],
    },
    answer: async ({ body, address, admitItem }, { service, logger }) => {
      const outcomes = await recordDnsEvents(service.events, body.events, address, admitItem);
      const results = outcomes.map((outcome, index) => {
        if ("tlogIndex" in outcome) return { ok: true, tlog_index: outcome.tlogIndex } as const;
        const failure = toRegistryError(outcome.error);
        // The item answers "internal error" like a failed request; the operator needs what it hides, as the error handler logs it.
        if (failure.status >= 500)
          logger.error("a DNS event of a batch could not be recorded", { path: "/dns_events", index, status: failure.status, error: outcome.error });
        return failure.envelope();
      });
      return json({ results } satisfies DnsEventBatchAnswer);
    },
  }),
];
