/**
 * Configuration from environment variables and command-line flags (flags win).
 * Every value is parsed at start-up; a bad one stops the registry with a
 * message naming the variable or flag, what it must be, and what it got,
 * instead of surfacing later as a confusing runtime failure.
 * docs/CONFIGURATION.md lists every name.
 */
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { readCommandLine, type OptionSpec } from "./cli/command-line.js";
import { SECRET_ADVICE, SECRET_RULE, secretWeakness } from "./core/secret-strength.js";
import { DEFAULT_HTTP_LIMITS } from "./http/server-limits.js";

export class ConfigError extends Error {
  /** One line per bad value. */
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** A registration may carry a manifest at its 256 KiB limit plus sidecar copies of its arrays and a corpus. */
export const MIN_BODY_BYTES = 2 * 262_144 + 131_072;
export const MAX_BODY_BYTES = 64 * 1_048_576;

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

const RateSchema = z.object({ perSecond: z.number().min(0), burst: z.number().int().min(1) });

export const ConfigSchema = z.object({
  mode: z.enum(["serve", "migrate", "validate"]),
  host: z.string().min(1),
  port: z.number().int().min(0).max(65_535),
  dataDir: z.string().min(1),
  db: z.string().min(1),
  operatorToken: z.string().min(1).nullable(),
  authDisabled: z.boolean(),
  dnsEventSecret: z.string().min(1).nullable(),
  corsOrigins: z.array(z.string()),
  jurisdiction: z.string().min(1),
  rekor: z.object({ enabled: z.boolean(), url: z.string() }),
  trustedProxy: z.boolean(),
  logOrigin: z.string().min(1),
  sqliteSynchronous: z.enum(["FULL", "NORMAL"]),
  rateLimits: z.object({ write: RateSchema, read: RateSchema, token: RateSchema, dns: RateSchema }),
  maxBodyBytes: z.number().int().min(MIN_BODY_BYTES).max(MAX_BODY_BYTES),
  logLevel: z.enum(LOG_LEVELS),
  httpLimits: z.object({
    headersTimeoutMs: z.number().int().positive(),
    requestTimeoutMs: z.number().int().positive(),
    keepAliveTimeoutMs: z.number().int().positive(),
  }),
  /** `--new-identity` (serve only); absent unless given. */
  newIdentity: z.literal(true).optional(),
  migrate: z
    .object({
      from: z.string().min(1),
      tlogDir: z.string().min(1).optional(),
      dryRun: z.boolean(),
      /** `--use-source-key` / `--keep-target-key`: which key wins when both data dirs hold different ones. */
      keyWinner: z.enum(["source", "target"]).optional(),
    })
    .nullable(),
});

export type Config = z.infer<typeof ConfigSchema>;
export type RateLimitSetting = z.infer<typeof RateSchema>;

/**
 * A value parser: a zod schema from the raw text to the typed value, and the
 * phrase that completes "<NAME> must be ...".
 */
interface Field<T> {
  schema: z.ZodType<T, string>;
  expected: string;
}

const field = <T>(schema: z.ZodType<T, string>, expected: string): Field<T> => ({ schema, expected });

const integer = (min: number, max: number) =>
  field(
    z
      .string()
      .regex(/^\d{1,9}$/)
      .transform(Number)
      .pipe(z.number().int().min(min).max(max)),
    `an integer ${min}..${max}`,
  );

const BOOLEAN = field(
  z
    .string()
    .regex(/^(1|0|true|false|yes|no)$/i)
    .transform((s) => /^(1|true|yes)$/i.test(s)),
  "one of 1/0/true/false/yes/no",
);

const HOST = field(z.string().regex(/^[A-Za-z0-9._:%-]{1,253}$/), "a host name or IP address");

const PATH_TEXT = field(z.string().regex(/^[^\0]+$/), "a file system path");

const HTTP_URL = field(
  z.string().refine((s) => {
    try {
      const url = new URL(s);
      return url.protocol === "https:" || url.protocol === "http:";
    } catch {
      return false;
    }
  }),
  "an http(s) URL",
);

const JURISDICTION = field(z.string().regex(/^[^\p{Cc}]{1,64}$/u), "1..64 characters without control characters");

// C2SP signed-note key names: non-empty, no whitespace, no '+'.
const ORIGIN_LINE = field(z.string().regex(/^[^\s+]{1,255}$/u), "1..255 characters without whitespace or '+'");

const SYNCHRONOUS = field(
  z
    .string()
    .regex(/^(full|normal)$/i)
    .transform((s) => s.toUpperCase() as "FULL" | "NORMAL"),
  "FULL or NORMAL",
);

const LOG_LEVEL = field(
  z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(LOG_LEVELS)),
  "one of debug/info/warn/error",
);

