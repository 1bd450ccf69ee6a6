/**
 * The transparency log's tables.
 *
 * `tlog_leaves` holds the leaves and their hashes (Merkle level 0).
 * `tlog_nodes` holds the hash of every complete subtree of height ≥ 1, written
 * once, when its last leaf arrives. Its key is the node's position in the
 * post-order walk of the tree (see `nodeId`): every append only adds keys
 * larger than all before it, so inserts land on the right edge of one B-tree
 * and its pages stay full (~42 bytes per node, about one node per leaf).
 * `tlog_signed` is the largest signed head, the anchor against forks.
 */
import { popcount } from "./merkle.js";

export const TLOG_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS tlog_leaves (
    idx INTEGER PRIMARY KEY,
    leaf_data BLOB NOT NULL,
    leaf_hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tlog_nodes (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tlog_signed (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    signed_at INTEGER NOT NULL
);
`;

/**
 * Post-order position of the subtree of 2^level leaves starting at leaf
 * index * 2^level. With L = the subtree's last leaf, leaf L sits at
 * 2L - popcount(L) and the subtrees it completes follow it, one per level.
 * Exact for trees below 2^52 leaves.
 */
export function nodeId(level: number, index: number): number {
  const last = (index + 1) * 2 ** level - 1;
  return 2 * last - popcount(last) + level;
}

/** Largest leaf count the node keys stay exact for. */
export const MAX_TLOG_SIZE = 2 ** 52;
