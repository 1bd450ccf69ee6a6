import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { OPENAPI_FILE, openApiDocument, openApiText } from "../../src/http/openapi.js";
import { route } from "../../src/http/route.js";
import { API_ROUTES } from "../../src/http/route-table.js";
import { INSPECTOR_DIR } from "../../src/http/routes/inspector.js";
import { tokenCommand } from "../../src/ops/token-command.js";
import { VERSION } from "../../src/version.js";
import { createIssuer } from "../issuer.js";
import { REPO_ROOT } from "../repo.js";
import { answerChecker } from "./openapi-answers.js";
import { startTestRegistry, type TestRegistry } from "./registry-server.js";

const DNS_SECRET = "dns-secret-for-the-openapi-test-0123456789";
const MAX_BODY = 4096;

test("docs/openapi.json is the document the code generates (run `npm run openapi` after changing a route or schema)", () => {
  assert.equal(readFileSync(path.join(REPO_ROOT, OPENAPI_FILE), "utf8"), openApiText(API_ROUTES, VERSION));
});

type Method = "GET" | "HEAD" | "POST";

/** Every operation of the document: method, OpenAPI path, and the operation. */
function operations(doc: any): { method: Method; path: string; operation: any }[] {
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, byMethod]) =>
    Object.entries(byMethod).map(([method, operation]) => ({ method: method.toUpperCase() as Method, path, operation })),
  );
}

/** What one live request documents: the operation, and the request. */
interface Call {
  method: Method;
  path: string;
  url: string;
  status: number;
  /** Sent as the raw body with `Content-Type: application/json` unless `type` says otherwise. */
  body?: string;
  type?: string;
  headers?: Record<string, string>;
}

