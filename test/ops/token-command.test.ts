import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { startTestRegistry } from "../http/registry-server.js";
import { tempDir } from "../temp.js";
import { readFileSync } from "node:fs";
import { copyFixture, migrateFixture } from "./migrate-support.js";
import { runMain } from "./monitor-support.js";

/** `node dist/main.js token …`: a second process beside the running registry. */
const cli = (args: string[], env: Record<string, string> = {}) => runMain(["token", ...args], env);

test("token create, list and revoke work beside a running registry, which holds its data directory lock", async (t) => {
  const reg = await startTestRegistry(t);
  const created = await cli(["create", "--name", "ci-acme", "--scope", "register", "--issuer-prefix", "acme-", "--expires", "90d", "--data-dir", reg.dataDir]);
  assert.equal(created.code, 0, created.stderr);
  const token = JSON.parse(created.stdout) as Record<string, unknown>;
  assert.match(token["secret"] as string, /^ovr_[A-Za-z0-9_-]{43}$/);
  assert.equal(token["status"], "active");
  assert.deepEqual(token["scopes"], ["register"]);
  assert.equal(token["register_for"], 'issuer ids starting "acme-"');
  assert.match(created.stderr, /shown only now/);

  const answer = await reg.call("/attribute", { json: { token_id: "x" }, auth: false, headers: { authorization: `Bearer ${token["secret"] as string}` } });
  assert.equal(answer.status, 403);

  const listed = await cli(["list"], { OVERSIGHT_DATA: reg.dataDir });
  assert.equal(listed.code, 0, listed.stderr);
  assert.ok(!listed.stdout.includes(token["secret"] as string));
  assert.deepEqual(
    (JSON.parse(listed.stdout) as Record<string, unknown>[]).map((row) => [row["name"], row["status"], row["revoked_at"]]),
    [["ci-acme", "active", null]],
  );
  const revoked = await cli(["revoke", "ci-acme", "--db", reg.dbPath]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal((JSON.parse(revoked.stdout) as Record<string, unknown>)["status"], "revoked");
});

test("bad token commands say what is wrong and change nothing", async (t) => {
  const reg = await startTestRegistry(t);
  const dir = ["--data-dir", reg.dataDir];
  assert.equal((await cli(["create", "--name", "taken", "--scope", "attribute", ...dir])).code, 0);
  const cases: [string[], number, RegExp][] = [
    [["create", "--name", "x", "--scope", "write", ...dir], 2, /unknown scope "write"/],
    [["create", "--name", "x", ...dir], 2, /--scope is required/],
    [["create", "--scope", "register", ...dir], 2, /needs --name/],
    [["create", "--name", "x", "--scope", "attribute", "--issuer-prefix", "a", ...dir], 2, /add --scope register/],
    [["create", "--name", "x", "--scope", "register", "--expires", "soon", ...dir], 2, /--expires must be/],
    [["create", "--name", "bad name", "--scope", "register", ...dir], 1, /a token name is/],
    [["create", "--name", "bootstrap", "--scope", "register", ...dir], 1, /names OVERSIGHT_OPERATOR_TOKEN/],
    [["create", "--name", "taken", "--scope", "register", ...dir], 1, /already exists/],
    [["revoke", "nobody", ...dir], 1, /no token named "nobody"/],
    [["revoke", ...dir], 2, /exactly one token NAME/],
    [["list", "--scope", "admin", ...dir], 2, /takes no --scope/],
    [["rotate", ...dir], 2, /unknown token command "rotate"/],
    [["create", "--nme", "x", ...dir], 2, /^token: unknown flag --nme\n\(oversight-registry token --help shows the usage\)\n$/],
    [["list", "--data-dir", path.join(tempDir(t), "empty")], 1, /no registry database at/],
  ];
  for (const [args, code, message] of cases) {
    const run = await cli(args);
    assert.equal(run.code, code, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(" "));
  }
  const listed = JSON.parse((await cli(["list", ...dir])).stdout) as { name: string; status: string }[];
  assert.deepEqual(
    listed.map((row) => [row.name, row.status]),
    [["taken", "active"]],
  );
});

test("a data directory migrated from another implementation has no tokens, and takes new ones", async (t) => {
  const migrated = await migrateFixture(t);
  const where = ["--data-dir", migrated.dataDir, "--db", migrated.dbPath];
  assert.deepEqual(JSON.parse((await cli(["list", ...where])).stdout), []);
  assert.equal((await cli(["create", "--name", "analyst", "--scope", "attribute", ...where])).code, 0);
  const reg = await startTestRegistry(t, { dataDir: migrated.dataDir, dbPath: migrated.dbPath });
  assert.equal((await reg.call("/register", { json: {} })).status, 400, "the bootstrap token still works");
});

test("token commands refuse another implementation's data directory and leave its database as it was", async (t) => {
  const { sourceDir, sourcePath } = copyFixture(t);
  const before = readFileSync(sourcePath);
  const run = await cli(["create", "--name", "ci", "--scope", "register", "--data-dir", sourceDir, "--db", sourcePath]);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /another registry implementation's data, nothing was written/);
  assert.deepEqual(readFileSync(sourcePath), before);
});
