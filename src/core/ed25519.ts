/**
 * Ed25519 through node:crypto (OpenSSL), which verifies an order of magnitude
 * faster than pure JS: manifest verification is on the registration hot path.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import { parseHex, toHex } from "./hex.js";

const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export interface Signer {
  readonly publicKey: Buffer;
  readonly publicKeyHex: string;
  sign(message: Uint8Array): Buffer;
}

/**
 * Importing a key costs about as much as verifying with it, and registrations
 * come from few issuers: keep the most recently used key objects.
 */
const KEY_CACHE_SIZE = 1024;
const keyCache = new Map<string, KeyObject>();

export function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString("hex");
  let key = keyCache.get(id);
  if (key) {
    keyCache.delete(id);
  } else {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
    if (keyCache.size >= KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value!);
  }
  keyCache.set(id, key);
  return key;
}

/** Verdict, never an exception: malformed keys or signatures are just "does not verify". */
export function verifyEd25519(publicKey: Uint8Array | string, message: Uint8Array, signature: Uint8Array | string): boolean {
  const pub = typeof publicKey === "string" ? parseHex(publicKey, 32) : publicKey;
  const sig = typeof signature === "string" ? parseHex(signature, 64) : signature;
  if (!pub || pub.length !== 32 || !sig || sig.length !== 64) return false;
  try {
    return verify(null, message, publicKeyObject(pub), sig);
  } catch {
    return false;
  }
}

export function signerFromSeed(seed: Uint8Array): Signer {
  if (seed.length !== 32) throw new Error("an Ed25519 seed is 32 bytes");
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
  const publicKey = Buffer.from(createPublicKey(privateKey).export({ format: "der", type: "spki" }).subarray(-32));
  return {
    publicKey,
    publicKeyHex: toHex(publicKey),
    sign: (message) => sign(null, message, privateKey),
  };
}

export const generateSeed = (): Buffer => randomBytes(32);
