/**
 * Beacon routes. A hit on any well-formed token is recorded and answered 200,
 * known or not, so resolvers and viewers never retry; `Cache-Control: no-store`
 * so every open reaches the registry.
 */
import { Router, type Request, type RequestHandler, type Response } from "express";
import { missingField, notFound } from "../../core/errors.js";
import { IdentifierSchema } from "../../core/manifest.js";
import type { BeaconKind } from "../../registry/leaves.js";
import type { RegistryService } from "../../registry/service.js";
import { clientAddress } from "../client-address.js";

/** The smallest valid PNG: one transparent pixel. */
export const PIXEL_PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000b4944415478da636000020000050001e9fadcd80000000049454e44ae426082",
  "hex",
);

export interface BeaconRouteOptions {
  rateLimit: RequestHandler;
  trustedProxy: boolean;
}

export function beaconRoutes(service: RegistryService, options: BeaconRouteOptions): Router {
  const router = Router();

  const record = (kind: BeaconKind, tokenId: string, req: Request) => {
    const parsed = IdentifierSchema.safeParse(tokenId);
    if (!parsed.success) throw missingField("token_id must be 1..256 bytes");
    return service.events.beacon({
      kind,
      tokenId: parsed.data,
      sourceIp: clientAddress(req, options.trustedProxy),
      userAgent: req.get("user-agent") ?? "",
    });
  };
  const noStore = (res: Response) => res.set("Cache-Control", "no-store");

  router.get("/p/:name", options.rateLimit, async (req, res) => {
    const name = String(req.params["name"]);
    if (!name.endsWith(".png")) throw notFound("pixel beacons end in .png");
    await record("http_img", name.slice(0, -".png".length), req);
    noStore(res).type("image/png").send(PIXEL_PNG);
  });

  for (const path of ["/r/:token", "/ocsp/r/:token"]) {
    router.all(path, options.rateLimit, async (req, res, next) => {
      if (req.method !== "GET" && req.method !== "POST") return next();
      await record("ocsp", String(req.params["token"]), req);
      noStore(res).status(200).end();
    });
  }

  for (const path of ["/v/:token", "/lic/v/:token"]) {
    router.get(path, options.rateLimit, async (req, res) => {
      await record("license", String(req.params["token"]), req);
      noStore(res).json({ valid: true });
    });
  }
  return router;
}
