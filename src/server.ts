/**
 * Starts the registry: data dir checks and lock, database, identity, log,
 * HTTP. Used by `main.ts` and by the tests, which start the real thing on
 * 127.0.0.1:0.
 *
 * Order matters: nothing is written before the data directory is known to be
 * ours and locked, and no key or token file is created before the database
 * has said which key the log belongs to.
 */
import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import type { RegistryIdentity } from "./core/identity.js";
import { VerifyPool } from "./core/verify-pool.js";
import { lockDataDir, type DataDirLock } from "./data-dir-lock.js";
import { limitWorkerHeaps } from "./memory-settings.js";
import { refuseForeignData } from "./foreign-data.js";
import { createApp } from "./http/app.js";
import { createEdge, type Rates } from "./http/edge.js";
import { FastPath } from "./http/fast-path.js";
import { serveRoutes } from "./http/route-handlers.js";
import { routeTable } from "./http/route-table.js";
import { DEFAULT_HTTP_LIMITS, createHttpServer, type HttpLimits } from "./http/server-limits.js";
import { observeRequests } from "./http/request-observer.js";
import { setHeldHeaders } from "./http/response-head.js";
import type { Logger } from "./log.js";
import { RegistryMetrics } from "./metrics/registry-metrics.js";
import { resolveOperatorToken } from "./operator-token.js";
import { explainDamagedStore, withDamageHint } from "./registry/damaged-store.js";
import { openDatabase, type Synchronous } from "./registry/database.js";
import { OperatorAccess } from "./registry/operator-access.js";
import { establishIdentity, type EstablishedIdentity } from "./registry/log-identity.js";
import { Registry } from "./registry/registry.js";
import { RegistryService } from "./registry/service.js";
import type { Clock } from "./registry/time.js";
import { signedHeadFile, type StateFileSink } from "./tlog/signed-head-record.js";
import { VERSION } from "./version.js";

export interface ServeOptions {
  host: string;
  port: number;
  dbPath: string;
  dataDir: string;
  synchronous: Synchronous;
  /** The full-scope bootstrap token guarding operator routes beside the named tokens; null: none (see operatorTokenFromDataDir). */
  operatorToken: string | null;
  /** With no operatorToken: read it from `<data dir>/operator-token`, creating one, once the data dir is locked. */
  operatorTokenFromDataDir?: boolean;
  /** `--new-identity`: accept a new key for a log that was signed with another (log-identity.ts). */
  newIdentity?: boolean;
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
  /** Opens the signed-head state file for publications; tests hold or fail its writes with it (tlog/head-signer.ts). */
  openStateFile?: (file: string) => StateFileSink;
  /** Least time between two head publications no read waits for (registry.ts HEAD_PUBLICATION_GAP_MS by default). */
  headPublicationGapMs?: number;
}

export interface RunningServer {
  url: string;
  service: RegistryService;
  /** The routes served before Express; its `served` count tells which answered. */
  fastPath: FastPath;
  /** The Express app behind the fast path (its route stack is what the API description is checked against). */
  app: ReturnType<typeof createApp>;
  /** The HTTP server both answer on (tests wait for its `request` events). */
  http: Server;
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions, logger: Logger): Promise<RunningServer> {
  limitWorkerHeaps();
  refuseForeignData(options.dataDir, options.dbPath);
  const lock = lockDataDir(options.dataDir, "serve");
  if (lock.takenOver) {
    logger.warn("took over the data directory lock of a registry process that did not stop cleanly", {
      lock: lock.file,
      previous_pid: lock.takenOver.pid,
      previous_host: lock.takenOver.host,
      previous_since: lock.takenOver.since,
    });
  }
  try {
    return await startLocked(options, logger, lock);
  } catch (error) {
    lock.release();
    throw error;
  }
}

