/**
 * The DNS bridge's settings, from flags and environment variables (flags
 * win), each parsed by a zod schema at start-up. A bad value stops the bridge
 * with one line per problem naming the flag or variable, never echoing a
 * secret. The secret comes from the environment or a file, never a flag: a
 * command line is visible to every user of the machine.
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { z } from "zod";
import { fileProblem, readCommandLine, type OptionSpec } from "../cli/command-line.js";
import { printable } from "../config.js";
import { SECRET_ADVICE, SECRET_RULE, secretWeakness } from "../core/secret-strength.js";
import { canonicalName } from "./zone.js";

export class BridgeConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "BridgeConfigError";
  }
}

const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const hostName = z
  .string()
  .transform(canonicalName)
  .refine((name) => name.length <= 253 && name.split(".").length >= 2 && name.split(".").every((label) => HOST_LABEL.test(label)));
const list = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .string()
    .transform((text) =>
      text
        .split(",")
        .map((part) => part.trim())
        .filter((part) => part !== ""),
    )
    .pipe(z.array(item).min(1).max(16));
const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

interface Setting<T> {
  flag: string;
  env: string;
  schema: z.ZodType<T, string>;
  expected: string;
}

const setting = <T>(flag: string, env: string, schema: z.ZodType<T, string>, expected: string): Setting<T> => ({ flag, env, schema, expected });

export const SETTINGS = {
  beaconDomain: setting("beacon-domain", "OVERSIGHT_DNS_BEACON_DOMAIN", hostName, "a domain name such as beacon.example.org"),
  answerIps: setting("answer-ip", "OVERSIGHT_DNS_ANSWER_IP", list(z.string().refine((ip) => net.isIPv4(ip))), "one or more IPv4 addresses, comma-separated"),
  answerIpv6: setting(
    "answer-ipv6",
    "OVERSIGHT_DNS_ANSWER_IPV6",
    list(z.string().refine((ip) => net.isIPv6(ip))),
    "one or more IPv6 addresses, comma-separated",
  ),
  nameservers: setting("nameserver", "OVERSIGHT_DNS_NAMESERVERS", list(hostName), "one or more host names, comma-separated"),
  registryUrl: setting(
    "registry-url",
    "OVERSIGHT_REGISTRY_URL",
    z.string().refine((text) => URL.canParse(text) && /^https?:$/.test(new URL(text).protocol) && new URL(text).search === ""),
    "an http(s) URL without a query",
  ),
  address: setting(
    "address",
    "OVERSIGHT_DNS_ADDRESS",
    z.string().refine((ip) => net.isIP(ip) !== 0),
    "an IP address",
  ),
  port: setting("port", "OVERSIGHT_DNS_PORT", integer(0, 65_535), "an integer 0..65535"),
  dataDir: setting("data-dir", "OVERSIGHT_DNS_DATA", z.string().regex(/^[^\0]+$/), "a directory path"),
  metricsPort: setting("metrics-port", "OVERSIGHT_DNS_METRICS_PORT", integer(0, 65_535), "an integer 0..65535"),
  secretFile: setting("secret-file", "OVERSIGHT_DNS_EVENT_SECRET_FILE", z.string().regex(/^[^\0]+$/), "a file path"),
  journalMax: setting("journal-max", "OVERSIGHT_DNS_JOURNAL_MAX", integer(1, 100_000_000), "an integer 1..100000000"),
  sourceRate: setting(
    "source-rate",
    "OVERSIGHT_DNS_SOURCE_RATE_PER_S",
    z
      .string()
      .regex(/^\d{1,7}(\.\d{1,6})?$/)
      .transform(Number),
    "a number 0..9999999 (0 disables)",
  ),
  sourceBurst: setting("source-burst", "OVERSIGHT_DNS_SOURCE_BURST", integer(1, 10_000_000), "an integer 1..10000000"),
  deliveryWindow: setting("delivery-window", "OVERSIGHT_DNS_DELIVERY_WINDOW", integer(1, 1024), "an integer 1..1024"),
  synchronous: setting(
    "sqlite-synchronous",
    "OVERSIGHT_DNS_SQLITE_SYNCHRONOUS",
    z
      .string()
      .regex(/^(full|normal)$/i)
      .transform((s) => s.toUpperCase() as "FULL" | "NORMAL"),
    "FULL or NORMAL",
  ),
  logLevel: setting(
    "log-level",
    "OVERSIGHT_LOG_LEVEL",
    z
      .string()
      .transform((s) => s.toLowerCase())
      .pipe(z.enum(["debug", "info", "warn", "error"])),
    "one of debug/info/warn/error",
  ),
} as const;

export const BridgeConfigSchema = z.object({
  beaconDomain: z.string(),
  answerIps: z.array(z.string()).min(1),
  answerIpv6: z.array(z.string()),
  nameservers: z.array(z.string()).min(1),
  registryUrl: z.string(),
  address: z.string(),
  port: z.number().int(),
  dataDir: z.string(),
  metricsPort: z.number().int(),
  secret: z.string().nullable(),
  journalMax: z.number().int(),
  sourceRate: z.object({ perSecond: z.number(), burst: z.number().int() }),
  deliveryWindow: z.number().int(),
  synchronous: z.enum(["FULL", "NORMAL"]),
  logLevel: z.enum(["debug", "info", "warn", "error"]),
});
export type BridgeConfig = z.infer<typeof BridgeConfigSchema>;

/** The flags `dns-bridge` takes: every setting, plus --help. */
export const BRIDGE_FLAGS: OptionSpec = Object.fromEntries([
  ...Object.values(SETTINGS).map((s) => [s.flag, { type: "string" as const }]),
  ["help", { type: "boolean" as const, short: "h" }],
]);

