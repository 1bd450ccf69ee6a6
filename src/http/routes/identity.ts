/** GET /health and GET /.well-known/oversight-registry. */
import type { RegistryService } from "../../registry/service.js";
import { json } from "../answer.js";
import { route, type Route } from "../route.js";

export interface IdentityOptions {
  version: string;
  jurisdiction: string;
  origin: string;
}

export const SERVICE_NAME = "oversight-registry";

/** The Part 2 extensions, advertised under `federation` where v1 consumers ignore them. */
export const EXTENSIONS = ["inclusion_at_size", "consistency", "checkpoint", "tiles", "registration_proof", "leaf_data"];

export function identityRoutes(service: RegistryService, options: IdentityOptions): Route[] {
  const registry = service.registry;
  return [
    route({
      methods: ["GET", "HEAD"],
      path: "/health",
      bucket: "read",
      answer: () =>
        json({
          status: registry.fork ? "degraded" : "ok",
          service: SERVICE_NAME,
          version: options.version,
          tlog_size: registry.store.size(),
        }),
    }),
    route({
      methods: ["GET", "HEAD"],
      path: "/.well-known/oversight-registry",
      bucket: "read",
      answer: () =>
        json({
          ed25519_pub: registry.identity.publicKeyHex,
          version: options.version,
          jurisdiction: options.jurisdiction,
          tlog_size: registry.store.size(),
          federation: {
            spec_version: "v1",
            canonicalization: "json-sort-keys-compact-utf8",
            rekor_enabled: false,
            checkpoint_origin: options.origin,
            checkpoint_vkey: registry.heads.verifierKey(),
            extensions: EXTENSIONS,
          },
        }),
    }),
  ];
}
