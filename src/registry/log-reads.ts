/**
 * Read side of the log: heads, proofs, leaf ranges, checkpoints and tiles.
 * Every proof is checked against the root it is issued for before it leaves
 * the process; a failure is a server_error and a metric, never a wrong proof.
 *
 * Reads never sign or write. Heads, checkpoints, proofs, consistency proofs
 * and tiles are served up to the newest published head (registry.ts): when
 * they need a size committed but not published yet, they wait for the
 * publication under way, which follows every commit, and answer from it; in
 * the common case (nothing being published) they answer at once. Leaf ranges
 * name no size and sign nothing: they serve every committed leaf.
 */
import { isUtf8 } from "node:buffer";
import { z } from "zod";
import { RegistryError, missingField, notFound, serverError } from "../core/errors.js";
import { ChunkPool } from "../core/chunk-pool.js";
import type { Eventually } from "../core/eventually.js";
import { toHex } from "../core/hex.js";
import { JsonChunks, type PooledParts } from "../core/json-chunks.js";
import { TreeSizeSchema, lowerHex, type SignedTreeHead } from "../tlog/heads.js";
import { InclusionCheck } from "../tlog/inclusion-check.js";
import { MAX_TLOG_SIZE } from "../tlog/schema.js";
import { HASH_SIZE, leafHash, leafHashEquals, verifyConsistency } from "../tlog/merkle.js";
import { TILE_WIDTH, TilePathError, parseTilePath, tileWithinSize, type TileRef } from "../tlog/tile-path.js";
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

export interface ProvenLeaf {
  proof: InclusionProof;
  leafData: string;
}

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
/**
 * Leaves per statement of a range. SQLite grows what it concatenates by
 * doubling, and past glibc's mmap threshold (128 KiB, src/memory-settings.ts)
 * each growth maps and faults in fresh pages: a 1,000-leaf window's JSON
 * built by SQLite in one statement took ~11 ms of CPU at 1,000,000 leaves
 * (~4 mmap, mremap and munmap each). The blobs of a piece stay below it
 * (~35 KB for beacon leaves): under 1 ms of SQL for the whole window.
 */
export const RANGE_PIECE = 128;
/**
 * The range answers' chunks: a 1,000-leaf window of beacon leaves fills 16,
 * so a monitor's windows one after the other reuse the same 2 MiB; chunks
 * beyond it (several windows in flight) are left to the garbage collector.
 */
const RANGE_CHUNK_BYTES = 64 * 1024;
const RANGE_CHUNKS_KEPT = 32;
/** The fixed text around a range entry's values, in the order RangeEntrySchema names them. */
const ENTRY = {
  first: Buffer.from('{"index":'),
  next: Buffer.from(',{"index":'),
  leafHash: Buffer.from(',"leaf_hash":"'),
  leafData: Buffer.from('","leaf_data":"'),
  leafDataHex: Buffer.from('","leaf_data_hex":"'),
  end: Buffer.from('"}'),
};
/** Nodes the proof cache is filled with per turn of the event loop (~1 ms of keyed reads at 1,000,000 leaves). */
export const WARM_NODES_PER_TURN = 256;

const HEX_SIZE = 2 * HASH_SIZE;
/** The leaf hash, the root and a proof's hashes (one per level at most); inclusionJson runs synchronously, so one is enough. */
const hexScratch = Buffer.alloc((2 + Math.log2(MAX_TLOG_SIZE)) * HASH_SIZE);

export class LogReads {
  private readonly rangeSql;
  private readonly rangeChunks = new ChunkPool(RANGE_CHUNK_BYTES, RANGE_CHUNKS_KEPT);
  private readonly inclusionCheck = new InclusionCheck();

