/** Starts the real registry on 127.0.0.1:0 over a temp data dir, stopped when the test ends. */
import { EventEmitter } from "node:events";
import path from "node:path";
import type { TestContext } from "node:test";
import { createLogger, type LogLevel } from "../../src/log.js";
import { startServer, type RunningServer, type ServeOptions } from "../../src/server.js";
import { tempDir } from "../temp.js";

export const TEST_TOKEN = "test-operator-token-0123456789abcdef";
const OFF = { perSecond: 0, burst: 1 };

/** Test responses are read as untyped JSON: the assertions are the type check. */
export type TestResponse = Omit<Response, "json"> & { json(): Promise<any> };

export interface TestRegistry extends RunningServer {
  dataDir: string;
  dbPath: string;
  token: string;
  /** What the server logged at `logLevel` (default warn) and above, one JSON line each. */
  logLines: string[];
  /** Emits `line` with each line as it is logged. */
  logged: EventEmitter;
  /** fetch against the registry, with the operator token unless `auth: false`. */
  call(pathname: string, init?: RequestInit & { auth?: boolean; json?: unknown }): Promise<TestResponse>;
}

/** The options a test registry starts with: loopback, any port, the test token, no rate limits, `dataDir`'s files. */
export function testServeOptions(dataDir: string, overrides: Partial<ServeOptions> = {}): ServeOptions {
  return {
    host: "127.0.0.1",
    port: 0,
    dataDir,
    dbPath: path.join(dataDir, "oversight-registry.sqlite"),
    synchronous: "NORMAL",
    operatorToken: TEST_TOKEN,
    dnsSecret: null,
    trustedProxy: false,
    corsOrigins: [],
    jurisdiction: "GLOBAL",
    origin: "test.example/oversight-registry",
    rates: { write: OFF, read: OFF, token: OFF, dns: OFF },
    maxBodyBytes: 1_048_576,
    ...overrides,
  };
}

export async function startTestRegistry(t: TestContext, overrides: Partial<ServeOptions> = {}, logLevel: LogLevel = "warn"): Promise<TestRegistry> {
  const dataDir = overrides.dataDir ?? tempDir(t);
  const options = testServeOptions(dataDir, overrides);
  const lines: string[] = [];
  const logged = new EventEmitter();
  const logger = createLogger({
    level: logLevel,
    stream: {
      write: (line: string) => {
        lines.push(line);
        logged.emit("line", line);
      },
    },
  });
  const server = await startServer(options, logger);
  t.after(() => server.close());
  const call = (pathname: string, init: RequestInit & { auth?: boolean; json?: unknown } = {}) => {
    const headers = new Headers(init.headers);
    if (init.auth !== false && options.operatorToken) headers.set("authorization", `Bearer ${options.operatorToken}`);
    let body = init.body;
    if (init.json !== undefined) {
      headers.set("content-type", "application/json");
      body = JSON.stringify(init.json);
    }
    return fetch(server.url + pathname, { ...init, headers, body: body ?? null, method: init.method ?? (body ? "POST" : "GET") });
  };
  return { ...server, dataDir, dbPath: options.dbPath, token: TEST_TOKEN, logLines: lines, logged, call };
}

/** The text of leaf `index`, read the way `/tlog/range` serves it. */
export function leafText(reg: TestRegistry, index: number): string {
  const [entry] = reg.service.log.range(index, 1).entries;
  if (!entry || entry.index !== index) throw new Error(`no leaf ${index}`);
  return entry.leaf_data;
}

/** Asserts the v1 envelope and returns it. */
export async function envelope(
  res: Pick<Response, "headers" | "text"> & { json(): Promise<unknown> },
): Promise<{ code: string; message: string; [k: string]: unknown }> {
  const type = res.headers.get("content-type") ?? "";
  if (!type.startsWith("application/json")) throw new Error(`expected JSON envelope, got ${type}: ${await res.text()}`);
  const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
  if (!body.error || typeof body.error.code !== "string" || typeof body.error.message !== "string" || !body.error.message) {
    throw new Error(`not a v1 envelope: ${JSON.stringify(body)}`);
  }
  return body.error as { code: string; message: string };
}
