/**
 * Offline check of the whole log: every leaf is rehashed, every stored node is
 * recomputed, and the leaves must be numbered 0, 1, 2, … without gaps.
 *
 * The log is cut into chunks of 2^k leaves. A chunk is checked on its own:
 * its leaves, and the nodes of the subtrees inside it, whose post-order keys
 * form one key range, are both streamed in key order side by side, in pages.
 * Only the few nodes above the chunks are checked when the chunk roots are
 * merged, in order. Chunks are hashed on every core (worker threads on the
 * same file, read-only) while the caller still gets a plain synchronous call.
 *
 * Node hashes are recomputed from the *stored* leaf hashes, so a damaged leaf
 * and a damaged node are each reported where they are; the reported root is
 * that of the leaf *data*, the tree a verifier would rebuild.
 */
import Database from "better-sqlite3";
import os from "node:os";
import { isMainThread, MessageChannel, receiveMessageOnPort, Worker, workerData, type MessagePort } from "node:worker_threads";
import { CompactRange, HASH_SIZE, leafHash, popcount, rootOfPeaks } from "./merkle.js";
import { prepareLogSize } from "./log-size.js";
import { nodeId } from "./schema.js";
import { MalformedSignedHeadError, SignedHeadRow, type SignedRecord } from "./signed-head-record.js";

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
  /** Gaps and out-of-place indexes among the leaves. */
  non_contiguous: number;
  /** The first few leaf indexes where something is wrong (for a node: its last leaf). */
  first_bad_indexes: number[];
  /** Size of the largest signed head recorded in the database, if any. */
  signed_size: number | null;
  /**
   * Whether the leaf data's root at that size is the signed root; null without a signed head (or past a gap),
   * false for a row the server cannot read (signed-head-record.ts).
   */
  signed_root_matches: boolean | null;
  ok: boolean;
}

export interface CheckOptions {
  onProgress?: (done: number, total: number) => void;
  /** Threads that hash (default: the machine's cores); 1 keeps the check in this thread. */
  threads?: number;
  /** Leaves per unit of work, a power of two (default 16,384). */
  chunkSize?: number;
}

const DEFAULT_CHUNK = 16_384;
const MAX_BAD_INDEXES = 10;
const PAGE = 1024;
/** A worker that says nothing for this long is taken for dead. */
const WORKER_SILENCE_MS = 120_000;

/*
 * better-sqlite3 allocates a Buffer per blob value, which costs more than
 * hashing the leaf. So each page of rows comes back as ONE blob: per row a
 * fixed-width decimal header, then the raw bytes (in a UTF-8 database || keeps
 * blob bytes as they are and CAST back to BLOB returns them unchanged).
 * Measured: ~4x fewer microseconds per leaf than one row per call.
 */
const LEAF_PAGE_SQL = `
SELECT CAST(group_concat(
         printf('%020d%010d%010d%d%d', idx, length(CAST(leaf_data AS BLOB)), length(CAST(leaf_hash AS BLOB)),
                typeof(leaf_data) = 'blob', typeof(leaf_hash) = 'blob') || leaf_data || leaf_hash, '') AS BLOB)
FROM (SELECT idx, leaf_data, leaf_hash FROM tlog_leaves WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ${PAGE})`;
const NODE_PAGE_SQL = `
SELECT CAST(group_concat(printf('%020d%010d%d', id, length(CAST(hash AS BLOB)), typeof(hash) = 'blob') || hash, '') AS BLOB)
FROM (SELECT id, hash FROM tlog_nodes WHERE id >= ? AND id <= ? ORDER BY id LIMIT ${PAGE})`;
const LEAF_HEADER = 42;
const NODE_HEADER = 31;

/** A printf('%0Nd') field: optional '-', then digits. */
function decimalAt(buf: Buffer, at: number, width: number): number {
  let i = at;
  const negative = buf[i] === 0x2d;
  if (negative) i++;
  let value = 0;
  for (const end = at + width; i < end; i++) value = value * 10 + (buf[i]! - 0x30);
  return negative ? -value : value;
}

function trailingOnes(n: number): number {
  let ones = 0;
  for (; n % 2 === 1; n = (n - 1) / 2) ones++;
  return ones;
}

/** Key of the last node that leaf `last` completes: where a log of last + 1 leaves ends in `tlog_nodes`. */
const lastNodeId = (last: number): number => nodeId(0, last) + trailingOnes(last);

const isHash = (value: unknown): value is Buffer => Buffer.isBuffer(value) && value.length === HASH_SIZE;

interface Plan {
  total: number;
  chunkSize: number;
  signedSize: number | null;
}