  constructor(private readonly registry: Registry) {
    // One row per piece of a window: the pieces' leaf hashes and leaves (as
    // a C2SP entry bundle) as two blobs, below glibc's mmap threshold
    // (RANGE_PIECE). The JSON is written in JavaScript, into pooled chunks.
    this.rangeSql = registry.db
      .prepare(
        `SELECT CAST(group_concat(leaf_hash, '') AS BLOB),
                CAST(group_concat(unhex(printf('%04x', length(leaf_data))) || leaf_data, '') AS BLOB),
                count(*)
           FROM (SELECT idx, leaf_hash, leaf_data FROM tlog_leaves WHERE idx >= ? AND idx < ? ORDER BY idx)`,
      )
      .raw();
  }

  /** The committed size: every leaf stored. */
  size(): number {
    return this.registry.store.size();
  }

  /**
   * Fills the store's proof node cache (TlogStore.warmNodeCache) one slice
   * per turn of the event loop, so requests are answered meanwhile; `done`
   * is true when it is full, false at the first turn after `stop()` or the
   * database closing.
   */
  warmNodeCache(): { done: Promise<boolean>; stop: () => void } {
    let stopped = false;
    const done = new Promise<boolean>((resolve, reject) => {
      const slice = () => {
        try {
          if (stopped || !this.registry.db.open) resolve(false);
          else if (this.registry.store.warmNodeCache(WARM_NODES_PER_TURN)) resolve(true);
          else setImmediate(slice);
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      };
      setImmediate(slice);
    });
    return { done, stop: () => (stopped = true) };
  }

  /** The newest published head, covering every commit made before the call. */
  head(): Eventually<SignedTreeHead> {
    this.registry.assertHealthy();
    return this.whenPublished(this.registry.store.size(), () => this.registry.heads.head());
  }

  /** The C2SP checkpoint of head(). */
  checkpoint(): Eventually<string> {
    this.registry.assertHealthy();
    return this.whenPublished(this.registry.store.size(), () => this.registry.heads.checkpoint());
  }

  /**
   * `read()` once the published head covers `size` leaves: at once when it
   * does (no promise), else after the publication under way (registry.ts
   * `publishing`). It is not asked twice: a publication that failed leaves
   * `read` to answer from the published head, or 503 (checkedSize).
   */
  private whenPublished<T>(size: number, read: () => T): Eventually<T> {
    const waiting = this.registry.publishing(size);
    return waiting === null ? read() : waiting.then(read);
  }

  /** Inclusion of `index` in the tree of `treeSize` leaves (default: the published head's), from one read of the nodes it needs. */
  inclusion(index: number, treeSize?: number): Eventually<InclusionProof> {
    return this.whenPublished(treeSize ?? index + 1, () => {
      const size = this.checkedSize(index, treeSize);
      this.registry.readTurn.enter();
      const { leafHash: hash, path, root } = this.registry.store.inclusion(index, size);
      return this.checked(index, size, hash, path, root);
    });
  }

  /**
   * `inclusion`'s answer as JSON text: the bytes JSON.stringify gives for it,
   * written directly because this is the hottest read (about half the
   * serializer's time, and no object per request). Every hash goes through
   * one scratch buffer and one hex conversion, instead of a Buffer view and
   * a conversion each.
   */
  inclusionJson(index: number, treeSize?: number): Eventually<string> {
    // whenPublished, without a closure per call on the hottest read.
    const waiting = this.registry.publishing(treeSize ?? index + 1);
    return waiting === null ? this.inclusionJsonAt(index, treeSize) : waiting.then(() => this.inclusionJsonAt(index, treeSize));
  }

  private inclusionJsonAt(index: number, treeSize?: number): string {
    const size = this.checkedSize(index, treeSize);
    this.registry.readTurn.enter();
    const { leafHash: hash, path, root } = this.registry.store.inclusion(index, size);
    this.verified(index, size, hash, path, root);
    hash.copy(hexScratch, 0);
    root.copy(hexScratch, HASH_SIZE);
    for (let i = 0; i < path.length; i++) path[i]!.copy(hexScratch, (i + 2) * HASH_SIZE);
    const hex = hexScratch.toString("hex", 0, (path.length + 2) * HASH_SIZE);
    let proof = "";
    for (let at = 2 * HEX_SIZE; at < hex.length; at += HEX_SIZE) proof += `${proof === "" ? "" : ","}"${hex.slice(at, at + HEX_SIZE)}"`;
    return `{"index":${index},"leaf_hash":"${hex.slice(0, HEX_SIZE)}","proof":[${proof}],"root":"${hex.slice(HEX_SIZE, 2 * HEX_SIZE)}","tree_size":${size}}`;
  }

  /**
   * Inclusion proofs with the proven leaves' text, for evidence bundles: one
   * read for every node of every proof, one for the leaves. Each leaf's hash
   * is recomputed from its text, so the proof verified here binds the very
   * bytes handed out beside it.
   */
  provenLeaves(indexes: readonly number[], treeSize: number, root: Buffer): ProvenLeaf[] {
    for (const index of indexes) this.checkedSize(index, treeSize);
    const store = this.registry.store;
    const datas = store.leafData(indexes);
    const paths = store.inclusionProofs(indexes, treeSize);
    return indexes.map((index, i) => {
      const data = datas.get(index)!;
      return { proof: this.checked(index, treeSize, leafHash(data), paths[i]!, root), leafData: data.toString("utf8") };
    });
  }

  /** The size a proof of `index` is served at: `treeSize`, or the published head's. */
  private checkedSize(index: number, treeSize?: number): number {
    const committed = this.registry.store.size();
    const published = this.registry.publishedSize();
    const size = treeSize ?? published;
    if (size > committed) throw notFound(`tree_size ${size} is larger than the log (${committed})`);
    if (index < 0 || index >= (treeSize ?? committed)) throw notFound(`no leaf ${index} in a tree of ${treeSize ?? committed}`);
    if (size > published || index >= size) throw unpublished(Math.max(size, index + 1));
    return size;
  }

  private checked(index: number, size: number, hash: Buffer, path: Buffer[], root: Buffer): InclusionProof {
    this.verified(index, size, hash, path, root);
    return { index, leaf_hash: toHex(hash), proof: path.map(toHex), root: toHex(root), tree_size: size };
  }

  private verified(index: number, size: number, hash: Buffer, path: Buffer[], root: Buffer): void {
    if (!this.inclusionCheck.check(hash, index, size, path, root)) this.proofFailed(`inclusion proof for leaf ${index} at size ${size}`);
  }

  /** Consistency of the tree of `first` leaves with that of `second` (default: the published head's). */
  consistency(first: number, second?: number): Eventually<ConsistencyProof> {
    return this.whenPublished(second ?? this.registry.store.size(), () => this.consistencyAt(first, second));
  }

  private consistencyAt(first: number, second?: number): ConsistencyProof {
    const store = this.registry.store;
    const published = this.registry.publishedSize();
    const to = second ?? published;
    if (first < 0 || first > to) throw missingField("consistency needs 0 <= first <= second");
    if (to > store.size()) throw notFound(`second ${to} is larger than the log (${store.size()})`);
    if (to > published) throw unpublished(to);
    const path = store.consistencyProof(first, to);
    if (first > 0 && !verifyConsistency(first, to, path, store.root(first), store.root(to))) {
      this.proofFailed(`consistency proof ${first} -> ${to}`);
    }
    return { first, second: to, proof: path.map(toHex) };
  }

  /** `/tlog/range`'s answer, parsed, for callers in this process. */
  range(start: number, limit: number): RangePage {
    const page = this.rangeJson(start, limit);
    try {
      return JSON.parse(Buffer.concat(page.parts).toString("utf8")) as RangePage;
    } finally {
      page.release();
    }
  }

  /**
   * `/tlog/range`'s answer as UTF-8 JSON, in parts to be written one after
   * the other, then released: a window of leaves; a record whose bytes do
   * not hash to its stored hash, or are not UTF-8 text, fails the whole
   * request. The ~1 MB of a 1,000-leaf window is written into chunks of
   * rangeChunks, so an answer allocates no large block; per leaf it makes
   * only a view of the leaf's bytes and its digest as a 32-character string
   * (the hash check), both short-lived.
   */
  rangeJson(start: number, limit: number): PooledParts {
    const size = this.registry.store.size();
    const end = Math.min(start + Math.min(Math.max(limit, 1), RANGE_MAX), size);
    if (start >= end) return { parts: [Buffer.from(`{"start":${start},"count":0,"entries":[]}`)], release: () => {} };
    const out = new JsonChunks(this.rangeChunks);
    try {
      out.ascii(`{"start":${start},"count":${end - start},"entries":[`);
      for (let from = start; from < end; from += RANGE_PIECE) this.rangePiece(out, from, Math.min(from + RANGE_PIECE, end), from === start);
      out.ascii("]}");
      return out.finish();
    } catch (error) {
      out.discard();
      throw error;
    }
  }

  /** Writes the entries of leaves [start, end) once every one of them is checked against its stored hash and for UTF-8. */
  private rangePiece(out: JsonChunks, start: number, end: number, first: boolean): void {
    const [hashes, bundle, count] = this.rangeSql.get(start, end) as [Buffer, Buffer, number];
    if (count !== end - start) throw serverError(`the log store lacks leaves in [${start}, ${end}); run the database check`);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const from = at + 2;
      at = from + bundle.readUInt16BE(at);
      const data = bundle.subarray(from, at);
      if (!leafHashEquals(data, hashes, HASH_SIZE * i)) throw serverError(`leaf ${start + i} does not match its stored hash`);
      if (!isUtf8(data)) throw serverError(`leaf ${start + i} is not UTF-8 text; run the database check`);
    }
    at = 0;
    for (let i = 0; i < count; i++) {
      const from = at + 2;
      at = from + bundle.readUInt16BE(at);
      out.raw(first && i === 0 ? ENTRY.first : ENTRY.next);
      out.integer(start + i);
      out.raw(ENTRY.leafHash);
      out.hex(hashes, HASH_SIZE * i, HASH_SIZE * (i + 1));
      out.raw(ENTRY.leafData);
      out.stringContent(bundle, from, at);
      out.raw(ENTRY.leafDataHex);
      out.hex(bundle, from, at);
      out.raw(ENTRY.end);
    }
  }

