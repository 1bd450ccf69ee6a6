/**
 * The beacon zone: which names it holds and which of them are beacons.
 * Resolvers randomise the case of the names they ask ("0x20"), so names
 * compare case-insensitively; the token is reported in lowercase, as the
 * registry knows it.
 */

/** A beacon token: 32 lowercase hex digits, as the issuer registered it. */
const TOKEN = /^[0-9a-f]{32}$/;

export interface Zone {
  /** The beacon domain, lowercase, without a trailing dot. */
  apex: string;
  /** Name servers for the apex's NS and SOA records. */
  nameservers: string[];
  answerIps: string[];
  answerIpv6: string[];
  ttl: number;
}

export type Placement = { kind: "outside" } | { kind: "apex" } | { kind: "beacon"; tokenId: string } | { kind: "other" };

/** Lowercase, no trailing dot: the form names are compared in. */
export function canonicalName(name: string): string {
  return name.replace(/\.$/, "").toLowerCase();
}

/** Where `name` falls in `zone`: outside it, its apex, a beacon `<token>.t.<apex>`, or another name inside. */
export function place(zone: Zone, name: string): Placement {
  const lower = canonicalName(name);
  if (lower === zone.apex) return { kind: "apex" };
  const suffix = `.t.${zone.apex}`;
  if (lower.endsWith(suffix)) {
    const token = lower.slice(0, -suffix.length);
    if (TOKEN.test(token)) return { kind: "beacon", tokenId: token };
  }
  return lower.endsWith(`.${zone.apex}`) ? { kind: "other" } : { kind: "outside" };
}
