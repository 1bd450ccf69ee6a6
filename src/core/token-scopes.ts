/**
 * What an operator token may do. `register` may be limited to issuers (by
 * exact id, id prefix or public key: a registration passes when it matches
 * any listed limit, and every kind of limit left empty admits all);
 * `attribute` is its own scope because attribution reveals who received
 * what; `admin` is token management. Pure: the HTTP layer, the registration
 * use-case and the `token` command all ask these functions.
 */
import { z } from "zod";

export const SCOPE_NAMES = ["register", "attribute", "admin"] as const;
export type ScopeName = (typeof SCOPE_NAMES)[number];

const Limit = z.array(z.string().min(1).max(256)).max(100);

export const TokenScopesSchema = z.strictObject({
  register: z.strictObject({ issuer_ids: Limit.default([]), issuer_prefixes: Limit.default([]), issuer_keys: Limit.default([]) }).optional(),
  attribute: z.literal(true).optional(),
  admin: z.literal(true).optional(),
});
export type TokenScopes = z.infer<typeof TokenScopesSchema>;

/** The bootstrap token's scopes (OVERSIGHT_OPERATOR_TOKEN or the generated file): everything, any issuer. */
export const FULL_SCOPES: TokenScopes = {
  register: { issuer_ids: [], issuer_prefixes: [], issuer_keys: [] },
  attribute: true,
  admin: true,
};

export class ScopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScopeError";
  }
}

export interface ScopeRequest {
  /** `register`, `attribute` or `admin`, from `--scope` (repeated or comma separated). */
  scopes: string[];
  issuerIds?: string[];
  issuerPrefixes?: string[];
  issuerKeys?: string[];
}

/** Scopes from the `token create` flags; throws ScopeError naming what is wrong. */
export function scopesFrom(request: ScopeRequest): TokenScopes {
  const names = request.scopes
    .flatMap((value) => value.split(","))
    .map((name) => name.trim())
    .filter((name) => name !== "");
  if (names.length === 0) throw new ScopeError(`--scope is required (one or more of ${SCOPE_NAMES.join(", ")})`);
  const unknown = names.filter((name) => !(SCOPE_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new ScopeError(`unknown scope ${unknown.map((name) => JSON.stringify(name)).join(", ")} (expected ${SCOPE_NAMES.join(", ")})`);
  }
  const limits = {
    issuer_ids: request.issuerIds ?? [],
    issuer_prefixes: request.issuerPrefixes ?? [],
    issuer_keys: (request.issuerKeys ?? []).map((key) => key.toLowerCase()),
  };
  const limited = Object.values(limits).some((list) => list.length > 0);
  if (limited && !names.includes("register")) {
    throw new ScopeError("--issuer-id, --issuer-prefix and --issuer-key limit the register scope; add --scope register");
  }
  if (limits.issuer_keys.some((key) => !/^[0-9a-f]{64}$/.test(key))) {
    throw new ScopeError("--issuer-key must be an Ed25519 public key in 64 hex characters");
  }
  const parsed = TokenScopesSchema.safeParse({
    ...(names.includes("register") ? { register: limits } : {}),
    ...(names.includes("attribute") ? { attribute: true } : {}),
    ...(names.includes("admin") ? { admin: true } : {}),
  });
  if (!parsed.success) throw new ScopeError(`malformed scope: ${parsed.error.issues.map((issue) => issue.message).join("; ")}`);
  return parsed.data;
}

export function hasScope(scopes: TokenScopes, name: ScopeName): boolean {
  return scopes[name] !== undefined;
}

/** Why `scopes` may not register for this issuer, or null when it may. Names the scope that is missing. */
export function registerRefusal(scopes: TokenScopes, issuerId: string, issuerPub: string): string | null {
  const register = scopes.register;
  if (register === undefined) return "missing scope register";
  const { issuer_ids: ids, issuer_prefixes: prefixes, issuer_keys: keys } = register;
  const byId = ids.length + prefixes.length === 0 || ids.includes(issuerId) || prefixes.some((prefix) => issuerId.startsWith(prefix));
  const byKey = keys.length === 0 || keys.includes(issuerPub.toLowerCase());
  if (byId && byKey) return null;
  return `missing scope register for issuer ${JSON.stringify(issuerId)}${byKey ? "" : " with this issuer key"} (this token may register for ${describeRegister(scopes)})`;
}

/** `token list`'s and refusals' words for what a register scope allows. */
export function describeRegister(scopes: TokenScopes): string {
  const register = scopes.register;
  if (register === undefined) return "no issuer";
  const parts = [
    ...register.issuer_ids.map((id) => `issuer id ${JSON.stringify(id)}`),
    ...register.issuer_prefixes.map((prefix) => `issuer ids starting ${JSON.stringify(prefix)}`),
  ];
  const who = parts.length === 0 ? "any issuer" : parts.join(" or ");
  return register.issuer_keys.length === 0 ? who : `${who} with key ${register.issuer_keys.join(" or ")}`;
}
