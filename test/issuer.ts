/** A throwaway issuer for tests: builds manifests and signs them with the registry's own signed-bytes rule. */
import { randomUUID } from "node:crypto";
import { generateSeed, signerFromSeed, type Signer } from "../src/core/ed25519.js";
import { toHex } from "../src/core/hex.js";
import { manifestSignedBytes } from "../src/core/manifest.js";

export interface TestIssuer {
  signer: Signer;
  issuerId: string;
  manifest(overrides?: Record<string, unknown>): Record<string, unknown>;
  registration(overrides?: Record<string, unknown>): { manifest: Record<string, unknown>; beacons: unknown[]; watermarks: unknown[] };
}

export function createIssuer(issuerId = "issuer-test", seed: Uint8Array = generateSeed()): TestIssuer {
  const signer = signerFromSeed(seed);
  const manifest = (overrides: Record<string, unknown> = {}) => {
    const unsigned: Record<string, unknown> = {
      file_id: randomUUID(),
      issued_at: 1795395279,
      issuer_id: issuerId,
      issuer_ed25519_pub: signer.publicKeyHex,
      recipient: { recipient_id: `recipient-${randomUUID().slice(0, 8)}`, x25519_pub: "00".repeat(32) },
      beacons: [
        { token_id: randomUUID().replaceAll("-", ""), kind: "http" },
        { token_id: randomUUID().replaceAll("-", ""), kind: "dns" },
      ],
      watermarks: [
        { mark_id: randomUUID().replaceAll("-", ""), layer: "L1_zero_width" },
        { mark_id: randomUUID().replaceAll("-", ""), layer: "L3_semantic" },
      ],
      ...overrides,
    };
    unsigned["signature_ed25519"] = toHex(signer.sign(manifestSignedBytes(unsigned)));
    return unsigned;
  };
  return {
    signer,
    issuerId,
    manifest,
    registration(overrides = {}) {
      const m = manifest(overrides);
      return { manifest: m, beacons: m["beacons"] as unknown[], watermarks: m["watermarks"] as unknown[] };
    },
  };
}
