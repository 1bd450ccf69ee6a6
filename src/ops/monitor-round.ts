/**
 * One round of watching a registry: check the pinned keys, verify the new
 * signed head, prove the log only grew since the last verified head, and
 * recompute the new root from every new leaf. Nothing here prints or writes
 * files; the command decides what to do with the outcome or the evidence.
 */
import { parseHex, toHex } from "../core/hex.js";
import { verifyCheckpoint } from "../tlog/checkpoint.js";
import { verifyTreeHead, type SignedTreeHead } from "../tlog/heads.js";
import { CompactRange, leafHash, verifyConsistency } from "../tlog/merkle.js";
import { fieldLine, STATE_FORMAT, type MonitorState } from "./monitor-state.js";
import type { ProgressCallback } from "./progress.js";
import { RegistryProtocolError, type ConsistencyProofResponse, type RegistryClient, type WellKnown } from "./registry-client.js";

/** The largest `/tlog/range` page the contract allows. */
export const RANGE_PAGE = 1000;

export type MisbehaviourKind = "bad_signature" | "shrunk" | "fork" | "root_mismatch" | "bad_entry" | "bad_checkpoint";

/** What a fork or rewrite looks like on disk: both heads and whatever proof the registry gave. */
export interface EvidenceDetails {
  verified_head: SignedTreeHead | null;
  offending_head: unknown;
  consistency_proof: ConsistencyProofResponse | null;
  /** The compact range of the verified log (before this round). */
  verified_compact_range: { size: number; peaks: string[] };
  /** What the leaves served this round recompute to, when that is the finding. */
  recomputed?: { size: number; root: string };
  entry?: unknown;
  checkpoint?: string;
}

export class LogMisbehaviour extends Error {
  constructor(
    readonly kind: MisbehaviourKind,
    message: string,
    readonly details: EvidenceDetails,
  ) {
    super(message);
    this.name = "LogMisbehaviour";
  }
}

/** A pinned key differs from what the registry now advertises: a person must decide. */
export class PinMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PinMismatchError";
  }
}

export interface MonitorEntry {
  index: number;
  leaf_hash: string;
  /** The parsed leaf JSON; null (with `leaf_data`) when the leaf is not JSON. */
  leaf: unknown;
  leaf_data?: string;
}

export interface RoundSession {
  /** Cleared for the rest of the session once the registry answers 404 to a consistency request. */
  useConsistency: boolean;
  notice: (message: string) => void;
  /** Leaves read so far of those this round must read (phase "leaves"), then "done". */
  onProgress?: ProgressCallback;
}

export interface RoundOutcome {
  state: MonitorState;
  entries: MonitorEntry[];
  previousSize: number;
  consistencyChecked: boolean;
}

/**
 * Whatever the registry advertises: this project's registries advertise a
 * checkpoint (and serve consistency proofs with it); others may say so with a
 * flag. A registry that says nothing is asked anyway only if it 404s cleanly.
 */
export function advertisesConsistency(wellKnown: WellKnown): boolean {
  const federation = wellKnown.federation as Record<string, unknown> | undefined;
  if (!federation) return false;
  if (typeof federation.checkpoint_origin === "string") return true;
  for (const key of ["consistency", "consistency_proofs", "tlog_consistency"]) {
    if (federation[key] === true) return true;
  }
  const extensions = federation.extensions;
  return Array.isArray(extensions) && extensions.some((e) => typeof e === "string" && e.includes("consistency"));
}

