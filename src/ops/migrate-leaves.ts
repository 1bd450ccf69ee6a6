/**
 * Imports another implementation's log file (`tlog/leaves.jsonl`, one JSON
 * record a line: index, leaf_hash, leaf_data, leaf_data_hex) into a TlogStore.
 * Every record is checked before it is appended; the first bad one stops the
 * import with its line number. The file is streamed, never held whole.
 */
import { createReadStream } from "node:fs";
import readline from "node:readline";
import { z } from "zod";
import { parseHex } from "../core/hex.js";
import { leafHash } from "../tlog/merkle.js";
import type { TlogStore } from "../tlog/store.js";
import type { ProgressCallback } from "./progress.js";

export class LeafImportError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    problem: string,
  ) {
    super(`${file} line ${line}: ${problem}`);
    this.name = "LeafImportError";
  }
}

const LeafRecordSchema = z.object({
  index: z.int().nonnegative(),
  leaf_hash: z.string().regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex characters"),
  leaf_data: z.string().optional(),
  leaf_data_hex: z.string().optional(),
});

export interface LeafImportOptions {
  /** Called with every imported leaf (after it is appended). */
  onLeaf?: (index: number, data: Buffer) => void;
  onProgress?: ProgressCallback;
}

const PROGRESS_EVERY = 10_000;

/** Appends every record of `file` to `store` (inside the caller's transaction); returns the number imported. */
export async function importLeaves(file: string, store: TlogStore, options: LeafImportOptions = {}): Promise<number> {
  const input = createReadStream(file);
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let lineNumber = 0;
  let imported = 0;
  const first = store.size();
  try {
    for await (const line of lines) {
      lineNumber++;
      const data = parseRecord(file, lineNumber, line, first + imported);
      try {
        store.append(data);
      } catch (error) {
        throw new LeafImportError(file, lineNumber, `cannot be appended: ${(error as Error).message}`);
      }
      options.onLeaf?.(first + imported, data);
      imported++;
      if (imported % PROGRESS_EVERY === 0) options.onProgress?.({ phase: "tlog", done: imported, total: null });
    }
  } finally {
    lines.close();
    input.destroy();
  }
  options.onProgress?.({ phase: "tlog", done: imported, total: null });
  return imported;
}

/** The leaf bytes of one record, after checking its index and hash. */
function parseRecord(file: string, line: number, text: string, expectedIndex: number): Buffer {
  const fail = (problem: string): never => {
    throw new LeafImportError(file, line, problem);
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    fail("is not valid JSON");
  }
  const parsed = LeafRecordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    fail(`${issue.path.map(String).join(".") || "record"} ${issue.message}`);
  }
  const record = parsed.data!;
  if (record.index !== expectedIndex) {
    fail(`index ${record.index} where ${expectedIndex} was expected (indexes must run 0, 1, 2, … without gaps)`);
  }
  // The hex form is exact; the text form may have lost bytes that were not UTF-8.
  let data: Buffer;
  if (record.leaf_data_hex !== undefined) {
    data = parseHex(record.leaf_data_hex) ?? fail("leaf_data_hex is not hex");
  } else if (record.leaf_data !== undefined) {
    data = Buffer.from(record.leaf_data, "utf8");
  } else {
    return fail("has neither leaf_data_hex nor leaf_data");
  }
  const hash = leafHash(data).toString("hex");
  if (hash !== record.leaf_hash.toLowerCase()) {
    fail(`leaf_hash ${record.leaf_hash} does not match SHA-256(0x00 ‖ leaf) = ${hash}`);
  }
  return data;
}
