/**
 * Beacon routes. A hit on any well-formed token is recorded and answered 200,
 * known or not, so resolvers and viewers never retry; `Cache-Control: no-store`
 * so every open reaches the registry.
 */
import { z } from "zod";
import { missingField, notFound } from "../../core/errors.js";
import { IdentifierSchema } from "../../core/manifest.js";
import type { BeaconKind } from "../../registry/leaves.js";
import { json, type Answer } from "../answer.js";
import { jsonAnswer, type Content } from "../api-description.js";
import { route, type ParamParser, type RouteDeclaration } from "../route.js";

/** The smallest valid PNG: one transparent pixel. */
export const PIXEL_PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000b4944415478da636000020000050001e9fadcd80000000049454e44ae426082",
  "hex",
);

export interface BeaconRoute {
  /** The path, with the token as its last segment. */
  path: string;
  kind: BeaconKind;
  /** What the last path segment ends with after the token (`.png` for pixels). */
  suffix: string;
  methods: readonly string[];
}

export const BEACON_ROUTES: readonly BeaconRoute[] = [
  { path: "/p/:name", kind: "http_img", suffix: ".png", methods: ["GET", "HEAD"] },
  { path: "/r/:token", kind: "ocsp", suffix: "", methods: ["GET", "POST"] },
  { path: "/ocsp/r/:token", kind: "ocsp", suffix: "", methods: ["GET", "POST"] },
  { path: "/v/:token", kind: "license", suffix: "", methods: ["GET", "HEAD"] },
  { path: "/lic/v/:token", kind: "license", suffix: "", methods: ["GET", "HEAD"] },
];

const NO_STORE = { "Cache-Control": "no-store" };

/** What a licence check answers. */
export const LicenseAnswerSchema = z.object({ valid: z.literal(true) });
const LICENSE_ANSWER: z.infer<typeof LicenseAnswerSchema> = { valid: true };

/** What a hit of each kind answers: a pixel, an empty 200 (OCSP), or a license verdict. */
const BEACON_ANSWERS: Record<BeaconKind, Answer> = {
  http_img: { headers: NO_STORE, content: { type: "image/png", body: PIXEL_PNG } },
  ocsp: { headers: NO_STORE },
  license: { ...json(LICENSE_ANSWER), headers: NO_STORE },
};

/** The same answers, as the API description shows them. */
const BEACON_CONTENT: Record<BeaconKind, Content> = {
  http_img: { kind: "bytes", type: "image/png" },
  ocsp: { kind: "empty" },
  license: jsonAnswer(LicenseAnswerSchema),
};

/** The path up to the token's segment. */
const prefixOf = ({ path }: BeaconRoute) => path.slice(0, path.lastIndexOf("/") + 1);

/** The token in the last path segment, which must end in `suffix`. */
function beaconToken(beacon: BeaconRoute): ParamParser<string> {
  const { suffix } = beacon;
  const prefix = prefixOf(beacon);
  return (raw) => {
    const segment = String(raw);
    if (!segment.endsWith(suffix)) throw notFound(`${prefix} beacons end in ${suffix}`);
    const tokenId = IdentifierSchema.safeParse(segment.slice(0, segment.length - suffix.length));
    if (!tokenId.success) throw missingField("token_id must be 1..256 bytes");
    return tokenId.data;
  };
}

export const BEACON_HIT_ROUTES: readonly RouteDeclaration[] = BEACON_ROUTES.map((beacon) => {
  const name = beacon.path.slice(beacon.path.lastIndexOf(":") + 1);
  return route({
    methods: beacon.methods,
    path: beacon.path,
    bucket: "beacon",
    params: { [name]: beaconToken(beacon) } as Record<string, ParamParser<string>>,
    doc: {
      tag: "beacons",
      summary: `Beacon hit (${beacon.kind}): records an event and a log leaf for any token of 1..256 bytes`,
      ok: BEACON_CONTENT[beacon.kind],
      cacheControl: NO_STORE["Cache-Control"],
      errors: [400, 429, 503],
      paths: [{ path: `${prefixOf(beacon)}{token_id}${beacon.suffix}`, params: z.object({ token_id: IdentifierSchema }) }],
    },
    answer: async ({ params, address, userAgent }, { service }) => {
      await service.events.beacon({ kind: beacon.kind, tokenId: params[name]!, sourceIp: address, userAgent });
      return BEACON_ANSWERS[beacon.kind];
    },
  });
});
