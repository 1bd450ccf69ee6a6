/** Reading the Prometheus text format in tests. */
import assert from "node:assert/strict";

/** Parses the exposition text into `name{labels}` → value, checking every line is HELP, TYPE, a sample or a blank separator. */
export function samples(text: string): Map<string, number> {
  assert.ok(text.endsWith("\n"));
  const out = new Map<string, number>();
  for (const line of text.trimEnd().split("\n")) {
    if (line === "" || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(match, `bad line: ${line}`);
    out.set(match[1]!, Number(match[2]));
  }
  return out;
}

/** The metric names that have at least one sample (`foo_bucket`, `foo_sum`, … for a histogram). */
export function sampledNames(text: string): Set<string> {
  return new Set([...samples(text).keys()].map((key) => key.replace(/\{.*$/, "")));
}
