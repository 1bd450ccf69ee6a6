/** `oversight-registry backup` and `restore`: the command lines of backup.ts and restore.ts (docs/BACKUP.md). */
import path from "node:path";
import { IdentityError } from "../core/identity.js";
import { DataDirLockedError } from "../data-dir-lock.js";
import { ForeignDataError, refuseForeignData } from "../foreign-data.js";
import { CommandError, EXIT, fileError, parseCommandLine, registryPaths, runCommand, UsageError, type CommandIo } from "../cli/command-line.js";
import { SchemaVersionError } from "../registry/database.js";
import { MalformedSignedHeadError } from "../tlog/signed-head-record.js";
import { BackupError, backupRegistry } from "./backup.js";
import { progressReporter } from "./progress.js";
import { RestoreError, restoreRegistry } from "./restore.js";
import { ValidationError } from "./validate.js";

export const BACKUP_USAGE = `usage: oversight-registry backup --to DIR [--data-dir DIR] [--db FILE]
  A consistent snapshot of the registry's database, identity and signed-head
  record into the new directory DIR, while the registry keeps serving.
  Prints what it holds (log size, signed head) as JSON (docs/BACKUP.md).
`;

export const RESTORE_USAGE = `usage: oversight-registry restore --from DIR [--data-dir DIR] [--db FILE] [--allow-older]
  Puts a snapshot made by backup in place of the data directory, with the
  registry stopped. The snapshot must pass --validate-db; one older than the
  directory's current signed head needs --allow-older. The directory as it was
  is kept beside it as DIR.before-restore-TIME (docs/BACKUP.md).
`;

const LOCATION = { "data-dir": { type: "string" }, db: { type: "string" } } as const;

export function backupCommand(args: string[], io: CommandIo): Promise<number> {
  return runCommand("backup", BACKUP_USAGE, io, async () => {
    const parsed = parseCommandLine(args, { ...LOCATION, to: { type: "string" } }, { min: 0, max: 0, name: "" });
    if (parsed === "help") return "help";
    if (parsed.values.to === undefined) throw new UsageError("--to DIR is required: the new directory the snapshot goes to");
    const { dataDir, db } = registryPaths({ dataDir: parsed.values["data-dir"], db: parsed.values.db }, io);
    const to = path.resolve(io.cwd, parsed.values.to);
    const manifest = await inWords("use", to, async () => {
      refuseForeignData(dataDir, db);
      return backupRegistry({ dataDir, dbPath: db, to, onProgress: progressReporter("backup", { stream: io.stderr }) });
    });
    io.stdout.write(`${JSON.stringify({ backup: to, ...manifest }, null, 2)}\n`);
    return EXIT.ok;
  });
}

export function restoreCommand(args: string[], io: CommandIo): Promise<number> {
  return runCommand("restore", RESTORE_USAGE, io, async () => {
    const parsed = parseCommandLine(args, { ...LOCATION, from: { type: "string" }, "allow-older": { type: "boolean" } }, { min: 0, max: 0, name: "" });
    if (parsed === "help") return "help";
    if (parsed.values.from === undefined) throw new UsageError("--from DIR is required: the snapshot made by backup");
    const { dataDir, db } = registryPaths({ dataDir: parsed.values["data-dir"], db: parsed.values.db }, io);
    const from = path.resolve(io.cwd, parsed.values.from);
    const result = await inWords("read", from, () =>
      restoreRegistry({
        from,
        dataDir,
        dbPath: db,
        allowOlder: parsed.values["allow-older"] === true,
        onProgress: progressReporter("restore: validating", { stream: io.stderr }),
      }),
    );
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return EXIT.ok;
  });
}

const OUR_ERRORS = [
  BackupError,
  RestoreError,
  DataDirLockedError,
  ForeignDataError,
  IdentityError,
  SchemaVersionError,
  MalformedSignedHeadError,
  ValidationError,
];

/** Our own errors already are sentences; a file-system error gets the path it was about and its cause in words. */
async function inWords<T>(verb: string, where: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (OUR_ERRORS.some((type) => error instanceof type)) throw new CommandError((error as Error).message, { cause: error });
    const file = (error as { path?: unknown }).path;
    if (typeof (error as { code?: unknown }).code === "string" && (error as { syscall?: unknown }).syscall !== undefined) {
      throw fileError(verb, typeof file === "string" ? file : where, error);
    }
    throw error;
  }
}
