/**
 * The monitor's watch list, as people use certificate-transparency monitors:
 * issuer keys, file ids and beacon tokens to look out for. A new log entry
 * matches when it is a registration by a watched issuer key, names a watched
 * file, or is a hit on a watched beacon token. Pure: parsing and matching.
 *
 * A watch-list file has one entry a line, `issuer KEYHEX`, `file ID` or
 * `token TOKEN`; blank lines and lines starting with `#` are skipped.
 */
import type { MonitorEntry } from "./monitor-round.js";

export interface WatchList {
  issuers: ReadonlySet<string>;
  files: ReadonlySet<string>;
  tokens: ReadonlySet<string>;
}

export class WatchListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WatchListError";
  }
}

const KINDS = { issuer: "issuers", file: "files", token: "tokens" } as const;
type Kind = keyof typeof KINDS;

export interface WatchFlags {
  issuers: readonly string[];
  files: readonly string[];
  tokens: readonly string[];
}

/** The flags' entries plus the file's (`fileText` read by the caller, `source` naming it in errors); null when nothing is watched. */
export function buildWatchList(flags: WatchFlags, file?: { text: string; source: string }): WatchList | null {
  const list = { issuers: new Set<string>(), files: new Set<string>(), tokens: new Set<string>() };
  const add = (kind: Kind, value: string, where: string) => list[KINDS[kind]].add(checked(kind, value, where));
  for (const value of flags.issuers) add("issuer", value, "--watch-issuer");
  for (const value of flags.files) add("file", value, "--watch-file");
  for (const value of flags.tokens) add("token", value, "--watch-token");
  if (file) {
    file.text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      const where = `${file.source} line ${i + 1}`;
      const match = /^(\S+)\s+(\S.*)$/.exec(line);
      if (!match || !(match[1]! in KINDS))
        throw new WatchListError(`${where}: expected 'issuer KEYHEX', 'file ID' or 'token TOKEN', got '${line.slice(0, 80)}'`);
      add(match[1] as Kind, match[2]!, where);
    });
  }
  return list.issuers.size + list.files.size + list.tokens.size === 0 ? null : list;
}

function checked(kind: Kind, value: string, where: string): string {
  if (kind === "issuer") {
    if (!/^[0-9a-fA-F]{64}$/.test(value))
      throw new WatchListError(`${where}: an issuer key is 64 hex characters (its Ed25519 public key), got '${value.slice(0, 80)}'`);
    // The registry compares keys in lowercase; so does the list.
    return value.toLowerCase();
  }
  if (value === "") throw new WatchListError(`${where}: the ${kind} id is empty`);
  return value;
}

/** Why `entry` matches the list, e.g. ["issuer 0a1b…", "file report.pdf"]; empty when it does not. */
export function matchEntry(list: WatchList, entry: MonitorEntry): string[] {
  const leaf = entry.leaf;
  if (typeof leaf !== "object" || leaf === null) return [];
  const fields = leaf as Record<string, unknown>;
  const reasons: string[] = [];
  const issuer = typeof fields["issuer_pub"] === "string" ? fields["issuer_pub"].toLowerCase() : null;
  if (fields["event"] === "register" && issuer !== null && list.issuers.has(issuer)) reasons.push(`issuer ${issuer}`);
  if (typeof fields["file_id"] === "string" && list.files.has(fields["file_id"])) reasons.push(`file ${fields["file_id"]}`);
  if (fields["event"] === "beacon" && typeof fields["token_id"] === "string" && list.tokens.has(fields["token_id"]))
    reasons.push(`token ${fields["token_id"]}`);
  return reasons;
}

/** One line for a person: index, what happened, to which file, and why it is shown. */
export function describeMatch(entry: MonitorEntry, reasons: readonly string[]): string {
  const leaf = entry.leaf as Record<string, unknown>;
  const text = (name: string) => (typeof leaf[name] === "string" ? (leaf[name] as string) : "?");
  const what =
    leaf["event"] === "register"
      ? `register file ${text("file_id")} by issuer ${text("issuer_id")} for ${text("recipient_id")}`
      : `beacon ${text("kind")} token ${text("token_id")} file ${leaf["file_id"] === null ? "(unknown)" : text("file_id")} from ${text("source_ip")}`;
  return `#${entry.index} ${text("timestamp")} ${what} [watched: ${reasons.join(", ")}]`;
}
