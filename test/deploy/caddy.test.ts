// The project's Caddyfile, run by the real caddy binary in front of the real
// registry (dist/main.js) on loopback ports: every host answers its own routes
// and 404s the rest with the v1 envelope, /metrics is never public, beacon
// hosts answer plain HTTP without a redirect while the registry host is
// HTTPS-only, and a client-sent X-Forwarded-For never becomes the recorded
// source address.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { freePort } from "./free-port.js";
import { INSPECTOR_CSP } from "../../src/http/routes/inspector.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const CADDYFILE = path.join(REPO, "Caddyfile");
const MAIN = path.join(REPO, "dist", "main.js");
const EDGE_MESSAGE = "no such route on this hostname";
/** The page's hashed script, as `npm run build` wrote it beside dist/main.js. */
const PAGE_SCRIPT = fs.existsSync(path.join(REPO, "dist", "web")) ? fs.readdirSync(path.join(REPO, "dist", "web")).find((f) => f.endsWith(".js")) : undefined;
const OPERATOR_TOKEN = "operator-token-for-the-caddy-test-0123456789";
const DNS_SECRET = "dns-secret-for-the-caddy-test-0123456789";

// Beacon sites are bare names (HTTPS and plain HTTP); .localhost names get
// certificates from Caddy's internal CA, so no ACME traffic. The registry
// site is given as http:// here so the routing matrix runs over plain HTTP.
const HOSTS = {
  registry: "registry.test",
  beacon: "b.localhost",
  ocsp: "ocsp.localhost",
  licence: "lic.localhost",
  unknown: "elsewhere.test",
} as const;
type HostKey = keyof typeof HOSTS;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

interface Send {
  port: number;
  host: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  tls?: boolean;
}

/** One request with full control of Host and the raw path (fetch would normalise both). */
function send(req: Send): Promise<Reply> {
  const headers: Record<string, string> = { Host: req.host, ...req.headers };
  if (req.body !== undefined) {
    headers["Content-Type"] = "application/json";
    headers["Content-Length"] = String(Buffer.byteLength(req.body));
  }
  const options = {
    host: "127.0.0.1",
    port: req.port,
    path: req.path,
    method: req.method ?? "GET",
    headers,
    agent: false,
    timeout: 10_000,
  } as const;
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    };
    const r = req.tls ? https.request({ ...options, servername: req.host, rejectUnauthorized: false }, onResponse) : http.request(options, onResponse);
    r.on("timeout", () => r.destroy(new Error(`timeout: ${req.host}${req.path}`)));
    r.on("error", reject);
    r.end(req.body);
  });
}

function json(reply: Reply): unknown {
  return JSON.parse(reply.body.toString("utf8"));
}

