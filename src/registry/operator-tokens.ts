/**
 * Named operator tokens (`operator_tokens`): each holder's own secret, kept
 * only as its SHA-256 and found by that hash, so a lookup costs the same
 * whatever secret is presented. The running registry reads the row on every
 * request, so what the `token` command commits (a revocation, a new token) is
 * seen by the very next request without a restart.
 */
import { randomBytes } from "node:crypto";
import type Database from "better-sqlite3";
import { z } from "zod";
import { secretDigest } from "../core/credential.js";
import { TokenScopesSchema, type TokenScopes } from "../core/token-scopes.js";

export const OPERATOR_TOKENS_SQL = `
CREATE TABLE operator_tokens (
    name TEXT PRIMARY KEY,
    secret_sha256 BLOB NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER,
    revoked_at INTEGER
);
ALTER TABLE manifests ADD COLUMN registered_by TEXT;
`;

/** The name registrations made with OVERSIGHT_OPERATOR_TOKEN (or the generated token file) record. */
export const BOOTSTRAP_TOKEN_NAME = "bootstrap";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Secrets carry a prefix so that secret scanners and people can tell one for what it is. */
const SECRET_PREFIX = "ovr_";

export class TokenStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenStoreError";
  }
}

export interface TokenRecord {
  name: string;
  scopes: TokenScopes;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/**
 * A row as the server reads it, on every request that presents its secret:
 * `--validate-db` reports the rows this refuses (tokenRowProblem), so the
 * check and the server apply one rule.
 */
const TokenRowSchema = z.object({
  name: z.string(),
  scopes: z.string().transform((text, context) => {
    try {
      return TokenScopesSchema.parse(JSON.parse(text));
    } catch {
      context.addIssue({ code: "custom", message: "scopes is not a JSON object of known scopes" });
      return z.NEVER;
    }
  }),
  created_at: z.int(),
  expires_at: z.int().nullable(),
  last_used_at: z.int().nullable(),
  revoked_at: z.int().nullable(),
});
type TokenRow = z.input<typeof TokenRowSchema>;

export function tokenNameProblem(name: string): string | null {
  if (!NAME.test(name)) return "a token name is 1..64 letters, digits, '.', '_' or '-', starting with a letter or digit";
  if (name === BOOTSTRAP_TOKEN_NAME) return `${JSON.stringify(BOOTSTRAP_TOKEN_NAME)} names OVERSIGHT_OPERATOR_TOKEN; choose another name`;
  return null;
}

const COLUMNS = "name, scopes, created_at, expires_at, last_used_at, revoked_at";

export class OperatorTokens {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      byHash: db.prepare<[Buffer], TokenRow>(`SELECT ${COLUMNS} FROM operator_tokens WHERE secret_sha256 = ?`),
      byName: db.prepare<[string], TokenRow>(`SELECT ${COLUMNS} FROM operator_tokens WHERE name = ?`),
      all: db.prepare<[], TokenRow>(`SELECT ${COLUMNS} FROM operator_tokens ORDER BY name`),
      insert: db.prepare<[string, Buffer, string, number, number | null]>(
        "INSERT INTO operator_tokens (name, secret_sha256, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
      ),
      revoke: db.prepare<[number, string]>("UPDATE operator_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL"),
      touch: db.prepare<[number, string]>("UPDATE operator_tokens SET last_used_at = ? WHERE name = ?"),
    };
  }

  /** Creates a token and returns its secret, which is stored nowhere: this is the only time anyone sees it. */
  create(input: { name: string; scopes: TokenScopes; now: number; expiresAt: number | null }): { secret: string; record: TokenRecord } {
    const problem = tokenNameProblem(input.name);
    if (problem !== null) throw new TokenStoreError(problem);
    const secret = SECRET_PREFIX + randomBytes(32).toString("base64url");
    try {
      this.sql.insert.run(input.name, secretDigest(secret), JSON.stringify(input.scopes), input.now, input.expiresAt);
    } catch (error) {
      // The table's key decides, so two `token create` racing on one name get the same answer as one after the other.
      if ((error as { code?: unknown }).code === "SQLITE_CONSTRAINT_PRIMARYKEY" || (error as { code?: unknown }).code === "SQLITE_CONSTRAINT_UNIQUE") {
        throw new TokenStoreError(`a token named ${JSON.stringify(input.name)} already exists`);
      }
      throw error;
    }
    return { secret, record: this.get(input.name)! };
  }

  findBySecret(secret: string): TokenRecord | null {
    const row = this.sql.byHash.get(secretDigest(secret));
    return row ? toRecord(row) : null;
  }

  get(name: string): TokenRecord | null {
    const row = this.sql.byName.get(name);
    return row ? toRecord(row) : null;
  }

  list(): TokenRecord[] {
    return this.sql.all.all().map(toRecord);
  }

  /** Revokes `name`; throws on an unknown name. Revoking twice keeps the first time. */
  revoke(name: string, now: number): TokenRecord {
    if (!this.sql.byName.get(name)) throw new TokenStoreError(`no token named ${JSON.stringify(name)} (see \`token list\`)`);
    this.sql.revoke.run(now, name);
    return this.get(name)!;
  }

  touch(name: string, now: number): void {
    this.sql.touch.run(now, name);
  }
}

function toRecord(row: TokenRow): TokenRecord {
  const parsed = TokenRowSchema.parse(row);
  return {
    name: parsed.name,
    scopes: parsed.scopes,
    createdAt: parsed.created_at,
    expiresAt: parsed.expires_at,
    lastUsedAt: parsed.last_used_at,
    revokedAt: parsed.revoked_at,
  };
}

/** Why the server could not use this `operator_tokens` row (`--validate-db`), or null when it can. */
export function tokenRowProblem(row: TokenRow & { secret_sha256: unknown }): string | null {
  const nameProblem = tokenNameProblem(row.name);
  if (nameProblem !== null) return nameProblem;
  if (!Buffer.isBuffer(row.secret_sha256) || row.secret_sha256.length !== 32) return "secret_sha256 is not 32 bytes, so no secret can match it";
  const parsed = TokenRowSchema.safeParse(row);
  return parsed.success ? null : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
}