/** What one chunk, leaves [chunk × size, (chunk + 1) × size), says about itself. */
interface ChunkReport {
  chunk: number;
  leaves: number;
  leafMismatches: number;
  nodeMismatches: number;
  missingNodes: number;
  extraNodes: number;
  gaps: number;
  bad: number[];
  /** Peaks (hex) of the chunk's tree of stored leaf hashes; null when its leaves are not contiguous. */
  storedPeaks: string[] | null;
  /** Peaks of its tree of rehashed leaf data, when that differs. */
  dataPeaks: string[] | null;
  /** Data-tree peaks just after leaf signedSize − 1, when that leaf is in this chunk. */
  signedPeaks: string[] | null;
}

/** Stored nodes with keys in [from, to], in key order, a page at a time. */
class NodeCursor {
  private ids: number[] = [];
  private hashes: (Buffer | null)[] = [];
  private at = 0;
  private done = false;

  constructor(
    private readonly page: Database.Statement<unknown[], unknown>,
    private from: number,
    private readonly to: number,
  ) {}

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
    const blob = this.page.get(this.from, this.to) as Buffer | null;
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

class ChunkChecker {
  private readonly leafPage: Database.Statement<unknown[], unknown>;
  private readonly nodePage: Database.Statement<unknown[], unknown>;

  constructor(
    db: Database.Database,
    private readonly plan: Plan,
  ) {
    this.leafPage = db.prepare(LEAF_PAGE_SQL).pluck();
    this.nodePage = db.prepare(NODE_PAGE_SQL).pluck();
  }

