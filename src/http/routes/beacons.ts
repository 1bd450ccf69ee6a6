/**
 * Beacon routes. A hit on any well-formed token is recorded and answered 200,
 * known or not, so resolvers and viewers never retry; `Cache-Control: no-store`
 * so every open reaches the registry.
 */
import { Router, type RequestHandler } from "express";
import { z } from "zod";
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

/** The beacon routes. Express registers them below; the fast path serves their plain GETs from the same table. */
export interface BeaconRoute {
  /** Everything before the token, which never contains a `/`. */
  prefix: string;
  /** The Express path, also the metrics label. */
  template: string;
  kind: BeaconKind;
  /** What the last path segment ends with after the token (`.png` for pixels). */
  suffix: string;
  methods: readonly string[];
}

export const BEACON_ROUTES: readonly BeaconRoute[] = [
  { prefix: "/p/", template: "/p/:name", kind: "http_img", suffix: ".png", methods: ["GET", "HEAD"] },
  { prefix: "/r/", template: "/r/:token", kind: "ocsp", suffix: "", methods: ["GET", "POST"] },
  { prefix: "/ocsp/r/", template: "/ocsp/r/:token", kind: "ocsp", suffix: "", methods: ["GET", "POST"] },
  { prefix: "/v/", template: "/v/:token", kind: "license", suffix: "", methods: ["GET", "HEAD"] },
  { prefix: "/lic/v/", template: "/lic/v/:token", kind: "license", suffix: "", methods: ["GET", "HEAD"] },
];

/** What a licence check answers. */
export const LicenseAnswerSchema = z.object({ valid: z.literal(true) });
const LICENSE_ANSWER: z.infer<typeof LicenseAnswerSchema> = { valid: true };

/** What a hit of each kind answers: a body and its type, or an empty 200 (OCSP). */
export const BEACON_ANSWERS: Record<BeaconKind, { type: string; body: Buffer } | null> = {
  http_img: { type: "image/png", body: PIXEL_PNG },
  ocsp: null,
  license: { type: "application/json; charset=utf-8", body: Buffer.from(JSON.stringify(LICENSE_ANSWER)) },
};

export interface BeaconRouteOptions {
  rateLimit: RequestHandler;
  trustedProxy: boolean;
}

export function beaconRoutes(service: RegistryService, options: BeaconRouteOptions): Router {
  const router = Router();
  for (const route of BEACON_ROUTES) {
    router.all(route.template, options.rateLimit, async (req, res, next) => {
      if (!route.methods.includes(req.method)) return next();
      const segment = String(Object.values(req.params)[0]);
      if (!segment.endsWith(route.suffix)) throw notFound(`${route.prefix} beacons end in ${route.suffix}`);
      const tokenId = IdentifierSchema.safeParse(segment.slice(0, segment.length - route.suffix.length));
      if (!tokenId.success) throw missingField("token_id must be 1..256 bytes");
      await service.events.beacon({
        kind: route.kind,
        tokenId: tokenId.data,
        sourceIp: clientAddress(req, options.trustedProxy),
        userAgent: req.get("user-agent") ?? "",
      });
      res.set("Cache-Control", "no-store");
      const answer = BEACON_ANSWERS[route.kind];
      if (answer) res.type(answer.type).send(answer.body);
      else res.status(200).end();
    });
  }
  return router;
}