const PER_SECOND = field(
  z
    .string()
    .regex(/^\d{1,7}(\.\d{1,6})?$/)
    .transform(Number)
    .pipe(z.number().max(1_000_000)),
  "a number 0..1000000 (0 disables)",
);

const BURST = integer(1, 10_000_000);

const ORIGINS = field(
  z.string().transform((s, ctx) => {
    const origins: string[] = [];
    for (const entry of s
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e !== "")) {
      if (!isOrigin(entry)) {
        ctx.addIssue({ code: "custom", message: entry });
        return z.NEVER;
      }
      origins.push(entry);
    }
    return origins;
  }),
  "a comma-separated list of origins (scheme://host[:port], no path or trailing slash)",
);

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === value;
  } catch {
    return false;
  }
}

/** Flags taking a value, and the setting each one overrides. */
const VALUE_FLAGS = ["--host", "--port", "--db", "--data-dir", "--migrate-from", "--migrate-tlog"] as const;
const SWITCH_FLAGS = ["--migrate-dry-run", "--validate-db", "--new-identity", "--use-source-key", "--keep-target-key"] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];
type SwitchFlag = (typeof SWITCH_FLAGS)[number];

/** The serve / --migrate-from / --validate-db flags, for the one command-line parser (cli/command-line.ts). */
export const SERVE_FLAGS: OptionSpec = Object.fromEntries([
  ...VALUE_FLAGS.map((flag) => [flag.slice(2), { type: "string" as const }]),
  ...SWITCH_FLAGS.map((flag) => [flag.slice(2), { type: "boolean" as const }]),
]);

interface ParsedArgs {
  values: Partial<Record<ValueFlag, string>>;
  switches: Set<SwitchFlag>;
}

function parseArgs(argv: string[], problems: string[]): ParsedArgs {
  const line = readCommandLine(argv, SERVE_FLAGS);
  problems.push(...line.problems, ...line.positionals.map((arg) => `unexpected argument '${arg}'`));
  const values: ParsedArgs["values"] = {};
  for (const flag of VALUE_FLAGS) {
    const value = line.values[flag.slice(2)];
    if (typeof value === "string") values[flag] = value;
  }
  return { values, switches: new Set(SWITCH_FLAGS.filter((flag) => (line.values[flag.slice(2)] as unknown) === true)) };
}

function keyWinnerOf(switches: Set<SwitchFlag>, migrating: boolean, problems: string[]): "source" | "target" | undefined {
  const source = switches.has("--use-source-key");
  const target = switches.has("--keep-target-key");
  if ((source || target) && !migrating) problems.push(`${source ? "--use-source-key" : "--keep-target-key"} needs --migrate-from`);
  if (source && target) problems.push("--use-source-key and --keep-target-key cannot be combined");
  return source ? "source" : target ? "target" : undefined;
}

