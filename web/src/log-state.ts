/**
 * The log at a glance, verified in the page: the registry key (pinned on the
 * first visit), the signed head, the checkpoint, and the new head proven
 * consistent with the last one this browser verified, which is the visitor's
 * own fork detection (docs/INSPECTOR.md#fork-detection).
 */
import { equalBytes, parseHex, toHex } from "../../src/verify/bytes.js";
import { verifyCheckpoint } from "../../src/verify/checkpoint.js";
import { verifyTreeHead, type SignedTreeHead } from "../../src/verify/head.js";
import { parseVerifierKey } from "../../src/verify/note.js";
import { verifyConsistency } from "../../src/verify/rfc6962.js";
import { getJson, getText, type WellKnown } from "./api.js";

const STORAGE_KEY = "oversight-inspector:v1";

export interface Remembered {
  registryPub: string;
  size: number;
  root: string;
}

export type Verdict = { ok: true; detail: string } | { ok: false; detail: string };

export interface LogState {
  registryPub: string;
  origin: string;
  vkey: string;
  head: SignedTreeHead;
  headVerdict: Verdict;
  checkpointVerdict: Verdict;
  /** Against the head this browser verified last; null on the first visit. */
  forkVerdict: Verdict | null;
  keyChanged: string | null;
}

export function remembered(): Remembered | null {
  try {
    const value = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "null") as Remembered | null;
    return value && typeof value.registryPub === "string" && Number.isSafeInteger(value.size) && typeof value.root === "string" ? value : null;
  } catch {
    return null;
  }
}

function remember(value: Remembered): void {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(value));
  } catch {
    // Storage off (private mode, quota): fork detection then starts afresh on every visit, which the page says.
  }
}

export function forgetRemembered(): void {
  localStorage.removeItem(STORAGE_KEY);
}

/** What the registry says about itself, fetched at once; nothing in it is trusted yet. */
export interface LogSnapshot {
  wellKnown: WellKnown;
  head: SignedTreeHead;
  /** The checkpoint note, or why it could not be fetched. */
  checkpoint: string | Error;
}

export async function fetchLogSnapshot(): Promise<LogSnapshot> {
  const [wellKnown, head, checkpoint] = await Promise.all([
    getJson<WellKnown>("/.well-known/oversight-registry"),
    getJson<SignedTreeHead>("/tlog/head"),
    getText("/checkpoint").catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
  ]);
  return { wellKnown, head, checkpoint };
}

export async function verifyLogSnapshot({ wellKnown, head, checkpoint }: LogSnapshot): Promise<LogState> {
  const previous = remembered();
  const servedKey = String(wellKnown.ed25519_pub ?? "");
  // The key this browser saw first stays the one it trusts: a key change is an alarm, not an update.
  const registryPub = previous?.registryPub ?? servedKey;
  const keyChanged = previous && previous.registryPub !== servedKey ? servedKey : null;
  const origin = wellKnown.federation?.checkpoint_origin ?? "";
  const vkey = wellKnown.federation?.checkpoint_vkey ?? "";
  const headOk = verifyTreeHead(head, registryPub);
  const headVerdict: Verdict = headOk
    ? { ok: true, detail: `size ${head.size}, root ${head.root.slice(0, 16)}…, signed by the registry key` }
    : { ok: false, detail: "the head's signature does not verify with the registry key" };
  const checkpointVerdict = checkCheckpoint(checkpoint, vkey, registryPub, head, headOk);
  let forkVerdict: Verdict | null = null;
  if (previous && headOk && !keyChanged) forkVerdict = await checkConsistency(previous, head);
  if (headOk && !keyChanged && (forkVerdict === null || forkVerdict.ok)) remember({ registryPub, size: head.size, root: head.root });
  return { registryPub, origin, vkey, head, headVerdict, checkpointVerdict, forkVerdict, keyChanged };
}

function checkCheckpoint(note: string | Error, vkey: string, registryPub: string, head: SignedTreeHead, headOk: boolean): Verdict {
  try {
    if (note instanceof Error) throw note;
    const checkpoint = verifyCheckpoint(note, vkey);
    const pinned = parseHex(registryPub, 32);
    if (!pinned || !equalBytes(parseVerifierKey(vkey).publicKey, pinned)) {
      return { ok: false, detail: "the checkpoint verifier key is not the registry key" };
    }
    if (headOk && checkpoint.size === head.size && toHex(checkpoint.root) !== head.root) {
      return { ok: false, detail: `the checkpoint and the head of size ${head.size} have different roots` };
    }
    return { ok: true, detail: `${checkpoint.origin}, size ${checkpoint.size}, signed note verifies` };
  } catch (error) {
    return { ok: false, detail: (error as Error).message };
  }
}

async function checkConsistency(previous: Remembered, head: SignedTreeHead): Promise<Verdict> {
  const was = `the head of size ${previous.size} this browser verified before`;
  if (head.size < previous.size) return { ok: false, detail: `the log now has ${head.size} leaves, fewer than ${was}` };
  if (head.size === previous.size) {
    return head.root === previous.root ? { ok: true, detail: `same head as ${was}` } : { ok: false, detail: `the root differs from ${was}` };
  }
  try {
    const answer = await getJson<{ proof: string[] }>(`/tlog/consistency?first=${previous.size}&second=${head.size}`);
    const proof = Array.isArray(answer.proof) ? answer.proof.map((h) => parseHex(h, 32)) : [];
    const oldRoot = parseHex(previous.root, 32);
    const newRoot = parseHex(head.root, 32);
    const good = oldRoot && newRoot && proof.every((h) => h !== null) && verifyConsistency(previous.size, head.size, proof as Uint8Array[], oldRoot, newRoot);
    return good ? { ok: true, detail: `proven an extension of ${was}` } : { ok: false, detail: `the consistency proof from ${was} does not verify` };
  } catch (error) {
    return { ok: false, detail: `no consistency proof from ${was}: ${(error as Error).message}` };
  }
}
