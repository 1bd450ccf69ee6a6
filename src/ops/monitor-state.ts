/**
 * What a monitor remembers between rounds: the keys it pinned on first
 * contact, the last head it verified, and the compact range of every leaf up
 * to that head. Written as pretty JSON with one field per line, so an error
 * can say "remove line N" and a person can do exactly that.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { writeFileDurably } from "../core/durable-file.js";
import { SignedTreeHeadSchema, TreeSizeSchema } from "../tlog/heads.js";

export const STATE_FORMAT = "oversight-registry-monitor/1";

const hex32 = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex characters");

export const CompactRangeJsonSchema = z.object({
  size: TreeSizeSchema,
  peaks: z.array(hex32).max(64),
});

/**
 * The pins are optional on purpose: deleting one (after checking that a key
 * change is legitimate) makes the next round pin the registry's current key,
 * while the head and compact range still hold it to the history seen so far.
 */
export const MonitorStateSchema = z.object({
  format: z.literal(STATE_FORMAT),
  registry_pub: hex32.optional(),
  checkpoint_origin: z.string().min(1).optional(),
  checkpoint_vkey: z.string().min(1).optional(),
  url: z.string(),
  head: SignedTreeHeadSchema.nullable(),
  compact_range: CompactRangeJsonSchema,
  updated_at: z.string(),
});
export type MonitorState = z.infer<typeof MonitorStateSchema>;

export class StateFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateFileError";
  }
}

/** Null when the file does not exist yet (first contact). */
export function readState(file: string): MonitorState | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new StateFileError(`cannot read state file ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StateFileError(`state file ${file} is not JSON (${(error as Error).message}); restore it or start over with a new file`);
  }
  const parsed = MonitorStateSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StateFileError(`state file ${file} is not a monitor state (${issue ? `${issue.path.join(".") || "file"}: ${issue.message}` : "invalid"})`);
  }
  const state = parsed.data;
  const headSize = state.head?.size ?? 0;
  if (state.compact_range.size !== headSize) {
    throw new StateFileError(`state file ${file} is inconsistent: compact_range.size ${state.compact_range.size} but head.size ${headSize}`);
  }
  return state;
}

export function formatState(state: MonitorState): string {
  const ordered: MonitorState = {
    format: state.format,
    ...(state.registry_pub === undefined ? {} : { registry_pub: state.registry_pub }),
    ...(state.checkpoint_origin === undefined ? {} : { checkpoint_origin: state.checkpoint_origin }),
    ...(state.checkpoint_vkey === undefined ? {} : { checkpoint_vkey: state.checkpoint_vkey }),
    url: state.url,
    head: state.head,
    compact_range: state.compact_range,
    updated_at: state.updated_at,
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

export function writeState(file: string, state: MonitorState): void {
  writeFileDurably(file, formatState(state));
}

/** 1-based line of a top-level field in the state file as it is on disk, or null. */
export function fieldLine(file: string, field: string): number | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return null;
  }
  const pattern = new RegExp(`^ {2}"${field}"\\s*:`);
  const index = text.split("\n").findIndex((line) => pattern.test(line));
  return index < 0 ? null : index + 1;
}
