#!/usr/bin/env node
/**
 * The command line: `oversight-registry [flags]` serves; `--migrate-from` and
 * `--validate-db` are the offline database tools; `token` manages operator
 * tokens; `monitor` and `verify-evidence` are the auditor's tools; `dns-bridge`
 * is the DNS bridge.
 */
import { fileError, processIo } from "./cli/command-line.js";
import { ConfigError, describeConfig, loadConfig, type Config } from "./config.js";
import { createLogger, type Logger } from "./log.js";
import { checkListen, PortError } from "./port-check.js";
import { startServer } from "./server.js";
import { stopRequested } from "./stop-signal.js";
import { VERSION } from "./version.js";

const USAGE = `oversight-registry ${VERSION}

Usage:
  oversight-registry [--host H] [--port P] [--db FILE] [--data-dir DIR] [--new-identity]
      serve the registry (defaults: 127.0.0.1:8765, ./data/oversight-registry.sqlite);
      one process per data directory (DIR/registry.lock). A log that has leaves,
      signed heads or a recorded key never gets a new key by itself: without its
      registry-identity.json it refuses to start (restore the file from backup).
      --new-identity, for one start, signs such a log with a new key (a new log
      to its monitors) and records the change in the database (registry_keys)
  oversight-registry --db NEW.sqlite --data-dir DIR --migrate-from OTHER.sqlite [--migrate-tlog DIR] [--migrate-dry-run]
      [--use-source-key | --keep-target-key]
      import another registry v1 implementation's data directory; when DIR already
      holds a different key that may have signed something, one of the two flags
      says which key the migrated log keeps
  oversight-registry --db FILE --data-dir DIR --validate-db
      check a database offline, read-only (may run beside the server); prints a
      JSON report, exits 1 when anything is wrong
  oversight-registry monitor --url URL --state FILE [--interval S] [--once] [--metrics-file F]
      watch a registry's log and prove it only grows
  oversight-registry verify-evidence BUNDLE.json|URL [--registry-pub HEX]
      check an evidence bundle offline
  oversight-registry token create|list|revoke ... [--data-dir DIR] [--db FILE]
      scoped, revocable operator tokens, managed while the registry runs
      (docs/OPERATOR-TOKENS.md; \`oversight-registry token --help\`)
  oversight-registry keygen --out FILE
      a new issuer signing key (0600); prints its public key
  oversight-registry register --url URL --key FILE [--token-file FILE] MANIFEST.json
      sign an issuer's manifest and register it (docs/ISSUERS.md)
  oversight-registry backup --to DIR [--data-dir DIR] [--db FILE]
      a consistent snapshot while the registry serves (docs/BACKUP.md)
  oversight-registry restore --from DIR [--data-dir DIR] [--db FILE] [--allow-older]
      put a validated snapshot in place of the data directory (registry stopped)
  oversight-registry dns-bridge --beacon-domain D --answer-ip IP --registry-url URL [--address A] [--port P] [--data-dir DIR]
      answer DNS for the beacon zone and deliver every beacon query to /dns_event (docs/DNS-BRIDGE.md)
  oversight-registry dns-bridge status [--data-dir DIR]
      print the DNS bridge's undelivered backlog and dead letters

Configuration comes from the environment (docs/CONFIGURATION.md); flags win.
\`oversight-registry COMMAND --help\` describes each command.
`;

