/**
 * The evidence inspector (docs/INSPECTOR.md). Every verdict on this page is
 * computed here, by src/verify/, from signatures and proofs; the registry's
 * answers are only data. Views follow the query string so that links can be
 * shared: `?file=<file_id>`, `?index=<n>`, `?offline`, `?from=<n>` (log page).
 */
import "./zod-jitless.js";
import { equalBytes, parseHex, utf8 } from "../../src/verify/bytes.js";
import { nextCursor, verifyEvidencePages } from "../../src/verify/evidence-pages.js";
import { nobleHasher, verifyInclusion } from "../../src/verify/rfc6962.js";
import { getJson, HttpError, Unreachable, type InclusionProof, type Range } from "./api.js";
import { checksView } from "./checks-view.js";
import { h, replace } from "./dom.js";
import { describeLeaf } from "./leaf.js";
import { fetchLogSnapshot, verifyLogSnapshot, type LogSnapshot, type LogState, type Verdict } from "./log-state.js";

const PAGE = 25;
/** How far back a beacon token is looked for in the log before the search gives up. */
const TOKEN_SCAN_LEAVES = 10_000;
/** Evidence pages the page follows (25 events each); the rest of a longer bundle is a named skip, never a silent pass. */
const MAX_PAGES = 40;

const main = document.getElementById("main")!;
const alerts = document.getElementById("alerts")!;
let snapshot: Promise<LogSnapshot> | null = null;
let state: Promise<LogState> | null = null;

const logSnapshot = (): Promise<LogSnapshot> => (snapshot ??= fetchLogSnapshot());
const logState = (): Promise<LogState> => (state ??= logSnapshot().then(verifyLogSnapshot));
/** Lets the browser paint what is on screen before the signature checks take the main thread. */
const painted = (): Promise<void> => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

function navigate(query: string): void {
  history.pushState(null, "", query ? `/?${query}` : "/");
  void route();
}

function link(query: string, text: string): HTMLAnchorElement {
  const a = h("a", { href: query ? `/?${query}` : "/" }, text);
  a.addEventListener("click", (event) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(query);
  });
  return a;
}

function verdictLine(label: string, verdict: Verdict): HTMLElement {
  return h(
    "div",
    { class: `fact ${verdict.ok ? "good" : "bad"}`, "data-fact": label },
    h("dt", {}, label),
    h("dd", {}, h("span", { class: "badge" }, verdict.ok ? "verified" : "FAILED"), " ", verdict.detail),
  );
}

function plainFact(label: string, value: string): HTMLElement {
  return h("div", { class: "fact" }, h("dt", {}, label), h("dd", { class: "mono" }, value || "—"));
}

function showAlerts(s: LogState): void {
  const items: HTMLElement[] = [];
  if (s.keyChanged) {
    items.push(
      h(
        "p",
        { class: "alarm", role: "alert", "data-alarm": "key-changed" },
        `The registry key changed: this browser first saw ${s.registryPub}, the registry now says ${s.keyChanged}. Nothing it signs with the new key is trusted here.`,
      ),
    );
  }
  if (s.forkVerdict && !s.forkVerdict.ok) {
    items.push(
      h(
        "p",
        { class: "alarm", role: "alert", "data-alarm": "fork" },
        `LOG FORKED: ${s.forkVerdict.detail}. The registry showed you a history that it has since rewritten. Keep the evidence you saved; do not trust new answers from it.`,
      ),
    );
  }
  if (!s.headVerdict.ok)
    items.push(h("p", { class: "alarm", role: "alert", "data-alarm": "head" }, `The current head does not verify: ${s.headVerdict.detail}.`));
  replace(alerts, ...items);
}

function failure(error: unknown, what: string): HTMLElement {
  if (error instanceof Unreachable)
    return h(
      "p",
      { class: "empty error", role: "alert", "data-state": "unreachable" },
      `The registry cannot be reached: ${error.message}. Try again, or verify a saved bundle offline.`,
    );
  if (error instanceof HttpError && error.status === 404) return h("p", { class: "empty", "data-state": "not-found" }, `${what} is not in this registry.`);
  return h("p", { class: "empty error", role: "alert", "data-state": "error" }, `${what} could not be loaded: ${(error as Error).message}`);
}

function pendingLine(label: string): HTMLElement {
  return h("div", { class: "fact", "data-fact": label }, h("dt", {}, label), h("dd", {}, "verifying…"));
}