export async function monitorRound(
  client: RegistryClient,
  statePath: string,
  previous: MonitorState | null,
  session: RoundSession,
  now: Date,
): Promise<RoundOutcome> {
  const wellKnown = await client.wellKnown();
  const pins = pinKeys(statePath, previous, wellKnown, session.notice);
  const head = await client.head();
  const verified = previous?.head ?? null;
  const compact = previous ? CompactRange.fromJSON(previous.compact_range) : new CompactRange();
  const verifiedCompact = compact.toJSON();
  let consistencyProof: ConsistencyProofResponse | null = null;
  const misbehaviour = (kind: MisbehaviourKind, message: string, extra: Partial<EvidenceDetails> = {}) =>
    new LogMisbehaviour(kind, message, {
      verified_head: verified,
      offending_head: head,
      consistency_proof: consistencyProof,
      verified_compact_range: verifiedCompact,
      ...extra,
    });

  if (!verifyTreeHead(head, pins.registry_pub)) {
    throw misbehaviour("bad_signature", `the head of size ${head.size} is not signed by the pinned registry key ${pins.registry_pub}`);
  }
  const headRoot = Buffer.from(head.root, "hex");
  if (verified && head.size < verified.size) {
    throw misbehaviour("shrunk", `the log shrank: verified size ${verified.size}, now signed size ${head.size}`);
  }
  if (verified && head.size === verified.size && head.root !== verified.root) {
    throw misbehaviour("fork", `two signed heads of size ${head.size} with different roots: ${verified.root} and ${head.root}`);
  }

  let consistencyChecked = false;
  const wantProof = verified !== null && verified.size > 0 && head.size > verified.size;
  if (wantProof && session.useConsistency && advertisesConsistency(wellKnown)) {
    consistencyProof = await client.consistency(verified.size, head.size);
    if (consistencyProof === null) {
      session.useConsistency = false;
      session.notice("the registry has no /tlog/consistency (404); proving growth from /tlog/range alone");
    } else {
      const proof = consistencyProof.proof.map((h) => Buffer.from(h, "hex"));
      if (!verifyConsistency(verified.size, head.size, proof, Buffer.from(verified.root, "hex"), headRoot)) {
        throw misbehaviour("fork", `the consistency proof ${verified.size} -> ${head.size} does not verify: the new head does not extend the verified one`);
      }
      consistencyChecked = true;
    }
  }

  let entries: MonitorEntry[];
  try {
    entries = await readNewEntries(client, compact, head.size, misbehaviour, session.onProgress);
  } finally {
    session.onProgress?.({ phase: "done", done: 0, total: null });
  }
  const recomputed = compact.root();
  if (!recomputed.equals(headRoot)) {
    const message = verified
      ? `the verified leaves plus the ${entries.length} new ones served by /tlog/range give root ${toHex(recomputed)}, but the signed head of size ${head.size} has root ${head.root}: history was rewritten or the log forked`
      : `the ${head.size} leaves served by /tlog/range give root ${toHex(recomputed)}, but the signed head has root ${head.root}`;
    throw misbehaviour(verified ? "fork" : "root_mismatch", message, { recomputed: { size: compact.size, root: toHex(recomputed) } });
  }

  if (pins.checkpoint_vkey !== undefined && wellKnown.federation?.checkpoint_vkey !== undefined) {
    await checkCheckpoint(client, pins.checkpoint_vkey, head, session, misbehaviour);
  }

  return {
    state: {
      format: STATE_FORMAT,
      ...pins,
      url: client.baseUrl,
      head,
      compact_range: compact.toJSON(),
      updated_at: now.toISOString(),
    },
    entries,
    previousSize: verified?.size ?? 0,
    consistencyChecked,
  };
}

type MisbehaviourFactory = (kind: MisbehaviourKind, message: string, extra?: Partial<EvidenceDetails>) => LogMisbehaviour;

interface Pins {
  registry_pub: string;
  checkpoint_origin?: string;
  checkpoint_vkey?: string;
}

/** Trust on first use, then hold the registry to it. */
function pinKeys(statePath: string, previous: MonitorState | null, wellKnown: WellKnown, notice: (m: string) => void): Pins {
  const advertisedPub = wellKnown.ed25519_pub.toLowerCase();
  const origin = wellKnown.federation?.checkpoint_origin;
  const vkey = wellKnown.federation?.checkpoint_vkey;
  const changed: { field: keyof Pins; pinned: string; now: string }[] = [];
  const pins: Pins = { registry_pub: previous?.registry_pub ?? advertisedPub };
  if (previous?.registry_pub === undefined) notice(`pinned registry key ${advertisedPub}`);
  else if (previous.registry_pub !== advertisedPub) changed.push({ field: "registry_pub", pinned: previous.registry_pub, now: advertisedPub });

  if (previous?.checkpoint_origin !== undefined) pins.checkpoint_origin = previous.checkpoint_origin;
  if (previous?.checkpoint_vkey !== undefined) pins.checkpoint_vkey = previous.checkpoint_vkey;
  if (origin !== undefined && vkey !== undefined) {
    if (pins.checkpoint_origin === undefined && pins.checkpoint_vkey === undefined) {
      pins.checkpoint_origin = origin;
      pins.checkpoint_vkey = vkey;
      notice(`pinned checkpoint key ${vkey}`);
    } else {
      if (pins.checkpoint_origin === undefined) pins.checkpoint_origin = origin;
      else if (pins.checkpoint_origin !== origin) changed.push({ field: "checkpoint_origin", pinned: pins.checkpoint_origin, now: origin });
      if (pins.checkpoint_vkey === undefined) pins.checkpoint_vkey = vkey;
      else if (pins.checkpoint_vkey !== vkey) changed.push({ field: "checkpoint_vkey", pinned: pins.checkpoint_vkey, now: vkey });
    }
  } else if (pins.checkpoint_vkey !== undefined) {
    notice("the registry no longer advertises a checkpoint key; checking v1 signed heads only");
  }

  if (changed.length > 0) {
    const what = changed.map((c) => `${c.field} is pinned to ${c.pinned} but the registry now advertises ${c.now}`).join("; ");
    const lines = changed
      .map((c) => {
        const line = fieldLine(statePath, c.field);
        return line === null ? `the "${c.field}" field` : `line ${line} ("${c.field}")`;
      })
      .join(" and ");
    throw new PinMismatchError(
      `the registry's key changed: ${what}. Refusing to continue. If the change is legitimate (a planned key rotation ` +
        `announced by the operator), delete ${lines} of the state file ${statePath} and run again: the monitor will pin ` +
        `the new key and still hold the registry to the log it has already verified.`,
    );
  }
  return pins;
}