/** The parent's environment without any setting that would change what the child under test does. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(OVERSIGHT_|CADDY_|TRUSTED_PROXY$|XDG_)/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, t: TestContext): Running {
  const child = spawn(cmd, args, { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
  t.after(() => stop(child));
  return { child, stdout: () => out, stderr: () => err };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

async function until<T>(what: string, proc: Running, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    if (proc.child.exitCode !== null) {
      throw new Error(`${what}: process exited (${proc.child.exitCode})\n${proc.stdout()}\n${proc.stderr()}`);
    }
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not ready\n${proc.stdout()}\n${proc.stderr()}`);
}

async function startRegistry(t: TestContext): Promise<{ proc: Running; port: number }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-caddy-registry-"));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const env = cleanEnv({
    TRUSTED_PROXY: "1",
    OVERSIGHT_OPERATOR_TOKEN: OPERATOR_TOKEN,
    OVERSIGHT_DNS_EVENT_SECRET: DNS_SECRET,
  });
  const proc = run(process.execPath, [MAIN, "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir], env, t);
  const port = await until("registry", proc, async () => {
    for (const line of proc.stdout().split("\n")) {
      if (!line.startsWith("{")) continue;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === "listening" && entry.url) return Number(new URL(entry.url).port);
    }
    return undefined;
  });
  return { proc, port };
}

interface Caddy {
  proc: Running;
  httpPort: number;
  httpsPort: number;
}

type SiteAddresses = Record<Exclude<HostKey, "unknown">, string>;

/** Every other hostname falls to the Caddyfile's default fallback site. */
async function startCaddy(t: TestContext, upstreamPort: number, sites: SiteAddresses): Promise<Caddy> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-caddy-home-"));
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const env = cleanEnv({
    HOME: home,
    XDG_DATA_HOME: path.join(home, "data"),
    XDG_CONFIG_HOME: path.join(home, "config"),
    CADDY_ADMIN: "off",
    CADDY_BIND: "127.0.0.1",
    CADDY_HTTP_PORT: String(httpPort),
    CADDY_HTTPS_PORT: String(httpsPort),
    OVERSIGHT_REGISTRY_HOST: sites.registry,
    OVERSIGHT_BEACON_HOST: sites.beacon,
    OVERSIGHT_OCSP_HOST: sites.ocsp,
    OVERSIGHT_LICENCE_HOST: sites.licence,
    OVERSIGHT_UPSTREAM: `127.0.0.1:${upstreamPort}`,
  });
  const proc = run("caddy", ["run", "--config", CADDYFILE, "--adapter", "caddyfile"], env, t);
  await until("caddy", proc, async () => {
    const r = await send({ port: httpPort, host: HOSTS.unknown, path: "/" });
    return r.status === 404 ? true : undefined;
  });
  return { proc, httpPort, httpsPort };
}

function caddyMissing(): boolean {
  const probe = spawnSync("caddy", ["version"], { encoding: "utf8" });
  return probe.error !== undefined || probe.status !== 0;
}

function assertEdge404(reply: Reply, what: string): void {
  assert.equal(reply.status, 404, `${what}: status`);
  assert.match(String(reply.headers["content-type"]), /^application\/json/, `${what}: content type`);
  assert.deepEqual(json(reply), { error: { code: "not_found", message: EDGE_MESSAGE } }, `${what}: body`);
}

/** Reached the registry: anything but the edge's own 404. */
function assertRouted(reply: Reply, what: string): void {
  if (reply.status === 404) {
    const body = json(reply) as { error?: { code?: string; message?: string } };
    assert.equal(body.error?.code, "not_found", `${what}: registry 404 envelope`);
    assert.notEqual(body.error?.message, EDGE_MESSAGE, `${what}: answered by the edge, not the registry`);
  }
}

function assertEnvelope(reply: Reply, status: number, code: string, what: string): void {
  assert.equal(reply.status, status, `${what}: status`);
  const body = json(reply) as { error?: { code?: string; message?: string } };
  assert.equal(body.error?.code, code, `${what}: code`);
  assert.ok(body.error?.message, `${what}: message`);
}

interface Probe {
  name: string;
  method?: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  /** The host that routes it (none: every host answers the edge 404), and what its answer must look like there. */
  on?: HostKey;
  check?: (reply: Reply) => void;
}

