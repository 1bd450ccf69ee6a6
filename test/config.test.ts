import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError, MIN_BODY_BYTES, describeConfig, loadConfig } from "../src/config.js";
import { secretWeakness } from "../src/core/secret-strength.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const CWD = path.join(os.tmpdir(), "oversight-config-test");
const load = (argv: string[] = [], env: NodeJS.ProcessEnv = {}) => loadConfig(argv, env, CWD);

function problemsOf(argv: string[], env: NodeJS.ProcessEnv = {}): string[] {
  try {
    load(argv, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail(`accepted ${JSON.stringify({ argv, env })}`);
}

test("defaults", () => {
  const config = load();
  assert.deepEqual(config, {
    mode: "serve",
    host: "127.0.0.1",
    port: 8765,
    dataDir: path.join(CWD, "data"),
    db: path.join(CWD, "data", "oversight-registry.sqlite"),
    operatorToken: null,
    authDisabled: false,
    dnsEventSecret: null,
    corsOrigins: [],
    jurisdiction: "GLOBAL",
    rekor: { enabled: false, url: "https://rekor.sigstore.dev" },
    trustedProxy: false,
    logOrigin: `${os.hostname()}/oversight-registry`,
    sqliteSynchronous: "FULL",
    rateLimits: {
      write: { perSecond: 10, burst: 30 },
      read: { perSecond: 100, burst: 300 },
      token: { perSecond: 1000, burst: 5000 },
      dns: { perSecond: 1000, burst: 5000 },
    },
    maxBodyBytes: 1_048_576,
    logLevel: "info",
    httpLimits: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000 },
    migrate: null,
  });
});

test("every environment variable is read", () => {
  const config = load([], {
    OVERSIGHT_HOST: "0.0.0.0",
    OVERSIGHT_PORT: "9000",
    OVERSIGHT_DATA: "/srv/reg",
    OVERSIGHT_DB: "db/r.sqlite",
    OVERSIGHT_OPERATOR_TOKEN: "op-token-0123456789abcdef0123456789",
    OVERSIGHT_AUTH_DISABLED: "yes",
    OVERSIGHT_DNS_EVENT_SECRET: "dns-secret-0123456789abcdef0123456789",
    OVERSIGHT_CORS_ORIGINS: " https://a.example , http://localhost:3000,",
    OVERSIGHT_JURISDICTION: "EU",
    OVERSIGHT_REKOR_ENABLED: "TRUE",
    OVERSIGHT_REKOR_URL: "https://rekor.example/",
    TRUSTED_PROXY: "1",
    OVERSIGHT_LOG_ORIGIN: "log.example/registry",
    OVERSIGHT_SQLITE_SYNCHRONOUS: "normal",
    OVERSIGHT_RATE_WRITE_PER_S: "0",
    OVERSIGHT_RATE_WRITE_BURST: "5",
    OVERSIGHT_RATE_READ_PER_S: "2.5",
    OVERSIGHT_RATE_READ_BURST: "7",
    OVERSIGHT_RATE_TOKEN_PER_S: "50",
    OVERSIGHT_RATE_TOKEN_BURST: "60",
    OVERSIGHT_RATE_DNS_PER_S: "70",
    OVERSIGHT_RATE_DNS_BURST: "80",
    OVERSIGHT_MAX_BODY_BYTES: String(MIN_BODY_BYTES),
    OVERSIGHT_LOG_LEVEL: "DEBUG",
  });
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.port, 9000);
  assert.equal(config.dataDir, "/srv/reg");
  assert.equal(config.db, path.join(CWD, "db/r.sqlite"));
  assert.equal(config.operatorToken, "op-token-0123456789abcdef0123456789");
  assert.equal(config.authDisabled, true);
  assert.equal(config.dnsEventSecret, "dns-secret-0123456789abcdef0123456789");
  assert.deepEqual(config.corsOrigins, ["https://a.example", "http://localhost:3000"]);
  assert.equal(config.jurisdiction, "EU");
  assert.deepEqual(config.rekor, { enabled: true, url: "https://rekor.example/" });
  assert.equal(config.trustedProxy, true);
  assert.equal(config.logOrigin, "log.example/registry");
  assert.equal(config.sqliteSynchronous, "NORMAL");
  assert.deepEqual(config.rateLimits, {
    write: { perSecond: 0, burst: 5 },
    read: { perSecond: 2.5, burst: 7 },
    token: { perSecond: 50, burst: 60 },
    dns: { perSecond: 70, burst: 80 },
  });
  assert.equal(config.maxBodyBytes, MIN_BODY_BYTES);
  assert.equal(config.logLevel, "debug");
});