/** Parses flags and environment; throws BridgeConfigError listing every problem. */
export function loadBridgeConfig(args: string[], env: NodeJS.ProcessEnv, cwd: string = process.cwd()): BridgeConfig | "help" {
  const parsed = readCommandLine(args, BRIDGE_FLAGS);
  if ((parsed.values["help"] as unknown) === true) return "help";
  const flags = parsed.values as Record<string, string | undefined>;
  const problems: string[] = [...parsed.problems, ...parsed.positionals.map((arg) => `unexpected argument '${arg}'`)];

  function read<T>(s: Setting<T>): T | undefined;
  function read<T>(s: Setting<T>, fallback: T): T;
  function read<T>(s: Setting<T>, fallback?: T): T | undefined {
    const fromFlag = flags[s.flag];
    const fromEnv = env[s.env] === "" ? undefined : env[s.env];
    const text = fromFlag ?? fromEnv;
    if (text === undefined) return fallback;
    const result = s.schema.safeParse(text);
    if (result.success) return result.data;
    problems.push(`${fromFlag !== undefined ? `--${s.flag}` : s.env} must be ${s.expected}, got '${printable(text)}'`);
    return fallback;
  }
  const required = <T>(s: Setting<T>): T | undefined => {
    const value = read(s);
    if (value === undefined && !problems.some((p) => p.startsWith(`--${s.flag} `) || p.startsWith(`${s.env} `))) {
      problems.push(`--${s.flag} (or ${s.env}) is required: ${s.expected}`);
    }
    return value;
  };

  const beaconDomain = required(SETTINGS.beaconDomain);
  const config = {
    beaconDomain: beaconDomain ?? "",
    answerIps: required(SETTINGS.answerIps) ?? [],
    answerIpv6: read(SETTINGS.answerIpv6, []),
    nameservers: read(SETTINGS.nameservers, [`ns1.${beaconDomain ?? "invalid"}`]),
    registryUrl: required(SETTINGS.registryUrl) ?? "",
    address: read(SETTINGS.address, "0.0.0.0"),
    port: read(SETTINGS.port, 53),
    dataDir: path.resolve(cwd, read(SETTINGS.dataDir, "./data/dns-bridge")),
    metricsPort: read(SETTINGS.metricsPort, 9153),
    secret: readSecret(read(SETTINGS.secretFile), env, cwd, problems),
    journalMax: read(SETTINGS.journalMax, 1_000_000),
    sourceRate: { perSecond: read(SETTINGS.sourceRate, 200), burst: read(SETTINGS.sourceBurst, 2000) },
    // Against 64: a quarter of the requests at 5,000 queries/s, and a quarter less of the registry's CPU per event on the cores it shares with the bridge.
    deliveryWindow: read(SETTINGS.deliveryWindow, 256),
    synchronous: read(SETTINGS.synchronous, "FULL"),
    logLevel: read(SETTINGS.logLevel, "info"),
  };
  if (problems.length > 0) throw new BridgeConfigError(problems);
  return BridgeConfigSchema.parse(config);
}

/** The DNS event secret from OVERSIGHT_DNS_EVENT_SECRET or a file (trimmed), checked by the one secret rule. */
function readSecret(file: string | undefined, env: NodeJS.ProcessEnv, cwd: string, problems: string[]): string | null {
  const fromEnv = env["OVERSIGHT_DNS_EVENT_SECRET"] === "" ? undefined : env["OVERSIGHT_DNS_EVENT_SECRET"];
  if (fromEnv !== undefined && file !== undefined) {
    problems.push("OVERSIGHT_DNS_EVENT_SECRET and a secret file are both given; keep one");
    return null;
  }
  let value: string;
  let source: string;
  if (fromEnv !== undefined) {
    value = fromEnv;
    source = "OVERSIGHT_DNS_EVENT_SECRET";
  } else if (file !== undefined) {
    source = `the secret file ${path.resolve(cwd, file)}`;
    try {
      value = readFileSync(path.resolve(cwd, file), "utf8").trim();
    } catch (error) {
      problems.push(`cannot read ${source}: ${fileProblem(error)}`);
      return null;
    }
  } else {
    return null;
  }
  const weakness = secretWeakness(value);
  if (weakness === null) return value;
  problems.push(`${source} must be ${SECRET_RULE}, but ${weakness}; ${SECRET_ADVICE}`);
  return null;
}
