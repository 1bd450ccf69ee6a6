/**
 * Read side of the log: heads, proofs, leaf ranges, checkpoints and tiles.
 * Every proof is checked against the root it is issued for before it leaves
 * the process; a failure is a server_error and a metric, never a wrong proof.
 */
import { z } from "zod";
import { RegistryError, missingField, notFound, serverError } from "../core/errors.js";
import { toHex } from "../core/hex.js";
import { TreeSizeSchema, lowerHex, type SignedTreeHead } from "../tlog/heads.js";
import { leafHash, verifyConsistency, verifyInclusion } from "../tlog/merkle.js";
import { TILE_WIDTH, TilePathError, parseTilePath, tileWithinSize } from "../tlog/tile-path.js";
import type { Registry } from "./registry.js";

export const InclusionProofSchema = z.object({
  index: TreeSizeSchema,
  leaf_hash: lowerHex(32),
  proof: z.array(lowerHex(32)),
  root: lowerHex(32),
  tree_size: TreeSizeSchema,
});
export type InclusionProof = z.infer<typeof InclusionProofSchema>;

export const ConsistencyProofSchema = z.object({
  first: TreeSizeSchema,
  second: TreeSizeSchema,
  proof: z.array(lowerHex(32)),
});
export type ConsistencyProof = z.infer<typeof ConsistencyProofSchema>;

export const RangeEntrySchema = z.object({
  index: TreeSizeSchema,
  leaf_hash: lowerHex(32),
  leaf_data: z.string(),
  leaf_data_hex: z.string().regex(/^(?:[0-9a-f]{2})*$/),
});
export type RangeEntry = z.infer<typeof RangeEntrySchema>;

export const RangePageSchema = z.object({ start: TreeSizeSchema, count: TreeSizeSchema, entries: z.array(RangeEntrySchema) });
export type RangePage = z.infer<typeof RangePageSchema>;

export const RANGE_MAX = 1000;

export class LogReads {
  constructor(private readonly registry: Registry) {}

  size(): number {
    return this.registry.store.size();
  }

  head(): SignedTreeHead {
    this.registry.assertHealthy();
    return this.registry.heads.head();
  }

  checkpoint(): string {
    this.registry.assertHealthy();
    return this.registry.heads.checkpoint();
  }

  /** Inclusion of `index` in the tree of `treeSize` leaves (default: current); pass `root` when the caller already has it. */
  inclusion(index: number, treeSize?: number, root?: Buffer): InclusionProof {
    const size = this.checkedSize(index, treeSize);
    return this.prove(index, size, this.registry.store.leafHashAt(index), root);
  }

  /**
   * An inclusion proof with the proven leaf's text, for evidence bundles. The
   * leaf is read once and its hash recomputed from the text, so the proof
   * verified here binds the very bytes handed out beside it.
   */
  provenLeaf(index: number, treeSize: number, root: Buffer): { proof: InclusionProof; leafData: string } {
    const size = this.checkedSize(index, treeSize);
    const [leaf] = this.registry.store.leaves(index, 1);
    if (!leaf || leaf.index !== index) throw notFound(`no leaf ${index}`);
    return { proof: this.prove(index, size, leafHash(leaf.leafData), root), leafData: leaf.leafData.toString("utf8") };
  }

  private checkedSize(index: number, treeSize?: number): number {
    const current = this.registry.store.size();
    const size = treeSize ?? current;
    if (size > current) throw notFound(`tree_size ${size} is larger than the log (${current})`);
    if (index < 0 || index >= size) throw notFound(`no leaf ${index} in a tree of ${size}`);
    return size;
  }

  private prove(index: number, size: number, hash: Buffer, root?: Buffer): InclusionProof {
    const store = this.registry.store;
    const path = store.inclusionProof(index, size);
    const treeRoot = root ?? store.root(size);
    if (!verifyInclusion(hash, index, size, path, treeRoot)) this.proofFailed(`inclusion proof for leaf ${index} at size ${size}`);
    return { index, leaf_hash: toHex(hash), proof: path.map(toHex), root: toHex(treeRoot), tree_size: size };
  }

  consistency(first: number, second?: number): ConsistencyProof {
    const store = this.registry.store;
    const to = second ?? store.size();
    if (first < 0 || first > to) throw missingField("consistency needs 0 <= first <= second");
    if (to > store.size()) throw notFound(`second ${to} is larger than the log (${store.size()})`);
    const path = store.consistencyProof(first, to);
    if (first > 0 && !verifyConsistency(first, to, path, store.root(first), store.root(to))) {
      this.proofFailed(`consistency proof ${first} -> ${to}`);
    }
    return { first, second: to, proof: path.map(toHex) };
  }

  /** A window of leaves; a record whose bytes do not hash to its stored hash fails the whole request. */
  range(start: number, limit: number): RangePage {
    if (start >= this.registry.store.size()) return { start, count: 0, entries: [] };
    const entries = this.registry.store.leaves(start, Math.min(Math.max(limit, 1), RANGE_MAX)).map((leaf) => {
      if (!leafHash(leaf.leafData).equals(leaf.leafHash)) {
        throw serverError(`leaf ${leaf.index} does not match its stored hash`);
      }
      return {
        index: leaf.index,
        leaf_hash: toHex(leaf.leafHash),
        leaf_data: leaf.leafData.toString("utf8"),
        leaf_data_hex: toHex(leaf.leafData),
      };
    });
    return { start, count: entries.length, entries };
  }

  /** A C2SP hash tile or entry bundle; `immutable` when it is a full tile, whose bytes can never change. */
  tile(path: string): { bytes: Buffer; immutable: boolean } {
    let tile;
    try {
      tile = parseTilePath(path);
    } catch (error) {
      if (error instanceof TilePathError) throw notFound(`not a tile: ${error.message}`);
      throw error;
    }
    if (!tileWithinSize(tile, this.registry.store.size())) throw notFound("the log does not have this tile yet");
    const bytes = tile.entries
      ? this.registry.store.entryBundle(tile.index, tile.width)
      : this.registry.store.hashTile(tile.level, tile.index, tile.width);
    return { bytes, immutable: tile.width === TILE_WIDTH };
  }

  private proofFailed(what: string): never {
    this.registry.observer?.proofVerificationFailed();
    throw new RegistryError("server_error", `${what} did not verify; refusing to hand it out`);
  }
}
