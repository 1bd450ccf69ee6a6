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

const MAX_LABEL_BYTES = 63;
const TYPE_AND_CLASS_BYTES = 4;
/** A compression pointer to the question's name, which follows the header. */
const QUESTION_NAME_POINTER = Buffer.from([0xc0, HEADER_BYTES]);

/** Classic DNS over UDP without EDNS0 (RFC 1035). */
export const PLAIN_UDP_LIMIT = 512;
/** What we advertise and the most we send over UDP: the DNS flag day 2020 figure, below common path MTUs. */
export const EDNS_UDP_LIMIT = 1232;

/** Our OPT record, as every EDNS0 answer carries it. */
const OPT_RECORD = dnsPacket
  .encode({ type: "response", additionals: [{ type: "OPT", name: ".", udpPayloadSize: EDNS_UDP_LIMIT } as dnsPacket.Answer] })
  .subarray(HEADER_BYTES);

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
  /** The question's bytes as sent (name, type, class), echoed as they are; null when its name is compressed. */
  questionWire: Buffer | null;
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
      questionWire: questionBytes(message),
      ednsUdpSize: opt === undefined ? null : (opt.udpPayloadSize ?? PLAIN_UDP_LIMIT),
    },
  };
}

/**
 * Where the question's bytes end. dns-packet has decoded the message, so the
 * labels are in bounds; a name behind a compression pointer is not one run
 * of bytes, and is answered through dns-packet instead.
 */
function questionBytes(message: Buffer): Buffer | null {
  let offset = HEADER_BYTES;
  for (let length = message[offset]; length !== undefined && length !== 0; length = message[offset]) {
    if (length > MAX_LABEL_BYTES) return null;
    offset += 1 + length;
  }
  const end = offset + 1 + TYPE_AND_CLASS_BYTES;
  return end <= message.length ? message.subarray(HEADER_BYTES, end) : null;
}

export type Transport = "udp" | "tcp";

/** The zone's answer to `query`, sized for `transport` (truncated, TC=1, when UDP cannot carry it). */
export function answer(zone: Zone, query: Query, transport: Transport): Buffer {
  return addressAnswer(zone, query, transport) ?? encodeAnswer(zone, query, transport);
}

/** The same answer, every part encoded by dns-packet for this query: the reference the address answers are tested against. */
export function encodeAnswer(zone: Zone, query: Query, transport: Transport): Buffer {
  return encodeFitting(query, records(zone, query.question), transport);
}

/**
 * The answer to nearly every query, A (or AAAA) for a name in the zone,
 * without encoding it: the header, the question's own bytes, then the zone's
 * address records, encoded once by dns-packet, each naming the question by a
 * pointer to it (RFC 1035 §4.1.4). Encoding the whole packet again for every
 * query was a tenth of the CPU the bridge spends on an answer. Null for any
 * other answer, or one UDP cannot carry: dns-packet builds those.
 */
function addressAnswer(zone: Zone, query: Query, transport: Transport): Buffer | null {
  const { question, questionWire } = query;
  if (questionWire === null || refused(place(zone, question.name), question)) return null;
  const records = addressRecords(zone)[question.type];
  if (records === undefined || records.count === 0) return null;
  const opt = query.ednsUdpSize === null ? null : OPT_RECORD;
  const length = HEADER_BYTES + questionWire.length + records.bytes.length + (opt?.length ?? 0);
  if (transport === "udp" && length > udpLimit(query)) return null;
  const packet = Buffer.allocUnsafe(length);
  packet.writeUInt16BE(query.id, 0);
  packet.writeUInt16BE(QR | query.echoedFlags | dnsPacket.AUTHORITATIVE_ANSWER | RCODE.NOERROR, 2);
  packet.writeUInt16BE(1, 4);
  packet.writeUInt16BE(records.count, 6);
  packet.writeUInt16BE(0, 8);
  packet.writeUInt16BE(opt === null ? 0 : 1, 10);
  let offset = HEADER_BYTES + questionWire.copy(packet, HEADER_BYTES);
  offset += records.bytes.copy(packet, offset);
  opt?.copy(packet, offset);
  return packet;
}

interface AddressRecords {
  count: number;
  /** Each record after its owner name, behind a pointer to the question's name. */
  bytes: Buffer;
}

const addressRecordsOf = new WeakMap<Zone, Partial<Record<string, AddressRecords>>>();

function addressRecords(zone: Zone): Partial<Record<string, AddressRecords>> {
  let known = addressRecordsOf.get(zone);
  if (known === undefined) {
    known = { A: encodeRecords("A", zone.answerIps, zone.ttl), AAAA: encodeRecords("AAAA", zone.answerIpv6, zone.ttl) };
    addressRecordsOf.set(zone, known);
  }
  return known;
}

function encodeRecords(type: "A" | "AAAA", addresses: string[], ttl: number): AddressRecords {
  const records = addresses.map((data) => {
    // Owned by the root, whose name is the one byte after the header: the rest is the record's type, class, TTL and data.
    const alone = dnsPacket.encode({ type: "response", answers: [{ type, name: ".", ttl, data }] });
    return Buffer.concat([QUESTION_NAME_POINTER, alone.subarray(HEADER_BYTES + 1)]);
  });
  return { count: records.length, bytes: Buffer.concat(records) };
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
  if (refused(placement, question)) {
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

/** Names outside the zone, and classes other than IN (or ANY), are answered REFUSED. */
function refused(placement: Placement, question: Question): boolean {
  return placement.kind === "outside" || (question.class !== "IN" && question.class !== "ANY");
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
