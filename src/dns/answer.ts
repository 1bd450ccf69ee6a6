/**
 * Pure DNS: a query's bytes in, the answer's bytes out, for the beacon zone.
 * No sockets and no clock, so every answer can be tested directly. Packets
 * are parsed and built by dns-packet; this module decides what they say.
 */
import * as dnsPacket from "dns-packet";
import { place, type Placement, type Zone } from "./zone.js";

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type Rcode = keyof typeof RCODE;
/** EDNS0's BADVERS is 16: the low four bits in the header, the rest in the OPT record's extended rcode. */
const BADVERS_EXTENDED = 1;
const OPCODE_MASK = 0x7800;
const QR = 0x8000;
const HEADER_BYTES = 12;

/** Classic DNS over UDP without EDNS0 (RFC 1035). */
export const PLAIN_UDP_LIMIT = 512;
/** What we advertise and the most we send over UDP: the DNS flag day 2020 figure, below common path MTUs. */
export const EDNS_UDP_LIMIT = 1232;

export interface Question {
  /** As asked, case and all. */
  name: string;
  type: string;
  class: string;
}

export interface Query {
  id: number;
  /** The header flags to echo: opcode and RD. */
  echoedFlags: number;
  question: Question;
  /** The client's EDNS0 UDP payload size, or null without an OPT record. */
  ednsUdpSize: number | null;
}

/** A query we can answer, or what to send instead (null: drop it silently). */
export type Decoded = { ok: true; query: Query } | { ok: false; reply: Buffer | null; reason: string };

export function decodeQuery(message: Buffer): Decoded {
  // Too short to carry an id, or itself an answer: replying could start a loop between two servers.
  if (message.length < HEADER_BYTES) return { ok: false, reply: null, reason: "shorter than a DNS header" };
  const id = message.readUInt16BE(0);
  const flags = message.readUInt16BE(2);
  if ((flags & QR) !== 0) return { ok: false, reply: null, reason: "a response, not a query" };
  const echoedFlags = flags & (OPCODE_MASK | dnsPacket.RECURSION_DESIRED);
  const refuse = (rcode: Rcode, reason: string): Decoded => ({ ok: false, reply: headerOnly(id, echoedFlags, rcode), reason });
  if ((flags & OPCODE_MASK) !== 0) return refuse("NOTIMP", "not a standard query");

  let packet: dnsPacket.DecodedPacket;
  try {
    packet = dnsPacket.decode(message);
  } catch {
    return refuse("FORMERR", "malformed packet");
  }
  const [question, ...more] = packet.questions ?? [];
  if (question === undefined || more.length > 0) return refuse("FORMERR", "not exactly one question");
  const opts = (packet.additionals ?? []).filter((record) => record.type === "OPT");
  if (opts.length > 1) return refuse("FORMERR", "more than one OPT record");
  const opt = opts[0] as { udpPayloadSize?: number; ednsVersion?: number } | undefined;
  if (opt !== undefined && (opt.ednsVersion ?? 0) > 0) {
    return { ok: false, reply: badVersion(id, echoedFlags), reason: "unsupported EDNS version" };
  }
  return {
    ok: true,
    query: {
      id,
      echoedFlags,
      question: { name: question.name, type: question.type, class: question.class ?? "IN" },
      ednsUdpSize: opt === undefined ? null : (opt.udpPayloadSize ?? PLAIN_UDP_LIMIT),
    },
  };
}

export type Transport = "udp" | "tcp";

/** The zone's answer to `query`, sized for `transport` (truncated, TC=1, when UDP cannot carry it). */
export function answer(zone: Zone, query: Query, transport: Transport): Buffer {
  return encodeFitting(query, records(zone, query.question), transport);
}

/** SERVFAIL for a query we could not handle (the journal failed): the resolver asks again later. */
export function serverFailure(query: Query): Buffer {
  return encodeFitting(query, { rcode: "SERVFAIL", authoritative: false, answers: [], authorities: [] }, "tcp");
}