/**
 * Reads leaves [compact.size, target) in pages, checking each one's bytes
 * against its hash and text, and appends them to `compact`.
 */
async function readNewEntries(
  client: RegistryClient,
  compact: CompactRange,
  target: number,
  misbehaviour: MisbehaviourFactory,
  onProgress?: ProgressCallback,
): Promise<MonitorEntry[]> {
  const entries: MonitorEntry[] = [];
  const from = compact.size;
  while (compact.size < target) {
    onProgress?.({ phase: "leaves", done: compact.size - from, total: target - from });
    const start = compact.size;
    const page = await client.range(start, Math.min(RANGE_PAGE, target - start));
    const window = page.entries.filter((e) => e.index < target);
    if (window.length === 0) {
      throw new RegistryProtocolError(client.baseUrl, `/tlog/range?start=${start} returned no entries although the signed head has size ${target}`);
    }
    for (const entry of window) {
      if (entry.index !== compact.size) {
        throw new RegistryProtocolError(client.baseUrl, `/tlog/range?start=${start} returned index ${entry.index} where ${compact.size} was expected`);
      }
      const bytes = parseHex(entry.leaf_data_hex);
      const hash = bytes ? leafHash(bytes) : null;
      if (!bytes || !hash || !hash.equals(Buffer.from(entry.leaf_hash, "hex"))) {
        throw misbehaviour("bad_entry", `leaf ${entry.index}: leaf_data_hex does not hash to the leaf_hash the registry serves with it`, { entry });
      }
      const text = bytes.toString("utf8");
      if (entry.leaf_data !== text) {
        throw misbehaviour("bad_entry", `leaf ${entry.index}: leaf_data is not the UTF-8 text of leaf_data_hex`, { entry });
      }
      compact.append(hash);
      entries.push(describeEntry(entry.index, hash, text));
    }
  }
  return entries;
}

function describeEntry(index: number, hash: Buffer, text: string): MonitorEntry {
  try {
    return { index, leaf_hash: toHex(hash), leaf: JSON.parse(text) as unknown };
  } catch {
    return { index, leaf_hash: toHex(hash), leaf: null, leaf_data: text };
  }
}

/**
 * The checkpoint is a second signed statement about the same log: it must be
 * signed by the pinned note key and agree with the head when sizes allow a comparison.
 */
async function checkCheckpoint(
  client: RegistryClient,
  vkey: string,
  head: SignedTreeHead,
  session: RoundSession,
  misbehaviour: MisbehaviourFactory,
): Promise<void> {
  const note = await client.checkpoint();
  if (note === null) {
    session.notice("the registry advertises a checkpoint key but serves no /checkpoint");
    return;
  }
  let checkpoint;
  try {
    checkpoint = verifyCheckpoint(note, vkey);
  } catch (error) {
    throw misbehaviour("bad_checkpoint", `the checkpoint does not verify with the pinned key: ${(error as Error).message}`, { checkpoint: note });
  }
  const headRoot = Buffer.from(head.root, "hex");
  if (checkpoint.size === head.size) {
    if (!headRoot.equals(checkpoint.root)) {
      throw misbehaviour("fork", `the checkpoint and the head of size ${head.size} have different roots`, { checkpoint: note });
    }
  } else if (checkpoint.size < head.size && checkpoint.size > 0 && session.useConsistency) {
    const answer = await client.consistency(checkpoint.size, head.size);
    const proof = answer?.proof.map((h) => Buffer.from(h, "hex"));
    if (proof && !verifyConsistency(checkpoint.size, head.size, proof, checkpoint.root, headRoot)) {
      throw misbehaviour("fork", `the checkpoint of size ${checkpoint.size} is not consistent with the head of size ${head.size}`, {
        checkpoint: note,
        consistency_proof: answer,
      });
    }
  }
}
