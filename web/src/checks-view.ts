/** Every check of an evidence bundle with its verdict, and the one-line summary above them. */
import type { Check } from "../../src/verify/evidence.js";
import { verdictOf } from "../../src/verify/evidence.js";
import { h } from "./dom.js";

const LABEL = { ok: "ok", fail: "FAILED", skip: "skipped", warn: "warning" } as const;

export function checksView(checks: Check[], heading: string): HTMLElement {
  const { verified, counts } = verdictOf(checks);
  const summary = verified
    ? `verified: ${counts.ok} checks passed${counts.warn ? `, ${counts.warn} warning${counts.warn > 1 ? "s" : ""}` : ""}${counts.skip ? `, ${counts.skip} skipped` : ""}`
    : `NOT verified: ${counts.fail} of ${checks.length} checks failed`;
  return h(
    "section",
    { class: "checks", "aria-labelledby": "checks-heading" },
    h("h2", { id: "checks-heading" }, heading),
    h("p", { class: `verdict ${verified ? "good" : "bad"}`, role: "status", "data-verdict": verified ? "verified" : "failed" }, summary),
    h(
      "ol",
      { class: "check-list" },
      ...checks.map((check) =>
        h(
          "li",
          { class: `check ${check.status}`, "data-status": check.status, "data-check": check.what },
          h("span", { class: "badge" }, LABEL[check.status]),
          h("span", { class: "what" }, check.what),
          check.detail ? h("span", { class: "detail" }, check.detail) : null,
        ),
      ),
    ),
  );
}
