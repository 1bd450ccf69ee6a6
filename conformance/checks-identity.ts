/** Identity, liveness, routing and CORS: the checks that need no data. */
import { z } from "zod";
import { type Check, ensure, expectError, expectJson, Hex32, Index } from "./checks-common.js";
import { parseVerifierKey } from "./verify.js";

const HealthSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  service: z.string().startsWith("oversight-registry"),
  version: z.string(),
  tlog_size: Index,
});

const WellKnownSchema = z.object({
  ed25519_pub: Hex32,
  version: z.string(),
  jurisdiction: z.string().min(1),
  tlog_size: Index,
  federation: z.looseObject({
    spec_version: z.literal("v1"),
    canonicalization: z.literal("json-sort-keys-compact-utf8"),
    rekor_enabled: z.boolean(),
    checkpoint_origin: z.string().min(1).optional(),
    checkpoint_vkey: z.string().min(1).optional(),
    extensions: z.array(z.string()).optional(),
  }),
});

const ALLOWED_ORIGIN = "https://oversight-protocol.github.io";
const REFUSED_ORIGIN = "https://conformance-refused.example";

export const identityChecks: Check[] = [
  {
    name: "GET /health shape",
    async run(ctx) {
      const health = expectJson(await ctx.client.get("/health"), 200, HealthSchema, "/health");
      // A registry the harness just started has no reason to be degraded; another one may be.
      if (ctx.selfStarted) ensure(health.status === "ok", `status is ${health.status} on a fresh registry`);
    },
  },
  {
    name: "GET /.well-known/oversight-registry shape and federation fields",
    async run(ctx) {
      const res = await ctx.client.get("/.well-known/oversight-registry");
      // Keep a well-formed key even if another field is wrong, so later checks still test what they can.
      const key = Hex32.safeParse((res.json as { ed25519_pub?: unknown } | undefined)?.ed25519_pub);
      if (key.success) ctx.state.registryKey = Buffer.from(key.data, "hex");
      const wk = expectJson(res, 200, WellKnownSchema, "/.well-known");
      ctx.state.extensions = wk.federation.extensions;
      const { checkpoint_origin: origin, checkpoint_vkey: vkey } = wk.federation;
      ensure((origin === undefined) === (vkey === undefined), "federation advertises only one of checkpoint_origin and checkpoint_vkey");
      if (origin === undefined || vkey === undefined) return;
      // Recorded before validation, so a malformed advertisement fails the federation checks instead of skipping them.
      ctx.state.federation = { origin, vkey };
      const verifier = parseVerifierKey(vkey);
      ensure(verifier.name === origin, `checkpoint_vkey names ${JSON.stringify(verifier.name)}, not the checkpoint_origin ${JSON.stringify(origin)}`);
      ensure(verifier.publicKey.toString("hex") === wk.ed25519_pub, "checkpoint_vkey carries a key other than ed25519_pub");
    },
  },
  {
    name: "unknown route → 404 not_found envelope",
    async run(ctx) {
      expectError(await ctx.client.get("/conformance/no-such-route"), 404, "not_found");
      expectError(await ctx.client.post("/conformance/no-such-route", {}, { auth: true }), 404, "not_found");
    },
  },
  {
    name: "CORS: allowed origin is echoed, no credentials",
    async run(ctx) {
      const res = await ctx.client.get("/health", { origin: ALLOWED_ORIGIN });
      ensure(res.status === 200, `GET /health with Origin answered ${res.status}`);
      const acao = res.headers.get("access-control-allow-origin");
      ensure(acao === ALLOWED_ORIGIN, `Access-Control-Allow-Origin is ${JSON.stringify(acao)}, expected the origin echoed`);
      ensure(res.headers.get("access-control-allow-credentials") !== "true", "Access-Control-Allow-Credentials is true");
      const preflight = await ctx.client.request("/tlog/head", {
        method: "OPTIONS",
        headers: { origin: ALLOWED_ORIGIN, "access-control-request-method": "GET" },
      });
      ensure(preflight.status >= 200 && preflight.status < 300, `preflight answered ${preflight.status}`);
      const preflightOrigin = preflight.headers.get("access-control-allow-origin");
      ensure(preflightOrigin === ALLOWED_ORIGIN, `preflight Access-Control-Allow-Origin is ${JSON.stringify(preflightOrigin)}`);
      const methods = preflight.headers.get("access-control-allow-methods");
      ensure(methods === null || !/\bPOST\b/i.test(methods), `preflight allows ${methods}; CORS is GET/OPTIONS only`);
    },
  },
  {
    name: "CORS: refused origin gets no Access-Control-Allow-Origin",
    async run(ctx) {
      const res = await ctx.client.get("/health", { origin: REFUSED_ORIGIN });
      ensure(res.status === 200, `GET /health with a foreign Origin answered ${res.status}`);
      const acao = res.headers.get("access-control-allow-origin");
      ensure(acao === null, `Access-Control-Allow-Origin is ${JSON.stringify(acao)} for a refused origin`);
    },
  },
];
