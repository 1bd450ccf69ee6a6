/**
 * The registry's Ed25519 identity, `<data dir>/registry-identity.json`, in the
 * format other registry v1 implementations use, so a migrated registry keeps
 * its key. A file that is present but unusable is an error, never replaced:
 * a new key would silently orphan every head and checkpoint signed so far.
 */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { createFileOnce, writeFileDurably } from "./durable-file.js";
import { generateSeed, signerFromSeed, type Signer } from "./ed25519.js";
import { parseHex, toHex } from "./hex.js";

export const IDENTITY_FILE = "registry-identity.json";

export interface RegistryIdentity {
  seed: Buffer;
  publicKeyHex: string;
  createdAt: number;
  signer: Signer;
  /** Set when the file is readable by others than its owner (still loaded). */
  warning?: string;
}

export class IdentityError extends Error {
  readonly path: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`registry identity ${file}: ${problem}`, options);
    this.name = "IdentityError";
    this.path = file;
  }
}

const HexKeySchema = z.string().regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex characters");

const IdentityFileSchema = z.object({
  ed25519_priv: HexKeySchema,
  ed25519_pub: HexKeySchema,
  created_at: z.int().nonnegative(),
});

export const identityPath = (dataDir: string): string => path.join(dataDir, IDENTITY_FILE);

/** Null when there is no identity file; throws `IdentityError` when there is one that cannot be used. */
export function readIdentity(dataDir: string): RegistryIdentity | null {
  const file = identityPath(dataDir);
  let text: string;
  let mode: number;
  try {
    text = readFileSync(file, "utf8");
    mode = statSync(file).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new IdentityError(file, `cannot be read (${(error as Error).message})`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new IdentityError(file, "is not valid JSON", { cause: error });
  }
  const parsed = IdentityFileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join(".") || "file"} ${i.message}`);
    throw new IdentityError(file, `is malformed: ${problems.join("; ")}`);
  }
  const seed = parseHex(parsed.data.ed25519_priv, 32)!;
  const signer = signerFromSeed(seed);
  if (signer.publicKeyHex !== parsed.data.ed25519_pub.toLowerCase()) {
    throw new IdentityError(file, `ed25519_pub does not match the public key of ed25519_priv (${signer.publicKeyHex})`);
  }
  const identity: RegistryIdentity = { seed, publicKeyHex: signer.publicKeyHex, createdAt: parsed.data.created_at, signer };
  if (process.platform !== "win32" && (mode & 0o077) !== 0) {
    identity.warning = `${file} has mode ${(mode & 0o777).toString(8).padStart(4, "0")}; it holds a private key and should be 0600`;
  }
  return identity;
}

/** Writes (or replaces) the identity file atomically with mode 0600, creating the data dir (0700). */
export function writeIdentity(dataDir: string, seed: Uint8Array, createdAt = nowSeconds()): RegistryIdentity {
  const { identity, body } = identityFile(seed, createdAt);
  writeFileDurably(identityPath(dataDir), body);
  return identity;
}

/**
 * Loads the identity, creating the data dir (0700) and a new key when there is
 * none. Two processes starting at once agree on one key instead of the later
 * overwriting the earlier.
 */
export function loadOrCreateIdentity(dataDir: string): { identity: RegistryIdentity; created: boolean } {
  const existing = readIdentity(dataDir);
  if (existing) return { identity: existing, created: false };
  const { identity, body } = identityFile(generateSeed(), nowSeconds());
  if (createFileOnce(identityPath(dataDir), body)) return { identity, created: true };
  const winner = readIdentity(dataDir);
  if (!winner) throw new IdentityError(identityPath(dataDir), "the identity file vanished while it was being created");
  return { identity: winner, created: false };
}

function identityFile(seed: Uint8Array, createdAt: number): { identity: RegistryIdentity; body: string } {
  if (seed.length !== 32) throw new Error("an Ed25519 seed is 32 bytes");
  if (!Number.isSafeInteger(createdAt) || createdAt < 0) throw new Error("created_at must be a non-negative integer");
  const signer = signerFromSeed(seed);
  const body = JSON.stringify({ ed25519_priv: toHex(seed), ed25519_pub: signer.publicKeyHex, created_at: createdAt }, null, 2) + "\n";
  return { identity: { seed: Buffer.from(seed), publicKeyHex: signer.publicKeyHex, createdAt, signer }, body };
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
