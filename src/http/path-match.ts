/**
 * Matches a request path against an Express route template the way the fast
 * path may take it: the plain spelling only (the template's exact case, no
 * trailing or doubled slash, parameters of RFC 3986 segment characters that
 * percent-decode). Anything else is no match, and Express, which also knows
 * the other spellings, decides.
 */

/** Decoded parameters: a string for `:name`, the segments for a trailing `*name`. */
export type PathParams = Record<string, string | string[]>;

export type PathMatcher = (segments: readonly string[]) => PathParams | null;

/** RFC 3986 path-segment characters: anything else (`/`, `?`, `#`, spaces, non-ASCII) goes to Express. */
const PLAIN_SEGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@%-]+$/;

/** The path's segments after the leading `/` (`/a/b` → `a`, `b`). */
export function pathSegments(path: string): string[] {
  return path.split("/").slice(1);
}

export function compileTemplate(template: string): PathMatcher {
  const parts = pathSegments(template);
  const last = parts.at(-1) ?? "";
  const rest = last.startsWith("*") ? last.slice(1) : null;
  const fixed = rest === null ? parts : parts.slice(0, -1);
  return (segments) => {
    if (rest === null ? segments.length !== fixed.length : segments.length <= fixed.length) return null;
    const params: PathParams = {};
    for (let i = 0; i < fixed.length; i++) {
      const part = fixed[i]!;
      if (!part.startsWith(":")) {
        if (segments[i] !== part) return null;
        continue;
      }
      const value = decodeSegment(segments[i]!);
      if (value === null) return null;
      params[part.slice(1)] = value;
    }
    if (rest !== null) {
      const values = segments.slice(fixed.length).map(decodeSegment);
      if (values.includes(null)) return null;
      params[rest] = values as string[];
    }
    return params;
  };
}

/** Express decodes parameters with decodeURIComponent and answers 400 when that fails; leave those (and unplain ones) to it. */
function decodeSegment(raw: string): string | null {
  if (!PLAIN_SEGMENT.test(raw)) return null;
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}