async function send(reg: TestRegistry, call: Call): Promise<{ res: Response; body: Buffer }> {
  const headers: Record<string, string> = { ...call.headers };
  if (call.body !== undefined) headers["content-type"] = call.type ?? "application/json";
  const res = await fetch(reg.url + call.url, { method: call.method, headers, body: call.body ?? null });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

function createToken(reg: TestRegistry, name: string, scope: string): string {
  let stdout = "";
  const quiet = { write: () => {} };
  const code = tokenCommand(["create", "--name", name, "--scope", scope, "--data-dir", reg.dataDir], {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: quiet,
    env: {},
    cwd: process.cwd(),
  });
  assert.equal(code, 0);
  return JSON.parse(stdout).secret as string;
}

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

test("every route answers, success and error, as the document says", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET, maxBodyBytes: MAX_BODY });
  const served = await fetch(`${reg.url}/openapi.json`);
  const doc = await served.json();
  assert.deepEqual(doc, openApiDocument(API_ROUTES, VERSION));
  const checker = answerChecker(doc);
  checker.check("GET", "/openapi.json", served, Buffer.from(JSON.stringify(doc)));

  const operator = bearer(reg.token);
  const dns = bearer(DNS_SECRET);
  const registerOnly = bearer(createToken(reg, "ci", "register"));
  const attributeOnly = bearer(createToken(reg, "analyst", "attribute"));
  const issuer = createIssuer("acme-openapi");
  const registration = issuer.registration();
  const fileId = registration.manifest["file_id"] as string;
  const [beacon] = registration.beacons as { token_id: string }[];
  const foreign = createIssuer("other-openapi").registration({ file_id: fileId });
  const tooLong = "a".repeat(300);
  const oversized = JSON.stringify({ padding: "x".repeat(MAX_BODY) });
  const latin1 = "application/json; charset=iso-8859-1";

  const writes: Call[] = [
    { method: "POST", path: "/register", url: "/register", status: 200, body: JSON.stringify(registration), headers: operator },
    { method: "POST", path: "/register", url: "/register", status: 400, body: "{", headers: operator },
    { method: "POST", path: "/register", url: "/register", status: 401, body: JSON.stringify(registration) },
    { method: "POST", path: "/register", url: "/register", status: 403, body: JSON.stringify(registration), headers: attributeOnly },
    { method: "POST", path: "/register", url: "/register", status: 409, body: JSON.stringify(foreign), headers: operator },
    { method: "POST", path: "/register", url: "/register", status: 413, body: oversized, headers: operator },
    { method: "POST", path: "/register", url: "/register", status: 415, body: "{}", type: latin1, headers: operator },
    { method: "POST", path: "/attribute", url: "/attribute", status: 200, body: JSON.stringify({ token_id: beacon!.token_id }), headers: operator },
    { method: "POST", path: "/attribute", url: "/attribute", status: 200, body: JSON.stringify({ token_id: "nobody" }), headers: operator },
    { method: "POST", path: "/attribute", url: "/attribute", status: 400, body: "{}", headers: operator },
    { method: "POST", path: "/attribute", url: "/attribute", status: 401, body: "{}" },
    { method: "POST", path: "/attribute", url: "/attribute", status: 403, body: "{}", headers: registerOnly },
    { method: "POST", path: "/attribute", url: "/attribute", status: 413, body: oversized, headers: operator },
    { method: "POST", path: "/attribute", url: "/attribute", status: 415, body: "{}", type: latin1, headers: operator },
    { method: "POST", path: "/dns_event", url: "/dns_event", status: 200, body: JSON.stringify({ token_id: beacon!.token_id, event_id: "e1" }), headers: dns },
    { method: "POST", path: "/dns_event", url: "/dns_event", status: 400, body: "{}", headers: dns },
    { method: "POST", path: "/dns_event", url: "/dns_event", status: 401, body: JSON.stringify({ token_id: "t" }) },
    { method: "POST", path: "/dns_event", url: "/dns_event", status: 413, body: oversized, headers: dns },
    { method: "POST", path: "/dns_event", url: "/dns_event", status: 415, body: "{}", type: latin1, headers: dns },
    {
      method: "POST",
      path: "/dns_events",
      url: "/dns_events",
      status: 200,
      body: JSON.stringify({ events: [{ token_id: beacon!.token_id, event_id: "e2" }, {}] }),
      headers: dns,
    },
    { method: "POST", path: "/dns_events", url: "/dns_events", status: 400, body: JSON.stringify({ events: [] }), headers: dns },
    { method: "POST", path: "/dns_events", url: "/dns_events", status: 401, body: JSON.stringify({ events: [{ token_id: "t" }] }) },
    { method: "POST", path: "/dns_events", url: "/dns_events", status: 413, body: oversized, headers: dns },
    { method: "POST", path: "/dns_events", url: "/dns_events", status: 415, body: "{}", type: latin1, headers: dns },
  ];
  const beacons: Call[] = operations(doc)
    .filter(({ operation }) => operation["x-rate-bucket"] === "beacon")
    .flatMap(({ method, path }) => [
      { method, path, url: path.replace("{token_id}", beacon!.token_id), status: 200 },
      { method, path, url: path.replace("{token_id}", tooLong), status: 400 },
    ]);
  for (const call of [...writes, ...beacons]) {
    const { res, body } = await send(reg, call);
    assert.equal(res.status, call.status, `${call.method} ${call.url}: ${body.toString("utf8").slice(0, 200)}`);
    checker.check(call.method, call.path, res, body);
  }

  // Reads after the writes, so that proofs, events and tiles have content.
  const pageScript = readdirSync(INSPECTOR_DIR).find((name) => name.endsWith(".js"));
  assert.ok(pageScript, `no page script in ${INSPECTOR_DIR}: run npm run build`);
  const pageStyles = readdirSync(INSPECTOR_DIR).find((name) => name.endsWith(".css"));
  assert.ok(pageStyles, `no page stylesheet in ${INSPECTOR_DIR}: run npm run build`);
  const size = reg.service.log.size();
  const reads: Call[] = [
    { method: "GET", path: "/health", url: "/health", status: 200 },
    { method: "GET", path: "/.well-known/oversight-registry", url: "/.well-known/oversight-registry", status: 200 },
    { method: "GET", path: "/evidence/{file_id}", url: `/evidence/${fileId}`, status: 200 },
    { method: "GET", path: "/evidence/{file_id}", url: `/evidence/${tooLong}`, status: 400 },
    { method: "GET", path: "/evidence/{file_id}", url: "/evidence/never-registered", status: 404 },
    { method: "GET", path: "/tlog/head", url: "/tlog/head", status: 200 },
    { method: "GET", path: "/tlog/proof/{index}", url: "/tlog/proof/0", status: 200 },
    { method: "GET", path: "/tlog/proof/{index}", url: "/tlog/proof/1?tree_size=2", status: 200 },
    { method: "GET", path: "/tlog/proof/{index}", url: "/tlog/proof/-1", status: 400 },
    { method: "GET", path: "/tlog/proof/{index}", url: `/tlog/proof/${size}`, status: 404 },
    { method: "GET", path: "/tlog/consistency", url: `/tlog/consistency?first=1&second=${size}`, status: 200 },
    { method: "GET", path: "/tlog/consistency", url: "/tlog/consistency?second=1", status: 400 },
    { method: "GET", path: "/tlog/consistency", url: `/tlog/consistency?first=1&second=${size + 1}`, status: 404 },
    { method: "GET", path: "/tlog/range", url: "/tlog/range?start=0&limit=10", status: 200 },
    { method: "GET", path: "/tlog/range", url: "/tlog/range?start=-1", status: 400 },
    { method: "GET", path: "/checkpoint", url: "/checkpoint", status: 200 },
    { method: "GET", path: "/tile/{L}/{N}", url: `/tile/0/000.p/${size}`, status: 200 },
    { method: "GET", path: "/tile/{L}/{N}", url: "/tile/0/001", status: 404 },
    { method: "GET", path: "/tile/entries/{N}", url: `/tile/entries/000.p/${size}`, status: 200 },
    { method: "GET", path: "/tile/entries/{N}", url: "/tile/entries/001", status: 404 },
    { method: "GET", path: "/candidates/semantic", url: "/candidates/semantic?limit=5", status: 200 },
    { method: "GET", path: "/candidates/semantic", url: "/candidates/semantic?since=1.5", status: 400 },
    { method: "GET", path: "/metrics", url: "/metrics", status: 200 },
    { method: "GET", path: "/", url: "/", status: 200, headers: { accept: "text/html" } },
    { method: "GET", path: "/", url: "/", status: 404, headers: { accept: "application/json" } },
    { method: "GET", path: "/web/{name}", url: `/web/${pageScript}`, status: 200 },
    { method: "GET", path: "/web/{name}", url: `/web/${pageStyles}`, status: 200 },
    { method: "GET", path: "/web/{name}", url: "/web/missing.js", status: 404 },
  ];
  // Every read route also takes HEAD, GET without the content: each read again, as HEAD.
  const heads = reads.map((call): Call => ({ ...call, method: "HEAD" }));
  for (const call of [...reads, ...heads]) {
    const { res, body } = await send(reg, call);
    assert.equal(res.status, call.status, `${call.method} ${call.url}: ${body.toString("utf8").slice(0, 200)}`);
    checker.check(call.method, call.path, res, body);
  }

  // Every route with a bucket, on a registry whose buckets hold one token and never refill.
  const frozen = { perSecond: 1, burst: 1 };
  const limited = await startTestRegistry(t, {
    dnsSecret: DNS_SECRET,
    rates: { write: frozen, read: frozen, token: frozen, dns: frozen },
    rateClock: () => 0,
  });
  for (const { method, path, operation } of operations(doc).filter(({ operation }) => operation["x-rate-bucket"] !== null)) {
    const url = path.replace("{token_id}", "t").replace("{file_id}", "f").replace("{index}", "0").replace("{L}", "0").replace("{N}", "000");
    const schemes = JSON.stringify(operation.security ?? []);
    const headers = schemes.includes("operatorBearer") ? operator : schemes.includes("dnsBearer") ? dns : {};
    const call: Call = { method, path, url, status: 429, headers, ...(method === "POST" ? { body: "{}" } : {}) };
    let last = await send(limited, call);
    if (last.res.status !== 429) last = await send(limited, call);
    assert.equal(last.res.status, 429, `${method} ${path} never refused`);
    checker.check(method, path, last.res, last.body);
    assert.ok(Number(last.res.headers.get("retry-after")) > 0);
  }

  // Each operation's success and every 4xx it documents was seen (5xx need a broken registry).
  const missing = operations(doc).flatMap(({ method, path, operation }) =>
    Object.keys(operation.responses)
      .filter((status) => Number(status) < 500)
      .map((status) => `${method} ${path} ${status}`)
      .filter((key) => !checker.seen.has(key)),
  );
  assert.deepEqual(missing, []);
});

