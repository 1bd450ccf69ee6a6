/**
 * POST /register, /attribute (operator) and /dns_event (DNS bridge). Each
 * route runs auth, then its rate limit, then reads the body, as CONTRACT.md
 * orders the checks, and hands the parsed request to one use-case.
 */
import { Router, type RequestHandler } from "express";
import { AttributeRequestSchema } from "../../registry/attribute.js";
import { DnsEventSchema } from "../../registry/events.js";
import { RegisterRequestSchema } from "../../registry/register.js";
import type { RegistryService } from "../../registry/service.js";
import { clientAddress } from "../client-address.js";
import { jsonBody } from "../json-body.js";

export interface WriteRouteOptions {
  operatorAuth: RequestHandler;
  operatorRateLimit: RequestHandler;
  dnsAuth: RequestHandler;
  writeRateLimit: RequestHandler;
  maxBodyBytes: number;
  trustedProxy: boolean;
}

export function writeRoutes(service: RegistryService, options: WriteRouteOptions): Router {
  const router = Router();
  const body = jsonBody(options.maxBodyBytes);

  router.post("/register", options.operatorAuth, options.operatorRateLimit, body, async (req, res) => {
    res.json(await service.registrations.register(RegisterRequestSchema.parse(req.body)));
  });

  router.post("/attribute", options.operatorAuth, options.operatorRateLimit, body, (req, res) => {
    res.json(service.attributions.attribute(AttributeRequestSchema.parse(req.body)));
  });

  router.post("/dns_event", options.dnsAuth, options.writeRateLimit, body, async (req, res) => {
    const request = DnsEventSchema.parse(req.body);
    const { tlogIndex } = await service.events.dns(request, clientAddress(req, options.trustedProxy));
    res.json({ ok: true, tlog_index: tlogIndex });
  });
  return router;
}
