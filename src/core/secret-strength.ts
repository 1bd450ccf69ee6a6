/**
 * The one rule every shared secret must meet (the operator token, from the
 * environment or its file, and the DNS event secret): 32 to 1024 visible
 * ASCII characters, at least 8 of them different.
 *
 * 32 characters from a random source carry at least 128 bits (hex, the
 * weakest common alphabet, has 4 bits a character). A rule cannot tell a
 * random string from a chosen one; the length and the distinct-character floor
 * refuse what a hurried operator types instead (`changeme`, a repeated
 * character, a short word), and generating one is a one-liner.
 */

export const MIN_SECRET_LENGTH = 32;
export const MAX_SECRET_LENGTH = 1024;
export const MIN_DISTINCT_CHARACTERS = 8;

export const SECRET_RULE =
  `${MIN_SECRET_LENGTH}..${MAX_SECRET_LENGTH} visible ASCII characters without spaces, ` + `at least ${MIN_DISTINCT_CHARACTERS} of them different`;

export const SECRET_ADVICE = "generate one with `openssl rand -hex 32` or " + "`node -e \"console.log(require('crypto').randomBytes(32).toString('hex'))\"`";

/**
 * Why `value` cannot be a secret, or null when it can. The answer never
 * contains the value, so it is safe to log.
 */
export function secretWeakness(value: string): string | null {
  // Header values are trimmed by HTTP, so a secret with spaces or control characters could never match.
  if (!/^[\x21-\x7e]*$/.test(value)) return "it contains spaces, control or non-ASCII characters";
  if (value.length < MIN_SECRET_LENGTH) return `its length is ${value.length}`;
  if (value.length > MAX_SECRET_LENGTH) return `its length is ${value.length}`;
  const distinct = new Set(value).size;
  if (distinct < MIN_DISTINCT_CHARACTERS) return `it has too few different characters (${distinct})`;
  return null;
}