function glanceFacts(s: Pick<LogState, "registryPub" | "origin" | "vkey">, verified: LogState | null): HTMLElement {
  const since = verified?.forkVerdict
    ? verdictLine("Since your last visit", verified.forkVerdict)
    : verified
      ? plainFact("Since your last visit", "first visit from this browser: head remembered for next time")
      : pendingLine("Since your last visit");
  return h(
    "dl",
    { class: "facts" },
    plainFact("Registry key", s.registryPub),
    plainFact("Checkpoint origin", s.origin),
    plainFact("Verifier key", s.vkey),
    verified ? verdictLine("Signed head", verified.headVerdict) : pendingLine("Signed head"),
    verified ? verdictLine("Checkpoint", verified.checkpointVerdict) : pendingLine("Checkpoint"),
    since,
  );
}

/**
 * The entries show as soon as they arrive; the verdicts on the head, the
 * checkpoint and the visitor's last head follow once computed, so the log's
 * size does not delay the first render.
 */
async function logView(from: number | null): Promise<void> {
  const snap = await logSnapshot();
  const size = snap.head.size;
  const newest = Math.min(from ?? size - 1, size - 1);
  const start = Math.max(0, newest - PAGE + 1);
  const range = size > 0 ? getJson<Range>(`/tlog/range?start=${start}&limit=${newest - start + 1}`) : null;
  const served = {
    registryPub: String(snap.wellKnown.ed25519_pub ?? ""),
    origin: snap.wellKnown.federation?.checkpoint_origin ?? "",
    vkey: snap.wellKnown.federation?.checkpoint_vkey ?? "",
  };
  const glance = h("section", { "aria-labelledby": "glance-heading" }, h("h2", { id: "glance-heading" }, "The log at a glance"), glanceFacts(served, null));
  const entries = h("section", { "aria-labelledby": "entries-heading" }, h("h2", { id: "entries-heading" }, "Latest entries"));
  replace(main, glance, entries);
  if (range === null) {
    entries.append(h("p", { class: "empty", "data-state": "empty-log" }, "The log is empty: nothing has been registered yet."));
  } else {
    entries.append(...entryList(await range, start, newest, size));
  }
  // Marks for bench/web.ts: the first render, and the verdicts.
  performance.mark("inspector:log-rendered");
  await painted();
  const s = await logState();
  showAlerts(s);
  glance.lastElementChild!.replaceWith(glanceFacts(s, s));
  performance.mark("inspector:log-verified");
}

function entryList(range: Range, start: number, newest: number, size: number): HTMLElement[] {
  const rows = [...range.entries].reverse().map((entry) => {
    const leaf = describeLeaf(entry.leaf_data);
    const subject = leaf.fileId ? link(`file=${encodeURIComponent(leaf.fileId)}`, leaf.fileId) : h("span", { class: "mono" }, leaf.subject);
    return h(
      "li",
      { class: "entry", "data-index": String(entry.index) },
      h("span", { class: "index" }, link(`index=${entry.index}`, `#${entry.index}`)),
      h("span", { class: "kind" }, leaf.kind),
      h("span", { class: "subject" }, subject),
      h("span", { class: "when" }, leaf.timestamp),
      leaf.detail ? h("span", { class: "detail" }, leaf.detail) : null,
    );
  });
  return [
    h("p", { class: "hint" }, `Entries ${start}–${newest} of ${size}, newest first.`),
    h("ol", { class: "entries", reversed: true }, ...rows),
    h(
      "nav",
      { class: "pager", "aria-label": "Pages of the log" },
      newest < size - 1 ? link(`from=${Math.min(size - 1, newest + PAGE)}`, "← Newer") : null,
      start > 0 ? link(`from=${start - 1}`, "Older →") : null,
    ),
  ];
}

