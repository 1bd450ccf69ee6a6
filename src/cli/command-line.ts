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

type Values<O extends OptionSpec> = {
  [K in keyof O]?: O[K] extends { type: "boolean" } ? boolean : O[K] extends { multiple: true } ? string[] : string;
};

export interface CommandLine<O extends OptionSpec> {
  values: Values<O>;
  positionals: string[];
  /** One sentence per problem, in the order met: an unknown flag, a flag without its value, one given twice… */
  problems: string[];
}

interface Token {
  kind: string;
  name?: string;
  rawName?: string;
  value?: string;
  inlineValue?: boolean;
  index: number;
}

/**
 * node:util parseArgs, lenient so that every problem is found and worded
 * here: `--port 1` and `--port=1` both work, a value flag followed by another
 * flag is missing its value (write `--db=-x` for a value starting with '-').
 */
export function readCommandLine<O extends OptionSpec>(args: readonly string[], options: O): CommandLine<O> {
  const values: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  const problems: string[] = [];
  const { tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true }) as unknown as { tokens: Token[] };
  for (const token of tokens) {
    if (token.kind === "positional") positionals.push(token.value!);
    if (token.kind !== "option") continue;
    const spec = options[token.name!];
    const flag = `--${token.name!}`;
    if (spec === undefined) {
      problems.push(`unknown flag ${token.rawName!}`);
    } else if (spec.type === "boolean") {
      if (token.value !== undefined) problems.push(`${flag} takes no value, got '${token.value}'`);
      else if (values[token.name!] !== undefined) problems.push(`${flag} is given more than once`);
      else values[token.name!] = true;
    } else if (token.value === undefined || token.value === "") {
      problems.push(`${flag} needs a value`);
    } else if (!token.inlineValue && token.value.startsWith("-")) {
      // parseArgs took the next flag for this one's value: read the rest again from that flag on.
      problems.push(`${flag} needs a value`);
      const rest = readCommandLine(args.slice(token.index + 1), options);
      mergeInto(values, rest.values as Record<string, string | boolean | string[]>, options, problems);
      positionals.push(...rest.positionals);
      problems.push(...rest.problems);
      break;
    } else if (spec.multiple) {
      ((values[token.name!] ??= []) as string[]).push(token.value);
    } else if (values[token.name!] !== undefined) {
      problems.push(`${flag} is given more than once`);
    } else {
      values[token.name!] = token.value;
    }
  }
  return { values: values as Values<O>, positionals, problems };
}

function mergeInto(
  values: Record<string, string | boolean | string[]>,
  more: Record<string, string | boolean | string[]>,
  options: OptionSpec,
  problems: string[],
): void {
  for (const [name, value] of Object.entries(more)) {
    const existing = values[name];
    if (existing === undefined) values[name] = value;
    else if (options[name]?.multiple) values[name] = [...(existing as string[]), ...(value as string[])];
    else problems.push(`--${name} is given more than once`);
  }
}

export interface ParsedCommandLine<O extends OptionSpec> {
  values: Values<O>;
  positionals: string[];
}

/**
 * A subcommand's command line against `options` (plus --help/-h): "help"
 * when help was asked for, else the values; throws UsageError with the first
 * problem, one sentence naming the flag.
 */
export function parseCommandLine<O extends OptionSpec>(
  args: string[],
  options: O,
  positionals: { min: number; max: number; name: string },
): ParsedCommandLine<O> | "help" {
  const line = readCommandLine(args, { ...options, help: { type: "boolean", short: "h" } });
  if (line.values.help === true) return "help";
  if (line.problems.length > 0) throw new UsageError(line.problems[0]!);
  const count = line.positionals.length;
  if (count > positionals.max) {
    throw new UsageError(
      positionals.max === 0
        ? `unexpected argument '${line.positionals[0]}'`
        : `unexpected argument '${line.positionals[positionals.max]}' after ${positionals.name}`,
    );
  }
  if (count < positionals.min) throw new UsageError(`${positionals.name} is missing`);
  const values: Record<string, unknown> = { ...line.values };
  delete values["help"];
  return { values: values as Values<O>, positionals: line.positionals };
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
    return finish(await body(), usage, io);
  } catch (error) {
    return reportFailure(name, io, error);
  }
}

/** runCommand for a command that does all its work synchronously. */
export function runCommandSync(name: string, usage: string, io: CommandIo, body: () => number | "help"): number {
  try {
    return finish(body(), usage, io);
  } catch (error) {
    return reportFailure(name, io, error);
  }
}

function finish(code: number | "help", usage: string, io: CommandIo): number {
  if (code !== "help") return code;
  io.stdout.write(usage);
  return EXIT.ok;
}

function reportFailure(name: string, io: CommandIo, error: unknown): number {
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
