/**
 * Ed25519 verification in pure JavaScript (@noble/ed25519), so that the same
 * verdict is reached in a browser and in Node. RFC 8032's strict rules
 * (zip215: false), as OpenSSL applies them on the server side.
 */
import * as ed from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";
import { parseHex } from "./bytes.js";

ed.hashes.sha512 = sha512;

/** Verdict, never an exception: malformed keys or signatures are just "does not verify". */
export function verifyEd25519(publicKey: Uint8Array | string, message: Uint8Array, signature: Uint8Array | string): boolean {
  const pub = typeof publicKey === "string" ? parseHex(publicKey, 32) : publicKey;
  const sig = typeof signature === "string" ? parseHex(signature, 64) : signature;
  if (!pub || pub.length !== 32 || !sig || sig.length !== 64) return false;
  try {
    return ed.verify(sig, message, pub, { zip215: false });
  } catch {
    return false;
  }
}
