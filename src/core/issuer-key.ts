/**
 * An issuer's Ed25519 signing key on disk (`oversight-registry keygen`):
 *
 *   {"format":"oversight-issuer-key/1","ed25519_priv":"<64 hex: the 32-byte seed>",
 *    "ed25519_pub":"<64 hex>","created_at":<Unix seconds>}
 *
 * mode 0600, never overwritten. The format names itself so that the registry's
 * own identity file (registry-identity.json) is never taken for an issuer key.
 */
import { readFileSync, statSync } from "node:fs";
import { z } from "zod";
import { createFileOnce } from "./durable-file.js";
import { generateSeed, signerFromSeed, type Signer } from "./ed25519.js";
import { parseHex, toHex } from "./hex.js";

export const ISSUER_KEY_FORMAT = "oversight-issuer-key/1";

const Hex32 = z.string().regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex characters");

export const IssuerKeyFileSchema = z.strictObject({
  format: z.literal(ISSUER_KEY_FORMAT),
  ed25519_priv: Hex32,
  ed25519_pub: Hex32,
  created_at: z.int().nonnegative(),
});

export class IssuerKeyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "IssuerKeyError";
  }
}

export interface IssuerKey {
  signer: Signer;
  /** Set when the file is readable by others than its owner (still usable). */
  warning?: string;
}

/** Writes a new key to `file` (0600, its directory 0700); false when `file` already exists. */
export function createIssuerKey(file: string, now = Math.floor(Date.now() / 1000)): { created: boolean; signer: Signer } {
  const seed = generateSeed();
  const signer = signerFromSeed(seed);
  const body = { format: ISSUER_KEY_FORMAT, ed25519_priv: toHex(seed), ed25519_pub: signer.publicKeyHex, created_at: now };
  return { created: createFileOnce(file, `${JSON.stringify(body, null, 2)}\n`), signer };
}

/** Reads and checks a key file; file-system errors are thrown as they are, for the caller to put in words. */
export function readIssuerKey(file: string): IssuerKey {
  const text = readFileSync(file, "utf8");
  const mode = statSync(file).mode;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new IssuerKeyError(`${file} is not JSON; an issuer key file is made by oversight-registry keygen`);
  }
  const parsed = IssuerKeyFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.map(String).join(".") : "the file";
    throw new IssuerKeyError(`${file} is not an issuer key file (${where}: ${issue.message}); make one with oversight-registry keygen`);
  }
  const signer = signerFromSeed(parseHex(parsed.data.ed25519_priv, 32)!);
  if (signer.publicKeyHex !== parsed.data.ed25519_pub.toLowerCase()) {
    throw new IssuerKeyError(`${file}: ed25519_pub is not the public key of ed25519_priv`);
  }
  const key: IssuerKey = { signer };
  if (process.platform !== "win32" && (mode & 0o077) !== 0) {
    key.warning = `${file} has mode ${(mode & 0o777).toString(8).padStart(4, "0")}; it holds a private key and should be 0600`;
  }
  return key;
}
