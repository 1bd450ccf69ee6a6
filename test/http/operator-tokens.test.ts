import assert from "node:assert/strict";
import { test } from "node:test";
import { tokenCommand } from "../../src/ops/token-command.js";
import { createIssuer, type TestIssuer } from "../issuer.js";
import { expectEnvelope } from "./helpers.js";
import { startTestRegistry, type TestRegistry } from "./registry-server.js";

/** CORS refuses this origin, which the fast path leaves to Express: the second of the two request paths. */
const VIA_EXPRESS = { origin: "https://refused.example" };
const PATHS = { fast: {}, express: VIA_EXPRESS } as const;

/** Runs `oversight-registry token …` in-process against the registry's data directory, as a second process would. */
function token(reg: TestRegistry, args: string[], clock?: () => number): { code: number; stdout: string; stderr: string } {
  let stdout = "";
  let stderr = "";
  const code = tokenCommand([...args, "--data-dir", reg.dataDir], {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    env: {},
    cwd: process.cwd(),
    ...(clock ? { clock } : {}),
  });
  return { code, stdout, stderr };
}

function createToken(reg: TestRegistry, name: string, flags: string[], clock?: () => number): string {
  const created = token(reg, ["create", "--name", name, ...flags], clock);
  assert.equal(created.code, 0, created.stderr);
  return JSON.parse(created.stdout).secret as string;
}

