/**
 * Registry v1 signed tree heads: `{size, root, signature, signed_message}` where
 * `signed_message` is JCS of `{root, size}` and `signature` is Ed25519 over it.
 *
 * A head carries its size and root twice (as fields and inside the signed
 * message), so verification checks both the signature and that the fields are
 * exactly what was signed: otherwise a valid signature for size 5 could be
 * presented under a head claiming size 500.
 */
import { z } from "zod";
import { verifyEd25519, type Signer } from "../core/ed25519.js";
import { canonicalize } from "../core/jcs.js";
import { toHex } from "../core/hex.js";

/** `bytes` bytes as lowercase hex, as the registry writes every key, signature and hash. */
export const lowerHex = (bytes: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `expected ${bytes * 2} lowercase hex characters`);

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

export function signTreeHead(signer: Signer, size: number, root: Uint8Array): SignedTreeHead {
  if (!TreeSizeSchema.safeParse(size).success) throw new RangeError(`tree size ${size} is not a safe non-negative integer`);
  if (root.length !== 32) throw new RangeError(`a tree root is 32 bytes, got ${root.length}`);
  const rootHex = toHex(root);
  const signedMessage = treeHeadMessage(size, rootHex);
  return {
    size,
    root: rootHex,
    signature: toHex(signer.sign(Buffer.from(signedMessage, "utf8"))),
    signed_message: signedMessage,
  };
}

/** Verdict, never an exception: anything malformed simply does not verify. */
export function verifyTreeHead(head: unknown, publicKey: Uint8Array | string): boolean {
  const parsed = SignedTreeHeadSchema.safeParse(head);
  if (!parsed.success) return false;
  const { size, root, signature, signed_message: signedMessage } = parsed.data;
  if (signedMessage !== treeHeadMessage(size, root)) return false;
  return verifyEd25519(publicKey, Buffer.from(signedMessage, "utf8"), signature);
}
