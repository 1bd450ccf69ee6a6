/**
 * Registry v1 signed tree heads: `{size, root, signature, signed_message}` where
 * `signed_message` is JCS of `{root, size}` and `signature` is Ed25519 over it.
 *
 * A head carries its size and root twice (as fields and inside the signed
 * message), so verification checks both the signature and that the fields are
 * exactly what was signed: otherwise a valid signature for size 5 could be
 * presented under a head claiming size 500.
 */
import * as z from "zod";
import { utf8 } from "./bytes.js";
import { verifyEd25519 } from "./ed25519.js";
import { canonicalize } from "./jcs.js";

/** `bytes` bytes as lowercase hex, as the registry writes every key, signature and hash. */
export const lowerHex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `expected ${bytes * 2} lowercase hex characters`);

export const TreeSizeSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const SignedTreeHeadSchema = z.object({
  size: TreeSizeSchema,
  root: lowerHex(32),
  signature: lowerHex(64),
  signed_message: z.string(),
});

export type SignedTreeHead = z.infer<typeof SignedTreeHeadSchema>;

/** The exact text a v1 head signs: JCS of `{root, size}` (so `root` sorts first). */
export function treeHeadMessage(size: number, rootHex: string): string {
  return canonicalize({ root: rootHex, size });
}

/** Verdict, never an exception: anything malformed simply does not verify. */
export function verifyTreeHead(head: unknown, publicKey: Uint8Array | string): boolean {
  const parsed = SignedTreeHeadSchema.safeParse(head);
  if (!parsed.success) return false;
  const { size, root, signature, signed_message: signedMessage } = parsed.data;
  if (signedMessage !== treeHeadMessage(size, root)) return false;
  return verifyEd25519(publicKey, utf8(signedMessage), signature);
}
