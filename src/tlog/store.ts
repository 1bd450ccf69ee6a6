/**
 * The transparency log on SQLite: appends inside the caller's transaction,
 * and roots, proofs, leaf ranges, hash tiles and entry bundles for any tree
 * size up to the current one, each in O(log n) (or O(width)) indexed reads.
 *
 * The right edge of the tree (one hash per set bit of the size) is kept in
 * memory, read in O(log n) at construction and by `reload()`; nothing ever
 * scans the log. There is one writer per database (the write sequencer): a
 * store does not notice leaves another connection appends unless it is told
 * (`advance`, as the writer thread reports its commits).
 */
import type Database from "better-sqlite3";
import { missingField, notFound, serverError } from "../core/errors.js";
import {
  consistencyProof,
  consistencyProofNodes,
  floorLog2,
  HASH_SIZE,
  inclusionProof,
  inclusionProofNodes,
  leafHash,
  nodeHash,
  popcount,
  rangeHash,
  rangeNodes,
  rootOfPeaks,
  subtreeOfLeaves,
  type NodeKey,
  type NodeSource,
} from "./merkle.js";
import { prepareLogSize } from "./log-size.js";
import { NodeCache } from "./node-cache.js";
import { MAX_TLOG_SIZE, nodeId } from "./schema.js";
import { TILE_HEIGHT, TILE_WIDTH } from "./tile-path.js";

/** A leaf must fit the uint16 length prefix of a C2SP entry bundle. */
export const MAX_LEAF_BYTES = 65_535;
/**
 * Up to this lowest cached level (16 leaves), the nodes below the cache are
 * hashed from their leaves; above it, hashing the block costs more than
 * reading the nodes.
 */
const LEAF_BLOCK_MAX_LEVEL = 4;
/** Highest tile level whose entries still have exact node keys. */
const MAX_TILE_LEVEL = Math.floor(Math.log2(MAX_TLOG_SIZE) / TILE_HEIGHT);

export interface LeafRecord {
  index: number;
  leafData: Buffer;
  leafHash: Buffer;
}

type Statement = Database.Statement<unknown[], unknown>;

/**
 * The right edge of a tree as proofs at its size use it: the peaks (the
 * perfect subtrees along the edge, already in memory), and, by the leaf it
 * starts at, MTH(D[start:size]) for every start where a peak begins, which
 * every proof's right-hand ranges are, hashed once per size instead of once
 * per proof.
 */
interface RightEdge {
  size: number;
  /** By level: a tree has at most one peak per level, so a lookup is an index and a comparison. */
  peaks: ({ index: number; hash: Buffer } | undefined)[];
  ranges: Map<number, Buffer>;
}

function peakOf(edge: RightEdge, level: number, index: number): Buffer | undefined {
  const peak = edge.peaks[level];
  return peak?.index === index ? peak.hash : undefined;
}

function requireCount(name: string, value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw missingField(`${name} must be a non-negative integer`);
  }
  return value as number;
}

function requireLeaf(data: unknown): Uint8Array {
  if (!(data instanceof Uint8Array)) throw missingField("a log leaf must be bytes");
  if (data.length > MAX_LEAF_BYTES) {
    throw missingField(`a log leaf is at most ${MAX_LEAF_BYTES} bytes, this one has ${data.length}`);
  }
  return data;
}

export class TlogStore {
  private count = 0;
  /** Roots of the perfect subtrees along the right edge, largest first. */
  private peaks: Buffer[] = [];
  private currentRoot: Buffer | null = null;
  /**
   * Upper-level node hashes. A complete subtree never changes, but one
   * written by an append that is then rolled back would, so reload() clears it.
   */
  private readonly upper: NodeCache;
  /** The size `upper` is fitted to. */
  private cachedFor = -1;
  /** The right edge at the current size, as proofs use it (built on first use at each size). */
  private edge: RightEdge | null = null;
  /** Where warmNodeCache goes on: the next node of the cached levels it has not looked at (null: from the top). */
  private warmAt: NodeKey | null = null;

  private readonly storedSize: () => number;
  private readonly nodesStmt: Statement;
  private readonly insertLeaf: Statement;
  private readonly insertNode: Statement;
  private readonly leafRange: Statement;
  private readonly leafHashTile: Statement;
  private readonly nodeTile: Statement;
  private readonly leafDataRange: Statement;
  private readonly leafDataAt: Statement;

