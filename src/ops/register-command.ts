/**
 * `oversight-registry register --url URL --key FILE MANIFEST.json`: signs the
 * issuer's facts (core/issuer-manifest.ts) and posts them to /register with
 * the operator token, printing the registry's answer.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { IssuerKeyError, readIssuerKey } from "../core/issuer-key.js";
import { IssuerFactsError, signRegistration } from "../core/issuer-manifest.js";
import { CommandError, EXIT, fileError, parseCommandLine, runCommand, UsageError, type CommandIo } from "../cli/command-line.js";

export const REGISTER_USAGE = `usage: oversight-registry register --url URL --key FILE [--token-file FILE] MANIFEST.json
  MANIFEST.json holds the issuer's facts: file_id, issuer_id, and optionally
  recipient_id, content_hash, beacons [{token_id, kind}], watermarks
  [{mark_id, layer}], issued_at (Unix seconds; default now). The defaults and
  the key's public key are filled in, the manifest is signed with the key from
  keygen and posted to URL/register. The operator token comes from
  --token-file, else OVERSIGHT_OPERATOR_TOKEN. Prints the registry's answer.
`;

const OPTIONS = { url: { type: "string" }, key: { type: "string" }, "token-file": { type: "string" } } as const;

export function registerCommand(args: string[], io: CommandIo, now: () => number = () => Math.floor(Date.now() / 1000)): Promise<number> {
  return runCommand("register", REGISTER_USAGE, io, async () => {
    const parsed = parseCommandLine(args, OPTIONS, { min: 1, max: 1, name: "the manifest file" });
    if (parsed === "help") return "help";
    const { url, key, "token-file": tokenFile } = parsed.values;
    if (url === undefined) throw new UsageError("--url is required: the registry's base URL");
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new UsageError(`--url must be an http(s) URL, got '${url}'`);
    if (key === undefined) throw new UsageError("--key is required: the issuer key file made by keygen");

    const keyFile = path.resolve(io.cwd, key);
    const issuerKey = read(keyFile, "read the key file", () => readIssuerKey(keyFile));
    if (issuerKey.warning) io.stderr.write(`register: ${issuerKey.warning}\n`);
    const token = operatorToken(tokenFile, io);
    const manifestFile = path.resolve(io.cwd, parsed.positionals[0]!);
    const facts = read(manifestFile, "read the manifest", () => JSON.parse(readFileSync(manifestFile, "utf8")) as unknown);
    let registration;
    try {
      registration = signRegistration(facts, issuerKey.signer, now());
    } catch (error) {
      if (error instanceof IssuerFactsError) throw new CommandError(`${manifestFile}: ${error.message}`);
      throw error;
    }
    return post(`${url.replace(/\/+$/, "")}/register`, registration, token, io);
  });
}

function read<T>(file: string, verb: string, load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof IssuerKeyError) throw new CommandError(error.message);
    if (error instanceof SyntaxError) throw new CommandError(`${file} is not JSON (${error.message})`);
    throw fileError(verb, file, error);
  }
}

/** --token-file wins over the environment: a flag is the more deliberate choice. Null: send none (a registry with auth off). */
function operatorToken(tokenFile: string | undefined, io: CommandIo): string | null {
  if (tokenFile !== undefined) {
    const file = path.resolve(io.cwd, tokenFile);
    const token = read(file, "read the token file", () => readFileSync(file, "utf8").trim());
    if (token === "") throw new CommandError(`the token file ${file} is empty`);
    return token;
  }
  const fromEnv = io.env["OVERSIGHT_OPERATOR_TOKEN"];
  return fromEnv === undefined || fromEnv === "" ? null : fromEnv;
}

async function post(url: string, body: unknown, token: string | null, io: CommandIo): Promise<number> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (error) {
    throw new CommandError(`cannot reach ${url}: ${networkProblem(error)}`);
  }
  const text = await response.text();
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new CommandError(`${url} answered HTTP ${response.status} with something that is not JSON: ${text.slice(0, 200)}`);
  }
  if (response.ok) {
    io.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    return EXIT.ok;
  }
  const error = (answer as { error?: { code?: unknown; message?: unknown } }).error;
  const reason = error ? `${String(error.code)}: ${String(error.message)}` : text.slice(0, 200);
  const hint = response.status === 401 ? " (give the operator token with OVERSIGHT_OPERATOR_TOKEN or --token-file)" : "";
  throw new CommandError(`the registry refused the registration (HTTP ${response.status} ${reason})${hint}`);
}

const NETWORK_PROBLEMS: Record<string, string> = {
  ECONNREFUSED: "connection refused (is the registry running at that address?)",
  ENOTFOUND: "no such host",
  EAI_AGAIN: "the host name could not be resolved now",
  ECONNRESET: "the connection was reset",
  EHOSTUNREACH: "the host is unreachable",
  ETIMEDOUT: "the connection timed out",
};

function networkProblem(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "no answer within 60 s";
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === "string" ? cause.code : "";
  return NETWORK_PROBLEMS[code] ?? (typeof cause?.message === "string" ? cause.message : (error as Error).message);
}
