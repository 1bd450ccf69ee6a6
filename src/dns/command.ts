/**
 * `oversight-registry dns-bridge [flags]` runs the bridge until SIGINT or
 * SIGTERM; `oversight-registry dns-bridge status [--data-dir DIR]` prints
 * the journal's backlog and its latest dead letters as JSON, read from the
 * journal itself, so it works whether the bridge is running or not.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { parseCommandLine, UsageError } from "../cli/command-line.js";
import { createLogger } from "../log.js";
import { stopRequested } from "../stop-signal.js";
import { startBridge } from "./bridge.js";
import { BridgeConfigError, loadBridgeConfig, SETTINGS } from "./config.js";
import { JOURNAL_FILE, openJournalReadOnly, readBacklog, readDeadLetters } from "./journal.js";

export const DNS_BRIDGE_USAGE = `usage: oversight-registry dns-bridge --beacon-domain D --answer-ip IP[,IP…] --registry-url URL
                                     [--answer-ipv6 IP[,IP…]] [--nameserver NAME[,NAME…]]
                                     [--address A] [--port P] [--data-dir DIR] [--metrics-port P]
                                     [--secret-file FILE] [--journal-max N] [--source-rate R] [--source-burst N]
                                     [--delivery-window N] [--sqlite-synchronous FULL|NORMAL] [--log-level L]
       oversight-registry dns-bridge status [--data-dir DIR]
The DNS event secret comes from OVERSIGHT_DNS_EVENT_SECRET or --secret-file; every flag
has an environment variable (docs/DNS-BRIDGE.md).
`;

interface Io {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
}

const DEAD_LETTERS_SHOWN = 20;

export async function dnsBridgeCommand(args: string[], io: Io = process): Promise<number> {
  if (args[0] === "status") return statusCommand(args.slice(1), io);
  let config;
  try {
    config = loadBridgeConfig(args, process.env);
  } catch (error) {
    if (!(error instanceof BridgeConfigError)) throw error;
    io.stderr.write(`${error.problems.map((problem) => `dns-bridge: ${problem}\n`).join("")}${HELP_HINT}`);
    return 2;
  }
  if (config === "help") {
    io.stdout.write(DNS_BRIDGE_USAGE);
    return 0;
  }
  const logger = createLogger({ level: config.logLevel, stream: io.stdout });
  if (config.secret === null) logger.warn("no DNS event secret: the registry accepts this bridge only from its own machine (loopback)");
  const stop = stopRequested(logger);
  let bridge;
  try {
    bridge = await startBridge(
      {
        zone: { apex: config.beaconDomain, nameservers: config.nameservers, answerIps: config.answerIps, answerIpv6: config.answerIpv6, ttl: 60 },
        address: config.address,
        port: config.port,
        dataDir: config.dataDir,
        registryUrl: config.registryUrl,
        secret: config.secret,
        metricsPort: config.metricsPort,
        journalMax: config.journalMax,
        rate: config.sourceRate,
        deliveryWindow: config.deliveryWindow,
        deliveryTimeoutMs: 10_000,
        synchronous: config.synchronous,
      },
      logger,
    );
  } catch (error) {
    logger.error("could not start the DNS bridge", { error });
    return 1;
  }
  // The test harness and supervisors read the actual ports from this line (port 0 picks one).
  logger.info("ready", { dns_port: bridge.dnsPort, metrics_url: bridge.metricsUrl });
  await stop;
  await bridge.close();
  return 0;
}

const HELP_HINT = "(oversight-registry dns-bridge --help shows the usage)\n";

function statusCommand(args: string[], io: Io): number {
  let dataDir: string;
  try {
    const parsed = parseCommandLine(args, { "data-dir": { type: "string" } }, { min: 0, max: 0, name: "" });
    if (parsed === "help") {
      io.stdout.write(DNS_BRIDGE_USAGE);
      return 0;
    }
    dataDir = path.resolve(parsed.values["data-dir"] ?? process.env[SETTINGS.dataDir.env] ?? "./data/dns-bridge");
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`dns-bridge status: ${error.message}\n${HELP_HINT}`);
    return 2;
  }
  if (!existsSync(path.join(dataDir, JOURNAL_FILE))) {
    io.stderr.write(`dns-bridge status: no journal in ${dataDir} (${JOURNAL_FILE}); has the bridge run with this --data-dir?\n`);
    return 1;
  }
  const db = openJournalReadOnly(dataDir);
  try {
    const backlog = readBacklog(db);
    const deadLetters = readDeadLetters(db, DEAD_LETTERS_SHOWN);
    const oldest = backlog.oldest_received_at;
    const report = {
      journal: path.join(dataDir, JOURNAL_FILE),
      ...backlog,
      oldest_age_seconds: oldest === null ? 0 : Math.max(0, Math.round((Date.now() - oldest) / 1000)),
      recent_dead_letters: deadLetters,
    };
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    db.close();
  }
  return 0;
}
