import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Signer } from "../../src/core/ed25519.js";
import { toHex } from "../../src/core/hex.js";
import { canonicalBytes } from "../../src/verify/jcs.js";
import { verifyEvidenceBundle, type Check } from "../../src/verify/evidence.js";
import { formatCheck, verifyEvidenceCommand, VERIFY_EXIT } from "../../src/ops/verify-evidence.js";
import { createIssuer } from "../issuer.js";
import { beaconHit, captureIo, registrySigner, startRegistry, type RegistryProcess } from "./monitor-support.js";

type Bundle = Record<string, any>;

let dir: string;
let registry: RegistryProcess;
let registryKey: Signer;
let bundle: Bundle;
let bundleUrl: string;

async function post(url: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const answer = (await response.json()) as Record<string, unknown>;
  assert.equal(response.status, 200, JSON.stringify(answer));
  return answer;
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "oversight-evidence-"));
  registry = await startRegistry(path.join(dir, "data"));
  registryKey = registrySigner(registry.dataDir);
  const issuer = createIssuer("issuer-evidence");
  const registration = issuer.registration({ original_filename: "Quartalsbericht – Entwurf.pdf" });
  const fileId = registration.manifest.file_id as string;
  const [http, dns] = registration.beacons as { token_id: string }[];
  await beaconHit(registry.url, "unrelated-token");
  await post(`${registry.url}/register`, registration);
  await beaconHit(registry.url, http!.token_id);
  await fetch(`${registry.url}/r/${http!.token_id}`).then((r) => r.arrayBuffer());
  await post(`${registry.url}/dns_event`, { token_id: dns!.token_id, client_ip: "198.51.100.7", qname: `${dns!.token_id}.b.example`, qtype: "A" });
  bundleUrl = `${registry.url}/evidence/${encodeURIComponent(fileId)}`;
  bundle = (await (await fetch(bundleUrl)).json()) as Bundle;
});

