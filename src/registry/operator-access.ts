/**
 * Who an operator request comes from, and whether its token has the scope
 * the route needs: the one rule the Express middleware and the fast path
 * both call. The bootstrap token (OVERSIGHT_OPERATOR_TOKEN or the generated
 * file) has every scope, as the single token of v1 had; named tokens come
 * from `operator_tokens` by the hash of the presented secret.
 */
import { digestMatches, secretDigest } from "../core/credential.js";
import { RegistryError } from "../core/errors.js";
import { FULL_SCOPES, hasScope, type ScopeName, type TokenScopes } from "../core/token-scopes.js";
import { BOOTSTRAP_TOKEN_NAME, OperatorTokens } from "./operator-tokens.js";
import type { Registry } from "./registry.js";
import { isoSeconds, type Clock } from "./time.js";

/** Whose token a request carries; registrations record `name`. */
export interface Operator {
  name: string;
  scopes: TokenScopes;
}

/**
 * A token's last use is written at most once a minute, through the
 * registry's writes, so attribution lookups do not each become a write.
 */
export const LAST_USED_INTERVAL_SECONDS = 60;

export const MISSING_OR_WRONG = "operator token missing or wrong (Authorization: Bearer <token> or X-Oversight-Operator-Token)";

export interface OperatorAccessOptions {
  /** The full-scope token; null: OVERSIGHT_AUTH_DISABLED=1, every request is admitted as nobody. */
  bootstrap: string | null;
  tokens: OperatorTokens;
  clock: Clock;
  /** Records that token `name` was used at `at` (a token_used fact, through the registry's writes). */
  recordUse: (name: string, at: number) => Promise<unknown>;
}

export class OperatorAccess {
  private readonly bootstrapDigest: Buffer | null;
  private readonly lastWritten = new Map<string, number>();

  constructor(private readonly options: OperatorAccessOptions) {
    this.bootstrapDigest = options.bootstrap === null ? null : secretDigest(options.bootstrap);
  }

  /** Over a registry's own database, clock and sequencer. */
  static of(registry: Registry, bootstrap: string | null): OperatorAccess {
    return new OperatorAccess({
      bootstrap,
      tokens: new OperatorTokens(registry.db),
      clock: registry.clock,
      recordUse: (name, at) => registry.write({ kind: "token_used", name, at }),
    });
  }

  /**
   * The operator behind `presented` if its token has `scope`; otherwise throws
   * `auth_required` (401 for a missing, wrong, expired or revoked token, 403
   * for a token without the scope). Changes nothing but an admitted token's last use.
   */
  admit(presented: string | null, scope: ScopeName): Operator | null {
    if (this.bootstrapDigest === null) return null;
    const operator = this.identify(presented);
    if (!hasScope(operator.scopes, scope)) {
      throw new RegistryError("auth_required", `missing scope ${scope}: token ${JSON.stringify(operator.name)} may not use this route`, {
        status: 403,
      });
    }
    if (operator.name !== BOOTSTRAP_TOKEN_NAME) this.noteUse(operator.name);
    return operator;
  }

  private identify(presented: string | null): Operator {
    if (digestMatches(presented, this.bootstrapDigest!)) {
      return { name: BOOTSTRAP_TOKEN_NAME, scopes: FULL_SCOPES };
    }
    const record = presented === null ? null : this.options.tokens.findBySecret(presented);
    if (record === null) throw new RegistryError("auth_required", MISSING_OR_WRONG);
    const now = this.options.clock();
    if (record.revokedAt !== null) {
      throw new RegistryError("auth_required", `operator token ${JSON.stringify(record.name)} was revoked at ${isoSeconds(record.revokedAt)}`);
    }
    if (record.expiresAt !== null && record.expiresAt <= now) {
      throw new RegistryError("auth_required", `operator token ${JSON.stringify(record.name)} expired at ${isoSeconds(record.expiresAt)}`);
    }
    return { name: record.name, scopes: record.scopes };
  }

  private noteUse(name: string): void {
    const now = this.options.clock();
    const last = this.lastWritten.get(name);
    if (last !== undefined && now - last < LAST_USED_INTERVAL_SECONDS) return;
    this.lastWritten.set(name, now);
    // Best effort: a registry that serves reads only (fork) or is closing records no use.
    void Promise.resolve()
      .then(() => this.options.recordUse(name, now))
      .catch(() => this.lastWritten.delete(name));
  }
}
