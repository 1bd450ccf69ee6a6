/**
 * The one argument parser of every subcommand: node:util parseArgs, with its
 * errors turned into one sentence naming the flag, a `--help` per command,
 * exit code 2 for every usage error, and file-system errors in words
 * ("permission denied") instead of a bare errno code.
 */
import path from "node:path";
import { parseArgs } from "node:util";

/** Exit codes shared by the commands that have no older, documented ones of their own. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A command line that cannot be run as given: printed as one sentence, exit 2, no usage text after it. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Something the command was asked to do failed for a reason the operator can act on: one sentence, exit 1. */
export class CommandError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CommandError";
  }
}

export interface CommandIo {
  stdout: { write(chunk: string): unknown; isTTY?: boolean };
  stderr: { write(chunk: string): unknown; isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export const processIo = (): CommandIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });

export type OptionSpec = Readonly<Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>>;

export interface ParsedCommandLine<O extends OptionSpec> {
  values: { [K in keyof O]?: O[K] extends { type: "boolean" } ? (O[K] extends { multiple: true } ? boolean[] : boolean) : O[K] extends { multiple: true } ? string[] : string };
  positionals: string[];
}

/**
 * Parses `args` strictly against `options` (plus --help/-h). Returns "help"
 * when help was asked for; throws UsageError for anything parseArgs refuses,
 * in our words rather than its.
 */
export function parseCommandLine<O extends OptionSpec>(
  args: string[],
  options: O,
  positionals: { min: number; max: number; name: string },
): ParsedCommandLine<O> | "help" {
  let parsed: { values: Record<string, unknown>; positionals: string[]; tokens: Array<{ kind: string; name?: string }> };
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: true, tokens: true }) as typeof parsed;
  } catch (error) {
    throw new UsageError(describeParseError(error));
  }
  if (parsed.values["help"] === true) return "help";
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== "option" || token.name === undefined) continue;
    if (options[token.name]?.multiple !== true && seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once`);
    seen.add(token.name);
  }
  for (const [name, value] of Object.entries(parsed.values)) {
    const given = Array.isArray(value) ? value : [value];
    if (options[name]?.type === "string" && given.some((v) => v === "")) throw new UsageError(`--${name} needs a value`);
  }
  const count = parsed.positionals.length;
  if (count > positionals.max) {
    throw new UsageError(
      positionals.max === 0 ? `unexpected argument '${parsed.positionals[0]}'` : `unexpected argument '${parsed.positionals[positionals.max]}' after ${positionals.name}`,
    );
  }
  if (count < positionals.min) throw new UsageError(`${positionals.name} is missing`);
  const values: Record<string, unknown> = { ...parsed.values };
  delete values["help"];
  return { values: values as ParsedCommandLine<O>["values"], positionals: parsed.positionals };
}

/** parseArgs' messages are long and written for programmers; its error codes say enough. */
function describeParseError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const flag = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? "a flag";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag ${flag}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return /argument missing/.test(message) ? `${flag} needs a value` : `${flag} takes no value`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument ${/'([^']*)'/.exec(message)?.[0] ?? ""}`.trim();
    default:
      return message;
  }
}

const FILE_PROBLEMS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOENT: "no such file or directory",
  EISDIR: "it is a directory, not a file",
  ENOTDIR: "a part of the path is not a directory",
  EEXIST: "it already exists",
  ENOTEMPTY: "the directory is not empty",
  ENOSPC: "no space left on the device",
  EROFS: "the file system is read-only",
  EMFILE: "too many open files",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "the path is too long",
};

/** "cannot <verb> <file>: permission denied" for a file-system error; other errors keep their message. */
export function fileError(verb: string, file: string, error: unknown): CommandError {
  return new CommandError(`cannot ${verb} ${file}: ${fileProblem(error)}`, { cause: error });
}

export function fileProblem(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && code in FILE_PROBLEMS) return FILE_PROBLEMS[code]!;
  return error instanceof Error ? error.message : String(error);
}

/** The data directory and database `serve` would use: flags, else OVERSIGHT_DATA / OVERSIGHT_DB, else ./data and the file in it. */
export function registryPaths(flags: { dataDir?: string | undefined; db?: string | undefined }, io: Pick<CommandIo, "env" | "cwd">) {
  const given = (value: string | undefined) => (value === undefined || value === "" ? undefined : value);
  const dataDir = path.resolve(io.cwd, given(flags.dataDir) ?? given(io.env["OVERSIGHT_DATA"]) ?? "./data");
  const db = path.resolve(io.cwd, given(flags.db) ?? given(io.env["OVERSIGHT_DB"]) ?? path.join(dataDir, "oversight-registry.sqlite"));
  return { dataDir, db };
}

/**
 * Runs one subcommand: prints its usage for --help (exit 0), a UsageError as
 * `<name>: <sentence>` plus where to find help (exit 2), a CommandError as
 * `<name>: <sentence>` (exit 1). Anything else is a bug and propagates.
 */
export async function runCommand(name: string, usage: string, io: CommandIo, body: () => Promise<number | "help"> | number | "help"): Promise<number> {
  try {
    const code = await body();
    if (code === "help") {
      io.stdout.write(usage);
      return EXIT.ok;
    }
    return code;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${name}: ${error.message}\n(oversight-registry ${name.split(" ")[0]} --help shows the usage)\n`);
      return EXIT.usage;
    }
    if (error instanceof CommandError) {
      io.stderr.write(`${name}: ${error.message}\n`);
      return EXIT.failed;
    }
    throw error;
  }
}
