/**
 * Beacon hits and DNS events: one `events` row and one leaf per event, for
 * known and unknown tokens alike (unknown ones carry null file and recipient).
 */
import { z } from "zod";
import { canonicalize } from "../verify/jcs.js";
import { IdentifierSchema } from "../core/manifest.js";
import { WellFormedText } from "../core/text.js";
import { FIELD_CAPS, beaconLeaf, capUtf8, dnsLeaf, type BeaconKind } from "./leaves.js";
import type { Registry } from "./registry.js";
import { isoSeconds } from "./time.js";

/** A bridge's idempotency key: unique per event, at most 64 characters of [A-Za-z0-9_-]. */
export const DnsEventIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "event_id must be 1..64 characters of A-Z, a-z, 0-9, '_' or '-'");

export const DnsEventSchema = z.looseObject({
  token_id: IdentifierSchema,
  event_id: DnsEventIdSchema.nullish(),
  client_ip: WellFormedText.nullish(),
  qtype: WellFormedText.nullish(),
  qname: WellFormedText.nullish(),
});
export type DnsEventRequest = z.infer<typeof DnsEventSchema>;

/** What POST /dns_event answers, also for an `event_id` seen before (its original leaf). */
export const DnsEventAnswerSchema = z.object({ ok: z.literal(true), tlog_index: z.int().nonnegative() });
export type DnsEventAnswer = z.infer<typeof DnsEventAnswerSchema>;

export interface BeaconHit {
  kind: BeaconKind;
  tokenId: string;
  sourceIp: string;
  userAgent: string;
}

interface TokenOwner {
  file_id: string;
  recipient_id: string;
  issuer_id: string;
}

interface EventRow {
  tokenId: string;
  owner: TokenOwner | undefined;
  kind: string;
  sourceIp: string;
  userAgent: string;
  extra: string;
  now: number;
}

export class Events {
  private readonly sql;

  constructor(private readonly registry: Registry) {
    const db = registry.db;
    this.sql = {
      owner: db.prepare<[string], TokenOwner>("SELECT file_id, recipient_id, issuer_id FROM beacons WHERE token_id = ?"),
      eventIdIndex: db.prepare<[string], number>("SELECT tlog_index FROM dns_event_ids WHERE event_id = ?").pluck(),
      rememberEventId: db.prepare("INSERT INTO dns_event_ids (event_id, tlog_index) VALUES (?, ?)"),
      insert: db.prepare(
        `INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
    };
  }

  beacon(hit: BeaconHit): Promise<{ tlogIndex: number }> {
    const sourceIp = capUtf8(hit.sourceIp, FIELD_CAPS.sourceIp);
    const userAgent = capUtf8(hit.userAgent, FIELD_CAPS.userAgent);
    return this.registry.write(() => {
      const owner = this.sql.owner.get(hit.tokenId);
      const now = this.registry.clock();
      const index = this.registry.store.append(
        beaconLeaf({
          kind: hit.kind,
          tokenId: hit.tokenId,
          fileId: owner?.file_id ?? null,
          recipientId: owner?.recipient_id ?? null,
          sourceIp,
          userAgent,
          timestamp: isoSeconds(now),
        }),
      );
      this.insert({ tokenId: hit.tokenId, owner, kind: hit.kind, sourceIp, userAgent, extra: "{}", now }, index);
      return { tlogIndex: index };
    });
  }

  /**
   * `callerAddress` stands in for `client_ip` when the bridge does not send
   * one. An `event_id` seen before answers the leaf it became and records
   * nothing; the lookup and the insert share the write's transaction, so two
   * sends of one id can never both append.
   */
  dns(request: DnsEventRequest, callerAddress: string): Promise<{ tlogIndex: number }> {
    const sourceIp = capUtf8(request.client_ip ?? callerAddress, FIELD_CAPS.sourceIp);
    const qname = capUtf8(request.qname ?? "", FIELD_CAPS.qname);
    const qtype = capUtf8(request.qtype ?? "", FIELD_CAPS.qtype);
    const eventId = request.event_id ?? null;
    return this.registry.write(() => {
      if (eventId !== null) {
        const earlier = this.sql.eventIdIndex.get(eventId);
        if (earlier !== undefined) return { tlogIndex: earlier };
      }
      const owner = this.sql.owner.get(request.token_id);
      const now = this.registry.clock();
      const index = this.registry.store.append(
        dnsLeaf({
          tokenId: request.token_id,
          fileId: owner?.file_id ?? null,
          recipientId: owner?.recipient_id ?? null,
          sourceIp,
          qname,
          qtype,
          timestamp: isoSeconds(now),
        }),
      );
      const extra = canonicalize({ qtype, qname });
      this.insert({ tokenId: request.token_id, owner, kind: "dns", sourceIp, userAgent: "", extra, now }, index);
      if (eventId !== null) this.sql.rememberEventId.run(eventId, index);
      return { tlogIndex: index };
    });
  }

  private insert(row: EventRow, tlogIndex: number): void {
    this.sql.insert.run(
      row.tokenId,
      row.owner?.file_id ?? null,
      row.owner?.recipient_id ?? null,
      row.owner?.issuer_id ?? null,
      row.kind,
      row.sourceIp,
      row.userAgent,
      row.extra,
      row.now,
      isoSeconds(row.now),
      tlogIndex,
    );
  }
}
