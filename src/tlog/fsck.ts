/**
 * Offline check of the whole log: every leaf is rehashed, every stored node is
 * recomputed, and the leaves must be numbered 0, 1, 2, … without gaps. Leaves
 * and nodes are streamed in key order side by side (both tables are keyed in
 * the order appends write them), in pages, so memory stays flat.
 *
 * Node hashes are recomputed from the *stored* leaf hashes, so a damaged leaf
 * and a damaged node are each reported once, where they are; the reported root
 * is that of the leaf *data*, the tree a verifier would rebuild.
 */
import type Database from "better-sqlite3";
import { CompactRange, HASH_SIZE, leafHash, popcount } from "./merkle.js";

export interface FsckReport {
  tlog_size: number;
  leaves_checked: number;
  /** Root of the leaf data, hex; null when the leaves are not contiguous. */
  root: string | null;
  leaf_hash_mismatches: number;
  node_hash_mismatches: number;
  missing_nodes: number;
  /** Stored nodes that belong to no complete subtree of the log. */
  extra_nodes: number;
  /** Gaps or out-of-place indexes among the leaves; node checks stop at the first. */
  non_contiguous: number;
  /** The first few leaf indexes where something is wrong (for a node: its last leaf). */
  first_bad_indexes: number[];
  /** Size of the largest signed head recorded in the database, if any. */
  signed_size: number | null;
  /** Whether the leaf data's root at that size is the signed root; null without a signed head. */
  signed_root_matches: boolean | null;
  ok: boolean;
}

export interface CheckOptions {
  onProgress?: (done: number, total: number) => void;
}

const MAX_BAD_INDEXES = 10;
const PROGRESS_EVERY = 65_536;
const PAGE = 1024;

/*
 * better-sqlite3 allocates a Buffer per blob column per row, which costs more
 * than hashing the leaf. So each page of rows comes back as ONE blob: per row
 * a fixed-width decimal header, then the raw bytes (SQLite's || keeps blob
 * bytes as they are in a UTF-8 database, and CAST back to BLOB returns them
 * unchanged). Measured: ~4x fewer microseconds per leaf than one row per call.
 */
const LEAF_PAGE_SQL = `
SELECT CAST(group_concat(
         printf('%020d%010d%010d%d', idx, length(CAST(leaf_data AS BLOB)), length(CAST(leaf_hash AS BLOB)),
                typeof(leaf_data) = 'blob' AND typeof(leaf_hash) = 'blob') || leaf_data || leaf_hash, '') AS BLOB)
FROM (SELECT idx, leaf_data, leaf_hash FROM tlog_leaves WHERE idx >= ? ORDER BY idx LIMIT ?)`;
const NODE_PAGE_SQL = `
SELECT CAST(group_concat(printf('%020d%010d%d', id, length(CAST(hash AS BLOB)), typeof(hash) = 'blob') || hash, '') AS BLOB)
FROM (SELECT id, hash FROM tlog_nodes WHERE id >= ? ORDER BY id LIMIT ?)`;
const LEAF_HEADER = 41;
const NODE_HEADER = 31;

const isHash = (value: unknown): value is Buffer => Buffer.isBuffer(value) && value.length === HASH_SIZE;

/** A printf('%0Nd') field: optional '-', then digits. */
function decimalAt(buf: Buffer, at: number, width: number): number {
  let i = at;
  const negative = buf[i] === 0x2d;
  if (negative) i++;
  let value = 0;
  for (const end = at + width; i < end; i++) value = value * 10 + (buf[i]! - 0x30);
  return negative ? -value : value;
}

/** A paged cursor over `tlog_nodes` in key order. */
class NodeCursor {
  private ids: number[] = [];
  private hashes: (Buffer | null)[] = [];
  private at = 0;
  private from = Number.MIN_SAFE_INTEGER;
  private done = false;
  private readonly page: Database.Statement<unknown[], unknown>;

  constructor(db: Database.Database) {
    this.page = db.prepare(NODE_PAGE_SQL).pluck();
  }

  /** Key of the next stored node, or null at the end. */
  peek(): number | null {
    if (this.at === this.ids.length && !this.fill()) return null;
    return this.ids[this.at]!;
  }

  /** Hash of the node `peek()` names; null when it is not a 32-byte blob. */
  hash(): Buffer | null {
    return this.hashes[this.at]!;
  }

  advance(): void {
    this.at++;
  }

  private fill(): boolean {
    if (this.done) return false;
    const blob = this.page.get(this.from, PAGE) as Buffer | null;
    this.ids = [];
    this.hashes = [];
    this.at = 0;
    for (let at = 0; blob !== null && at < blob.length; ) {
      const id = decimalAt(blob, at, 20);
      const length = decimalAt(blob, at + 20, 10);
      const isBlob = blob[at + 30] === 0x31;
      at += NODE_HEADER;
      this.ids.push(id);
      this.hashes.push(isBlob && length === HASH_SIZE ? blob.subarray(at, at + length) : null);
      at += length;
    }
    if (this.ids.length < PAGE) this.done = true;
    if (this.ids.length > 0) this.from = this.ids[this.ids.length - 1]! + 1;
    return this.ids.length > 0;
  }
}