// biome-ignore lint/suspicious/noTemplateCurlyInString: compose's syntax, named in a test title
test("empty variables count as unset (compose passes ${VAR:-})", () => {
  const config = load([], { OVERSIGHT_PORT: "", OVERSIGHT_OPERATOR_TOKEN: "", TRUSTED_PROXY: "" });
  assert.equal(config.port, 8765);
  assert.equal(config.operatorToken, null);
  assert.equal(config.trustedProxy, false);
});

test("booleans accept 1/0/true/false/yes/no in any case", () => {
  for (const [text, value] of [
    ["1", true],
    ["0", false],
    ["true", true],
    ["False", false],
    ["YES", true],
    ["no", false],
  ] as const) {
    assert.equal(load([], { TRUSTED_PROXY: text }).trustedProxy, value, text);
  }
});

test("flags override the environment, in both --flag value and --flag=value forms", () => {
  const env = { OVERSIGHT_HOST: "10.0.0.1", OVERSIGHT_PORT: "1", OVERSIGHT_DATA: "/env-data", OVERSIGHT_DB: "/env.sqlite" };
  const config = load(["--host", "::1", "--port=0", "--db", "x.sqlite", "--data-dir=rel/data"], env);
  assert.equal(config.host, "::1");
  assert.equal(config.port, 0);
  assert.equal(config.db, path.join(CWD, "x.sqlite"));
  assert.equal(config.dataDir, path.join(CWD, "rel/data"));
});

test("the database defaults to a file in the data directory, wherever that is", () => {
  assert.equal(load(["--data-dir", "/d"]).db, "/d/oversight-registry.sqlite");
  assert.equal(load([], { OVERSIGHT_DATA: "d2" }).db, path.join(CWD, "d2", "oversight-registry.sqlite"));
});

test("ops flags select the mode", () => {
  const migrate = load(["--migrate-from", "old/registry.sqlite", "--migrate-tlog=old/tlog", "--migrate-dry-run"]);
  assert.equal(migrate.mode, "migrate");
  assert.deepEqual(migrate.migrate, {
    from: path.join(CWD, "old/registry.sqlite"),
    tlogDir: path.join(CWD, "old/tlog"),
    dryRun: true,
  });
  const plain = load(["--migrate-from=/o.sqlite"]);
  assert.deepEqual(plain.migrate, { from: "/o.sqlite", dryRun: false });
  const validate = load(["--validate-db", "--db", "/v.sqlite"]);
  assert.equal(validate.mode, "validate");
  assert.equal(validate.migrate, null);
  assert.equal(validate.db, "/v.sqlite");
});

