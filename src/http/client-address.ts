/**
 * Who is calling: the TCP peer, or behind a trusted reverse proxy the address
 * that proxy appended to X-Forwarded-For. Only the rightmost entry is the
 * proxy's own; entries to its left are whatever the client sent.
 */
import type { IncomingMessage } from "node:http";
import net from "node:net";

export type AddressedRequest = Pick<IncomingMessage, "headers" | "socket">;

const MAX_UNPARSED_LENGTH = 64;

export function clientAddress(req: AddressedRequest, trustedProxy: boolean): string {
  if (trustedProxy) {
    const forwarded = rightmostForwardedFor(req.headers["x-forwarded-for"]);
    if (forwarded !== null) return forwarded;
  }
  return normalizeAddress(req.socket.remoteAddress ?? "unknown");
}

function rightmostForwardedFor(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  const entries = (Array.isArray(header) ? header.join(",") : header)
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  const last = entries.at(-1);
  if (last === undefined) return null;
  return normalizeAddress(withoutPort(last)).slice(0, MAX_UNPARSED_LENGTH);
}

/** Some proxies write `1.2.3.4:5678` or `[::1]:5678`; the port is not part of the address. */
function withoutPort(entry: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(entry);
  if (bracketed) return bracketed[1]!;
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(entry);
  return v4WithPort ? v4WithPort[1]! : entry;
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) is reported as `1.2.3.4`. */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped && net.isIPv4(mapped[1]!)) return mapped[1]!;
  return address;
}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** 127.0.0.0/8 and ::1, in any spelling (including IPv4-mapped). */
export function isLoopback(address: string): boolean {
  const normalized = normalizeAddress(address);
  if (net.isIPv4(normalized)) return LOOPBACK.check(normalized, "ipv4");
  if (net.isIPv6(normalized)) return LOOPBACK.check(normalized, "ipv6");
  return false;
}
