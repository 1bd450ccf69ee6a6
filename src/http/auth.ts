/**
 * Shared-secret checks for the write routes: the operator token for
 * /register and /attribute, the DNS bridge secret for /dns_event. Secrets are
 * compared as SHA-256 digests with timingSafeEqual, so neither the content nor
 * the length of the expected value leaks through response timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { RequestHandler } from "express";
import { RegistryError } from "../core/errors.js";
import { clientAddress, isLoopback } from "./client-address.js";

export const OPERATOR_TOKEN_HEADER = "x-oversight-operator-token";
export const DNS_SECRET_HEADER = "x-oversight-dns-secret";

/** `Authorization: Bearer <t>`, else the named header; null when neither is present. */
export function presentedCredential(headers: IncomingHttpHeaders, header: string): string | null {
  const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(headers.authorization ?? "");
  if (bearer) return bearer[1]!;
  const value = headers[header];
  const single = Array.isArray(value) ? value[0] : value;
  return single === undefined || single.trim() === "" ? null : single.trim();
}

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/** Constant-time equality of a presented credential with the expected one. */
export function credentialMatches(presented: string | null, expected: string): boolean {
  // Hash even a missing credential so that "absent" and "wrong" take the same time.
  return timingSafeEqual(digest(presented ?? ""), digest(expected)) && presented !== null;
}

function unauthorized(message: string): RegistryError {
  return new RegistryError("auth_required", message);
}

/** Whether a request carries the operator token; `null` (OVERSIGHT_AUTH_DISABLED=1) admits every request. */
export function operatorAdmits(headers: IncomingHttpHeaders, token: string | null): boolean {
  return token === null || credentialMatches(presentedCredential(headers, OPERATOR_TOKEN_HEADER), token);
}

/** Requires the operator token; `null` (OVERSIGHT_AUTH_DISABLED=1) lets every request through. */
export function operatorAuth(token: string | null): RequestHandler {
  return (req, res, next) => {
    if (operatorAdmits(req.headers, token)) {
      next();
      return;
    }
    res.setHeader("WWW-Authenticate", 'Bearer realm="oversight-registry"');
    next(unauthorized("operator token missing or wrong (Authorization: Bearer <token> or X-Oversight-Operator-Token)"));
  };
}

export interface DnsAuthOptions {
  secret: string | null;
  trustedProxy: boolean;
}

/** The rule of `dnsAuth` below, as a yes/no for callers that answer refusals elsewhere. */
export function dnsAdmits(req: IncomingMessage, { secret, trustedProxy }: DnsAuthOptions): boolean {
  if (secret !== null) return credentialMatches(presentedCredential(req.headers, DNS_SECRET_HEADER), secret);
  const proxied = req.headers["x-forwarded-for"] !== undefined || req.headers.forwarded !== undefined;
  return isLoopback(clientAddress(req, trustedProxy)) && (trustedProxy || !proxied);
}

/**
 * With a DNS secret, callers must present it. Without one, only a bridge on
 * this machine is trusted, and only when no local proxy stands between
 * (through a proxy every caller would look like loopback); anything else is
 * refused with 503 so a missing secret fails closed and tells the operator why.
 */
export function dnsAuth(options: DnsAuthOptions): RequestHandler {
  const { secret } = options;
  return (req, res, next) => {
    if (dnsAdmits(req, options)) {
      next();
      return;
    }
    if (secret !== null) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="oversight-registry-dns"');
      next(unauthorized("DNS event secret missing or wrong (Authorization: Bearer <secret> or X-Oversight-DNS-Secret)"));
      return;
    }
    next(
      new RegistryError(
        "server_error",
        "DNS events are accepted only from loopback callers because no secret is configured; set OVERSIGHT_DNS_EVENT_SECRET",
        { status: 503 },
      ),
    );
  };
}
