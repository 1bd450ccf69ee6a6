/**
 * The upper levels of a Merkle tree in memory, for proofs: every proof reads
 * one node per level, and the upper levels are few and shared by all proofs.
 *
 * Hashes sit in one flat buffer per level, 32 bytes a slot, so a cached node
 * costs 32 bytes rather than a Buffer object of its own (about 100 bytes
 * more, and work for the garbage collector). Memory is bounded by a byte
 * budget: the levels kept are the highest ones whose slots fit it, so the
 * lowest cached level rises as the tree grows. Slots are filled as nodes are
 * read; a page of a buffer that was never written takes no memory.
 */
import { HASH_SIZE } from "./merkle.js";

/**
 * Default budget: levels 3 and up of a 1,000,000-leaf tree (runs of 8 leaves
 * below them, 7 hashes a proof; levels 4 and up took 4 MiB and 15 hashes).
 */
export const NODE_CACHE_BYTES = 8 * 2 ** 20;

const GROWTH = 1.25;

interface Level {
  hashes: Buffer;
  /** 1 where the slot holds the node's hash. */
  known: Uint8Array;
}

export class NodeCache {
  private lowest = 1;
  private readonly levels = new Map<number, Level>();

  constructor(private readonly budgetBytes = NODE_CACHE_BYTES) {}

  /**
   * Fits the cache to a tree of `size` leaves: the nodes of levels ≥ L of
   * such a tree number about size / 2^(L-1), so L is the lowest level whose
   * nodes fit the budget. Levels that fall below it are dropped.
   */
  resize(size: number): void {
    let lowest = 1;
    while ((size / 2 ** (lowest - 1)) * HASH_SIZE > this.budgetBytes) lowest++;
    this.lowest = lowest;
    for (const level of this.levels.keys()) if (level < lowest) this.levels.delete(level);
  }

  /** The lowest level cached for the current size; lower nodes are the caller's to read. */
  get lowestLevel(): number {
    return this.lowest;
  }

  /** Bytes of slots allocated (a bound on the memory the cache holds). */
  get allocatedBytes(): number {
    let bytes = 0;
    for (const { hashes, known } of this.levels.values()) bytes += hashes.length + known.length;
    return bytes;
  }

  /** Whether `get` would find the node, without making a view of its slot. */
  has(level: number, index: number): boolean {
    const cached = this.levels.get(level);
    return cached !== undefined && index < cached.known.length && cached.known[index] === 1;
  }

  get(level: number, index: number): Buffer | undefined {
    const cached = this.levels.get(level);
    if (cached === undefined || index >= cached.known.length || cached.known[index] === 0) return undefined;
    return cached.hashes.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE);
  }

  /** Keeps a complete subtree's hash when its level is cached; it never changes unless its append is rolled back (clear()). */
  set(level: number, index: number, hash: Buffer, treeSize: number): void {
    if (level < this.lowest) return;
    const cached = this.slotsFor(level, index, treeSize);
    hash.copy(cached.hashes, index * HASH_SIZE);
    cached.known[index] = 1;
  }

  clear(): void {
    this.levels.clear();
  }

  /**
   * A level with room for `index`: a quarter more than the nodes a tree of
   * `treeSize` leaves has there, so a growing log reallocates a level only
   * every 25 % of growth and the slots stay within 1.25 × the budget.
   */
  private slotsFor(level: number, index: number, treeSize: number): Level {
    const current = this.levels.get(level);
    if (current !== undefined && index < current.known.length) return current;
    const wanted = Math.max(index + 1, Math.ceil((treeSize / 2 ** level) * GROWTH));
    const grown: Level = { hashes: Buffer.allocUnsafeSlow(wanted * HASH_SIZE), known: new Uint8Array(wanted) };
    if (current !== undefined) {
      current.hashes.copy(grown.hashes);
      grown.known.set(current.known);
    }
    this.levels.set(level, grown);
    return grown;
  }
}