/** Where the question's name falls in the zone: the bridge journals only beacons. */
export function placementOf(zone: Zone, query: Query): Placement {
  return place(zone, query.question.name);
}

interface Records {
  rcode: Rcode;
  authoritative: boolean;
  answers: dnsPacket.Answer[];
  authorities: dnsPacket.Answer[];
}

function records(zone: Zone, question: Question): Records {
  const placement = place(zone, question.name);
  if (placement.kind === "outside" || (question.class !== "IN" && question.class !== "ANY")) {
    return { rcode: "REFUSED", authoritative: false, answers: [], authorities: [] };
  }
  const name = question.name.replace(/\.$/, "");
  const ttl = zone.ttl;
  const answers: dnsPacket.Answer[] = [];
  // Every name in the zone exists, as with the other bridge: A (and AAAA when configured) everywhere.
  if (question.type === "A") for (const ip of zone.answerIps) answers.push({ type: "A", name, ttl, data: ip });
  if (question.type === "AAAA") for (const ip of zone.answerIpv6) answers.push({ type: "AAAA", name, ttl, data: ip });
  if (placement.kind === "apex" && question.type === "SOA") answers.push(soa(zone, name));
  if (placement.kind === "apex" && question.type === "NS") {
    for (const ns of zone.nameservers) answers.push({ type: "NS", name, ttl, data: ns });
  }
  // NODATA: the name exists without records of this type; the SOA lets resolvers cache that (RFC 2308).
  const authorities = answers.length === 0 ? [soa(zone, zone.apex)] : [];
  return { rcode: "NOERROR", authoritative: true, answers, authorities };
}

function soa(zone: Zone, name: string): dnsPacket.Answer {
  return {
    type: "SOA",
    name,
    ttl: zone.ttl,
    data: {
      mname: zone.nameservers[0]!,
      rname: `hostmaster.${zone.apex}`,
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 604_800,
      minimum: zone.ttl,
    },
  };
}

function encodeFitting(query: Query, found: Records, transport: Transport): Buffer {
  const flags = query.echoedFlags | RCODE[found.rcode] | (found.authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0);
  const additionals: dnsPacket.Answer[] = query.ednsUdpSize === null ? [] : [{ type: "OPT", name: ".", udpPayloadSize: EDNS_UDP_LIMIT } as dnsPacket.Answer];
  const question = { name: query.question.name.replace(/\.$/, ""), type: query.question.type, class: query.question.class } as dnsPacket.Question;
  const packet = {
    type: "response" as const,
    id: query.id,
    flags,
    questions: [question],
    answers: found.answers,
    authorities: found.authorities,
    additionals,
  };
  const full = dnsPacket.encode(packet);
  if (transport === "tcp" || full.length <= udpLimit(query)) return full;
  // Too big for this resolver over UDP: an empty answer with TC=1 sends it to TCP (RFC 7766).
  return dnsPacket.encode({ ...packet, flags: flags | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [] });
}

function udpLimit(query: Query): number {
  if (query.ednsUdpSize === null) return PLAIN_UDP_LIMIT;
  return Math.max(PLAIN_UDP_LIMIT, Math.min(query.ednsUdpSize, EDNS_UDP_LIMIT));
}

function headerOnly(id: number, echoedFlags: number, rcode: Rcode): Buffer {
  return dnsPacket.encode({ type: "response", id, flags: echoedFlags | RCODE[rcode], questions: [] });
}

function badVersion(id: number, echoedFlags: number): Buffer {
  const opt = { type: "OPT", name: ".", udpPayloadSize: EDNS_UDP_LIMIT, extendedRcode: BADVERS_EXTENDED } as dnsPacket.Answer;
  return dnsPacket.encode({ type: "response", id, flags: echoedFlags, questions: [], additionals: [opt] });
}