/** Parses env and flags into a Config; throws ConfigError listing every bad value. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv, cwd: string = process.cwd()): Config {
  const problems: string[] = [];
  const args = parseArgs(argv, problems);

  /** The raw text of a setting and the name to blame: the flag when given, else the variable. Empty counts as unset. */
  function raw(name: string, flag?: ValueFlag): { text: string; source: string } | undefined {
    const fromFlag = flag === undefined ? undefined : args.values[flag];
    if (fromFlag !== undefined) return { text: fromFlag, source: flag! };
    const fromEnv = env[name];
    return fromEnv === undefined || fromEnv === "" ? undefined : { text: fromEnv, source: name };
  }

  function read<T>(name: string, parser: Field<T>, fallback: T, flag?: ValueFlag): T {
    const given = raw(name, flag);
    if (given === undefined) return fallback;
    const parsed = parser.schema.safeParse(given.text);
    if (parsed.success) return parsed.data;
    problems.push(`${given.source} must be ${parser.expected}, got '${printable(given.text)}'`);
    return fallback;
  }

  /** Like read, but the message never quotes the value: a rejected secret may still be a real one, mistyped. */
  function readSecret(name: string): string | null {
    const given = raw(name);
    if (given === undefined) return null;
    const weakness = secretWeakness(given.text);
    if (weakness === null) return given.text;
    problems.push(`${name} must be ${SECRET_RULE}, but ${weakness}; ${SECRET_ADVICE}`);
    return null;
  }

  const resolvePath = (p: string) => path.resolve(cwd, p);

  const dataDir = resolvePath(read("OVERSIGHT_DATA", PATH_TEXT, "./data", "--data-dir"));
  const db = resolvePath(read("OVERSIGHT_DB", PATH_TEXT, path.join(dataDir, "oversight-registry.sqlite"), "--db"));
  const rate = (kind: string, perSecond: number, burst: number) => ({
    perSecond: read(`OVERSIGHT_RATE_${kind}_PER_S`, PER_SECOND, perSecond),
    burst: read(`OVERSIGHT_RATE_${kind}_BURST`, BURST, burst),
  });

  const migrateFrom = args.values["--migrate-from"];
  const validate = args.switches.has("--validate-db");
  if (migrateFrom !== undefined && validate) problems.push("--migrate-from and --validate-db cannot be combined");
  if (migrateFrom === undefined) {
    if (args.values["--migrate-tlog"] !== undefined) problems.push("--migrate-tlog needs --migrate-from");
    if (args.switches.has("--migrate-dry-run")) problems.push("--migrate-dry-run needs --migrate-from");
  }
  const keyWinner = keyWinnerOf(args.switches, migrateFrom !== undefined, problems);
  const newIdentity = args.switches.has("--new-identity");
  if (newIdentity && (migrateFrom !== undefined || validate)) problems.push("--new-identity is for serving, not for --migrate-from or --validate-db");
  const migrateTlog = args.values["--migrate-tlog"];

  // Slow and idle clients are cut off in seconds; Node refuses a headers timeout longer than the request timeout.
  const httpLimits = {
    headersTimeoutMs: read("OVERSIGHT_HEADERS_TIMEOUT_MS", integer(100, 600_000), DEFAULT_HTTP_LIMITS.headersTimeoutMs),
    requestTimeoutMs: read("OVERSIGHT_REQUEST_TIMEOUT_MS", integer(100, 3_600_000), DEFAULT_HTTP_LIMITS.requestTimeoutMs),
    keepAliveTimeoutMs: read("OVERSIGHT_KEEP_ALIVE_TIMEOUT_MS", integer(100, 600_000), DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs),
  };
  if (httpLimits.headersTimeoutMs > httpLimits.requestTimeoutMs) {
    problems.push("OVERSIGHT_HEADERS_TIMEOUT_MS must not be larger than OVERSIGHT_REQUEST_TIMEOUT_MS");
  }

  const config: Config = {
    mode: migrateFrom !== undefined ? "migrate" : validate ? "validate" : "serve",
    host: read("OVERSIGHT_HOST", HOST, "127.0.0.1", "--host"),
    port: read("OVERSIGHT_PORT", integer(0, 65_535), 8765, "--port"),
    dataDir,
    db,
    operatorToken: readSecret("OVERSIGHT_OPERATOR_TOKEN"),
    authDisabled: read("OVERSIGHT_AUTH_DISABLED", BOOLEAN, false),
    dnsEventSecret: readSecret("OVERSIGHT_DNS_EVENT_SECRET"),
    corsOrigins: read("OVERSIGHT_CORS_ORIGINS", ORIGINS, []),
    jurisdiction: read("OVERSIGHT_JURISDICTION", JURISDICTION, "GLOBAL"),
    rekor: {
      enabled: read("OVERSIGHT_REKOR_ENABLED", BOOLEAN, false),
      url: read("OVERSIGHT_REKOR_URL", HTTP_URL, "https://rekor.sigstore.dev"),
    },
    trustedProxy: read("TRUSTED_PROXY", BOOLEAN, false),
    logOrigin: read("OVERSIGHT_LOG_ORIGIN", ORIGIN_LINE, `${os.hostname()}/oversight-registry`),
    sqliteSynchronous: read("OVERSIGHT_SQLITE_SYNCHRONOUS", SYNCHRONOUS, "FULL"),
    rateLimits: {
      write: rate("WRITE", 10, 30),
      read: rate("READ", 100, 300),
      token: rate("TOKEN", 1000, 5000),
      dns: rate("DNS", 1000, 5000),
    },
    maxBodyBytes: read("OVERSIGHT_MAX_BODY_BYTES", integer(MIN_BODY_BYTES, MAX_BODY_BYTES), 1_048_576),
    logLevel: read("OVERSIGHT_LOG_LEVEL", LOG_LEVEL, "info"),
    httpLimits,
    ...(newIdentity ? { newIdentity: true as const } : {}),
    migrate:
      migrateFrom === undefined
        ? null
        : {
            from: resolvePath(migrateFrom),
            ...(migrateTlog === undefined ? {} : { tlogDir: resolvePath(migrateTlog) }),
            dryRun: args.switches.has("--migrate-dry-run"),
            ...(keyWinner === undefined ? {} : { keyWinner }),
          },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return ConfigSchema.parse(config);
}

