/**
 * What the registry records, as data: the use-cases check a request and turn
 * it into one fact; the write backend (write-backend.ts) records facts in
 * order and answers each with its leaf index or its own error. A fact holds
 * everything its write needs, the time included, so whoever applies it (the
 * writer thread today) needs nothing from the caller but the fact.
 */
import { z } from "zod";
import { BEACON_KINDS } from "./leaves.js";

const Time = z.number();

/** A verified registration: its rows and its register leaf; an identical re-send answers its first leaf. */
export const RegisterFactSchema = z.object({
  kind: z.literal("register"),
  at: Time,
  fileId: z.string(),
  recipientId: z.string(),
  issuerId: z.string(),
  issuerPub: z.string(),
  /** The manifest's JCS text, as stored. */
  manifestJson: z.string(),
  /** SHA-256 of the JCS of the whole request: an identical re-send is recognised by it. */
  digest: z.string(),
  /** The operator token's name, null with auth disabled. */
  operator: z.string().nullable(),
  beacons: z.array(z.object({ token_id: z.string(), kind: z.string() })),
  watermarks: z.array(z.object({ mark_id: z.string(), layer: z.string() })),
  corpus: z.array(z.tuple([z.string(), z.string()])),
});

/** One beacon hit, its fields already capped. */
export const BeaconFactSchema = z.object({
  kind: z.literal("beacon"),
  at: Time,
  beacon: z.enum(BEACON_KINDS),
  tokenId: z.string(),
  sourceIp: z.string(),
  userAgent: z.string(),
});

/** One DNS event, its fields already capped; an `eventId` seen before answers its first leaf. */
export const DnsFactSchema = z.object({
  kind: z.literal("dns"),
  at: Time,
  tokenId: z.string(),
  eventId: z.string().nullable(),
  sourceIp: z.string(),
  qname: z.string(),
  qtype: z.string(),
});

/** An operator token was used (operator-access.ts): no leaf. */
export const TokenUsedFactSchema = z.object({
  kind: z.literal("token_used"),
  at: Time,
  name: z.string(),
});

export const WriteFactSchema = z.discriminatedUnion("kind", [RegisterFactSchema, BeaconFactSchema, DnsFactSchema, TokenUsedFactSchema]);
export type WriteFact = z.infer<typeof WriteFactSchema>;
export type RegisterFact = z.infer<typeof RegisterFactSchema>;
export type BeaconFact = z.infer<typeof BeaconFactSchema>;
export type DnsFact = z.infer<typeof DnsFactSchema>;

/** What a fact that appends no leaf (token_used) answers. */
export const NO_LEAF = -1;