test("each bad environment value is named with what it must be and what it got", () => {
  const cases: [string, string, string][] = [
    ["OVERSIGHT_PORT", "abc", "OVERSIGHT_PORT must be an integer 0..65535, got 'abc'"],
    ["OVERSIGHT_PORT", "65536", "OVERSIGHT_PORT must be an integer 0..65535, got '65536'"],
    ["OVERSIGHT_PORT", "-1", "OVERSIGHT_PORT must be an integer 0..65535, got '-1'"],
    ["OVERSIGHT_PORT", "80.5", "OVERSIGHT_PORT must be an integer 0..65535, got '80.5'"],
    ["OVERSIGHT_HOST", "bad host", "OVERSIGHT_HOST must be a host name or IP address, got 'bad host'"],
    ["OVERSIGHT_DATA", "a\0b", "OVERSIGHT_DATA must be a file system path, got 'a?b'"],
    ["OVERSIGHT_DB", "\0", "OVERSIGHT_DB must be a file system path, got '?'"],
    ["OVERSIGHT_AUTH_DISABLED", "maybe", "OVERSIGHT_AUTH_DISABLED must be one of 1/0/true/false/yes/no, got 'maybe'"],
    ["OVERSIGHT_REKOR_ENABLED", "2", "OVERSIGHT_REKOR_ENABLED must be one of 1/0/true/false/yes/no, got '2'"],
    ["TRUSTED_PROXY", "on", "TRUSTED_PROXY must be one of 1/0/true/false/yes/no, got 'on'"],
    ["OVERSIGHT_REKOR_URL", "ftp://rekor", "OVERSIGHT_REKOR_URL must be an http(s) URL, got 'ftp://rekor'"],
    ["OVERSIGHT_REKOR_URL", "not a url", "OVERSIGHT_REKOR_URL must be an http(s) URL, got 'not a url'"],
    ["OVERSIGHT_JURISDICTION", "E\nU", "OVERSIGHT_JURISDICTION must be 1..64 characters without control characters, got 'E?U'"],
    ["OVERSIGHT_LOG_ORIGIN", "a+b", "OVERSIGHT_LOG_ORIGIN must be 1..255 characters without whitespace or '+', got 'a+b'"],
    ["OVERSIGHT_LOG_ORIGIN", "a b", "OVERSIGHT_LOG_ORIGIN must be 1..255 characters without whitespace or '+', got 'a b'"],
    ["OVERSIGHT_SQLITE_SYNCHRONOUS", "OFF", "OVERSIGHT_SQLITE_SYNCHRONOUS must be FULL or NORMAL, got 'OFF'"],
    ["OVERSIGHT_LOG_LEVEL", "trace", "OVERSIGHT_LOG_LEVEL must be one of debug/info/warn/error, got 'trace'"],
    ["OVERSIGHT_RATE_WRITE_PER_S", "-1", "OVERSIGHT_RATE_WRITE_PER_S must be a number 0..1000000 (0 disables), got '-1'"],
    ["OVERSIGHT_RATE_READ_PER_S", "1e3", "OVERSIGHT_RATE_READ_PER_S must be a number 0..1000000 (0 disables), got '1e3'"],
    ["OVERSIGHT_RATE_TOKEN_PER_S", "2000000", "OVERSIGHT_RATE_TOKEN_PER_S must be a number 0..1000000 (0 disables), got '2000000'"],
    ["OVERSIGHT_RATE_WRITE_BURST", "0", "OVERSIGHT_RATE_WRITE_BURST must be an integer 1..10000000, got '0'"],
    ["OVERSIGHT_RATE_READ_BURST", "x", "OVERSIGHT_RATE_READ_BURST must be an integer 1..10000000, got 'x'"],
    ["OVERSIGHT_RATE_TOKEN_BURST", "1.5", "OVERSIGHT_RATE_TOKEN_BURST must be an integer 1..10000000, got '1.5'"],
    ["OVERSIGHT_RATE_DNS_PER_S", "fast", "OVERSIGHT_RATE_DNS_PER_S must be a number 0..1000000 (0 disables), got 'fast'"],
    ["OVERSIGHT_RATE_DNS_BURST", "0", "OVERSIGHT_RATE_DNS_BURST must be an integer 1..10000000, got '0'"],
    ["OVERSIGHT_MAX_BODY_BYTES", "262144", `OVERSIGHT_MAX_BODY_BYTES must be an integer ${MIN_BODY_BYTES}..67108864, got '262144'`],
    [
      "OVERSIGHT_CORS_ORIGINS",
      "https://ok.example,https://x.example/",
      "OVERSIGHT_CORS_ORIGINS must be a comma-separated list of origins (scheme://host[:port], no path or trailing slash), got 'https://ok.example,https://x.example/'",
    ],
  ];
  for (const [name, value, message] of cases) {
    assert.deepEqual(problemsOf([], { [name]: value }), [message], `${name}=${JSON.stringify(value)}`);
  }
  for (const origin of ["*", "null", "ftp://a.example", "https://a.example/path", "a.example"]) {
    assert.equal(problemsOf([], { OVERSIGHT_CORS_ORIGINS: origin }).length, 1, origin);
  }
});

