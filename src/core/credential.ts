/**
 * How a presented secret is compared: as its SHA-256 digest, so stored tokens
 * can be looked up by hash and a comparison with a known secret is
 * constant-time whatever the secret's content or length.
 */
import { createHash, timingSafeEqual } from "node:crypto";

export const secretDigest = (secret: string): Buffer => createHash("sha256").update(secret, "utf8").digest();

/** Constant-time: whether `presented` has the digest `expected`; a missing credential never matches. */
export function digestMatches(presented: string | null, expected: Buffer): boolean {
  // Hash even a missing credential so that "absent" and "wrong" take the same time.
  return timingSafeEqual(secretDigest(presented ?? ""), expected) && presented !== null;
}