async function entryView(index: number): Promise<void> {
  const s = await logState();
  showAlerts(s);
  const section = h("section", { "aria-labelledby": "entry-heading" }, h("h2", { id: "entry-heading" }, `Log entry #${index}`));
  replace(main, section);
  if (index >= s.head.size) {
    section.append(h("p", { class: "empty", "data-state": "not-found" }, `The log has ${s.head.size} entries; #${index} is not one of them.`));
    return;
  }
  const [range, proof] = await Promise.all([
    getJson<Range>(`/tlog/range?start=${index}&limit=1`),
    getJson<InclusionProof>(`/tlog/proof/${index}?tree_size=${s.head.size}`),
  ]);
  const entry = range.entries[0];
  if (!entry || entry.index !== index) {
    section.append(h("p", { class: "empty error" }, "The registry did not return this entry."));
    return;
  }
  const hash = nobleHasher.leaf(utf8(entry.leaf_data));
  const path = proof.proof.map((p) => parseHex(p, 32));
  const root = parseHex(s.head.root, 32)!;
  const hashOk = equalBytes(hash, parseHex(proof.leaf_hash, 32) ?? new Uint8Array());
  const included = hashOk && s.headVerdict.ok && path.every((p) => p !== null) && verifyInclusion(hash, index, s.head.size, path as Uint8Array[], root);
  const leaf = describeLeaf(entry.leaf_data);
  section.append(
    h(
      "dl",
      { class: "facts" },
      plainFact("Kind", leaf.kind),
      plainFact("Time", leaf.timestamp),
      leaf.fileId ? h("div", { class: "fact" }, h("dt", {}, "File"), h("dd", {}, link(`file=${encodeURIComponent(leaf.fileId)}`, leaf.fileId))) : null,
      leaf.tokenId ? plainFact("Token", leaf.tokenId) : null,
      verdictLine(
        "In the signed head",
        included
          ? { ok: true, detail: `leaf data hashes to the proven leaf, and the proof leads to the root of the verified head of size ${s.head.size}` }
          : {
              ok: false,
              detail: hashOk ? "the inclusion proof does not lead to the verified head's root" : "the leaf data does not hash to the proven leaf hash",
            },
      ),
    ),
    h("h3", {}, "Leaf data"),
    h("pre", { class: "leaf" }, entry.leaf_data),
  );
}

async function fileView(fileId: string): Promise<void> {
  const s = await logState();
  showAlerts(s);
  const section = h("section", { "aria-labelledby": "file-heading" }, h("h2", { id: "file-heading" }, "Evidence for ", h("span", { class: "mono" }, fileId)));
  replace(main, section);
  let bundle: Record<string, unknown>;
  const pages: unknown[] = [];
  try {
    const url = `/evidence/${encodeURIComponent(fileId)}`;
    bundle = await getJson(url);
    pages.push(bundle);
    for (let cursor = nextCursor(bundle); cursor !== undefined && pages.length < MAX_PAGES; cursor = nextCursor(pages.at(-1))) {
      pages.push(await getJson(`${url}?cursor=${encodeURIComponent(cursor)}`));
    }
  } catch (error) {
    section.append(failure(error, `A file with id ${JSON.stringify(fileId)}`));
    return;
  }
  section.append(
    checksView(verifyEvidencePages(pages, { registryPub: s.registryPub }), "Checks, computed in this browser"),
    eventsTable(bundle),
    saveLink(bundle, fileId),
  );
}

function eventsTable(bundle: Record<string, unknown>): HTMLElement {
  const events = Array.isArray(bundle.events) ? (bundle.events as Record<string, unknown>[]) : [];
  if (events.length === 0) return h("p", { class: "empty", "data-state": "no-events" }, "No beacon or DNS event has been recorded for this file.");
  return h(
    "section",
    { "aria-labelledby": "events-heading" },
    h("h2", { id: "events-heading" }, `Events (${events.length})`),
    h(
      "ol",
      { class: "entries", start: "0" },
      ...events.map((row) =>
        h(
          "li",
          { class: "entry" },
          h("span", { class: "kind" }, String(row.kind ?? "")),
          h("span", { class: "subject mono" }, String(row.source_ip ?? "")),
          h(
            "span",
            { class: "when" },
            typeof row.timestamp === "number" ? new Date(row.timestamp * 1000).toISOString().replace(".000", "") : String(row.timestamp ?? ""),
          ),
          h("span", { class: "detail" }, String(row.user_agent ?? "")),
        ),
      ),
    ),
  );
}

function saveLink(bundle: unknown, fileId: string): HTMLElement {
  const url = URL.createObjectURL(new Blob([JSON.stringify(bundle, null, 2)], { type: "application/json" }));
  return h(
    "p",
    {},
    h("a", { href: url, download: `evidence-${fileId.replace(/[^A-Za-z0-9._-]/g, "_")}.json` }, "Save this bundle"),
    " to verify it later, offline, here or with `oversight-registry verify-evidence`.",
  );
}