  check(chunk: number): ChunkReport {
    const { total, chunkSize, signedSize } = this.plan;
    const start = chunk * chunkSize;
    const end = Math.min(start + chunkSize, total);
    const nodes = new NodeCursor(this.nodePage, nodeId(0, start), nodeId(0, end - 1) + trailingOnes(end - 1 - start));
    const report: ChunkReport = {
      chunk,
      leaves: 0,
      leafMismatches: 0,
      nodeMismatches: 0,
      missingNodes: 0,
      extraNodes: 0,
      gaps: 0,
      bad: [],
      storedPeaks: null,
      dataPeaks: null,
      signedPeaks: null,
    };
    const bad = (index: number): void => {
      if (report.bad.length < MAX_BAD_INDEXES && !report.bad.includes(index)) report.bad.push(index);
    };

    // The tree of stored leaf hashes, against which stored nodes are checked;
    // the tree of the data itself only diverges from it after a damaged leaf.
    const stored = new CompactRange();
    let data: CompactRange | null = null;
    let contiguous = true;
    let leaf = start;
    const onNode = (level: number, _index: number, computed: Buffer): void => {
      const id = nodeId(0, leaf) + level;
      let key = nodes.peek();
      for (; key !== null && key < id; key = nodes.peek()) {
        report.extraNodes++;
        bad(leaf);
        nodes.advance();
      }
      if (key !== id) {
        report.missingNodes++;
        bad(leaf);
        return;
      }
      if (!nodes.hash()?.equals(computed)) {
        report.nodeMismatches++;
        bad(leaf);
      }
      nodes.advance();
    };

    const zero = Buffer.alloc(HASH_SIZE);
    let expected = start;
    for (let from = start; from < end; ) {
      const page = this.leafPage.get(from, end) as Buffer | null;
      if (page === null) break;
      for (let at = 0; at < page.length; ) {
        const idx = decimalAt(page, at, 20);
        const dataLength = decimalAt(page, at + 20, 10);
        const hashLength = decimalAt(page, at + 30, 10);
        const dataIsBlob = page[at + 40] === 0x31;
        const hashIsBlob = page[at + 41] === 0x31;
        at += LEAF_HEADER;
        const leafData = page.subarray(at, (at += dataLength));
        const storedHash = page.subarray(at, (at += hashLength));
        if (idx !== expected) {
          report.gaps++;
          bad(contiguous ? expected : idx);
          contiguous = false;
        }
        expected = from = idx + 1;
        const fresh = leafHash(leafData);
        const hashOk = hashIsBlob && hashLength === HASH_SIZE;
        const intact = dataIsBlob && hashOk && fresh.equals(storedHash);
        if (!intact) {
          report.leafMismatches++;
          bad(idx);
        }
        report.leaves++;
        if (!contiguous) continue;
        if (!intact && data === null) data = stored.clone();
        leaf = idx;
        stored.append(hashOk ? storedHash : zero, onNode);
        data?.append(fresh);
        if (idx + 1 === signedSize) report.signedPeaks = (data ?? stored).toJSON().peaks;
      }
    }
    if (expected !== end) {
      report.gaps++;
      bad(contiguous ? expected : end - 1);
      contiguous = false;
    }
    if (contiguous) {
      for (let key = nodes.peek(); key !== null; key = nodes.peek()) {
        report.extraNodes++;
        nodes.advance();
      }
      report.storedPeaks = stored.toJSON().peaks;
      report.dataPeaks = data?.toJSON().peaks ?? null;
    }
    return report;
  }
}

const fromHex = (peaks: readonly string[]): Buffer[] => peaks.map((p) => Buffer.from(p, "hex"));

interface WorkerJob {
  file: string;
  plan: Plan;
  counters: SharedArrayBuffer;
  port: MessagePort;
}

type WorkerMessage = { report: ChunkReport } | { error: string };

/** Counters shared with the workers: the next chunk to take, and messages posted. */
const NEXT_CHUNK = 0;
const POSTED = 1;

function runWorker(job: WorkerJob): void {
  const counters = new Int32Array(job.counters);
  const post = (message: WorkerMessage): void => {
    job.port.postMessage(message);
    Atomics.add(counters, POSTED, 1);
    Atomics.notify(counters, POSTED);
  };
  let db: Database.Database | null = null;
  try {
    db = new Database(job.file, { readonly: true, fileMustExist: true });
    const checker = new ChunkChecker(db, job.plan);
    const chunks = Math.ceil(job.plan.total / job.plan.chunkSize);
    for (let chunk = Atomics.add(counters, NEXT_CHUNK, 1); chunk < chunks; chunk = Atomics.add(counters, NEXT_CHUNK, 1)) {
      post({ report: checker.check(chunk) });
    }
  } catch (error) {
    // The message only: it ends up in --validate-db's report, which is for operators, not a debugger.
    post({ error: error instanceof Error ? error.message : String(error) });
  } finally {
    db?.close();
    job.port.close();
  }
}

/**
 * Yields every chunk's report in chunk order. With workers, this thread takes
 * chunks too, and between them (or blocked on Atomics.wait once none is left)
 * collects what the workers posted.
 */
function* chunkReports(db: Database.Database, plan: Plan, threads: number): Generator<ChunkReport> {
  const chunks = Math.ceil(plan.total / plan.chunkSize);
  const checker = new ChunkChecker(db, plan);
  const workerCount = Math.min(threads, chunks) - 1;
  // Workers read the committed file: fine for a read-only snapshot (the log is append-only below its size),
  // wrong inside a write transaction whose leaves they cannot see.
  if (workerCount < 1 || db.memory || (db.inTransaction && !db.readonly)) {
    for (let chunk = 0; chunk < chunks; chunk++) yield checker.check(chunk);
    return;
  }
  const counters = new Int32Array(new SharedArrayBuffer(8));
  const ports: MessagePort[] = [];
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < workerCount; i++) {
      const { port1, port2 } = new MessageChannel();
      const job: WorkerJob = { file: db.name, plan, counters: counters.buffer as SharedArrayBuffer, port: port2 };
      workers.push(new Worker(new URL(import.meta.url), { workerData: { tlogFsck: job }, transferList: [port2] }));
      ports.push(port1);
    }
    const ready = new Map<number, ChunkReport>();
    const collect = (): void => {
      for (const port of ports) {
        for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
          const message = m.message as WorkerMessage;
          if ("error" in message) throw new Error(`a log check worker failed: ${message.error}`);
          ready.set(message.report.chunk, message.report);
        }
      }
    };
    for (let next = 0; next < chunks; ) {
      const posted = Atomics.load(counters, POSTED);
      collect();
      if (ready.has(next)) {
        yield ready.get(next)!;
        ready.delete(next++);
        continue;
      }
      const mine = Atomics.add(counters, NEXT_CHUNK, 1);
      if (mine < chunks) ready.set(mine, checker.check(mine));
      else if (Atomics.wait(counters, POSTED, posted, WORKER_SILENCE_MS) === "timed-out") {
        throw new Error(`a log check worker has been silent for ${WORKER_SILENCE_MS / 1000} s`);
      }
    }
  } finally {
    // Stops workers that are still busy after a failure; finished ones have exited.
    Atomics.store(counters, NEXT_CHUNK, chunks);
    for (const port of ports) port.close();
    for (const worker of workers) void worker.terminate();
  }
}