  /** `nodeCacheBytes`: the memory budget of the upper levels kept for proofs (NODE_CACHE_BYTES). */
  constructor(
    private readonly db: Database.Database,
    options: { nodeCacheBytes?: number } = {},
  ) {
    this.upper = new NodeCache(options.nodeCacheBytes);
    this.storedSize = prepareLogSize(db);
    // Every node a proof needs in one statement (leaves keyed -1 - idx beside
    // the node ids): one read per proof instead of one per hash.
    this.nodesStmt = db
      .prepare(
        "SELECT id, hash FROM tlog_nodes WHERE id IN (SELECT value FROM json_each(?)) " +
          "UNION ALL SELECT -1 - idx, leaf_hash FROM tlog_leaves WHERE idx IN (SELECT value FROM json_each(?))",
      )
      .raw();
    this.insertLeaf = db.prepare("INSERT INTO tlog_leaves (idx, leaf_data, leaf_hash) VALUES (?, ?, ?)");
    this.insertNode = db.prepare("INSERT INTO tlog_nodes (id, hash) VALUES (?, ?)");
    this.leafRange = db.prepare("SELECT idx, leaf_data, leaf_hash FROM tlog_leaves WHERE idx >= ? AND idx < ? ORDER BY idx").raw();
    // A tile comes back as one blob: better-sqlite3 makes a Buffer per blob
    // value, which costs more than SQLite's seeks (measured: 3x faster).
    // Blob bytes go through || and group_concat unchanged in a UTF-8 database.
    this.leafHashTile = db
      .prepare("SELECT CAST(group_concat(leaf_hash, '') AS BLOB) FROM (SELECT leaf_hash FROM tlog_leaves WHERE idx >= ? AND idx < ? ORDER BY idx)")
      .pluck();
    // Keys of one level grow with the index, so key order is tile order.
    this.nodeTile = db
      .prepare("SELECT CAST(group_concat(hash, '') AS BLOB) FROM (SELECT hash FROM tlog_nodes WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id)")
      .pluck();
    this.leafDataRange = db.prepare("SELECT leaf_data FROM tlog_leaves WHERE idx >= ? AND idx < ? ORDER BY idx").pluck();
    this.leafDataAt = db.prepare("SELECT idx, leaf_data FROM tlog_leaves WHERE idx IN (SELECT value FROM json_each(?))").raw();
    this.reload();
  }

  /** Re-reads the size and the right edge; call after rolling back an append. */
  reload(): void {
    const size = this.storedSize();
    this.upper.clear();
    this.cachedFor = -1;
    this.edge = null;
    this.warmAt = null;
    const edge = rangeNodes(0, size);
    // Not through the edge in memory: that is what is being re-read.
    const src = this.read(edge, size, false);
    this.peaks = edge.map(({ level, index }) => src.node(level, index));
    this.count = size;
    this.currentRoot = null;
  }

  size(): number {
    return this.count;
  }

  /** The roots of the perfect subtrees along the right edge, largest first: with the size, all a reader needs to prove at it. */
  peakHashes(): readonly Buffer[] {
    return this.peaks;
  }

  /**
   * Moves a reading store to `size` leaves that another connection committed
   * (the writer thread), given the right edge there (its `peakHashes()`), so
   * reads follow the log without re-reading it. Never moves back.
   */
  advance(size: number, peaks: readonly Buffer[]): void {
    if (size <= this.count) return;
    if (peaks.length !== popcount(size)) throw serverError(`a tree of ${size} leaves has ${popcount(size)} peaks, not ${peaks.length}`);
    this.peaks = [...peaks];
    this.count = size;
    this.currentRoot = null;
  }

  /** Appends one leaf and every subtree it completes; the caller holds the transaction. Returns the leaf's index. */
  append(leafData: Uint8Array): number {
    this.requireTransaction();
    return this.write(requireLeaf(leafData));
  }

  /** Appends leaves in order; returns the index of the first. */
  appendMany(datas: readonly Uint8Array[]): number {
    this.requireTransaction();
    if (!Array.isArray(datas)) throw missingField("leaves must be a list of byte strings");
    datas.forEach(requireLeaf);
    const first = this.count;
    for (const data of datas) this.write(data);
    return first;
  }

  root(size?: number): Buffer {
    const n = this.requireSize("tree size", size);
    if (n === this.count) {
      this.currentRoot ??= rootOfPeaks(this.peaks);
      return this.currentRoot;
    }
    return rangeHash(this.read(rangeNodes(0, n)), 0, n);
  }

