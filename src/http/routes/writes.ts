/**
 * POST /register, /attribute (operator) and /dns_event (DNS bridge). Each
 * route runs auth, then its rate limit, then reads the body, as docs/PROTOCOL.md#routes
 * orders the checks, and hands the parsed request to one use-case. The
 * actions are shared with the fast path (fast-path.ts).
 */
import { Router, type RequestHandler } from "express";
import { AttributeRequestSchema } from "../../registry/attribute.js";
import { DnsEventSchema, type DnsEventAnswer } from "../../registry/events.js";
import { RegisterRequestSchema } from "../../registry/register.js";
import type { Operator } from "../../registry/operator-access.js";
import type { RegistryService } from "../../registry/service.js";
import type { ScopeName } from "../../core/token-scopes.js";
import { operatorOf } from "../auth.js";
import { clientAddress } from "../client-address.js";
import { jsonBody } from "../json-body.js";

/** What a write route does with a parsed JSON body (and the operator who sent it): the answer to send as JSON. */
export type WriteAction = (service: RegistryService, body: unknown, address: string, operator: Operator | null) => Promise<unknown> | unknown;

export const WRITE_ACTIONS = {
  register: (service, body, _address, operator) => service.registrations.register(RegisterRequestSchema.parse(body), operator),
  attribute: (service, body) => service.attributions.attribute(AttributeRequestSchema.parse(body)),
  dnsEvent: async (service, body, address): Promise<DnsEventAnswer> => {
    const { tlogIndex } = await service.events.dns(DnsEventSchema.parse(body), address);
    return { ok: true, tlog_index: tlogIndex };
  },
} satisfies Record<string, WriteAction>;

export interface WriteRouteOptions {
  operatorAuth: (scope: ScopeName) => RequestHandler;
  operatorRateLimit: RequestHandler;
  dnsAuth: RequestHandler;
  dnsRateLimit: RequestHandler;
  maxBodyBytes: number;
  trustedProxy: boolean;
}

export function writeRoutes(service: RegistryService, options: WriteRouteOptions): Router {
  const router = Router();
  const body = jsonBody(options.maxBodyBytes);
  const handle = (action: WriteAction): RequestHandler => async (req, res) => {
    res.json(await action(service, req.body, clientAddress(req, options.trustedProxy), operatorOf(req)));
  };
  router.post("/register", options.operatorAuth("register"), options.operatorRateLimit, body, handle(WRITE_ACTIONS.register));
  router.post("/attribute", options.operatorAuth("attribute"), options.operatorRateLimit, body, handle(WRITE_ACTIONS.attribute));
  router.post("/dns_event", options.dnsAuth, options.dnsRateLimit, body, handle(WRITE_ACTIONS.dnsEvent));
  return router;
}