after(async () => {
  await registry.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A tampered copy, re-signed with the registry key unless the bundle signature itself is the target. */
function tampered(mutate: (b: Bundle) => void, resign = true): Bundle {
  const copy = structuredClone(bundle);
  mutate(copy);
  if (resign) {
    const { bundle_signature_ed25519: _, ...unsigned } = copy;
    copy.bundle_signature_ed25519 = toHex(registryKey.sign(canonicalBytes(unsigned)));
  }
  return copy;
}

const failures = (checks: Check[]) => checks.filter((c) => c.status === "fail").map(formatCheck);
const flipHex = (hex: string) => (hex[0] === "0" ? "1" : "0") + hex.slice(1);

describe("verify-evidence", () => {
  test("a bundle from a real registry verifies in every part", async (t) => {
    const checks = verifyEvidenceBundle(bundle, { registryPub: registryKey.publicKeyHex });
    assert.deepEqual(failures(checks), []);
    const oks = checks.filter((c) => c.status === "ok").map((c) => c.what);
    for (const what of ["registry key", "bundle signature", "tlog head signature", "manifest signature", "manifest file_id"]) {
      assert.ok(oks.includes(what), `ok ${what}`);
    }
    assert.equal(bundle.events.length, 3);
    for (let row = 0; row < 3; row++) {
      assert.ok(
        oks.some((w) => w.startsWith(`event row ${row} inclusion`)),
        `inclusion of row ${row}`,
      );
      assert.ok(oks.includes(`event row ${row} matches its leaf`), `row ${row} matches its leaf`);
    }
    assert.ok(oks.includes("registration leaf describes the manifest"));
    assert.deepEqual(
      checks.filter((c) => c.status === "skip"),
      [],
    );

    const file = path.join(dir, "bundle.json");
    writeFileSync(file, JSON.stringify(bundle));
    const out = captureIo();
    assert.equal(await verifyEvidenceCommand([file, "--registry-pub", registryKey.publicKeyHex], out.io), VERIFY_EXIT.ok);
    const lines = out.stdout().trim().split("\n");
    assert.ok(
      lines.slice(0, -1).every((line) => /^(ok|skip|warn) /.test(line)),
      out.stdout(),
    );
    assert.match(lines.at(-1)!, /^VERIFIED: \d+ ok, 0 failed/);

    const fromUrl = captureIo();
    assert.equal(await verifyEvidenceCommand([bundleUrl], fromUrl.io), VERIFY_EXIT.ok, fromUrl.stdout());
    assert.match(fromUrl.stdout(), /^warn registry key: trusting the bundle's own registry_pub/m);
    t.diagnostic(`${checks.length} checks`);
  });

  const cases: [string, () => Bundle, RegExp][] = [
    ["the bundle signature", () => tampered((b) => (b.bundle_generated_at = "2020-01-01T00:00:00Z"), false), /^FAIL bundle signature/],
    ["the head signature", () => tampered((b) => (b.tlog_head.signature = flipHex(b.tlog_head.signature))), /^FAIL tlog head signature/],
    [
      "a proof hash",
      () => tampered((b) => (b.tlog_proofs[1].proof.proof[0] = flipHex(b.tlog_proofs[1].proof.proof[0]))),
      /^FAIL event row 1 inclusion \(leaf \d+\): proof does not lead/,
    ],
    [
      "leaf data",
      () => tampered((b) => (b.tlog_proofs[0].leaf_data = b.tlog_proofs[0].leaf_data.replace(/"source_ip":"[^"]*"/, '"source_ip":"203.0.113.9"'))),
      /^FAIL event row 0 leaf data: leaf_data does not hash/,
    ],
    [
      "an event row field",
      () => tampered((b) => (b.events[2].source_ip = "203.0.113.9")),
      /^FAIL event row 2 matches its leaf: source_ip: row "203.0.113.9", leaf "198.51.100.7"/,
    ],
    ["an event row timestamp", () => tampered((b) => (b.events[0].timestamp -= 3600)), /^FAIL event row 0 matches its leaf: timestamp/],
    ["a manifest field", () => tampered((b) => (b.manifest.original_filename = "other.pdf")), /^FAIL manifest signature/],
    [
      "the registration leaf",
      () => tampered((b) => (b.registration.leaf_data = b.registration.leaf_data.replace('"n_beacons":2', '"n_beacons":3'))),
      /^FAIL registration leaf data/,
    ],
    ["a proof for another tree size", () => tampered((b) => (b.tlog_proofs[0].proof.tree_size -= 1)), /^FAIL event row 0 inclusion .*tree size/],
  ];
  for (const [part, make, expected] of cases) {
    test(`tampering with ${part} is caught`, () => {
      const found = failures(verifyEvidenceBundle(make(), { registryPub: registryKey.publicKeyHex }));
      assert.ok(
        found.some((line) => expected.test(line)),
        `expected ${expected} among ${JSON.stringify(found)}`,
      );
    });
  }

  test("--json prints the verdict and every check as one JSON object", async () => {
    const good = path.join(dir, "json-good.json");
    writeFileSync(good, JSON.stringify(bundle));
    const out = captureIo();
    assert.equal(await verifyEvidenceCommand([good, "--json", "--registry-pub", registryKey.publicKeyHex], out.io), VERIFY_EXIT.ok);
    const report = JSON.parse(out.stdout());
    assert.equal(report.verified, true);
    assert.deepEqual(report.checks, verifyEvidenceBundle(bundle, { registryPub: registryKey.publicKeyHex }));
    assert.equal(report.counts.ok, report.checks.length);

    const bad = path.join(dir, "json-bad.json");
    writeFileSync(bad, JSON.stringify(tampered((b) => (b.tlog_head.signature = flipHex(b.tlog_head.signature)))));
    const failed = captureIo();
    assert.equal(await verifyEvidenceCommand([bad, "--json", "--registry-pub", registryKey.publicKeyHex], failed.io), VERIFY_EXIT.failed);
    const badReport = JSON.parse(failed.stdout());
    assert.equal(badReport.verified, false);
    assert.ok(
      badReport.checks.some((c: Check) => c.status === "fail" && c.what === "tlog head signature"),
      failed.stdout(),
    );
  });

  test("a bundle signed by another key fails against --registry-pub", async () => {
    const file = path.join(dir, "other-key.json");
    writeFileSync(file, JSON.stringify(bundle));
    const out = captureIo();
    assert.equal(await verifyEvidenceCommand([file, "--registry-pub", "ab".repeat(32)], out.io), VERIFY_EXIT.failed);
    assert.match(out.stdout(), /^FAIL registry key: bundle registry_pub [0-9a-f]{64} is not the trusted key/m);
    assert.match(out.stdout(), /^FAIL bundle signature/m);
    assert.match(out.stdout(), /^NOT VERIFIED/m);
  });

  test("a v1 bundle without the extensions verifies what it can and says what it could not", async () => {
    const v1 = tampered((b) => {
      delete b.registration;
      for (const item of b.tlog_proofs) {
        delete item.leaf_data;
        delete item.inclusion;
      }
    });
    const checks = verifyEvidenceBundle(v1, { registryPub: registryKey.publicKeyHex });
    assert.deepEqual(failures(checks), []);
    const skips = checks.filter((c) => c.status === "skip").map(formatCheck);
    assert.ok(skips.includes("skip registration proof (not in bundle)"), JSON.stringify(skips));
    assert.equal(skips.filter((s) => /^skip event row \d leaf data \(not in bundle/.test(s)).length, 3);
    assert.equal(checks.filter((c) => c.status === "ok" && /^event row \d inclusion/.test(c.what)).length, 3);

    const file = path.join(dir, "v1.json");
    writeFileSync(file, JSON.stringify(v1));
    const out = captureIo();
    assert.equal(await verifyEvidenceCommand([file, "--registry-pub", registryKey.publicKeyHex], out.io), VERIFY_EXIT.ok);
    assert.match(out.stdout(), /^VERIFIED: \d+ ok, 0 failed, 4 skipped/m);
  });

  test("what is not a bundle fails plainly", async () => {
    assert.deepEqual(failures(verifyEvidenceBundle([1, 2])), ["FAIL bundle: not a JSON object"]);
    const out = captureIo();
    assert.equal(await verifyEvidenceCommand([path.join(dir, "missing.json")], out.io), VERIFY_EXIT.unreadable);
    assert.equal(await verifyEvidenceCommand([], captureIo().io), VERIFY_EXIT.usage);
  });
});
