/**
 * A throwaway issuer: an Ed25519 key made for one run, and manifests signed
 * the way docs/PROTOCOL.md#manifest-signature describes (signature fields blanked, nulls dropped,
 * RFC 8785), using the harness's own canonicalizer.
 */
import * as ed from "@noble/ed25519";
import { randomBytes, randomUUID } from "node:crypto";
import { canonicalBytes } from "./verify.js";

export interface Issuer {
  id: string;
  publicKeyHex: string;
  sign(message: Uint8Array): string;
}

export function newIssuer(id: string): Issuer {
  const secret = ed.utils.randomSecretKey();
  const publicKey = ed.getPublicKey(secret);
  return {
    id,
    publicKeyHex: Buffer.from(publicKey).toString("hex"),
    sign: (message) => Buffer.from(ed.sign(message, secret)).toString("hex"),
  };
}

export const randomHex = (bytes: number): string => randomBytes(bytes).toString("hex");

export interface Beacon {
  token_id: string;
  kind: string;
}

export interface Watermark {
  mark_id: string;
  layer: string;
}

export type Manifest = Record<string, unknown>;

function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, dropNulls(v)]),
    );
  }
  return value;
}

export const manifestSignedBytes = (manifest: Manifest): Buffer => canonicalBytes(dropNulls({ ...manifest, signature_ed25519: "", signature_ml_dsa: "" }));

export interface ManifestOptions {
  fileId?: string;
  recipientId?: string;
  beacons?: Beacon[];
  watermarks?: Watermark[];
}

/** Every field of the table in docs/PROTOCOL.md#manifests, so no default is left to interpretation. */
export function unsignedManifest(issuer: Issuer, options: ManifestOptions = {}): Manifest {
  return {
    version: "OVERSIGHT-v1",
    suite: "OSGT-CLASSIC-v1",
    file_id: options.fileId ?? randomUUID(),
    issued_at: Math.floor(Date.now() / 1000),
    original_filename: "conformance-résumé.txt",
    content_hash: randomHex(32),
    canonical_content_hash: randomHex(32),
    content_type: "text/plain",
    size_bytes: 1234,
    issuer_id: issuer.id,
    issuer_ed25519_pub: issuer.publicKeyHex,
    recipient: { recipient_id: options.recipientId ?? `conformance-${randomHex(4)}@example.org`, x25519_pub: randomHex(32) },
    watermarks: options.watermarks ?? [],
    beacons: options.beacons ?? [],
    policy: { jurisdiction: "GLOBAL" },
    l3_policy: {},
    signature_ed25519: "",
    signature_ml_dsa: "",
  };
}

export const signManifest = (issuer: Issuer, manifest: Manifest): Manifest => ({
  ...manifest,
  signature_ed25519: issuer.sign(manifestSignedBytes(manifest)),
});

export const buildManifest = (issuer: Issuer, options: ManifestOptions = {}): Manifest => signManifest(issuer, unsignedManifest(issuer, options));

export interface Registration {
  manifest: Manifest;
  beacons: Beacon[];
  watermarks: Watermark[];
  corpus?: Record<string, string>;
}

/** The request body with sidecars equal to the signed arrays (the well-formed case). */
export function registration(manifest: Manifest, corpus?: Record<string, string>): Registration {
  return {
    manifest,
    beacons: structuredClone(manifest.beacons as Beacon[]),
    watermarks: structuredClone(manifest.watermarks as Watermark[]),
    ...(corpus ? { corpus } : {}),
  };
}