/** Quotes a bad value for an error message without letting it break the line or flood the log. */
export function printable(text: string): string {
  const clean = text.replace(/\p{Cc}/gu, "?");
  return clean.length > 80 ? `${clean.slice(0, 80)}…` : clean;
}

/**
 * A summary for the start-up log. Secrets are never included, only whether
 * they are set; key names avoid the words the logger redacts so the summary
 * stays readable.
 */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    mode: config.mode,
    host: config.host,
    port: config.port,
    data_dir: config.dataDir,
    db: config.db,
    operator_auth: config.authDisabled
      ? "disabled (OVERSIGHT_AUTH_DISABLED)"
      : config.operatorToken !== null
        ? "configured (OVERSIGHT_OPERATOR_TOKEN)"
        : "not configured (read from or generated in the data dir)",
    dns_event_auth: config.dnsEventSecret !== null ? "shared key configured" : "loopback callers only",
    cors_extra_origins: config.corsOrigins,
    jurisdiction: config.jurisdiction,
    rekor: { enabled: config.rekor.enabled, url: withoutCredentials(config.rekor.url) },
    trusted_proxy: config.trustedProxy,
    log_origin: config.logOrigin,
    sqlite_synchronous: config.sqliteSynchronous,
    rate_limits: {
      write: config.rateLimits.write,
      read: config.rateLimits.read,
      per_operator: config.rateLimits.token,
      per_dns_bridge: config.rateLimits.dns,
    },
    max_body_bytes: config.maxBodyBytes,
    log_level: config.logLevel,
    http_limits_ms: config.httpLimits,
    ...(config.newIdentity ? { new_identity: true } : {}),
    ...(config.migrate === null ? {} : { migrate: config.migrate }),
  };
}

function withoutCredentials(url: string): string {
  const parsed = new URL(url);
  parsed.username = "";
  parsed.password = "";
  return parsed.toString();
}
