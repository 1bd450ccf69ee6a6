/**
 * The inspector page in Debian's chromium against a real registry with real
 * registrations, beacon hits and a DNS event. Screenshots of each state go to
 * build/screenshots/inspector/ for a reviewer.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import type { Page } from "playwright-core";
import { startTestRegistry, type TestRegistry } from "../http/registry-server.js";
import { createIssuer } from "../issuer.js";
import { forgedBeaconLeaf, rewriteHistory } from "../registry/rewrite-history.js";
import { REPO_ROOT } from "../repo.js";
import { tempDir } from "../temp.js";
import { startAlteringProxy, type Bundle } from "./altering-proxy.js";
import { cspViolations, launchBrowser, recordCspViolations, watchProblems } from "./browser.js";

const SHOTS = path.join(REPO_ROOT, "build", "screenshots", "inspector");

/** One byte of a hex string, changed. */
const flipHex = (hex: string) => (hex[0] === "0" ? "1" : "0") + hex.slice(1);

async function seed(reg: TestRegistry): Promise<{ fileId: string; dnsToken: string; size: number }> {
  const issuer = createIssuer("issuer-inspector");
  const first = issuer.registration();
  const fileId = first.manifest.file_id as string;
  const [http, dns] = first.beacons as { token_id: string }[];
  assert.equal((await reg.call("/register", { json: first })).status, 200);
  await (await reg.call(`/p/${http!.token_id}.png`, { auth: false, headers: { "user-agent": "Mail/1.0" } })).arrayBuffer();
  await (await reg.call(`/p/${http!.token_id}.png`, { auth: false, headers: { "user-agent": "Mail/2.0" } })).arrayBuffer();
  const event = { token_id: dns!.token_id, client_ip: "198.51.100.7", qtype: "TXT", qname: `${dns!.token_id}.t.example` };
  assert.equal((await reg.call("/dns_event", { json: event, auth: false })).status, 200);
  assert.equal((await reg.call("/register", { json: issuer.registration() })).status, 200);
  const head = await (await reg.call("/tlog/head")).json();
  return { fileId, dnsToken: dns!.token_id, size: head.size };
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

const verdictOf = async (page: Page) => (await page.locator("[data-verdict]").getAttribute("data-verdict"))!;
const failed = (page: Page) => page.locator('.check[data-status="fail"]').evaluateAll((items) => items.map((li) => li.getAttribute("data-check")));

test("the inspector page lists, finds and verifies evidence in a real browser, and catches tampering and a forked log", async (t) => {
  const context = await launchBrowser(t);
  if (!context) return;
  mkdirSync(SHOTS, { recursive: true });
  let reg = await startTestRegistry(t);
  const { fileId, dnsToken, size } = await seed(reg);
  const proxy = await startAlteringProxy(t, reg.url);
  await recordCspViolations(context);
  const page = await context.newPage();
  const problems = watchProblems(page);

  await t.test("the log view verifies head and checkpoint and lists every entry by kind, newest first", async () => {
    await page.goto(`${proxy.url}/`);
    await page.locator('[data-fact="Signed head"].good').waitFor();
    await page.locator('[data-fact="Checkpoint"].good').waitFor();
    const indexes = await page.locator(".entries .entry").evaluateAll((items) => items.map((li) => Number(li.getAttribute("data-index"))));
    assert.deepEqual(
      indexes,
      Array.from({ length: size }, (_, i) => size - 1 - i),
    );
    const kinds = await page.locator(".entries .kind").allTextContents();
    assert.deepEqual(new Set(kinds), new Set(["registration", "beacon hit (http_img)", "DNS event"]));
    await shot(page, "log");
    await page.setViewportSize({ width: 320, height: 800 });
    assert.ok(await page.evaluate("document.documentElement.scrollWidth <= 320"), "no horizontal scrolling at 320 px");
    await shot(page, "log-320px");
    await page.setViewportSize({ width: 1100, height: 900 });
  });

  await t.test("searching a file id with the keyboard shows it verified, with every check", async () => {
    await page.keyboard.press("Tab"); // skip link
    await page.keyboard.press("Tab"); // home link
    await page.keyboard.press("Tab"); // search box
    assert.equal(await page.evaluate("document.activeElement.id"), "q");
    await page.keyboard.type(fileId);
    await page.keyboard.press("Enter");
    await page.locator("[data-verdict]").waitFor();
    assert.equal(await verdictOf(page), "verified");
    assert.equal(new URL(page.url()).searchParams.get("file"), fileId);
    assert.deepEqual(await failed(page), []);
    const checks = await page.locator(".check").evaluateAll((items) => items.map((li) => `${li.getAttribute("data-status")} ${li.getAttribute("data-check")}`));
    for (const what of [
      "registry key",
      "bundle signature",
      "tlog head signature",
      "manifest signature",
      "manifest file_id",
      "registration leaf describes the manifest",
    ]) {
      assert.ok(checks.includes(`ok ${what}`), `${what} in ${JSON.stringify(checks)}`);
    }
    for (const row of [0, 1, 2]) {
      assert.ok(
        checks.some((c) => c.startsWith(`ok event row ${row} inclusion`)),
        `row ${row} inclusion`,
      );
      assert.ok(checks.includes(`ok event row ${row} matches its leaf`), `row ${row} bound to its leaf`);
    }
    assert.ok(
      checks.every((c) => c.startsWith("ok ")),
      JSON.stringify(checks),
    );
    await shot(page, "evidence-verified");
  });

  await t.test("searching a beacon token opens its file's evidence; a log index opens the entry, proven in the head", async () => {
    await page.goto(`${proxy.url}/`);
    await page.fill("#q", dnsToken);
    await page.press("#q", "Enter");
    await page.locator("[data-verdict]").waitFor();
    assert.equal(new URL(page.url()).searchParams.get("file"), fileId);
    assert.equal(await verdictOf(page), "verified");

    await page.fill("#q", "3");
    await page.press("#q", "Enter");
    await page.locator('[data-fact="In the signed head"].good').waitFor();
    // biome-ignore lint/performance/useDomNodeTextContent: the text as the visitor sees it
    assert.match(await page.locator("pre.leaf").innerText(), new RegExp(`"token_id":"${dnsToken}"`));
    await shot(page, "entry");

    await page.goto(`${proxy.url}/?file=no-such-file`);
    await page.locator('[data-state="not-found"]').waitFor();
    await shot(page, "unknown-file");
  });

  const tamperings: [string, (b: Bundle) => void, RegExp][] = [
    ["head-signature", (b) => (b.tlog_head.signature = flipHex(b.tlog_head.signature)), /^tlog head signature$/],
    ["proof-hash", (b) => (b.tlog_proofs[1].proof.proof[0] = flipHex(b.tlog_proofs[1].proof.proof[0])), /^event row 1 inclusion \(leaf \d+\)$/],
    ["event-source-address", (b) => (b.events[0].source_ip = b.events[0].source_ip.replace(/.$/, "9")), /^event row 0 matches its leaf$/],
    ["manifest", (b) => (b.manifest.issuer_id = b.manifest.issuer_id.replace(/.$/, "R")), /^manifest signature$/],
  ];
  for (const [name, alter, check] of tamperings) {
    await t.test(`a bundle with one altered byte (${name}) names the check that fails`, async () => {
      proxy.alterEvidence = alter;
      try {
        await page.goto(`${proxy.url}/?file=${encodeURIComponent(fileId)}`);
        await page.locator("[data-verdict]").waitFor();
        assert.equal(await verdictOf(page), "failed");
        const failures = await failed(page);
        assert.ok(
          failures.some((what) => check.test(what!)),
          `${check} among ${JSON.stringify(failures)}`,
        );
        await shot(page, `evidence-tampered-${name}`);
      } finally {
        proxy.alterEvidence = null;
      }
    });
  }

  await t.test("a saved bundle verifies offline against a pasted key; a dropped altered one does not", async () => {
    const bundle = (await (await fetch(`${proxy.url}/evidence/${encodeURIComponent(fileId)}`)).json()) as Bundle;
    const saved = path.join(tempDir(t, "inspector-bundle-"), "evidence.json");
    writeFileSync(saved, JSON.stringify(bundle));
    await page.goto(`${proxy.url}/?offline`);
    await context.setOffline(true);
    try {
      await page.fill("#pinned-key", bundle.registry_pub);
      await page.setInputFiles("#bundle-file", saved);
      await page.locator("[data-verdict]").waitFor();
      assert.equal(await verdictOf(page), "verified");
      assert.deepEqual(await failed(page), []);
      await shot(page, "offline-verified");

      const altered = JSON.stringify({ ...bundle, events: bundle.events.map((e: Bundle, i: number) => (i === 2 ? { ...e, source_ip: "198.51.100.8" } : e)) });
      const dataTransfer = await page.evaluateHandle(
        `(() => { const t = new DataTransfer(); t.items.add(new File([${JSON.stringify(altered)}], "altered.json", { type: "application/json" })); return t; })()`,
      );
      await page.dispatchEvent(".drop", "drop", { dataTransfer });
      await page.locator('[data-verdict="failed"]').waitFor();
      assert.ok((await failed(page)).includes("event row 2 matches its leaf"));
      await shot(page, "offline-dropped-altered");
    } finally {
      await context.setOffline(false);
    }
  });

  await t.test("a file with more events than one bundle page is checked across every page", async () => {
    // A registry of its own (another origin, so another remembered head): the seeded log stays as the fork test expects it.
    const other = await startTestRegistry(t);
    const registration = createIssuer("issuer-pages").registration();
    assert.equal((await other.call("/register", { json: registration })).status, 200);
    const [http] = registration.beacons as { token_id: string }[];
    for (let i = 0; i < 30; i++) await (await other.call(`/p/${http!.token_id}.png`, { auth: false })).arrayBuffer();
    await page.goto(`${other.url}/?file=${encodeURIComponent(registration.manifest.file_id as string)}`);
    await page.locator("[data-verdict]").waitFor();
    assert.equal(await verdictOf(page), "verified");
    assert.equal(await page.locator('.check[data-check="2 pages"]').getAttribute("data-status"), "ok");
    await shot(page, "evidence-two-pages");
  });

  await t.test("a log rewritten after the visit is flagged as forked", async () => {
    await page.goto(`${proxy.url}/`);
    await page.locator('[data-fact="Signed head"].good').waitFor();
    await reg.close();
    const rewritten = rewriteHistory(
      reg,
      2,
      Array.from({ length: size }, (_, i) => forgedBeaconLeaf(`forged-${i}`)),
    );
    assert.ok(rewritten.size > size);
    reg = await startTestRegistry(t, { dataDir: reg.dataDir });
    proxy.target = reg.url;
    await page.reload();
    const alarm = page.locator('[data-alarm="fork"]');
    await alarm.waitFor();
    // biome-ignore lint/performance/useDomNodeTextContent: the text as the visitor sees it, after CSS
    assert.match(await alarm.innerText(), /LOG FORKED/);
    await shot(page, "forked");
  });

  // A token or an unknown id is first tried as a file id; the browser logs each such 404 itself.
  const expected404 = (problem: string) =>
    /status of 404/.test(problem) && (problem.includes(`/evidence/${dnsToken}`) || problem.includes("/evidence/no-such-file"));
  assert.deepEqual(
    problems.filter((p) => !expected404(p)),
    [],
    "no console errors",
  );
  assert.deepEqual(await cspViolations(page), [], "no CSP violations");
  t.diagnostic(`screenshots: ${SHOTS}`);
  console.log(`inspector screenshots: ${SHOTS}`);
});