function post(reg: TestRegistry, path: string, secret: string, json: unknown, headers: Record<string, string> = {}) {
  return reg.call(path, {
    method: "POST",
    body: JSON.stringify(json),
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}`, ...headers },
    auth: false,
  });
}

const registration = (issuer: TestIssuer) => issuer.registration();

test("each operator route admits only a token with its scope, on the fast path and through Express", async (t) => {
  const reg = await startTestRegistry(t);
  const issuer = createIssuer("acme-docs");
  const secrets = {
    register: createToken(reg, "ci", ["--scope", "register"]),
    attribute: createToken(reg, "analyst", ["--scope", "attribute"]),
    admin: createToken(reg, "keeper", ["--scope", "admin"]),
  };
  for (const [via, headers] of Object.entries(PATHS)) {
    const served = reg.fastPath.served;
    const ok = await post(reg, "/register", secrets.register, registration(issuer), headers);
    assert.equal(ok.status, 200, `${via}: ${await ok.clone().text()}`);
    assert.equal((await post(reg, "/attribute", secrets.attribute, { token_id: "nobody" }, headers)).status, 200);
    assert.equal(reg.fastPath.served, served + (via === "fast" ? 2 : 0), `${via} served the admitted requests`);

    const size = reg.service.registry.store.size();
    const refusals: [string, string, string][] = [
      ["/attribute", secrets.register, "attribute"],
      ["/register", secrets.attribute, "register"],
      ["/register", secrets.admin, "register"],
      ["/attribute", secrets.admin, "attribute"],
    ];
    for (const [path, secret, scope] of refusals) {
      const body = path === "/register" ? registration(issuer) : { token_id: "nobody" };
      const error = await expectEnvelope(await post(reg, path, secret, body, headers), 403, "auth_required");
      assert.match(error["message"] as string, new RegExp(`missing scope ${scope}`), `${via} ${path}`);
    }
    assert.equal(reg.service.registry.store.size(), size, `${via}: a refused request writes nothing`);
  }
});

test("a prefix- or key-limited token registers only for its issuers", async (t) => {
  const reg = await startTestRegistry(t);
  const acme = createIssuer("acme-docs");
  const globex = createIssuer("globex");
  const impostor = createIssuer("acme-evil");
  const byPrefix = createToken(reg, "ci-acme", ["--scope", "register", "--issuer-prefix", "acme-"]);
  const byKey = createToken(reg, "ci-acme-key", ["--scope", "register", "--issuer-key", acme.signer.publicKeyHex]);
  for (const [via, headers] of Object.entries(PATHS)) {
    assert.equal((await post(reg, "/register", byPrefix, registration(acme), headers)).status, 200, via);
    assert.equal((await post(reg, "/register", byKey, registration(acme), headers)).status, 200, via);
    const size = reg.service.registry.store.size();
    const other = await expectEnvelope(await post(reg, "/register", byPrefix, registration(globex), headers), 403, "auth_required");
    assert.match(other["message"] as string, /missing scope register for issuer "globex"/);
    const wrongKey = await expectEnvelope(await post(reg, "/register", byKey, registration(impostor), headers), 403, "auth_required");
    assert.match(wrongKey["message"] as string, /missing scope register for issuer "acme-evil" with this issuer key/);
    assert.equal(reg.service.registry.store.size(), size, `${via}: nothing written for another issuer`);
  }
});

test("a revocation or an expiry is seen by the running registry's very next request", async (t) => {
  let now = 1_800_000_000;
  const clock = () => now;
  const reg = await startTestRegistry(t, { clock });
  const revoked = createToken(reg, "old-ci", ["--scope", "attribute"], clock);
  const expiring = createToken(reg, "temp", ["--scope", "attribute", "--expires", "1h"], clock);
  for (const [via, headers] of Object.entries(PATHS)) {
    assert.equal((await post(reg, "/attribute", revoked, { token_id: "x" }, headers)).status, 200, via);
  }
  assert.equal(token(reg, ["revoke", "old-ci"], clock).code, 0);
  for (const [via, headers] of Object.entries(PATHS)) {
    const error = await expectEnvelope(await post(reg, "/attribute", revoked, { token_id: "x" }, headers), 401, "auth_required");
    assert.match(error["message"] as string, /operator token "old-ci" was revoked/, via);
    assert.equal((await post(reg, "/attribute", expiring, { token_id: "x" }, headers)).status, 200, via);
  }
  now += 3600;
  for (const [via, headers] of Object.entries(PATHS)) {
    const error = await expectEnvelope(await post(reg, "/attribute", expiring, { token_id: "x" }, headers), 401, "auth_required");
    assert.match(error["message"] as string, /operator token "temp" expired at/, via);
  }
});

test("two tokens of one client are valid at once, so it can rotate without downtime", async (t) => {
  const reg = await startTestRegistry(t);
  const first = createToken(reg, "ci-2025", ["--scope", "register"]);
  const second = createToken(reg, "ci-2026", ["--scope", "register"]);
  const issuer = createIssuer();
  assert.equal((await post(reg, "/register", first, registration(issuer))).status, 200);
  assert.equal((await post(reg, "/register", second, registration(issuer))).status, 200);
  assert.equal(token(reg, ["revoke", "ci-2025"]).code, 0);
  assert.equal((await post(reg, "/register", first, registration(issuer))).status, 401);
  assert.equal((await post(reg, "/register", second, registration(issuer))).status, 200);
});

test("each registration records the name of the token that made it, and token list shows its last use", async (t) => {
  const reg = await startTestRegistry(t);
  const issuer = createIssuer();
  const secret = createToken(reg, "ci-acme", ["--scope", "register"]);
  const viaToken = registration(issuer);
  const viaBootstrap = registration(issuer);
  assert.equal((await post(reg, "/register", secret, viaToken)).status, 200);
  assert.equal((await post(reg, "/register", reg.token, viaBootstrap, VIA_EXPRESS)).status, 200);
  const registeredBy = (fileId: unknown) =>
    (reg.service.registry.db.prepare("SELECT registered_by FROM manifests WHERE file_id = ?").get(fileId) as { registered_by: string | null }).registered_by;
  assert.equal(registeredBy(viaToken.manifest["file_id"]), "ci-acme");
  assert.equal(registeredBy(viaBootstrap.manifest["file_id"]), "bootstrap");
  await reg.service.registry.drain();
  const [listed] = JSON.parse(token(reg, ["list"]).stdout) as { name: string; last_used_at: string | null }[];
  assert.equal(listed!.name, "ci-acme");
  assert.notEqual(listed!.last_used_at, null);
});

test("a refused request is not a use: last_used_at stays empty until the token is admitted", async (t) => {
  const reg = await startTestRegistry(t);
  const secret = createToken(reg, "analyst", ["--scope", "attribute"]);
  const lastUsed = async () => {
    await reg.service.registry.drain();
    return (JSON.parse(token(reg, ["list"]).stdout) as { last_used_at: string | null }[])[0]!.last_used_at;
  };
  await expectEnvelope(await post(reg, "/register", secret, registration(createIssuer())), 403, "auth_required");
  assert.equal(await lastUsed(), null);
  assert.equal((await post(reg, "/attribute", secret, { token_id: "x" })).status, 200);
  assert.notEqual(await lastUsed(), null);
});

test("with auth disabled every request is admitted and registrations record no token", async (t) => {
  const reg = await startTestRegistry(t, { operatorToken: null });
  const issuer = createIssuer();
  const request = registration(issuer);
  assert.equal((await reg.call("/register", { json: request, auth: false })).status, 200);
  const row = reg.service.registry.db.prepare("SELECT registered_by FROM manifests").get() as { registered_by: string | null };
  assert.equal(row.registered_by, null);
});

test("each token has a bucket of its own", async (t) => {
  const reg = await startTestRegistry(t, { rates: { write: OFF, read: OFF, dns: OFF, token: { perSecond: 0.001, burst: 1 } } });
  const one = createToken(reg, "one", ["--scope", "attribute"]);
  const two = createToken(reg, "two", ["--scope", "attribute"]);
  assert.equal((await post(reg, "/attribute", one, { token_id: "x" })).status, 200);
  assert.equal((await post(reg, "/attribute", two, { token_id: "x" })).status, 200);
  await expectEnvelope(await post(reg, "/attribute", one, { token_id: "x" }), 429, "rate_limited");
});

test("secrets appear in no log line, no token list and no error answer", async (t) => {
  const reg = await startTestRegistry(t);
  const secret = createToken(reg, "leaky", ["--scope", "attribute"]);
  const answers = [
    await (await post(reg, "/register", secret, registration(createIssuer()))).text(),
    await (await post(reg, "/register", `${secret}x`, {})).text(),
  ];
  token(reg, ["revoke", "leaky"]);
  answers.push(await (await post(reg, "/attribute", secret, { token_id: "x" })).text());
  const listed = token(reg, ["list"]);
  for (const text of [...answers, listed.stdout, listed.stderr, ...reg.logLines]) {
    assert.ok(!text.includes(secret) && !text.includes(reg.token), text);
  }
  assert.match(listed.stdout, /"leaky"/);
});

const OFF = { perSecond: 0, burst: 1 };
