/**
 * `oversight-registry token create|list|revoke`: manages named operator tokens
 * in the registry's database while the registry runs. It takes no data
 * directory lock: it writes one row beside the server, SQLite's busy timeout
 * orders the two, and the server reads token rows on every request.
 */
import fs from "node:fs";
import { CommandError, parseCommandLine, registryPaths, runCommandSync, UsageError, type CommandIo } from "../cli/command-line.js";
import { ForeignDataError, refuseForeignData } from "../foreign-data.js";
import { ScopeError, describeRegister, scopesFrom, type TokenScopes } from "../core/token-scopes.js";
import { openDatabase } from "../registry/database.js";
import { OperatorTokens, TokenStoreError, type TokenRecord } from "../registry/operator-tokens.js";
import { isoSeconds, systemClock, type Clock } from "../registry/time.js";

export const TOKEN_USAGE = `Usage:
  oversight-registry token create --name NAME --scope SCOPE[,SCOPE] [--issuer-id ID] [--issuer-prefix P]
      [--issuer-key HEX] [--expires 90d] [--data-dir DIR] [--db FILE]
      scopes: register, attribute, admin; --issuer-* (repeatable) limit register.
      Prints the new secret once, as JSON on stdout; only its hash is stored.
  oversight-registry token list [--data-dir DIR] [--db FILE]
      every token with its scopes, expiry, last use and revocation (never a secret)
  oversight-registry token revoke NAME [--data-dir DIR] [--db FILE]
      refused from the running registry's next request on
`;

export interface TokenIo extends CommandIo {
  clock?: Clock;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90d`, `12h`, `30m`, `45s` as seconds; throws UsageError otherwise. */
export function parseLifetime(text: string): number {
  const match = /^([1-9][0-9]{0,5})([smhd])$/.exec(text);
  if (!match) throw new UsageError(`--expires must be a whole number followed by s, m, h or d (e.g. 90d), got ${JSON.stringify(text)}`);
  return Number(match[1]) * UNIT_SECONDS[match[2]!]!;
}

export function tokenCommand(args: string[], io: TokenIo): number {
  return runCommandSync("token", TOKEN_USAGE, io, () => {
    try {
      return run(args, io);
    } catch (error) {
      if (error instanceof ScopeError) throw new UsageError(error.message);
      if (error instanceof TokenStoreError || error instanceof ForeignDataError) throw new CommandError(error.message);
      throw error;
    }
  });
}

const OPTIONS = {
  name: { type: "string" },
  scope: { type: "string", multiple: true },
  "issuer-id": { type: "string", multiple: true },
  "issuer-prefix": { type: "string", multiple: true },
  "issuer-key": { type: "string", multiple: true },
  expires: { type: "string" },
  "data-dir": { type: "string" },
  db: { type: "string" },
} as const;

function run(args: string[], io: TokenIo): number | "help" {
  const [action, ...rest] = args;
  if (action === "--help" || action === "-h" || action === "help") return "help";
  if (action === undefined) throw new UsageError("which token command: create, list or revoke?");
  const parsed = parseCommandLine(rest, OPTIONS, { min: 0, max: Infinity, name: "" });
  if (parsed === "help") return "help";
  const { values, positionals } = parsed;
  const now = (io.clock ?? systemClock)();
  const open = () => openTokens(values["data-dir"], values.db, io);
  switch (action) {
    case "create": {
      if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
      if (values.name === undefined) throw new UsageError("token create needs --name");
      const scopes = scopesFrom({
        scopes: values.scope ?? [],
        issuerIds: values["issuer-id"] ?? [],
        issuerPrefixes: values["issuer-prefix"] ?? [],
        issuerKeys: values["issuer-key"] ?? [],
      });
      const expiresAt = values.expires === undefined ? null : now + parseLifetime(values.expires);
      const { secret, record } = withTokens(open, (tokens) => tokens.create({ name: values.name!, scopes, now, expiresAt }));
      io.stdout.write(`${JSON.stringify({ ...describe(record, now), secret }, null, 2)}\n`);
      io.stderr.write(`token ${JSON.stringify(record.name)} created: its secret is shown only now, and only its hash is stored\n`);
      return 0;
    }
    case "list": {
      refuseOptions(values, ["data-dir", "db"], "list");
      if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
      const records = withTokens(open, (tokens) => tokens.list());
      io.stdout.write(
        `${JSON.stringify(
          records.map((record) => describe(record, now)),
          null,
          2,
        )}\n`,
      );
      return 0;
    }
    case "revoke": {
      refuseOptions(values, ["data-dir", "db"], "revoke");
      if (positionals.length !== 1) throw new UsageError("token revoke needs exactly one token NAME");
      const record = withTokens(open, (tokens) => tokens.revoke(positionals[0]!, now));
      io.stdout.write(`${JSON.stringify(describe(record, now), null, 2)}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown token command ${JSON.stringify(action)} (create, list or revoke)`);
  }
}

function refuseOptions(values: Record<string, unknown>, allowed: string[], action: string): void {
  const extra = Object.keys(values).filter((key) => values[key] !== undefined && !allowed.includes(key));
  if (extra.length > 0) throw new UsageError(`token ${action} takes no --${extra[0]}`);
}

/** The database `serve` would use (cli/command-line.ts registryPaths). */
function openTokens(dataDirFlag: string | undefined, dbFlag: string | undefined, io: TokenIo) {
  const { dataDir, db: file } = registryPaths({ dataDir: dataDirFlag, db: dbFlag }, io);
  if (!fs.existsSync(file)) {
    throw new TokenStoreError(`no registry database at ${file}; start the registry once, or give --data-dir / --db (or OVERSIGHT_DATA / OVERSIGHT_DB)`);
  }
  // Opening it would run our migrations on another program's tables.
  refuseForeignData(dataDir, file);
  return openDatabase(file);
}

function withTokens<T>(open: () => ReturnType<typeof openDatabase>, use: (tokens: OperatorTokens) => T): T {
  const db = open();
  try {
    return use(new OperatorTokens(db));
  } finally {
    db.close();
  }
}

function describe(record: TokenRecord, now: number) {
  const status = record.revokedAt !== null ? "revoked" : record.expiresAt !== null && record.expiresAt <= now ? "expired" : "active";
  const time = (seconds: number | null) => (seconds === null ? null : isoSeconds(seconds));
  return {
    name: record.name,
    status,
    scopes: scopeNames(record.scopes),
    register_for: record.scopes.register === undefined ? null : describeRegister(record.scopes),
    created_at: time(record.createdAt),
    expires_at: time(record.expiresAt),
    last_used_at: time(record.lastUsedAt),
    revoked_at: time(record.revokedAt),
  };
}

const scopeNames = (scopes: TokenScopes) => (["register", "attribute", "admin"] as const).filter((name) => scopes[name] !== undefined);
