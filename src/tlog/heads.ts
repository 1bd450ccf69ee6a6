/**
 * Signing registry v1 tree heads; their shape and verification are in
 * src/verify/head.ts, shared with the inspector page.
 */
import type { Signer } from "../core/ed25519.js";
import { toHex } from "../core/hex.js";
import { TreeSizeSchema, treeHeadMessage, type SignedTreeHead } from "../verify/head.js";

export { lowerHex, SignedTreeHeadSchema, TreeSizeSchema, treeHeadMessage, verifyTreeHead, type SignedTreeHead } from "../verify/head.js";

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
