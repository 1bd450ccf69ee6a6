/**
 * A database file SQLite itself finds damaged (pages overwritten, not a
 * database at all). Nothing the registry does can repair it; what the
 * operator needs is the command that says how bad it is.
 */

/** A limit, not a depth any real chain reaches: a cause cycle must not hang a failing request. */
const MAX_CAUSES = 8;

/**
 * Whether `error`, or an error it wraps (`cause`, as the write sequencer's
 * 503 does), is SQLite reporting a damaged file. better-sqlite3 reports
 * extended codes, e.g. SQLITE_CORRUPT_INDEX.
 */
export function isDamagedStore(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < MAX_CAUSES && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT"))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

export interface StorePaths {
  dbPath: string;
  dataDir: string;
}

/** The offline check to run, with this server's paths when they are known. */
export function validateCommand(paths?: StorePaths): string {
  const args = paths ? `--db ${shellQuote(paths.dbPath)} --data-dir ${shellQuote(paths.dataDir)}` : "--db FILE --data-dir DIR";
  return `oversight-registry ${args} --validate-db (from a checkout: node dist/main.js ${args} --validate-db)`;
}

/** What to do about a damaged store, for the log line that reports one. */
export function damagedStoreHint(paths?: StorePaths): string {
  return `the database file is damaged; stop the registry, keep a copy of the file and run: ${validateCommand(paths)}`;
}

/** `error` with the hint added to its message when it is a damaged store, else `error` itself. */
export function explainDamagedStore(error: unknown, paths: StorePaths): unknown {
  if (!isDamagedStore(error)) return error;
  return new Error(`${(error as Error).message}: ${damagedStoreHint(paths)}`, { cause: error });
}

/** Runs `open`, naming the command to run when it fails on a damaged store. */
export function withDamageHint<T>(paths: StorePaths, open: () => T): T {
  try {
    return open();
  } catch (error) {
    throw explainDamagedStore(error, paths);
  }
}

const shellQuote = (value: string): string => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`);
