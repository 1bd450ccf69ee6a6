/** What a log leaf is, for people: registration, beacon hit (by family) or DNS event (docs/PROTOCOL.md#log-leaves). */
export interface LeafSummary {
  kind: string;
  /** The identifier a reader searches by: the file id, else the token. */
  subject: string;
  fileId: string | null;
  tokenId: string | null;
  timestamp: string;
  detail: string;
}

const text = (value: unknown): string | null => (typeof value === "string" && value !== "" ? value : null);

export function describeLeaf(leafData: string): LeafSummary {
  let leaf: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(leafData);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
    leaf = parsed as Record<string, unknown>;
  } catch {
    return { kind: "unreadable leaf", subject: "", fileId: null, tokenId: null, timestamp: "", detail: "" };
  }
  const fileId = text(leaf.file_id);
  const tokenId = text(leaf.token_id);
  const timestamp = text(leaf.timestamp) ?? "";
  if (leaf.event === "register") {
    const detail = `issuer ${text(leaf.issuer_id) ?? "?"} → recipient ${text(leaf.recipient_id) ?? "?"}, ${Number(leaf.n_beacons) || 0} beacons`;
    return { kind: "registration", subject: fileId ?? "", fileId, tokenId: null, timestamp, detail };
  }
  if (leaf.event === "beacon") {
    const family = text(leaf.kind) ?? "?";
    const isDns = family === "dns" || "qname" in leaf;
    const from = text(leaf.source_ip) ?? "?";
    const detail = isDns ? `${text(leaf.qname) ?? ""} ${text(leaf.qtype) ?? ""} from ${from}`.trim() : `from ${from}`;
    return { kind: isDns ? "DNS event" : `beacon hit (${family})`, subject: fileId ?? tokenId ?? "", fileId, tokenId, timestamp, detail };
  }
  return { kind: `${text(leaf.event) ?? "unknown"} event`, subject: fileId ?? tokenId ?? "", fileId, tokenId, timestamp, detail: "" };
}
