/**
 * One Ed25519 check of a registration (a signature over candidate messages)
 * and the function that answers it. Apart from verify-pool.ts because its
 * workers (verify-worker.ts) need only this: the pool's module brings zod in
 * (core/errors.ts), about 4.5 MiB of each worker's heap.
 */
import { verifyEd25519 } from "./ed25519.js";

export interface SignatureCheck {
  /** 32 bytes, or 64 hex characters. */
  publicKey: Uint8Array | string;
  /** 64 bytes, or 128 hex characters. */
  signature: Uint8Array | string;
  /** Candidate messages, tried in order; a string stands for its UTF-8 bytes. */
  messages: readonly (string | Uint8Array)[];
}

export interface SignatureVerifier {
  /** Index of the first message the signature verifies, -1 when none does. */
  verify(check: SignatureCheck): Promise<number>;
}

/** Index of the first message the signature verifies, -1 when none does. Never throws. */
export function firstVerified(check: SignatureCheck): number {
  for (let i = 0; i < check.messages.length; i++) {
    const message = check.messages[i]!;
    const bytes = typeof message === "string" ? Buffer.from(message, "utf8") : message;
    if (verifyEd25519(check.publicKey, bytes, check.signature)) return i;
  }
  return -1;
}
