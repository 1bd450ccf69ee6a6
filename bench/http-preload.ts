/**
 * bench:http's large log: leaves, manifests and events written straight into
 * a fresh SQLite file, as the server would have written them, without HTTP.
 */
import { randomBytes, randomInt } from "node:crypto";
import path from "node:path";
import { loadOrCreateIdentity } from "../src/core/identity.js";
import { canonicalize } from "../src/verify/jcs.js";
import { manifestParties } from "../src/core/manifest.js";
import { openDatabase } from "../src/registry/database.js";
import { beaconLeaf, registerLeaf } from "../src/registry/leaves.js";
import { isoSeconds } from "../src/registry/time.js";
import { TlogStore } from "../src/tlog/store.js";
import { log, round } from "./output.js";
import { signedManifest } from "./http-requests.js";

const PRELOAD_BATCH = 10_000;
const PRELOAD_MAX_FILES = 10_000;
const PRELOAD_EVENTS_PER_FILE = 3;

type PlanItem = { kind: "register"; file: number } | { kind: "event"; file: number } | { kind: "filler" };

/**
 * The order of the preloaded leaves: file k registers at about k × stride,
 * its events land at random later points, and unknown-token beacon hits fill
 * the rest, so proofs and bundles reach all over the tree.
 */
function* preloadPlan(leaves: number, files: number): Generator<PlanItem> {
  const eventsAt: number[][] = Array.from({ length: files }, () => []);
  for (let file = 0; file < files; file++) {
    for (let e = 0; e < PRELOAD_EVENTS_PER_FILE; e++) eventsAt[file + randomInt(files - file)]!.push(file);
  }
  const stride = leaves / files;
  let emitted = 0;
  for (let block = 0; block < files; block++) {
    yield { kind: "register", file: block };
    emitted++;
    for (const file of eventsAt[block]!) {
      yield { kind: "event", file };
      emitted++;
    }
    for (; emitted < Math.round((block + 1) * stride); emitted++) yield { kind: "filler" };
  }
}

export interface PreloadedFile {
  fileId: string;
  manifest: Record<string, unknown>;
}

/** Writes the log, the manifests and the events rows directly, as the server would have, without HTTP. */
export function preload(dbPath: string, leaves: number): { files: PreloadedFile[]; size: number } {
  const fileCount = Math.max(1, Math.min(PRELOAD_MAX_FILES, Math.floor(leaves / 100)));
  const run = randomBytes(4).toString("hex");
  const files = Array.from({ length: fileCount }, (_, i) => {
    const manifest = signedManifest(run, i);
    return { fileId: manifest["file_id"] as string, manifest };
  });

  // A log with leaves and no key is refused at start (a lost key is not replaced silently): the key comes first, as in a real registry.
  loadOrCreateIdentity(path.dirname(dbPath));
  const db = openDatabase(dbPath, { synchronous: "NORMAL" });
  const store = new TlogStore(db);
  const sql = {
    manifest: db.prepare(
      `INSERT INTO manifests (file_id, recipient_id, issuer_id, issuer_ed25519_pub, manifest_json, registered_at, tlog_index, request_digest)
       VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`,
    ),
    beacon: db.prepare("INSERT INTO beacons (token_id, file_id, recipient_id, issuer_id, kind, registered_at) VALUES (?, ?, ?, ?, ?, ?)"),
    watermark: db.prepare("INSERT INTO watermarks (mark_id, layer, file_id, recipient_id, issuer_id, registered_at) VALUES (?, ?, ?, ?, ?, ?)"),
    event: db.prepare(
      `INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index)
       VALUES (?, ?, ?, ?, 'http_img', ?, ?, '{}', ?, ?, ?)`,
    ),
  };
  const userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
  const start = Math.floor(Date.now() / 1000) - leaves;

  const write = (item: PlanItem, index: number) => {
    const now = start + index;
    const timestamp = isoSeconds(now);
    if (item.kind === "register") {
      const { manifest } = files[item.file]!;
      const parties = manifestParties(manifest);
      store.append(registerLeaf({ ...parties, nBeacons: 2, nWatermarks: 2, timestamp }));
      sql.manifest.run(parties.fileId, parties.recipientId, parties.issuerId, parties.issuerPub, canonicalize(manifest), now, index);
      for (const b of manifest["beacons"] as { token_id: string; kind: string }[]) {
        sql.beacon.run(b.token_id, parties.fileId, parties.recipientId, parties.issuerId, b.kind, now);
      }
      for (const w of manifest["watermarks"] as { mark_id: string; layer: string }[]) {
        sql.watermark.run(w.mark_id, w.layer, parties.fileId, parties.recipientId, parties.issuerId, now);
      }
      return;
    }
    const owner = item.kind === "event" ? manifestParties(files[item.file]!.manifest) : null;
    const tokenId = item.kind === "event" ? `${run}h${item.file}` : `${run}-unknown-${index}`;
    const sourceIp = `198.51.100.${index % 256}`;
    store.append(
      beaconLeaf({
        kind: "http_img",
        tokenId,
        fileId: owner?.fileId ?? null,
        recipientId: owner?.recipientId ?? null,
        sourceIp,
        userAgent,
        timestamp,
      }),
    );
    sql.event.run(tokenId, owner?.fileId ?? null, owner?.recipientId ?? null, owner?.issuerId ?? null, sourceIp, userAgent, now, timestamp, index);
  };

  const plan = preloadPlan(leaves, fileCount);
  const batch = db.transaction(() => {
    for (let n = 0; n < PRELOAD_BATCH; n++) {
      const item = plan.next();
      if (item.done) return false;
      write(item.value, store.size());
    }
    return true;
  });
  const began = performance.now();
  let lastReport = began;
  while (batch()) {
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      log(`preloaded ${store.size()} leaves`);
    }
  }
  const size = store.size();
  log(`preloaded ${size} leaves (${fileCount} files, ${PRELOAD_EVENTS_PER_FILE} events each) in ${round((performance.now() - began) / 1000, 1)} s`);
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return { files, size };
}

/** The preloaded rows must make real bundles: one proof per event, plus the registration's. */
export async function checkBundle(url: string, fileId: string): Promise<void> {
  const res = await fetch(`${url}/evidence/${encodeURIComponent(fileId)}`);
  if (!res.ok) throw new Error(`GET /evidence answered ${res.status}: ${await res.text()}`);
  const bundle = (await res.json()) as { tlog_proofs?: unknown[]; registration?: unknown };
  if (bundle.tlog_proofs?.length !== PRELOAD_EVENTS_PER_FILE || !bundle.registration) {
    throw new Error(`a preloaded file's bundle lacks proofs: ${JSON.stringify(bundle).slice(0, 500)}`);
  }
}
