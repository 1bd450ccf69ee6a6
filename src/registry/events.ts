/**
 * Beacon hits and DNS events: one `events` row and one leaf per event, for
 * known and unknown tokens alike (unknown ones carry null file and recipient).
 */
import { z } from "zod";
import { IdentifierSchema } from "../core/manifest.js";
import { WellFormedText } from "../core/text.js";
import { FIELD_CAPS, capUtf8, type BeaconKind } from "./leaves.js";
import type { Registry } from "./registry.js";
import type { WriteFact } from "./write-facts.js";

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

export class Events {
  constructor(private readonly registry: Registry) {}

  beacon(hit: BeaconHit): Promise<{ tlogIndex: number }> {
    return this.record({
      kind: "beacon",
      at: this.registry.clock(),
      beacon: hit.kind,
      tokenId: hit.tokenId,
      sourceIp: capUtf8(hit.sourceIp, FIELD_CAPS.sourceIp),
      userAgent: capUtf8(hit.userAgent, FIELD_CAPS.userAgent),
    });
  }

  /**
   * `callerAddress` stands in for `client_ip` when the bridge does not send
   * one. An `event_id` seen before answers the leaf it became and records
   * nothing (write-apply.ts: the lookup and the insert share the write's
   * transaction, so two sends of one id can never both append).
   */
  dns(request: DnsEventRequest, callerAddress: string): Promise<{ tlogIndex: number }> {
    return this.record({
      kind: "dns",
      at: this.registry.clock(),
      tokenId: request.token_id,
      eventId: request.event_id ?? null,
      sourceIp: capUtf8(request.client_ip ?? callerAddress, FIELD_CAPS.sourceIp),
      qname: capUtf8(request.qname ?? "", FIELD_CAPS.qname),
      qtype: capUtf8(request.qtype ?? "", FIELD_CAPS.qtype),
    });
  }

  private async record(fact: WriteFact): Promise<{ tlogIndex: number }> {
    return { tlogIndex: await this.registry.write(fact) };
  }
}
