/**
 * A paged evidence bundle: each page is a whole signed bundle and is checked
 * as one (evidence.ts); what ties the pages together is checked
 * here. Every page must be taken at the one head of the first and hold events
 * no earlier page held; a chain that stops at a `next_cursor` was not read to
 * its end, which is a skip, not a pass.
 */
import { z } from "zod";
import { verifyEvidenceBundle, type Check, type VerifyOptions } from "./evidence.js";

const PageSchema = z.looseObject({
  file_id: z.unknown().optional(),
  tlog_head: z.looseObject({ size: z.unknown(), root: z.unknown() }).nullish(),
  events: z.array(z.looseObject({ id: z.unknown().optional() })).optional(),
  next_cursor: z.string().optional(),
});

/** The cursor of the page after this one, if the bundle names one. */
export function nextCursor(page: unknown): string | undefined {
  const parsed = PageSchema.safeParse(page);
  return parsed.success ? parsed.data.next_cursor : undefined;
}

/** Every page's own checks (labelled `page N:` when there are several), then the checks that chain them. */
export function verifyEvidencePages(pages: readonly unknown[], options: VerifyOptions = {}): Check[] {
  if (pages.length === 1) return [...verifyEvidenceBundle(pages[0], options), ...chainChecks(pages)];
  const checks = pages.flatMap((page, i) => verifyEvidenceBundle(page, options).map((c) => ({ ...c, what: `page ${i + 1}: ${c.what}` })));
  return [...checks, ...chainChecks(pages)];
}

function chainChecks(pages: readonly unknown[]): Check[] {
  const parsed = pages.map((page) => PageSchema.safeParse(page));
  if (parsed.some((p) => !p.success)) return [];
  const all = parsed.map((p) => p.data!);
  const checks: Check[] = [];
  const last = all[all.length - 1]!;
  if (all.length > 1) {
    const first = all[0]!;
    const head = (p: (typeof all)[number]) => JSON.stringify([p.tlog_head?.size, p.tlog_head?.root]);
    const odd = all.findIndex((p) => head(p) !== head(first) || p.file_id !== first.file_id);
    const seen = new Set<unknown>();
    let repeated: { id?: unknown } | undefined;
    for (const event of all.flatMap((p) => p.events ?? [])) {
      if (event.id !== undefined && seen.has(event.id)) repeated ??= event;
      seen.add(event.id);
    }
    const what = `${all.length} pages`;
    if (odd >= 0) checks.push({ status: "fail", what, detail: `page ${odd + 1} is of another file or another tree head than page 1` });
    else if (repeated) checks.push({ status: "fail", what, detail: `event row id ${JSON.stringify(repeated.id)} is on two pages` });
    else checks.push({ status: "ok", what, detail: `one file, one head, ${seen.size} distinct events` });
  }
  if (last.next_cursor !== undefined) {
    checks.push({
      status: "skip",
      what: "later pages",
      detail: `the bundle continues at cursor ${last.next_cursor}; verify its URL to check every page`,
    });
  }
  return checks;
}