  /** A C2SP hash tile or entry bundle of the published tree; `immutable` when it is a full tile, whose bytes can never change. */
  tile(path: string): Eventually<{ bytes: Buffer; immutable: boolean }> {
    let tile: TileRef;
    try {
      tile = parseTilePath(path);
    } catch (error) {
      if (error instanceof TilePathError) throw notFound(`not a tile: ${error.message}`);
      throw error;
    }
    const isPublished = () => tileWithinSize(tile, this.registry.publishedSize());
    if (isPublished()) return this.tileBytes(tile);
    if (!tileWithinSize(tile, this.registry.store.size())) throw notFound("the log does not have this tile yet");
    return this.whenPublished(this.registry.store.size(), () => {
      if (!isPublished()) throw unpublished(this.registry.store.size());
      return this.tileBytes(tile);
    });
  }

  private tileBytes(tile: TileRef): { bytes: Buffer; immutable: boolean } {
    const bytes = tile.entries ? this.registry.store.entryBundle(tile.index, tile.width) : this.registry.store.hashTile(tile.level, tile.index, tile.width);
    return { bytes, immutable: tile.width === TILE_WIDTH };
  }

  private proofFailed(what: string): never {
    this.registry.observer?.proofVerificationFailed();
    throw new RegistryError("server_error", `${what} did not verify; refusing to hand it out`);
  }
}

/** A size the log has committed but no published head covers yet: the publication failed, and the next commit retries it. */
function unpublished(size: number): RegistryError {
  return serverError(`no published tree head covers size ${size} yet; retry shortly`, { status: 503, extra: { retry_after: 1 } });
}