export function checkLog(db: Database.Database, options: CheckOptions = {}): FsckReport {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 2 || chunkSize > 2 ** 30 || popcount(chunkSize) !== 1) {
    throw new RangeError("chunkSize must be a power of two from 2 to 2^30");
  }
  const chunkLevel = Math.log2(chunkSize);
  const threads = Math.max(1, Math.floor(options.threads ?? os.availableParallelism()));
  const total = prepareLogSize(db)();
  let signed: SignedRecord | null = null;
  let signedMalformed = false;
  try {
    signed = new SignedHeadRow(db).read();
  } catch (error) {
    if (!(error instanceof MalformedSignedHeadError)) throw error;
    // A row the server cannot read is a head the log cannot be shown to extend.
    signedMalformed = true;
  }
  const signedSize = signed ? signed.size : null;
  const nodeStmt = db.prepare("SELECT hash FROM tlog_nodes WHERE id = ?").pluck();

  const report: FsckReport = {
    tlog_size: total,
    leaves_checked: 0,
    root: null,
    leaf_hash_mismatches: 0,
    node_hash_mismatches: 0,
    missing_nodes: 0,
    extra_nodes: 0,
    non_contiguous: db.prepare("SELECT count(*) FROM tlog_leaves WHERE idx < 0").pluck().get() as number,
    first_bad_indexes: [],
    signed_size: signedSize,
    signed_root_matches: null,
    ok: false,
  };
  const bad = (index: number): void => {
    if (report.first_bad_indexes.length < MAX_BAD_INDEXES && !report.first_bad_indexes.includes(index)) {
      report.first_bad_indexes.push(index);
    }
  };
  const checkSigned = (peaks: readonly Buffer[]): void => {
    report.signed_root_matches = signed !== null && rootOfPeaks(peaks).equals(signed.root);
  };
  if (signedSize === 0) checkSigned([]);

  // Chunk roots are the leaves of the tree above the chunks; `tail` holds the
  // peaks of a last, partial chunk.
  const storedTop = new CompactRange();
  let dataTop: CompactRange | null = null;
  let tail: Buffer[] = [];
  let intact = report.non_contiguous === 0;
  const checkSpanning = (level: number, index: number, computed: Buffer): void => {
    const absolute = chunkLevel + level;
    const stored = nodeStmt.get(nodeId(absolute, index)) as unknown;
    const last = (index + 1) * 2 ** absolute - 1;
    if (stored === undefined) {
      report.missing_nodes++;
      bad(last);
    } else if (!isHash(stored) || !stored.equals(computed)) {
      report.node_hash_mismatches++;
      bad(last);
    }
  };

  for (const chunk of chunkReports(db, { total, chunkSize, signedSize }, threads)) {
    report.leaves_checked += chunk.leaves;
    report.leaf_hash_mismatches += chunk.leafMismatches;
    report.node_hash_mismatches += chunk.nodeMismatches;
    report.missing_nodes += chunk.missingNodes;
    report.extra_nodes += chunk.extraNodes;
    report.non_contiguous += chunk.gaps;
    chunk.bad.forEach(bad);
    options.onProgress?.(report.leaves_checked, total);
    if (intact && chunk.signedPeaks !== null) checkSigned([...(dataTop ?? storedTop).hashes, ...fromHex(chunk.signedPeaks)]);
    if (!intact || chunk.storedPeaks === null) {
      intact = false;
      continue;
    }
    const storedPeaks = fromHex(chunk.storedPeaks);
    const dataPeaks = chunk.dataPeaks === null ? storedPeaks : fromHex(chunk.dataPeaks);
    if (Math.min((chunk.chunk + 1) * chunkSize, total) - chunk.chunk * chunkSize < chunkSize) {
      tail = dataPeaks;
      continue;
    }
    if (dataTop === null && !dataPeaks[0]!.equals(storedPeaks[0]!)) dataTop = storedTop.clone();
    storedTop.append(storedPeaks[0]!, checkSpanning);
    dataTop?.append(dataPeaks[0]!);
  }

  // Nodes past the last one the log's last leaf completes (or with negative keys) belong to no subtree.
  const beyond = total === 0 ? -1 : lastNodeId(total - 1);
  report.extra_nodes += db.prepare("SELECT count(*) FROM tlog_nodes WHERE id < 0 OR id > ?").pluck().get(beyond) as number;
  if (intact) report.root = rootOfPeaks([...(dataTop ?? storedTop).hashes, ...tail]).toString("hex");
  if (signedMalformed || (signedSize !== null && signedSize > total)) report.signed_root_matches = false;
  if (total === 0) options.onProgress?.(0, 0);
  report.ok =
    intact &&
    report.leaf_hash_mismatches === 0 &&
    report.node_hash_mismatches === 0 &&
    report.missing_nodes === 0 &&
    report.extra_nodes === 0 &&
    report.signed_root_matches !== false;
  return report;
}

const job = isMainThread ? undefined : (workerData as { tlogFsck?: WorkerJob } | null)?.tlogFsck;
if (job !== undefined) runWorker(job);