  leafHashAt(index: number): Buffer {
    const i = requireCount("leaf index", index);
    if (i >= this.count) throw notFound(`no leaf ${i} in a log of size ${this.count}`);
    return this.read([{ level: 0, index: i }]).node(0, i);
  }

  /**
   * Reads up to `maxNodes` of the complete subtrees the node cache keeps and
   * does not hold yet, top level first, in one statement; true once every
   * one of them at the current size is cached. Without it the cache fills
   * only as proofs read it: at 1,000,000 leaves, 20,000 random proofs leave
   * most of its lowest levels empty, and every proof that misses reads its
   * nodes by key (SQLite's share of a proof fell from ~24 % to ~8 % of the
   * server's time in bench:http proof_at_N once it was full). Nodes
   * completed later join the cache as proofs read them.
   */
  warmNodeCache(maxNodes: number): boolean {
    this.fitCache(this.count);
    const lowest = this.upper.lowestLevel;
    let { level, index } = this.warmAt ?? { level: this.count === 0 ? 0 : floorLog2(this.count), index: 0 };
    const keys: NodeKey[] = [];
    // Bounded in nodes looked at too, as proofs may have cached most of them already.
    for (let looked = 0; keys.length < maxNodes && looked < 16 * maxNodes && level >= lowest; looked++) {
      if (index >= Math.floor(this.count / 2 ** level)) {
        level--;
        index = 0;
        continue;
      }
      if (!this.upper.has(level, index)) keys.push({ level, index });
      index++;
    }
    this.warmAt = { level, index };
    if (keys.length > 0) {
      const rows = this.nodesStmt.all(JSON.stringify(keys.map((key) => nodeId(key.level, key.index))), "[]") as [number | bigint, Buffer][];
      const found = new Map(rows.map(([id, hash]) => [Number(id), hash]));
      for (const key of keys) this.upper.set(key.level, key.index, this.checked(found.get(nodeId(key.level, key.index)), key.level, key.index), this.count);
    }
    return level < lowest;
  }

  /** Siblings from the leaf up, for the tree of `size` leaves (default: current). */
  inclusionProof(index: number, size?: number): Buffer[] {
    return this.inclusionProofs([index], size)[0]!;
  }

  /**
   * Inclusion proofs of many leaves in the tree of `size` leaves (default:
   * current), from one read of every node they need.
   */
  inclusionProofs(indexes: readonly number[], size?: number): Buffer[][] {
    const n = this.requireSize("tree size", size);
    const keys: NodeKey[] = [];
    for (const index of indexes) inclusionProofNodes(this.requireLeafIn(index, n), n, keys);
    const src = this.read(keys);
    return indexes.map((index) => inclusionProof(src, index, n));
  }

  /** One leaf's hash, its inclusion proof and the root of `size` (default: current), from one read. */
  inclusion(index: number, size?: number): { leafHash: Buffer; path: Buffer[]; root: Buffer } {
    const n = this.requireSize("tree size", size);
    const i = this.requireLeafIn(index, n);
    const keys = inclusionProofNodes(i, n, [{ level: 0, index: i }]);
    if (n !== this.count) rangeNodes(0, n, keys);
    const src = this.read(keys);
    return { leafHash: src.node(0, i), path: inclusionProof(src, i, n), root: n === this.count ? this.root() : rangeHash(src, 0, n) };
  }

  /** RFC 6962 consistency proof; 0 ≤ first ≤ second ≤ size, empty when first is 0 or equals second. */
  consistencyProof(first: number, second?: number): Buffer[] {
    const m = requireCount("first tree size", first);
    const n = this.requireSize("second tree size", second);
    if (m > n) throw missingField(`first tree size ${m} is larger than second tree size ${n}`);
    return consistencyProof(this.read(consistencyProofNodes(m, n)), m, n);
  }

  /** The bytes of the given leaves, by index, from one read; every index must be below the size. */
  leafData(indexes: readonly number[]): Map<number, Buffer> {
    for (const index of indexes) this.requireLeafIn(index, this.count);
    const rows = this.leafDataAt.all(JSON.stringify(indexes)) as [number | bigint, Buffer][];
    const datas = new Map(rows.map(([index, data]) => [Number(index), data]));
    if (datas.size !== new Set(indexes).size) throw serverError("the log store lacks leaves it counts; run the database check");
    return datas;
  }

