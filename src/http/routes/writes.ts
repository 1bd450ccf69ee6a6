/**
 * POST /register, /attribute (operator) and /dns_event (DNS bridge). Auth,
 * then the bucket, then the body, as docs/PROTOCOL.md#routes orders the
 * checks; each hands its parsed request to one use-case.
 */
import { AttributeRequestSchema } from "../../registry/attribute.js";
import { DnsEventSchema, type DnsEventAnswer } from "../../registry/events.js";
import { RegisterRequestSchema } from "../../registry/register.js";
import type { RegistryService } from "../../registry/service.js";
import { json } from "../answer.js";
import { route, type Route } from "../route.js";

export function writeRoutes(service: RegistryService): Route[] {
  return [
    route({
      methods: ["POST"],
      path: "/register",
      auth: { operator: "register" },
      bucket: "operator",
      body: RegisterRequestSchema,
      answer: async ({ body, operator }) => json(await service.registrations.register(body, operator)),
    }),
    route({
      methods: ["POST"],
      path: "/attribute",
      auth: { operator: "attribute" },
      bucket: "operator",
      body: AttributeRequestSchema,
      answer: ({ body }) => json(service.attributions.attribute(body)),
    }),
    route({
      methods: ["POST"],
      path: "/dns_event",
      auth: "dns",
      bucket: "dns",
      body: DnsEventSchema,
      answer: async ({ body, address }) => {
        const { tlogIndex } = await service.events.dns(body, address);
        return json({ ok: true, tlog_index: tlogIndex } satisfies DnsEventAnswer);
      },
    }),
  ];
}