const PROBES: Probe[] = [
  {
    name: "health",
    path: "/health",
    on: "registry",
    check: (r) => {
      assert.equal(r.status, 200);
      assert.equal((json(r) as { status?: string }).status, "ok");
    },
  },
  {
    name: "well-known",
    path: "/.well-known/oversight-registry",
    on: "registry",
    check: (r) => {
      assert.equal(r.status, 200);
      assert.match((json(r) as { ed25519_pub?: string }).ed25519_pub ?? "", /^[0-9a-f]{64}$/);
    },
  },
  { name: "tlog head", path: "/tlog/head", on: "registry", check: (r) => assert.equal(r.status, 200) },
  { name: "tlog range", path: "/tlog/range?start=0&limit=5", on: "registry", check: (r) => assert.equal(r.status, 200) },
  { name: "tlog consistency", path: "/tlog/consistency?first=0", on: "registry", check: (r) => assertRouted(r, "consistency") },
  { name: "tlog proof", path: "/tlog/proof/0", on: "registry", check: (r) => assertRouted(r, "proof") },
  {
    name: "checkpoint",
    path: "/checkpoint",
    on: "registry",
    check: (r) => {
      assert.equal(r.status, 200);
      assert.match(String(r.headers["content-type"]), /^text\/plain/);
    },
  },
  { name: "hash tile", path: "/tile/0/000", on: "registry", check: (r) => assertRouted(r, "hash tile") },
  { name: "entry tile", path: "/tile/entries/000", on: "registry", check: (r) => assertRouted(r, "entry tile") },
  {
    name: "evidence",
    path: "/evidence/no-such-file",
    on: "registry",
    check: (r) => {
      assertEnvelope(r, 404, "not_found", "evidence");
      assertRouted(r, "evidence");
    },
  },
  { name: "candidates", path: "/candidates/semantic", on: "registry", check: (r) => assert.equal(r.status, 200) },
  {
    name: "openapi",
    path: "/openapi.json",
    on: "registry",
    check: (r) => {
      assert.equal(r.status, 200);
      assert.equal((json(r) as { openapi?: string }).openapi, "3.1.1");
    },
  },
  {
    name: "register without token",
    method: "POST",
    path: "/register",
    body: "{}",
    on: "registry",
    check: (r) => assertEnvelope(r, 401, "auth_required", "register"),
  },
  {
    name: "attribute without token",
    method: "POST",
    path: "/attribute",
    body: '{"token_id":"t"}',
    on: "registry",
    check: (r) => assertEnvelope(r, 401, "auth_required", "attribute"),
  },
  {
    name: "dns_event without secret",
    method: "POST",
    path: "/dns_event",
    body: '{"token_id":"t"}',
    on: "registry",
    check: (r) => assertEnvelope(r, 401, "auth_required", "dns_event"),
  },
  {
    name: "pixel beacon",
    path: "/p/matrix-token.png",
    on: "beacon",
    check: (r) => {
      assert.equal(r.status, 200);
      assert.equal(r.headers["content-type"], "image/png");
      assert.deepEqual([...r.body.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    },
  },
  { name: "ocsp beacon", path: "/r/matrix-token", on: "ocsp", check: (r) => assert.equal(r.status, 200) },
  { name: "ocsp beacon, long form", path: "/ocsp/r/matrix-token", on: "ocsp", check: (r) => assert.equal(r.status, 200) },
  {
    name: "licence beacon",
    path: "/v/matrix-token",
    on: "licence",
    check: (r) => {
      assert.equal(r.status, 200);
      assert.deepEqual(json(r), { valid: true });
    },
  },
  {
    name: "licence beacon, long form",
    path: "/lic/v/matrix-token",
    on: "licence",
    check: (r) => {
      assert.equal(r.status, 200);
      assert.deepEqual(json(r), { valid: true });
    },
  },
  // Routed nowhere, on any host.
  { name: "metrics", path: "/metrics" },
  { name: "metrics, upper case", path: "/METRICS" },
  { name: "metrics behind a beacon prefix", path: "/p/../metrics" },
  { name: "metrics behind an encoded dot segment", path: "/tile/%2e%2e/metrics" },
  {
    name: "inspector page",
    path: "/",
    on: "registry",
    check: (r) => {
      assert.equal(r.status, 200);
      assert.match(String(r.headers["content-type"]), /^text\/html/);
      assert.equal(r.headers["cache-control"], "no-cache");
      assert.equal(r.headers["content-security-policy"], INSPECTOR_CSP);
    },
  },
  {
    name: "root asking for JSON",
    path: "/",
    headers: { Accept: "application/json" },
    on: "registry",
    check: (r) => assertEnvelope(r, 404, "not_found", "root as JSON"),
  },
  {
    name: "inspector script",
    path: `/web/${PAGE_SCRIPT}`,
    on: "registry",
    check: (r) => {
      assert.equal(r.status, 200);
      assert.equal(r.headers["cache-control"], "public, max-age=31536000, immutable");
      assert.match(String(r.headers["content-type"]), /^text\/javascript/);
    },
  },
  { name: "unknown inspector file", path: "/web/nothing.js", on: "registry", check: (r) => assertEnvelope(r, 404, "not_found", "unknown asset") },
  { name: "unknown path", path: "/admin" },
];

async function leafFor(registryPort: number, tokenId: string): Promise<Record<string, unknown>> {
  const reply = await send({ port: registryPort, host: "127.0.0.1", path: "/tlog/range?start=0&limit=1000" });
  assert.equal(reply.status, 200);
  const entries = (json(reply) as { entries: { leaf_data: string }[] }).entries;
  const leaves = entries.map((e) => JSON.parse(e.leaf_data) as Record<string, unknown>);
  const leaf = leaves.find((l) => l.token_id === tokenId);
  assert.ok(leaf, `no leaf for ${tokenId}`);
  return leaf;
}

test("the Caddyfile in front of the real registry", async (t) => {
  if (caddyMissing()) {
    if (process.env.CI) assert.fail("caddy is not on PATH (CI installs it: .ci/install-package caddy caddy)");
    t.skip("caddy is not on PATH: run .ci/install-package caddy caddy to exercise the Caddyfile");
    return;
  }
  assert.ok(fs.existsSync(MAIN), `${MAIN} is missing: run npm run build`);
  assert.ok(PAGE_SCRIPT, "dist/web has no page script: run npm run build");

  const registry = await startRegistry(t);
  const caddy = await startCaddy(t, registry.port, {
    registry: `http://${HOSTS.registry}`,
    beacon: HOSTS.beacon,
    ocsp: HOSTS.ocsp,
    licence: HOSTS.licence,
  });
  const viaEdge = (host: HostKey, req: Omit<Send, "port" | "host">): Promise<Reply> => send({ port: caddy.httpPort, host: HOSTS[host], ...req });

  await t.test("each host answers its routes and 404s the rest", async () => {
    for (const host of Object.keys(HOSTS) as HostKey[]) {
      for (const probe of PROBES) {
        const what = `${HOSTS[host]} ${probe.method ?? "GET"} ${probe.path}`;
        const req = {
          path: probe.path,
          method: probe.method ?? "GET",
          ...(probe.body === undefined ? {} : { body: probe.body }),
          ...(probe.headers === undefined ? {} : { headers: probe.headers }),
        };
        const reply = await viaEdge(host, req);
        if (probe.on === host) {
          assertRouted(reply, what);
          probe.check?.(reply);
        } else {
          assertEdge404(reply, what);
        }
      }
    }
  });

  await t.test("/metrics is served by the registry itself, so the edge really hides it", async () => {
    const direct = await send({ port: registry.port, host: "127.0.0.1", path: "/metrics" });
    assert.equal(direct.status, 200);
    assert.match(String(direct.headers["content-type"]), /^text\/plain/);
  });

  await t.test("security headers on proxied answers and on the edge's own 404", async () => {
    const proxied = await viaEdge("registry", { path: "/health" });
    const edge = await viaEdge("registry", { path: "/nowhere" });
    for (const [what, reply] of [
      ["proxied", proxied],
      ["edge", edge],
    ] as const) {
      assert.equal(reply.headers["x-content-type-options"], "nosniff", what);
      assert.equal(reply.headers["x-frame-options"], "DENY", what);
      assert.equal(reply.headers["referrer-policy"], "no-referrer", what);
      assert.match(String(reply.headers["strict-transport-security"]), /^max-age=\d{7,}/, what);
      assert.match(String(reply.headers["content-security-policy"]), /default-src 'none'/, what);
      assert.equal(reply.headers["server"], undefined, what);
      assert.equal(reply.headers["x-powered-by"], undefined, what);
    }
    const page = await viaEdge("registry", { path: "/" });
    assert.equal(page.headers["content-security-policy"], INSPECTOR_CSP, "the page keeps its own policy, no 'unsafe-inline'");
    assert.doesNotMatch(INSPECTOR_CSP, /unsafe-inline/);
    assert.equal(page.headers["x-frame-options"], "DENY");
    const pixel = await viaEdge("beacon", { path: "/p/headers-token.png" });
    assert.equal(pixel.headers["cross-origin-resource-policy"], "cross-origin");
  });

  await t.test("large answers are compressed when the client accepts gzip", async () => {
    for (const token of ["gzip-1", "gzip-2", "gzip-3"]) {
      assert.equal((await viaEdge("licence", { path: `/v/${token}` })).status, 200);
    }
    const plain = await viaEdge("registry", { path: "/tlog/range?start=0&limit=1000" });
    assert.equal(plain.headers["content-encoding"], undefined);
    assert.ok(plain.body.length > 1024, `range answer too small to test compression: ${plain.body.length} bytes`);
    const gz = await viaEdge("registry", {
      path: "/tlog/range?start=0&limit=1000",
      headers: { "Accept-Encoding": "gzip" },
    });
    assert.equal(gz.headers["content-encoding"], "gzip");
    assert.ok(gz.body.length < plain.body.length);
    assert.deepEqual(JSON.parse(zlib.gunzipSync(gz.body).toString("utf8")), json(plain));
  });

  await t.test("a client-sent X-Forwarded-For never becomes the recorded source_ip", async () => {
    // Control: the registry does honour the rightmost entry (TRUSTED_PROXY=1),
    // so the assertions through the edge below can fail.
    const direct = await send({
      port: registry.port,
      host: "127.0.0.1",
      path: "/p/xff-direct.png",
      headers: { "X-Forwarded-For": "203.0.113.8" },
    });
    assert.equal(direct.status, 200);
    assert.equal((await leafFor(registry.port, "xff-direct")).source_ip, "203.0.113.8");

    for (const [token, xff] of [
      ["xff-single", "203.0.113.7"],
      ["xff-chain", "198.51.100.1, 203.0.113.9"],
    ] as const) {
      const reply = await viaEdge("beacon", { path: `/p/${token}.png`, headers: { "X-Forwarded-For": xff } });
      assert.equal(reply.status, 200);
      assert.equal((await leafFor(registry.port, token)).source_ip, "127.0.0.1", token);
    }
  });

  await t.test("authenticated calls pass through, and the access log keeps no secret", async () => {
    const dns = await viaEdge("registry", {
      method: "POST",
      path: "/dns_event",
      body: '{"token_id":"log-token","qtype":"A","qname":"log-token.example"}',
      headers: { "X-Oversight-DNS-Secret": DNS_SECRET },
    });
    assert.equal(dns.status, 200);
    assert.equal((json(dns) as { ok?: boolean }).ok, true);
    const attribute = await viaEdge("registry", {
      method: "POST",
      path: "/attribute",
      body: '{"token_id":"log-token"}',
      headers: { Authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    assert.equal(attribute.status, 200);
    const viaHeader = await viaEdge("registry", {
      method: "POST",
      path: "/attribute",
      body: '{"token_id":"log-token"}',
      headers: { "X-Oversight-Operator-Token": OPERATOR_TOKEN },
    });
    assert.equal(viaHeader.status, 200);

    const accessLog = await until("access log", caddy.proc, async () => {
      const lines = caddy.proc
        .stdout()
        .split("\n")
        .filter((l) => l.includes('"uri":"/attribute"'));
      return lines.length >= 2 ? caddy.proc.stdout() : undefined;
    });
    const entry = JSON.parse(accessLog.split("\n").find((l) => l.includes('"uri":"/dns_event"')) ?? "{}") as {
      request?: { host?: string; method?: string };
    };
    assert.equal(entry.request?.host, HOSTS.registry);
    assert.equal(entry.request?.method, "POST");
    assert.ok(!accessLog.includes(DNS_SECRET), "DNS secret in the access log");
    assert.ok(!accessLog.includes(OPERATOR_TOKEN), "operator token in the access log");
  });

  await t.test("production shape: HTTPS sites, the registry's HTTP redirected, beacons' HTTP answered, unknown hosts 404", async (st) => {
    const names = { registry: "registry.localhost", beacon: "b.localhost", ocsp: "ocsp.localhost", licence: "lic.localhost" };
    // .localhost names get certificates from Caddy's internal CA, so no ACME
    // traffic; this runs the Caddyfile's default site scheme (HTTPS) and its
    // default fallback site (every other name on the HTTP port).
    const tls = await startCaddy(st, registry.port, names);
    const health = await until("https", tls.proc, async () => {
      const r = await send({ port: tls.httpsPort, host: names.registry, path: "/health", tls: true });
      return r.status === 200 ? r : undefined;
    });
    assert.equal((json(health) as { status?: string }).status, "ok");
    assertEdge404(await send({ port: tls.httpsPort, host: names.registry, path: "/metrics", tls: true }), "https metrics");
    const pixel = await send({ port: tls.httpsPort, host: names.beacon, path: "/p/tls-token.png", tls: true });
    assert.equal(pixel.status, 200);
    assert.equal(pixel.headers["content-type"], "image/png");
    assertEdge404(await send({ port: tls.httpsPort, host: names.beacon, path: "/tlog/head", tls: true }), "https beacon tlog");

    const redirect = await send({ port: tls.httpPort, host: names.registry, path: "/tlog/head" });
    assert.equal(redirect.status, 308);
    assert.match(String(redirect.headers.location), /^https:\/\/registry\.localhost(:\d+)?\/tlog\/head$/);
    assertEdge404(await send({ port: tls.httpPort, host: HOSTS.unknown, path: "/health" }), "http unknown host");

    // OCSP URLs in certificates, old licence clients and old mail clients speak
    // plain http and follow no redirect: beacon names answer it directly.
    const beaconHits = [
      { host: names.beacon, path: "/p/plain-pixel.png", token: "plain-pixel" },
      { host: names.ocsp, path: "/r/plain-ocsp", token: "plain-ocsp" },
      { host: names.ocsp, path: "/ocsp/r/plain-ocsp-long", token: "plain-ocsp-long" },
      { host: names.licence, path: "/v/plain-licence", token: "plain-licence" },
      { host: names.licence, path: "/lic/v/plain-licence-long", token: "plain-licence-long" },
    ];
    for (const { host, path: hitPath, token } of beaconHits) {
      const plain = await send({ port: tls.httpPort, host, path: hitPath });
      assert.equal(plain.status, 200, `http://${host}${hitPath}`);
      assert.equal(plain.headers.location, undefined, `http://${host}${hitPath} redirects`);
      const leaf = await leafFor(registry.port, token);
      assert.equal(leaf.event, "beacon", token);
      // Each name's certificate may still be on its way: poll, as for the registry name above.
      await until(`https ${host}`, tls.proc, async () => {
        const secure = await send({ port: tls.httpsPort, host, path: hitPath.replace(token, `${token}-tls`), tls: true });
        return secure.status === 200 ? secure : undefined;
      });
      await leafFor(registry.port, `${token}-tls`);
    }
    assertEdge404(await send({ port: tls.httpPort, host: names.ocsp, path: "/tlog/head" }), "http beacon host, registry route");

    // The registry name stays HTTPS-only: plain http is redirected and records nothing.
    const size = async () => (json(await send({ port: registry.port, host: "127.0.0.1", path: "/tlog/head" })) as { size: number }).size;
    const before = await size();
    const plainDns = await send({
      port: tls.httpPort,
      host: names.registry,
      method: "POST",
      path: "/dns_event",
      body: '{"token_id":"plain-dns"}',
      headers: { "X-Oversight-DNS-Secret": DNS_SECRET },
    });
    assert.equal(plainDns.status, 308);
    assert.match(String(plainDns.headers.location), /^https:\/\/registry\.localhost(:\d+)?\/dns_event$/);
    const plainBeacon = await send({ port: tls.httpPort, host: names.registry, path: "/r/plain-on-registry" });
    assert.equal(plainBeacon.status, 308);
    assert.equal(await size(), before, "a redirected request was recorded");
  });

  await t.test("a registry that is down answers with the server_error envelope", async () => {
    await stop(registry.proc.child);
    const reply = await viaEdge("registry", { path: "/health" });
    assertEnvelope(reply, 502, "server_error", "registry down");
    assert.match(String(reply.headers["content-type"]), /^application\/json/);
  });
});