function offlineView(): void {
  replace(alerts);
  const result = h("div", { id: "offline-result", "aria-live": "polite" });
  const keyInput = h("input", {
    id: "pinned-key",
    name: "pinned-key",
    type: "text",
    inputmode: "latin",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "64 hex characters (optional)",
    pattern: "[0-9a-fA-F]{64}",
  });
  const fileInput = h("input", { id: "bundle-file", type: "file", accept: "application/json,.json" });
  const verify = async (file: File) => {
    const key = keyInput.value.trim();
    let bundle: unknown;
    try {
      bundle = JSON.parse(await file.text());
    } catch {
      replace(result, h("p", { class: "empty error", role: "alert" }, `${file.name} is not a JSON file.`));
      return;
    }
    const checks = verifyEvidencePages([bundle], key ? { registryPub: key.toLowerCase() } : {});
    replace(result, checksView(checks, `Checks of ${file.name}, computed offline`));
  };
  fileInput.addEventListener("change", () => {
    const file = fileInput.files?.[0];
    if (file) void verify(file);
  });
  const drop = h("div", { class: "drop" }, h("label", { for: "bundle-file" }, "Drop an evidence bundle (.json) here, or pick one:"), fileInput);
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const file = event.dataTransfer?.files[0];
    if (file) void verify(file);
  });
  replace(
    main,
    h(
      "section",
      { "aria-labelledby": "offline-heading" },
      h("h2", { id: "offline-heading" }, "Verify a saved bundle, offline"),
      h(
        "p",
        {},
        "Nothing is sent anywhere: the checks run in this page. Paste the registry key you trust to pin it; without one the bundle's own key is used, with a warning.",
      ),
      h("label", { for: "pinned-key" }, "Pinned registry key"),
      keyInput,
      drop,
      result,
    ),
  );
}

async function search(query: string): Promise<void> {
  const q = query.trim();
  if (!q) return;
  if (/^\d+$/.test(q)) return navigate(`index=${q}`);
  try {
    await getJson(`/evidence/${encodeURIComponent(q)}`);
    return navigate(`file=${encodeURIComponent(q)}`);
  } catch (error) {
    if (!(error instanceof HttpError && error.status === 404)) return replace(main, failure(error, q));
  }
  const found = await findToken(q);
  if (found === null) {
    history.pushState(null, "", `/?q=${encodeURIComponent(q)}`);
    replace(
      main,
      h(
        "p",
        { class: "empty", role: "status", "data-state": "not-found" },
        `Nothing matches ${JSON.stringify(q)}: it is not a registered file id, a log index, or a beacon token among the last ${TOKEN_SCAN_LEAVES.toLocaleString("en")} log entries.`,
      ),
    );
    return;
  }
  navigate(found.fileId ? `file=${encodeURIComponent(found.fileId)}` : `index=${found.index}`);
}

/** A token is not an index of the registry: look for its most recent hit in the newest leaves. */
async function findToken(token: string): Promise<{ index: number; fileId: string | null } | null> {
  const { head } = await logState();
  for (let end = head.size; end > 0 && head.size - end < TOKEN_SCAN_LEAVES; end -= 1000) {
    const start = Math.max(0, end - 1000);
    const range = await getJson<Range>(`/tlog/range?start=${start}&limit=${end - start}`);
    for (const entry of [...range.entries].reverse()) {
      const leaf = describeLeaf(entry.leaf_data);
      if (leaf.tokenId === token) return { index: entry.index, fileId: leaf.fileId };
    }
  }
  return null;
}

async function route(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const input = document.getElementById("q") as HTMLInputElement;
  input.value = params.get("file") ?? params.get("index") ?? params.get("q") ?? "";
  for (const a of document.querySelectorAll("header nav a")) a.removeAttribute("aria-current");
  main.setAttribute("aria-busy", "true");
  try {
    if (params.has("offline")) {
      document.getElementById("nav-offline")?.setAttribute("aria-current", "page");
      offlineView();
    } else if (params.has("file")) await fileView(params.get("file")!);
    else if (params.has("index")) {
      const index = Number(params.get("index"));
      if (Number.isSafeInteger(index) && index >= 0) await entryView(index);
      else replace(main, h("p", { class: "empty", "data-state": "not-found" }, "A log index is a whole number from 0."));
    } else if (params.has("q")) await search(params.get("q")!);
    else {
      document.getElementById("nav-log")?.setAttribute("aria-current", "page");
      const from = Number(params.get("from"));
      await logView(params.has("from") && Number.isSafeInteger(from) && from >= 0 ? from : null);
    }
  } catch (error) {
    replace(main, failure(error, "The log"));
  } finally {
    main.removeAttribute("aria-busy");
    document.body.dataset.ready = "true";
  }
}

document.getElementById("search")!.addEventListener("submit", (event) => {
  event.preventDefault();
  void search((document.getElementById("q") as HTMLInputElement).value);
});
for (const [id, query] of [
  ["nav-log", ""],
  ["nav-offline", "offline"],
] as const) {
  document.getElementById(id)!.addEventListener("click", (event) => {
    event.preventDefault();
    navigate(query);
  });
}
window.addEventListener("popstate", () => void route());
void route();
