/**
 * The cursor of an evidence bundle page: the tree size the pages are taken
 * at, and the (timestamp, id) of the last event already handed out. Events
 * arriving later have leaves at or past that size, so they never join the
 * pages of a snapshot, and the pages chain to exactly its events.
 */
import { missingField } from "../core/errors.js";

export interface EvidenceCursor {
  treeSize: number;
  timestamp: number;
  id: number;
}

const CURSOR = /^([0-9]{1,16})\.(-?[0-9]{1,16})\.([0-9]{1,16})$/;

export function formatCursor({ treeSize, timestamp, id }: EvidenceCursor): string {
  return `${treeSize}.${timestamp}.${id}`;
}

/** A cursor this registry issued for a log of `logSize` leaves, or a missing_field error. */
export function parseCursor(text: string, logSize: number): EvidenceCursor {
  const match = CURSOR.exec(text);
  const [treeSize, timestamp, id] = match ? match.slice(1).map(Number) : [];
  if (treeSize === undefined || timestamp === undefined || id === undefined || ![treeSize, timestamp, id].every(Number.isSafeInteger)) {
    throw missingField("cursor must be the next_cursor of an evidence bundle page");
  }
  if (treeSize < 1 || treeSize > logSize) throw missingField(`cursor tree size ${treeSize} is not a size of this log (1..${logSize})`);
  return { treeSize, timestamp, id };
}