const HELP_HINT = "(oversight-registry --help lists the commands and flags)\n";

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === "--version" || command === "-v") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (command === "monitor") {
    const { monitorCommand } = await import("./ops/monitor.js");
    return monitorCommand(rest);
  }
  if (command === "dns-bridge") {
    const { dnsBridgeCommand } = await import("./dns/command.js");
    return dnsBridgeCommand(rest);
  }
  if (command === "token") {
    const { tokenCommand } = await import("./ops/token-command.js");
    return tokenCommand(rest, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
  }
  if (command === "keygen") {
    const { keygenCommand } = await import("./ops/keygen-command.js");
    return keygenCommand(rest, processIo());
  }
  if (command === "register") {
    const { registerCommand } = await import("./ops/register-command.js");
    return registerCommand(rest, processIo());
  }
  if (command === "backup" || command === "restore") {
    const { backupCommand, restoreCommand } = await import("./ops/backup-command.js");
    return (command === "backup" ? backupCommand : restoreCommand)(rest, processIo());
  }
  if (command === "verify-evidence") {
    const { verifyEvidenceCommand } = await import("./ops/verify-evidence.js");
    return verifyEvidenceCommand(rest);
  }

  if (command !== undefined && command !== "serve" && !command.startsWith("-")) {
    process.stderr.write(`oversight-registry: unknown command '${command}'\n${HELP_HINT}`);
    return 2;
  }
  const serveArgs = command === "serve" ? rest : argv;
  if (serveArgs.includes("--help") || serveArgs.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig(serveArgs, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n${HELP_HINT}`);
    return 2;
  }
  // The offline tools print their JSON report on stdout; their log lines go to stderr.
  const logger = createLogger({ level: config.logLevel, stream: config.mode === "serve" ? process.stdout : process.stderr });
  try {
    if (config.mode === "migrate") return await migrate(config);
    if (config.mode === "validate") return await validate(config);
    return await serve(config, logger);
  } catch (error) {
    const message = describeFailure(error);
    logger.error("stopped", { error: error instanceof Error ? { name: error.name, message } : message });
    // serve logs to stdout for its supervisor; a person at a terminal reads stderr.
    if (config.mode === "serve") process.stderr.write(`oversight-registry: ${message}\n`);
    return 1;
  }
}

/** A file-system error names its path and its cause in words ("permission denied"), not an errno code. */
function describeFailure(error: unknown): string {
  const { code, path } = error as { code?: unknown; path?: unknown };
  if (typeof code === "string" && typeof path === "string") return fileError("use", path, error).message;
  return error instanceof Error ? error.message : String(error);
}

async function serve(config: Config, logger: Logger): Promise<number> {
  logger.info("starting", describeConfig(config));
  if (config.authDisabled) logger.warn("operator authentication is disabled (OVERSIGHT_AUTH_DISABLED=1)");
  if (config.rekor.enabled) logger.warn("OVERSIGHT_REKOR_ENABLED is set, but this registry does not submit to Rekor");

  try {
    await checkListen(config.host, config.port);
  } catch (error) {
    if (!(error instanceof PortError)) throw error;
    process.stderr.write(`oversight-registry: ${error.message}\n`);
    return 1;
  }
  const stop = stopRequested(logger);
  const server = await startServer(
    {
      host: config.host,
      port: config.port,
      dbPath: config.db,
      dataDir: config.dataDir,
      synchronous: config.sqliteSynchronous,
      operatorToken: config.authDisabled ? null : config.operatorToken,
      // Read or created only once the data directory is known to be ours and locked.
      operatorTokenFromDataDir: config.operatorToken === null && !config.authDisabled,
      newIdentity: config.newIdentity ?? false,
      dnsSecret: config.dnsEventSecret,
      trustedProxy: config.trustedProxy,
      corsOrigins: config.corsOrigins,
      jurisdiction: config.jurisdiction,
      origin: config.logOrigin,
      rates: config.rateLimits,
      maxBodyBytes: config.maxBodyBytes,
      httpLimits: config.httpLimits,
    },
    logger,
  );
  await stop;
  await server.close();
  return 0;
}

async function migrate(config: Config): Promise<number> {
  const { runMigration } = await import("./ops/migrate.js");
  const { progressReporter } = await import("./ops/progress.js");
  const migration = config.migrate!;
  const report = await runMigration({
    dbPath: config.db,
    dataDir: config.dataDir,
    sourcePath: migration.from,
    ...(migration.tlogDir === undefined ? {} : { tlogDir: migration.tlogDir }),
    dryRun: migration.dryRun,
    ...(migration.keyWinner === undefined ? {} : { keyWinner: migration.keyWinner }),
    onProgress: progressReporter("migrating"),
  });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return 0;
}

async function validate(config: Config): Promise<number> {
  const { validateDatabase } = await import("./ops/validate.js");
  const { progressReporter } = await import("./ops/progress.js");
  const report = await validateDatabase({ dbPath: config.db, dataDir: config.dataDir, onProgress: progressReporter("validating") });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
