/** The requests bench:http sends: signed registrations, their beacon and DNS hits, and reads of the tree size. */
import { randomBytes } from "node:crypto";
import { generateSeed, signerFromSeed, type Signer } from "../src/core/ed25519.js";
import { toHex } from "../src/core/hex.js";
import { manifestSignedBytes } from "../src/core/manifest.js";
import type { LoadRequest } from "./load.js";

const ISSUERS = 4;

export interface Registration {
  fileId: string;
  httpToken: string;
  dnsToken: string;
  body: Buffer;
}

interface Issuer {
  id: string;
  signer: Signer;
}

const issuers: Issuer[] = Array.from({ length: ISSUERS }, (_, i) => ({ id: `bench-issuer-${i}`, signer: signerFromSeed(generateSeed()) }));

/** A signed manifest with 2 beacons and 2 watermarks, signed the way test/issuer.ts signs. */
export function signedManifest(run: string, i: number): Record<string, unknown> {
  const issuer = issuers[i % issuers.length]!;
  const manifest: Record<string, unknown> = {
    file_id: `${run}-file-${i}`,
    issued_at: 1795395279,
    issuer_id: issuer.id,
    issuer_ed25519_pub: issuer.signer.publicKeyHex,
    recipient: { recipient_id: `${run}-recipient-${i % 997}`, x25519_pub: "00".repeat(32) },
    beacons: [
      { token_id: `${run}h${i}`, kind: "http" },
      { token_id: `${run}d${i}`, kind: "dns" },
    ],
    watermarks: [
      { mark_id: `${run}z${i}`, layer: "L1_zero_width" },
      { mark_id: `${run}s${i}`, layer: "L3_semantic" },
    ],
  };
  manifest["signature_ed25519"] = toHex(issuer.signer.sign(manifestSignedBytes(manifest)));
  return manifest;
}

export function prepareRegistrations(count: number): Registration[] {
  const run = randomBytes(4).toString("hex");
  return Array.from({ length: count }, (_, i) => {
    const manifest = signedManifest(run, i);
    const body = Buffer.from(JSON.stringify({ manifest, beacons: manifest["beacons"], watermarks: manifest["watermarks"] }));
    return { fileId: manifest["file_id"] as string, httpToken: `${run}h${i}`, dnsToken: `${run}d${i}`, body };
  });
}

export function jsonHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { "content-type": "application/json", ...extra };
}

/** Cycles through prepared requests. */
export function cycle(requests: LoadRequest[]): () => LoadRequest {
  let next = 0;
  return () => requests[next++ % requests.length]!;
}

export async function treeSize(url: string): Promise<number> {
  const res = await fetch(`${url}/tlog/head`);
  if (!res.ok) throw new Error(`GET /tlog/head answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { size: number }).size;
}