async function startLocked(options: ServeOptions, logger: Logger, lock: DataDirLock): Promise<RunningServer> {
  const db = withDamageHint(options, () => openDatabase(options.dbPath, { synchronous: options.synchronous }));
  const stateFile = signedHeadFile(options.dataDir);
  let identity: RegistryIdentity;
  let operatorToken: string | null;
  try {
    const established = establishIdentity({
      db,
      dataDir: options.dataDir,
      dbPath: options.dbPath,
      signedHeadFile: stateFile,
      newIdentity: options.newIdentity ?? false,
    });
    identity = established.identity;
    logIdentity(logger, established, options);
    operatorToken =
      options.operatorToken === null && options.operatorTokenFromDataDir ? operatorTokenFromDataDir(options.dataDir, logger) : options.operatorToken;
  } catch (error) {
    db.close();
    throw error;
  }
  const metrics = new RegistryMetrics();
  let registry: Registry;
  try {
    registry = new Registry({
      db,
      identity,
      origin: options.origin,
      signedHeadFile: stateFile,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.openStateFile ? { openStateFile: options.openStateFile } : {}),
      ...(options.headPublicationGapMs === undefined ? {} : { headPublicationGapMs: options.headPublicationGapMs }),
      observer: metrics,
      logger,
    });
  } catch (error) {
    db.close();
    throw explainDamagedStore(error, options);
  }
  try {
    await registry.started();
  } catch (error) {
    await registry.close();
    throw error;
  }
  if (registry.fork) {
    logger.error("refusing to sign or write: the log does not extend the largest signed head", { reason: registry.fork.message });
  }
  metrics.gauge("tlog_tree_size", "Leaves in the transparency log.", () => registry.store.size());
  metrics.gauge("tlog_seconds_since_signed_head", "Seconds since the registry last signed a tree head.", () => registry.secondsSinceSignedHead());

  const verifyPool = new VerifyPool({ onError: (error) => logger.warn("a signature verification worker failed", { error }) });
  metrics.gauge("signature_verify_queue_depth", "Ed25519 checks waiting for a verification worker or held by one.", () => verifyPool.depth);
  const service = new RegistryService(registry, { verifier: metrics.timed(verifyPool) });
  const edge = createEdge(options.rates, { operatorToken, dnsSecret: options.dnsSecret }, options.rateClock);
  const operators = OperatorAccess.of(registry, operatorToken);
  const routes = serveRoutes(routeTable({ ...options, service, metrics, logger, version: VERSION }), {
    ...options,
    operators,
    edge,
    rateLimited: (bucket) => metrics.rateLimited(bucket),
  });
  const app = createApp({ ...options, routes, logger, metrics, edge });
  const fastPath = new FastPath({ routes, logger, edge });
  const server = createHttpServer(
    options.httpLimits ?? DEFAULT_HTTP_LIMITS,
    logger,
    observeRequests(metrics, logger, (req, res) => {
      if (fastPath.handle(req, res)) return;
      // Express writes its answers' heads itself: it gets the held headers (the request id) set first.
      setHeldHeaders(res);
      app(req, res);
    }),
  );
  server.listen(options.port, options.host);
  try {
    await once(server, "listening");
  } catch (error) {
    await registry.close();
    await verifyPool.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}`;
  logger.info("listening", { url, db: options.dbPath, tlog_size: registry.store.size(), version: VERSION });
  const warming = service.log.warmNodeCache();
  const warmingFrom = performance.now();
  warming.done.then(
    (full) => full && logger.info("proof node cache filled", { tlog_size: registry.store.size(), ms: Math.round(performance.now() - warmingFrom) }),
    (error: unknown) => logger.warn("proof node cache not filled: proofs read their nodes as they go", { error }),
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      warming.stop();
      server.close();
      server.closeIdleConnections();
      await once(server, "close");
      await verifyPool.close();
      // Every acknowledged write's head is published before the state file and the database close.
      await registry.drain();
      await registry.close();
      lock.release();
    })());
  return { url, service, fastPath, app, http: server, close };
}

function logIdentity(logger: Logger, established: EstablishedIdentity, options: ServeOptions): void {
  const { identity, change } = established;
  const fields = { ed25519_pub: identity.publicKeyHex, data_dir: options.dataDir };
  if (identity.warning) logger.warn(identity.warning, fields);
  if (change?.reason === "new-identity") {
    logger.warn("this log is signed with a new registry key from now on (--new-identity); monitors pinned to the old key will see a new log", {
      ...fields,
      previous_pub: change.previous,
      recorded_in: `registry_keys table of ${options.dbPath}`,
    });
  } else if (change?.reason === "created") {
    logger.info("created registry identity", fields);
  } else {
    logger.info("loaded registry identity", fields);
  }
}

function operatorTokenFromDataDir(dataDir: string, logger: Logger): string | null {
  const operator = resolveOperatorToken({ authDisabled: false, dataDir });
  if (operator.warning) logger.warn(operator.warning, { path: operator.path });
  if (operator.source === "generated") logger.info("generated an operator token", { path: operator.path });
  return operator.token;
}
