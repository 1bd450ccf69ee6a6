/**
 * The leaf objects of the registry v1 log (docs/PROTOCOL.md#log-leaves). Leaf bytes are the
 * JCS of these objects. Fields copied from requests are capped so that every
 * leaf fits a C2SP entry bundle (65,535 bytes); the event row stores the same
 * capped values, so a verifier can compare the two.
 */
import { canonicalize } from "../verify/jcs.js";

const canonicalBuffer = (value: unknown): Buffer => Buffer.from(canonicalize(value), "utf8");

export const FIELD_CAPS = { userAgent: 1024, sourceIp: 256, qname: 1024, qtype: 64 } as const;

/** Truncates to at most `maxBytes` of UTF-8 without splitting a character. */
export function capUtf8(value: string, maxBytes: number): string {
  if (Buffer.byteLength(value, "utf8") <= maxBytes) return value;
  let bytes = 0;
  let end = 0;
  for (const char of value) {
    const size = Buffer.byteLength(char, "utf8");
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return value.slice(0, end);
}

export interface RegisterLeaf {
  fileId: string;
  recipientId: string;
  issuerId: string;
  issuerPub: string;
  nBeacons: number;
  nWatermarks: number;
  timestamp: string;
}

export function registerLeaf(leaf: RegisterLeaf): Buffer {
  return canonicalBuffer({
    event: "register",
    file_id: leaf.fileId,
    recipient_id: leaf.recipientId,
    issuer_id: leaf.issuerId,
    issuer_pub: leaf.issuerPub,
    n_beacons: leaf.nBeacons,
    n_watermarks: leaf.nWatermarks,
    timestamp: leaf.timestamp,
  });
}

export const BEACON_KINDS = ["http_img", "ocsp", "license"] as const;
export type BeaconKind = (typeof BEACON_KINDS)[number];

export interface BeaconLeaf {
  kind: BeaconKind;
  tokenId: string;
  fileId: string | null;
  recipientId: string | null;
  sourceIp: string;
  userAgent: string;
  timestamp: string;
}

export function beaconLeaf(leaf: BeaconLeaf): Buffer {
  return canonicalBuffer({
    event: "beacon",
    kind: leaf.kind,
    token_id: leaf.tokenId,
    file_id: leaf.fileId,
    recipient_id: leaf.recipientId,
    source_ip: leaf.sourceIp,
    user_agent: leaf.userAgent,
    timestamp: leaf.timestamp,
  });
}

export interface DnsLeaf {
  tokenId: string;
  fileId: string | null;
  recipientId: string | null;
  sourceIp: string;
  qname: string;
  qtype: string;
  timestamp: string;
}

export function dnsLeaf(leaf: DnsLeaf): Buffer {
  return canonicalBuffer({
    event: "beacon",
    kind: "dns",
    token_id: leaf.tokenId,
    file_id: leaf.fileId,
    recipient_id: leaf.recipientId,
    source_ip: leaf.sourceIp,
    qname: leaf.qname,
    qtype: leaf.qtype,
    timestamp: leaf.timestamp,
  });
}