test("a weak secret stops the start with the variable's name, the rule and how to make one, never its value", () => {
  const weak: [string, RegExp][] = [
    ["short", /but its length is 5;/],
    ["zz", /but its length is 2;/],
    ["0123456789abcdef0123456789abcde", /but its length is 31;/],
    ["a".repeat(64), /but it has too few different characters \(1\);/],
    ["abababababababababababababababab", /but it has too few different characters \(2\);/],
    ["has space 0123456789abcdef0123456789", /contains spaces, control or non-ASCII characters/],
    ["tab\tbed-0123456789abcdef0123456789", /contains spaces, control or non-ASCII characters/],
    ["é-0123456789abcdef0123456789abcdef", /contains spaces, control or non-ASCII characters/],
    ["a1".repeat(300) + "bcdefghij".repeat(50), /but its length is 1050;/],
  ];
  for (const name of ["OVERSIGHT_OPERATOR_TOKEN", "OVERSIGHT_DNS_EVENT_SECRET"]) {
    for (const [value, why] of weak) {
      const problems = problemsOf([], { [name]: value });
      assert.equal(problems.length, 1, `${name}=${value}`);
      const [problem] = problems as [string];
      assert.ok(problem.startsWith(`${name} must be 32..1024 visible ASCII characters without spaces, at least 8 of them different, but `), problem);
      assert.match(problem, why);
      assert.ok(problem.includes("openssl rand -hex 32"), problem);
      assert.ok(problem.includes("require('crypto').randomBytes(32).toString('hex')"), problem);
      assert.ok(!problem.includes(value), `the message quotes the secret: ${problem}`);
    }
  }
});

test("the secret rule accepts what the advice generates, and 32 characters exactly", () => {
  const hex = "0123456789abcdef0123456789abcdef";
  assert.equal(secretWeakness(hex), null);
  assert.equal(load([], { OVERSIGHT_OPERATOR_TOKEN: hex, OVERSIGHT_DNS_EVENT_SECRET: hex }).operatorToken, hex);
  assert.equal(secretWeakness("abcdefgh".repeat(4)), null);
  assert.equal(secretWeakness("abcdefg".repeat(5)), "it has too few different characters (7)");
  assert.equal(secretWeakness("~".repeat(1024).replace(/^.{8}/, "!#$%&()*")), null);
});

test("every variable the configuration reads is documented in docs/CONFIGURATION.md, and nothing else is", () => {
  const read = new Set<string>();
  const recorder = new Proxy({} as NodeJS.ProcessEnv, {
    get: (_, name) => {
      if (typeof name === "string") read.add(name);
      return undefined;
    },
  });
  loadConfig([], recorder, CWD);
  assert.ok(read.has("OVERSIGHT_RATE_DNS_BURST"), "the recorder saw the settings");
  const doc = fs.readFileSync(path.join(REPO, "docs", "CONFIGURATION.md"), "utf8");
  const documented = new Set(Array.from(doc.matchAll(/\b(OVERSIGHT_[A-Z0-9_]*[A-Z0-9]|TRUSTED_PROXY)\b/g), (m) => m[1]!));
  assert.deepEqual([...read].sort(), [...documented].sort());
});

test("all bad values are reported together, each on its own line", () => {
  try {
    load(["--port", "x"], { OVERSIGHT_LOG_LEVEL: "loud", TRUSTED_PROXY: "maybe" });
    assert.fail("accepted");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [
      "--port must be an integer 0..65535, got 'x'",
      "TRUSTED_PROXY must be one of 1/0/true/false/yes/no, got 'maybe'",
      "OVERSIGHT_LOG_LEVEL must be one of debug/info/warn/error, got 'loud'",
    ]);
    assert.equal(error.message, error.problems.join("\n"));
  }
});

test("long bad values are cut in the message", () => {
  const [problem] = problemsOf([], { OVERSIGHT_HOST: "x ".repeat(200) });
  assert.ok(problem!.endsWith("…'"), problem);
  assert.ok(problem!.length < 200, problem);
});