export function checkLog(db: Database.Database, options: CheckOptions = {}): FsckReport {
  const max = db.prepare("SELECT max(idx) FROM tlog_leaves").pluck().get() as number | null;
  const total = max === null ? 0 : max + 1;
  const signed = db.prepare("SELECT size, root FROM tlog_signed WHERE id = 1").get() as
    | { size: number; root: unknown }
    | undefined;
  const leafPage = db.prepare(LEAF_PAGE_SQL).pluck();
  const nodes = new NodeCursor(db);

  const report: FsckReport = {
    tlog_size: total,
    leaves_checked: 0,
    root: null,
    leaf_hash_mismatches: 0,
    node_hash_mismatches: 0,
    missing_nodes: 0,
    extra_nodes: 0,
    non_contiguous: 0,
    first_bad_indexes: [],
    signed_size: signed ? signed.size : null,
    signed_root_matches: null,
    ok: false,
  };
  const bad = (index: number): void => {
    if (report.first_bad_indexes.length < MAX_BAD_INDEXES && !report.first_bad_indexes.includes(index)) {
      report.first_bad_indexes.push(index);
    }
  };

  // The tree of stored leaf hashes, against which stored nodes are checked;
  // the tree of the data itself only diverges from it after a damaged leaf.
  const stored = new CompactRange();
  let data: CompactRange | null = null;
  let contiguous = true;
  let lastLeaf = 0;
  const checkNode = (level: number, _index: number, hash: Buffer): void => {
    const id = 2 * lastLeaf - popcount(lastLeaf) + level;
    let stored = nodes.peek();
    while (stored !== null && stored < id) {
      report.extra_nodes++;
      bad(lastLeaf);
      nodes.advance();
      stored = nodes.peek();
    }
    if (stored === null || stored > id) {
      report.missing_nodes++;
      bad(lastLeaf);
      return;
    }
    if (!nodes.hash()?.equals(hash)) {
      report.node_hash_mismatches++;
      bad(lastLeaf);
    }
    nodes.advance();
  };
  const checkSigned = (size: number): void => {
    if (signed && signed.size === size && contiguous) {
      const root = (data ?? stored).root();
      report.signed_root_matches = isHash(signed.root) && root.equals(signed.root);
    }
  };

  checkSigned(0);
  let from = Number.MIN_SAFE_INTEGER;
  let previous = -1;
  const zero = Buffer.alloc(HASH_SIZE);
  for (let page = leafPage.get(from, PAGE) as Buffer | null; page !== null; page = leafPage.get(from, PAGE) as Buffer | null) {
    let rows = 0;
    for (let at = 0; at < page.length; rows++) {
      const idx = decimalAt(page, at, 20);
      const dataLength = decimalAt(page, at + 20, 10);
      const hashLength = decimalAt(page, at + 30, 10);
      const blobs = page[at + 40] === 0x31;
      at += LEAF_HEADER;
      const leafData = page.subarray(at, (at += dataLength));
      const storedHash = page.subarray(at, (at += hashLength));
      if (idx !== previous + 1) {
        report.non_contiguous++;
        bad(contiguous ? previous + 1 : idx);
        contiguous = false;
      }
      previous = idx;
      const fresh = leafHash(leafData);
      const hashOk = blobs && hashLength === HASH_SIZE;
      const intact = hashOk && fresh.equals(storedHash);
      if (!intact) {
        report.leaf_hash_mismatches++;
        bad(idx);
      }
      report.leaves_checked++;
      if (report.leaves_checked % PROGRESS_EVERY === 0) options.onProgress?.(report.leaves_checked, total);
      if (!contiguous) continue;
      if (!intact && data === null) data = stored.clone();
      lastLeaf = idx;
      stored.append(hashOk ? storedHash : zero, checkNode);
      data?.append(fresh);
      checkSigned(idx + 1);
    }
    from = previous + 1;
    if (rows < PAGE) break;
  }

  if (contiguous) {
    for (let id = nodes.peek(); id !== null; id = nodes.peek()) {
      report.extra_nodes++;
      nodes.advance();
    }
    report.root = (data ?? stored).root().toString("hex");
  }
  if (signed && report.signed_root_matches === null && signed.size > total) report.signed_root_matches = false;
  options.onProgress?.(report.leaves_checked, total);
  report.ok =
    contiguous &&
    report.leaf_hash_mismatches === 0 &&
    report.node_hash_mismatches === 0 &&
    report.missing_nodes === 0 &&
    report.extra_nodes === 0 &&
    report.signed_root_matches !== false;
  return report;
}