  /** Up to `limit` leaves from `start`, in index order; empty at the end of the log. */
  leaves(start: number, limit: number): LeafRecord[] {
    const from = requireCount("start", start);
    const max = requireCount("limit", limit);
    if (from > this.count) throw notFound(`start ${from} is past the end of the log (size ${this.count})`);
    const to = Math.min(from + max, this.count);
    const rows = this.leafRange.all(from, to) as [number | bigint, Buffer, Buffer][];
    this.requireRows("leaves", from, to, rows.length);
    return rows.map(([index, data, hash]) => ({ index: Number(index), leafData: data, leafHash: hash }));
  }

  /**
   * C2SP hash tile `level`/`index` with `width` hashes: the Merkle nodes of
   * level 8 × `level` numbered index × 256 … index × 256 + width − 1,
   * concatenated. Only complete subtrees are tile entries.
   */
  hashTile(level: number, index: number, width: number): Buffer {
    const tileLevel = requireCount("tile level", level);
    if (tileLevel > MAX_TILE_LEVEL) throw missingField(`tile level must be at most ${MAX_TILE_LEVEL}`);
    const { first, end } = this.tileSpan(index, width, TILE_HEIGHT * tileLevel);
    let hashes: unknown;
    if (tileLevel === 0) {
      hashes = this.leafHashTile.get(first, end);
    } else {
      const ids: number[] = [];
      for (let i = first; i < end; i++) ids.push(nodeId(TILE_HEIGHT * tileLevel, i));
      hashes = this.nodeTile.get(JSON.stringify(ids));
    }
    if (!Buffer.isBuffer(hashes) || hashes.length !== (end - first) * HASH_SIZE) {
      throw serverError(`the log store lacks hashes of tile ${tileLevel}/${index}; run the database check`);
    }
    return hashes;
  }

  /** C2SP entry bundle `index` with `width` entries: per leaf a big-endian uint16 length, then the leaf. */
  entryBundle(index: number, width: number): Buffer {
    const { first, end } = this.tileSpan(index, width, 0);
    const datas = this.leafDataRange.all(first, end) as Buffer[];
    this.requireRows("leaves", first, end, datas.length);
    let bytes = 0;
    for (const data of datas) bytes += 2 + data.length;
    const bundle = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (const data of datas) {
      at = bundle.writeUInt16BE(data.length, at);
      at += data.copy(bundle, at);
    }
    return bundle;
  }

  private write(data: Uint8Array): number {
    const index = this.count;
    if (index >= MAX_TLOG_SIZE) throw serverError("the log is full");
    let hash = leafHash(data);
    this.insertLeaf.run(index, data, hash);
    // The subtrees this leaf completes all end at it, so their post-order keys are consecutive.
    const base = 2 * index - popcount(index);
    let p = this.peaks.length;
    let level = 0;
    for (let i = index; i % 2 === 1; i = (i - 1) / 2) {
      hash = nodeHash(this.peaks[--p]!, hash);
      level++;
      this.insertNode.run(base + level, hash);
    }
    // Memory changes only once every row is written.
    this.peaks.length = p;
    this.peaks.push(hash);
    this.count = index + 1;
    this.currentRoot = null;
    return index;
  }

