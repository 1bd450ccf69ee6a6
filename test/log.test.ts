import assert from "node:assert/strict";
import { test } from "node:test";
import { REDACTED, createLogger, type LogLevel } from "../src/log.js";

function capture(level: LogLevel) {
  const lines: string[] = [];
  const logger = createLogger({ level, stream: { write: (line: string) => lines.push(line) } });
  const records = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, records };
}

test("one JSON object per line (pino): level, time, the fields, msg", () => {
  const { logger, lines, records } = capture("info");
  logger.info("listening", { url: "http://127.0.0.1:1", tlog_size: 3 });
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.endsWith("}\n"));
  assert.equal(lines[0]!.indexOf("\n"), lines[0]!.length - 1);
  const [record] = records();
  assert.deepEqual(Object.keys(record!), ["level", "time", "url", "tlog_size", "msg"]);
  assert.equal(record!.level, "info");
  assert.equal(record!.msg, "listening");
  assert.match(String(record!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(new Date(String(record!.time)).toISOString(), record!.time);
});

test("messages below the level are dropped", () => {
  const { logger, records } = capture("warn");
  logger.debug("d");
  logger.info("i");
  logger.warn("w");
  logger.error("e");
  assert.deepEqual(
    records().map((r) => [r.level, r.msg]),
    [
      ["warn", "w"],
      ["error", "e"],
    ],
  );
  assert.equal(logger.level, "warn");
});

test("fields cannot overwrite time, level or msg", () => {
  const { logger, records } = capture("info");
  logger.info("real", { msg: "forged", level: "debug", time: "then" });
  const [record] = records();
  assert.equal(record!.msg, "real");
  assert.equal(record!.level, "info");
  assert.notEqual(record!.time, "then");
});

test("credential-like keys are redacted at any depth, other values kept", () => {
  const { logger, lines, records } = capture("debug");
  logger.info("request", {
    operator_token: "tok-1",
    headers: { Authorization: "Bearer tok-2", cookie: "c=tok-3", "x-oversight-dns-secret": "tok-4", accept: "*/*" },
    identity: { ed25519_priv: "tok-5", ed25519_pub: "ab" },
    list: [{ password: "tok-6", user: "u" }],
    TOKEN: "tok-7",
  });
  for (const secret of ["tok-1", "tok-2", "tok-3", "tok-4", "tok-5", "tok-6", "tok-7"]) {
    assert.ok(!lines[0]!.includes(secret), secret);
  }
  const [record] = records();
  assert.equal(record!.operator_token, REDACTED);
  assert.deepEqual(record!.headers, {
    Authorization: REDACTED,
    cookie: REDACTED,
    "x-oversight-dns-secret": REDACTED,
    accept: "*/*",
  });
  assert.deepEqual(record!.identity, { ed25519_priv: REDACTED, ed25519_pub: "ab" });
  assert.deepEqual(record!.list, [{ password: REDACTED, user: "u" }]);
  assert.equal(record!.TOKEN, REDACTED);
});

test("errors become name and message (and code), stacks only at debug", () => {
  const failure = Object.assign(new TypeError("bad thing", { cause: new Error("root") }), { code: "E_BAD", secret: "s" });
  const info = capture("info");
  info.logger.error("failed", { error: failure });
  assert.deepEqual(info.records()[0]!.error, {
    name: "TypeError",
    message: "bad thing",
    code: "E_BAD",
    cause: { name: "Error", message: "root" },
  });

  const debug = capture("debug");
  debug.logger.error("failed", { error: new Error("with stack") });
  const logged = debug.records()[0]!.error as Record<string, unknown>;
  assert.match(String(logged.stack), /with stack\n\s+at /);
});

test("cycles, bytes, bigints and dates are written safely", () => {
  const { logger, records } = capture("info");
  const cyclic: Record<string, unknown> = { name: "loop" };
  cyclic.self = cyclic;
  const shared = { a: 1 };
  logger.info("odd values", {
    cyclic,
    twice: [shared, shared],
    small: Buffer.from([0xde, 0xad]),
    big: new Uint8Array(1000),
    n: 2n ** 70n,
    when: new Date(0),
    fn: () => 1,
  });
  const [record] = records();
  assert.deepEqual(record!.cyclic, { name: "loop", self: "[circular]" });
  assert.deepEqual(record!.twice, [{ a: 1 }, { a: 1 }]);
  assert.equal(record!.small, "dead");
  assert.equal(record!.big, "[1000 bytes]");
  assert.equal(record!.n, "1180591620717411303424");
  assert.equal(record!.when, "1970-01-01T00:00:00.000Z");
  assert.equal("fn" in record!, false);
});

test("on a terminal the lines are pino-pretty's readable form, still redacted", () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "info", stream: { write: (line: string) => lines.push(line), isTTY: true } });
  logger.info("listening", { url: "http://127.0.0.1:1", headers: { authorization: "Bearer tok-9" } });
  const text = lines.join("");
  assert.throws(() => JSON.parse(text), "not JSON");
  assert.match(text, /INFO/);
  assert.match(text, /listening/);
  assert.match(text, /http:\/\/127\.0\.0\.1:1/);
  assert.match(text, /\[redacted\]/);
  assert.ok(!text.includes("tok-9"));
});

test("a stream that is not a terminal gets JSON unless pretty is asked for", () => {
  const json: string[] = [];
  createLogger({ level: "info", stream: { write: (line: string) => json.push(line), isTTY: false } }).info("plain");
  assert.equal((JSON.parse(json[0]!) as { msg: string }).msg, "plain");
  const readable: string[] = [];
  createLogger({ level: "info", pretty: true, stream: { write: (line: string) => readable.push(line) } }).info("asked", { token: "tok-10" });
  assert.throws(() => JSON.parse(readable.join("")));
  assert.ok(!readable.join("").includes("tok-10"));
});
