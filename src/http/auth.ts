/**
 * Credential checks for the write routes: an operator token with the route's
 * scope for /register and /attribute (registry/operator-access.ts), the DNS
 * bridge secret for /dns_event. Secrets are compared as SHA-256 digests with
 * timingSafeEqual, or looked up by their hash, so neither the content nor the
 * length of the expected value leaks through response timing.
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { RequestHandler } from "express";
import { digestMatches, secretDigest } from "../core/credential.js";
import { RegistryError } from "../core/errors.js";
import type { ScopeName } from "../core/token-scopes.js";
import type { Operator, OperatorAccess } from "../registry/operator-access.js";
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

/** Constant-time equality of a presented credential with the expected one. */
export function credentialMatches(presented: string | null, expected: string): boolean {
  return digestMatches(presented, secretDigest(expected));
}

function unauthorized(message: string): RegistryError {
  return new RegistryError("auth_required", message);
}

const operators = new WeakMap<IncomingMessage, Operator | null>();

/** The operator an admitted request came from (null with auth disabled), for its bucket and its use-case. */
export function operatorOf(req: IncomingMessage): Operator | null {
  return operators.get(req) ?? null;
}

/** Admits a request whose operator token has `scope` and remembers who sent it, or throws the refusal. */
function admitOperator(req: IncomingMessage, access: OperatorAccess, scope: ScopeName): Operator | null {
  const operator = access.admit(presentedCredential(req.headers, OPERATOR_TOKEN_HEADER), scope);
  operators.set(req, operator);
  return operator;
}

/** Requires an operator token with `scope`; with auth disabled every request passes. */
export function operatorAuth(access: OperatorAccess, scope: ScopeName): RequestHandler {
  return (req, res, next) => {
    try {
      admitOperator(req, access, scope);
    } catch (error) {
      if (error instanceof RegistryError && error.status === 401) res.setHeader("WWW-Authenticate", 'Bearer realm="oversight-registry"');
      next(error);
      return;
    }
    next();
  };
}

export interface DnsAuthOptions {
  secret: string | null;
  trustedProxy: boolean;
}

/** The rule of `dnsAuth` below, as a yes/no. */
function dnsAdmits(req: IncomingMessage, { secret, trustedProxy }: DnsAuthOptions): boolean {
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
      new RegistryError("server_error", "DNS events are accepted only from loopback callers because no secret is configured; set OVERSIGHT_DNS_EVENT_SECRET", {
        status: 503,
      }),
    );
  };
}