  /**
   * A NodeSource over `keys`, read in one statement. Upper levels come from
   * the cache when they can, and the ones read join it. When every upper
   * node is cached and the rest lie under one subtree of the lowest cached
   * level (one proof at the current size, once the cache is warm), the
   * statement reads that subtree's leaf hashes as one blob and the nodes
   * below the cache are hashed from them: a range scan costs about half of
   * the keyed reads it replaces (~11 µs for 8 leaf hashes against ~22 µs at
   * 1,000,000 leaves).
   */
  private read(keys: readonly NodeKey[], n = this.count, useEdge = n === this.count): NodeSource {
    const fitted = Math.max(n, this.count);
    this.fitCache(fitted);
    const lowest = this.upper.lowestLevel;
    const edge = useEdge ? this.rightEdge() : null;
    const below: NodeKey[] = [];
    const ids: number[] = [];
    let block: number | null = null;
    let oneBlock = lowest <= LEAF_BLOCK_MAX_LEVEL;
    for (const key of keys) {
      if (edge !== null && peakOf(edge, key.level, key.index) !== undefined) continue;
      if (key.level >= lowest) {
        if (!this.upper.has(key.level, key.index)) ids.push(nodeId(key.level, key.index));
        continue;
      }
      below.push(key);
      const at = Math.floor((key.index * 2 ** key.level) / 2 ** lowest);
      if (block !== null && at !== block) oneBlock = false;
      block = at;
    }
    const found = new Map<number, Buffer>();
    let leafBlock: { first: number; hashes: Buffer } | null = null;
    if (block !== null && oneBlock && ids.length === 0) {
      const first = block * 2 ** lowest;
      const end = Math.min(first + 2 ** lowest, n);
      const hashes = this.leafHashTile.get(first, end);
      if (!Buffer.isBuffer(hashes) || hashes.length !== (end - first) * HASH_SIZE) {
        throw serverError(`the log store lacks leaf hashes in [${first}, ${end}); run the database check`);
      }
      leafBlock = { first, hashes };
    } else if (ids.length + below.length > 0) {
      const leaves: number[] = [];
      for (const { level, index } of below) (level === 0 ? leaves : ids).push(level === 0 ? index : nodeId(level, index));
      const rows = this.nodesStmt.all(JSON.stringify(ids), JSON.stringify(leaves)) as [number | bigint, Buffer][];
      for (const [id, hash] of rows) found.set(Number(id), hash);
    }
    return {
      node: (level, index) => {
        const peak = edge === null ? undefined : peakOf(edge, level, index);
        if (peak !== undefined) return peak;
        if (level >= lowest) {
          const cached = this.upper.get(level, index);
          if (cached !== undefined) return cached;
        } else if (leafBlock !== null) {
          return subtreeOfLeaves(leafBlock.hashes, leafBlock.first, level, index);
        }
        const hash = this.checked(found.get(level === 0 ? -1 - index : nodeId(level, index)), level, index);
        if (level >= lowest) this.upper.set(level, index, hash, fitted);
        return hash;
      },
      range: (start, end) => (edge !== null && end === edge.size ? edge.ranges.get(start) : undefined),
    };
  }

  private fitCache(size: number): void {
    if (this.cachedFor === size) return;
    this.upper.resize(size);
    this.cachedFor = size;
  }

  /** The right edge of the current size, built from the peaks in memory once per size. */
  private rightEdge(): RightEdge {
    if (this.edge?.size !== this.count) {
      const ranges = new Map<number, Buffer>();
      const peaks: RightEdge["peaks"] = [];
      const keys = rangeNodes(0, this.count);
      let root: Buffer | undefined;
      for (let j = keys.length - 1; j >= 0; j--) {
        const { level, index } = keys[j]!;
        const hash = this.peaks[j]!;
        root = root === undefined ? hash : nodeHash(hash, root);
        ranges.set(index * 2 ** level, root);
        peaks[level] = { index, hash };
      }
      this.edge = { size: this.count, ranges, peaks };
    }
    return this.edge;
  }

  private checked(hash: unknown, level: number, index: number): Buffer {
    if (!Buffer.isBuffer(hash) || hash.length !== HASH_SIZE) {
      throw serverError(`the log store lacks the hash of node ${level}/${index}; run the database check`);
    }
    return hash;
  }

  private requireSize(name: string, size: number | undefined): number {
    if (size === undefined) return this.count;
    const n = requireCount(name, size);
    if (n > this.count) throw notFound(`${name} ${n} is larger than the log (size ${this.count})`);
    return n;
  }

  private requireLeafIn(index: number, size: number): number {
    const i = requireCount("leaf index", index);
    if (i >= size) throw notFound(`no leaf ${i} in a tree of size ${size}`);
    return i;
  }

  private tileSpan(index: number, width: number, merkleLevel: number): { first: number; end: number } {
    const n = requireCount("tile index", index);
    if (!Number.isSafeInteger(width) || width < 1 || width > TILE_WIDTH) {
      throw missingField(`tile width must be an integer from 1 to ${TILE_WIDTH}`);
    }
    const first = n * TILE_WIDTH;
    const end = first + width;
    if (end * 2 ** merkleLevel > this.count) {
      throw notFound(`tile ${merkleLevel / TILE_HEIGHT}/${n} of width ${width} is beyond the log (size ${this.count})`);
    }
    return { first, end };
  }

  private requireRows(what: string, from: number, to: number, got: number): void {
    if (got !== to - from) throw serverError(`the log store lacks ${what} in [${from}, ${to}); run the database check`);
  }

  private requireTransaction(): void {
    if (!this.db.inTransaction) {
      throw serverError("a log append must run inside the caller's transaction, with the rows it logs");
    }
  }
}