/** The Express routes of the app: [METHOD or "ALL", template]. */
function expressRoutes(app: { router: { stack: any[] } }): [string, string][] {
  const found: [string, string][] = [];
  const walk = (stack: any[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) found.push([method === "_all" ? "ALL" : method.toUpperCase(), layer.route.path]);
      } else if (Array.isArray(layer.handle?.stack)) walk(layer.handle.stack);
    }
  };
  walk(app.router.stack);
  return found;
}

test("every route the app serves is described, in the order it is tried, with the methods it takes", async (t) => {
  const reg = await startTestRegistry(t);
  const served = expressRoutes(reg.app as never);
  assert.deepEqual(
    [...new Set(served.map(([, template]) => template))],
    API_ROUTES.map((route) => route.path),
  );
  // Express answers HEAD with a GET route, and the app passes HEAD on where the route takes no HEAD: which HEADs are answered is for the live test above.
  const withoutHead = (methods: readonly string[]) => methods.filter((method) => method !== "HEAD").sort();
  for (const route of API_ROUTES) {
    const methods = served.filter(([, template]) => template === route.path).map(([method]) => method);
    assert.deepEqual(withoutHead(methods), withoutHead(route.methods), route.path);
  }
});

test("every operation is grouped under one of the document's tags, and every tag groups some", () => {
  const doc = openApiDocument(API_ROUTES, VERSION);
  const tags = (doc["tags"] as { name: string; description: string }[]).map((tag) => tag.name);
  const used = operations(doc).map(({ method, path, operation }) => ({ operation: `${method} ${path}`, tags: operation.tags as string[] }));
  assert.deepEqual(
    used.filter((op) => op.tags?.length !== 1 || !tags.includes(op.tags[0]!)),
    [],
  );
  assert.deepEqual(
    tags.filter((tag) => !used.some((op) => op.tags[0] === tag)),
    [],
  );
});

test("a route the document cannot describe stops the build of the document", () => {
  const answer = () => ({});
  const base = { methods: ["GET"], bucket: null, answer, doc: { tag: "operations", summary: "s", ok: { kind: "empty" }, errors: [] } } as const;
  const wildcard = route({ ...base, path: "/files/*rest", params: { rest: (raw: string | string[]) => String(raw) } });
  assert.throws(() => openApiDocument([wildcard], VERSION), /\/files\/\*rest: a wildcard route describes its doc.paths/);
  const unparsed = route({ ...base, path: "/files/:name", params: { name: (raw: string | string[]) => String(raw) } });
  assert.throws(() => openApiDocument([unparsed], VERSION), /parameter name has no schema/);
  const twice = route({ ...base, path: "/files" });
  assert.throws(() => openApiDocument([twice, twice], VERSION), /GET \/files is described twice/);
});