test("bad flags: unknown, missing value, repeated, stray arguments, switches with values, bad combinations", () => {
  assert.deepEqual(problemsOf(["--verbose"]), ["unknown flag --verbose"]);
  assert.deepEqual(problemsOf(["-p", "1"]), ["unknown flag -p", "unexpected argument '1'"]);
  assert.deepEqual(problemsOf(["--port"]), ["--port needs a value"]);
  assert.deepEqual(problemsOf(["--port="]), ["--port needs a value"]);
  assert.deepEqual(problemsOf(["--db", "--port", "1"]), ["--db needs a value"]);
  assert.deepEqual(problemsOf(["--port", "1", "--port", "2"]), ["--port is given more than once"]);
  assert.deepEqual(problemsOf(["serve"]), ["unexpected argument 'serve'"]);
  assert.deepEqual(problemsOf(["--validate-db=yes"]), ["--validate-db takes no value, got 'yes'"]);
  assert.deepEqual(problemsOf(["--port", "99999"]), ["--port must be an integer 0..65535, got '99999'"]);
  assert.deepEqual(problemsOf(["--host", "a/b"]), ["--host must be a host name or IP address, got 'a/b'"]);
  assert.deepEqual(problemsOf(["--migrate-from", "a", "--validate-db"]), ["--migrate-from and --validate-db cannot be combined"]);
  assert.deepEqual(problemsOf(["--migrate-tlog", "t"]), ["--migrate-tlog needs --migrate-from"]);
  assert.deepEqual(problemsOf(["--migrate-dry-run"]), ["--migrate-dry-run needs --migrate-from"]);
});

test("describeConfig never contains a secret and says which auth is in force", () => {
  const config = load([], {
    OVERSIGHT_OPERATOR_TOKEN: "super-secret-operator-token-0123456789",
    OVERSIGHT_DNS_EVENT_SECRET: "super-secret-dns-value-0123456789",
    OVERSIGHT_REKOR_URL: "https://user:hunter2@rekor.example/api",
  });
  const summary = describeConfig(config);
  const text = JSON.stringify(summary);
  for (const secret of ["super-secret-operator-token", "super-secret-dns-value", "hunter2", "user:"]) {
    assert.ok(!text.includes(secret), `${secret} in ${text}`);
  }
  assert.equal(summary.operator_auth, "configured (OVERSIGHT_OPERATOR_TOKEN)");
  assert.equal(summary.dns_event_auth, "shared key configured");
  assert.deepEqual(summary.rekor, { enabled: false, url: "https://rekor.example/api" });
  // The summary's keys avoid the words the logger redacts, so it stays readable in the log.
  for (const key of Object.keys(summary)) assert.doesNotMatch(key, /token|secret|priv|password|authorization|cookie/i);

  assert.equal(describeConfig(load()).operator_auth, "not configured (read from or generated in the data dir)");
  assert.equal(describeConfig(load()).dns_event_auth, "loopback callers only");
  assert.equal(describeConfig(load([], { OVERSIGHT_AUTH_DISABLED: "1" })).operator_auth, "disabled (OVERSIGHT_AUTH_DISABLED)");
  assert.deepEqual(describeConfig(load(["--migrate-from", "/m.sqlite"])).migrate, { from: "/m.sqlite", dryRun: false });
});

test("the working directory defaults to the process's", () => {
  assert.equal(loadConfig([], {}).dataDir, path.resolve("data"));
});

test("HTTP timeouts are read in milliseconds, and the headers timeout may not exceed the request timeout", () => {
  const env = { OVERSIGHT_HEADERS_TIMEOUT_MS: "2000", OVERSIGHT_REQUEST_TIMEOUT_MS: "4000", OVERSIGHT_KEEP_ALIVE_TIMEOUT_MS: "1000" };
  assert.deepEqual(load([], env).httpLimits, { headersTimeoutMs: 2000, requestTimeoutMs: 4000, keepAliveTimeoutMs: 1000 });
  assert.deepEqual(problemsOf([], { OVERSIGHT_HEADERS_TIMEOUT_MS: "5000", OVERSIGHT_REQUEST_TIMEOUT_MS: "4000" }), [
    "OVERSIGHT_HEADERS_TIMEOUT_MS must not be larger than OVERSIGHT_REQUEST_TIMEOUT_MS",
  ]);
  assert.deepEqual(problemsOf([], { OVERSIGHT_KEEP_ALIVE_TIMEOUT_MS: "0" }), ["OVERSIGHT_KEEP_ALIVE_TIMEOUT_MS must be an integer 100..600000, got '0'"]);
});
