/**
 * Starts the registry: identity, database, log, HTTP. Used by `main.ts` and
 * by the tests, which start the real thing on 127.0.0.1:0.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { loadOrCreateIdentity } from "./core/identity.js";
import { VerifyPool } from "./core/verify-pool.js";
import { createApp, createEdge, type Rates } from "./http/app.js";
import { FastPath } from "./http/fast-path.js";
import { DEFAULT_HTTP_LIMITS, createHttpServer, type HttpLimits } from "./http/server-limits.js";
import { Metrics } from "./http/metrics.js";
import type { Logger } from "./log.js";
import { explainDamagedStore, withDamageHint } from "./registry/damaged-store.js";
import { openDatabase, type Synchronous } from "./registry/database.js";
import { Registry } from "./registry/registry.js";
import { RegistryService } from "./registry/service.js";
import type { Clock } from "./registry/time.js";
import { signedHeadFile } from "./tlog/signed-head-record.js";
import { VERSION } from "./version.js";

export interface ServeOptions {
  host: string;
  port: number;
  dbPath: string;
  dataDir: string;
  synchronous: Synchronous;
  operatorToken: string | null;
  dnsSecret: string | null;
  trustedProxy: boolean;
  corsOrigins: string[];
  jurisdiction: string;
  origin: string;
  rates: Rates;
  maxBodyBytes: number;
  /** Header, request and keep-alive timeouts; DEFAULT_HTTP_LIMITS when absent. */
  httpLimits?: HttpLimits;
  clock?: Clock;
  /** The rate-limit buckets' clock in milliseconds (default `performance.now`). */
  rateClock?: () => number;
}

export interface RunningServer {
  url: string;
  service: RegistryService;
  /** The routes served before Express; its `served` count tells which answered. */
  fastPath: FastPath;
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions, logger: Logger): Promise<RunningServer> {
  const { identity, created } = loadOrCreateIdentity(options.dataDir);
  logger.info(created ? "created registry identity" : "loaded registry identity", {
    ed25519_pub: identity.publicKeyHex,
    data_dir: options.dataDir,
  });
  const db = withDamageHint(options, () => openDatabase(options.dbPath, { synchronous: options.synchronous }));
  const metrics = new Metrics();
  let registry: Registry;
  try {
    registry = new Registry({
      db,
      identity,
      origin: options.origin,
      signedHeadFile: signedHeadFile(options.dataDir),
      ...(options.clock ? { clock: options.clock } : {}),
      observer: { batch: (jobs) => metrics.observeBatch(jobs), proofVerificationFailed: () => metrics.proofVerificationFailed() },
    });
  } catch (error) {
    db.close();
    throw explainDamagedStore(error, options);
  }
  if (registry.fork) {
    logger.error("refusing to sign or write: the log does not extend the largest signed head", { reason: registry.fork.message });
  }
  metrics.gauge("tlog_tree_size", "Leaves in the transparency log.", () => registry.store.size());
  metrics.gauge("tlog_seconds_since_signed_head", "Seconds since the registry last signed a tree head.", () =>
    registry.secondsSinceSignedHead(),
  );

  const verifyPool = new VerifyPool({ onError: (error) => logger.warn("a signature verification worker failed", { error }) });
  const service = new RegistryService(registry, { verifier: verifyPool });
  const edge = createEdge(options.rates, options, options.rateClock);
  const app = createApp({ ...options, service, logger, metrics, version: VERSION, edge });
  const fastPath = new FastPath({
    service,
    logger,
    metrics,
    edge,
    trustedProxy: options.trustedProxy,
    operatorToken: options.operatorToken,
    dnsSecret: options.dnsSecret,
    maxBodyBytes: options.maxBodyBytes,
  });
  const server = createHttpServer(options.httpLimits ?? DEFAULT_HTTP_LIMITS, logger, (req, res) => fastPath.handle(req, res) || app(req, res));
  server.listen(options.port, options.host);
  try {
    await once(server, "listening");
  } catch (error) {
    registry.close();
    await verifyPool.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}`;
  logger.info("listening", { url, db: options.dbPath, tlog_size: registry.store.size(), version: VERSION });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      server.close();
      server.closeIdleConnections();
      await once(server, "close");
      await verifyPool.close();
      await registry.sequencer.drain();
      registry.close();
    })());
  return { url, service, fastPath, close };
}
