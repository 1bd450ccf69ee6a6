/**
 * Offline validation benchmark: `npm run bench:validate -- --leaves N`.
 *
 * Builds a registry database the way the server writes it (registrations and
 * beacon events through the write sequencer, so every leaf has its row), then
 * times `--validate-db` on it. The last stdout line is one JSON object.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadOrCreateIdentity } from "../src/core/identity.js";
import { validateDatabase } from "../src/ops/validate.js";
import { openDatabase } from "../src/registry/database.js";
import { Registry } from "../src/registry/registry.js";
import { RegistryService } from "../src/registry/service.js";
import { signedHeadFile } from "../src/tlog/signed-head-record.js";
import { createIssuer } from "../test/issuer.js";
import { integerFlag } from "./flags.js";

const leaves = integerFlag(process.argv, "leaves", 1_000_000);
const files = Math.min(1000, Math.max(1, Math.floor(leaves / 100)));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oversight-bench-validate-"));
const dbPath = path.join(dir, "oversight-registry.sqlite");

try {
  const started = performance.now();
  const db = openDatabase(dbPath, { synchronous: "NORMAL" });
  const { identity } = loadOrCreateIdentity(dir);
  const registry = new Registry({ db, identity, origin: "bench.example/log", signedHeadFile: signedHeadFile(dir) });
  const service = new RegistryService(registry);
  const issuer = createIssuer("bench-issuer");
  const tokens: string[] = [];
  for (let i = 0; i < files; i++) {
    const body = issuer.registration();
    await service.registrations.register({ ...body, corpus: null });
    for (const beacon of body.beacons as { token_id: string }[]) tokens.push(beacon.token_id);
  }
  const agent = "Mozilla/5.0 (bench) ".repeat(6);
  for (let done = files; done < leaves; ) {
    const batch = Math.min(2000, leaves - done);
    await Promise.all(
      Array.from({ length: batch }, (_, i) =>
        service.events.beacon({ kind: "http_img", tokenId: tokens[(done + i) % tokens.length]!, sourceIp: "203.0.113.7", userAgent: agent }),
      ),
    );
    done += batch;
    if (done % 100_000 < batch) process.stderr.write(`built ${done} leaves\n`);
  }
  await registry.close();
  const buildSeconds = (performance.now() - started) / 1000;

  const start = performance.now();
  const report = await validateDatabase({ dbPath, dataDir: dir });
  const seconds = (performance.now() - start) / 1000;
  if (!report.ok) process.stderr.write(`${JSON.stringify(report, null, 2)}\n`);
  console.log(
    JSON.stringify({
      leaves: report.tlog_size,
      events: report.counts?.events ?? null,
      manifests: report.counts?.manifests ?? null,
      ok: report.ok,
      build_s: Number(buildSeconds.toFixed(1)),
      validate_s: Number(seconds.toFixed(2)),
      validate_leaves_per_s: Math.round((report.tlog_size ?? 0) / seconds),
      db_mb: Math.round(fs.statSync(dbPath).size / 1e6),
      cores: os.availableParallelism(),
    }),
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
