/**
 * POST /dns_events: many DNS events in one request, for a bridge delivering a
 * backlog. Each item is exactly what POST /dns_event takes and is recorded by
 * the same use-case (Events.dns), item by item in order, so its checks, its
 * event_id rule and its leaf are the /dns_event ones; the items are submitted
 * together, so the write sequencer commits them in one transaction and their
 * leaves follow the items' order. Every item has its own outcome: a refused
 * item changes nothing and does not stop the others.
 */
import { z } from "zod";
import { ErrorEnvelopeSchema, type RegistryError } from "../core/errors.js";
import { DnsEventAnswerSchema, DnsEventSchema, type Events } from "./events.js";

/** The most events one request may carry (docs/PROTOCOL.md#dns-event-batches); more is 400 for the whole request. */
export const MAX_DNS_EVENTS_PER_BATCH = 500;

/** A JSON object per item; what an item holds is checked item by item, as /dns_event checks its body. */
export const DnsEventBatchSchema = z.looseObject({
  events: z.array(z.looseObject({})).min(1).max(MAX_DNS_EVENTS_PER_BATCH),
});

/** What POST /dns_events answers: one result per item, in the items' order. */
export const DnsEventBatchAnswerSchema = z.object({ results: z.array(z.union([DnsEventAnswerSchema, ErrorEnvelopeSchema])) });
export type DnsEventBatchAnswer = z.infer<typeof DnsEventBatchAnswerSchema>;

/** One item's outcome: its leaf (new, or the one its event_id recorded before), or why it was refused. */
export type DnsEventOutcome = { tlogIndex: number } | { error: unknown };

/**
 * Records the items of one batch. `admit` spends the rate limit's token of
 * each item after the first; once an item is refused for the rate, every
 * later item is refused alike, so a bridge that retries from the first
 * refused item keeps its events in order.
 */
export async function recordDnsEvents(
  events: Events,
  items: readonly Record<string, unknown>[],
  callerAddress: string,
  admit: () => RegistryError | null,
): Promise<DnsEventOutcome[]> {
  let rateRefusal: RegistryError | null = null;
  const pending = items.map((item, i): Promise<{ tlogIndex: number }> | { error: unknown } => {
    // The rate limit before the body, as on /dns_event: a malformed item spends its token too.
    if (rateRefusal === null && i > 0) rateRefusal = admit();
    if (rateRefusal !== null) return { error: rateRefusal };
    const parsed = DnsEventSchema.safeParse(item);
    if (!parsed.success) return { error: parsed.error };
    return events.dns(parsed.data, callerAddress);
  });
  const settled = await Promise.allSettled(pending);
  return settled.map((result) => (result.status === "fulfilled" ? result.value : { error: result.reason as unknown }));
}
