// The pure DNS answers: bytes in, bytes out, decoded back with dns-packet.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as dnsPacket from "dns-packet";
import { answer, decodeQuery, EDNS_UDP_LIMIT, encodeAnswer, serverFailure, type Query, type Transport } from "../../src/dns/answer.js";
import { place, type Zone } from "../../src/dns/zone.js";

const TOKEN = "0123456789abcdef0123456789abcdef";
type Rec = { ttl?: number; data?: unknown };
const ZONE: Zone = { apex: "bcn.example.org", nameservers: ["ns1.bcn.example.org"], answerIps: ["192.0.2.10", "192.0.2.11"], answerIpv6: [], ttl: 60 };

function ask(name: string, type: string, extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({
    type: "query",
    id: 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as dnsPacket.RecordType, class: "IN" }],
    ...extra,
  });
}

function query(message: Buffer): Query {
  const decoded = decodeQuery(message);
  assert.ok(decoded.ok, "expected a usable query");
  return decoded.query;
}

function reply(message: Buffer, zone: Zone = ZONE, transport: Transport = "udp"): dnsPacket.DecodedPacket & { rcode?: string } {
  return dnsPacket.decode(answer(zone, query(message), transport)) as dnsPacket.DecodedPacket & { rcode?: string };
}

test("names: beacons are <32 hex>.t.<apex> in any case; the apex, other names inside, and outside", () => {
  assert.deepEqual(place(ZONE, `${TOKEN}.t.bcn.example.org`), { kind: "beacon", tokenId: TOKEN });
  assert.deepEqual(place(ZONE, `${TOKEN.toUpperCase()}.T.BCN.Example.ORG.`), { kind: "beacon", tokenId: TOKEN });
  assert.deepEqual(place(ZONE, "BCN.example.org"), { kind: "apex" });
  assert.deepEqual(place(ZONE, `${TOKEN.slice(1)}.t.bcn.example.org`), { kind: "other" });
  assert.deepEqual(place(ZONE, `x.${TOKEN}.t.bcn.example.org`), { kind: "other" });
  assert.deepEqual(place(ZONE, `${TOKEN}.t.bcn.example.org.evil.net`), { kind: "outside" });
  assert.deepEqual(place(ZONE, "xbcn.example.org"), { kind: "outside" });
});

test("A for a beacon in mixed case: every answer address, TTL 60, AA, the question echoed as asked", () => {
  const asked = `${TOKEN.slice(0, 16).toUpperCase()}${TOKEN.slice(16)}.t.BcN.example.ORG`;
  const r = reply(ask(asked, "A"));
  assert.equal(r.id, 4242);
  assert.equal(r.type, "response");
  assert.equal(r.flag_aa, true);
  assert.equal(r.flag_rd, true);
  assert.equal(r.rcode, "NOERROR");
  assert.deepEqual(r.questions, [{ name: asked, type: "A", class: "IN" }]);
  assert.deepEqual(
    r.answers?.map((a) => [a.name, a.type, (a as Rec).ttl, (a as Rec).data]),
    [
      [asked, "A", 60, "192.0.2.10"],
      [asked, "A", 60, "192.0.2.11"],
    ],
  );
});

test("AAAA: the configured addresses, or NODATA with the zone's SOA", () => {
  const nodata = reply(ask(`${TOKEN}.t.bcn.example.org`, "AAAA"));
  assert.equal(nodata.rcode, "NOERROR");
  assert.deepEqual(nodata.answers, []);
  assert.equal(nodata.authorities?.[0]?.type, "SOA");
  assert.equal(nodata.authorities?.[0]?.name, "bcn.example.org");
  const v6 = reply(ask(`${TOKEN}.t.bcn.example.org`, "AAAA"), { ...ZONE, answerIpv6: ["2001:db8::1"] });
  assert.deepEqual(
    v6.answers?.map((a) => (a as Rec).data),
    ["2001:db8::1"],
  );
});

test("SOA and NS at the apex; other types NODATA; outside the zone REFUSED without AA", () => {
  const soa = reply(ask("bcn.example.org", "SOA"));
  assert.equal(soa.answers?.[0]?.type, "SOA");
  assert.deepEqual((soa.answers?.[0] as { data: { mname: string; rname: string; minimum: number } } | undefined)?.data.mname, "ns1.bcn.example.org");
  const ns = reply(ask("Bcn.Example.Org", "NS"));
  assert.deepEqual(
    ns.answers?.map((a) => [a.name, (a as Rec).data]),
    [["Bcn.Example.Org", "ns1.bcn.example.org"]],
  );
  const txt = reply(ask(`${TOKEN}.t.bcn.example.org`, "TXT"));
  assert.deepEqual([txt.rcode, txt.answers?.length, txt.authorities?.[0]?.type], ["NOERROR", 0, "SOA"]);
  const outside = reply(ask("example.com", "A"));
  assert.deepEqual([outside.rcode, outside.flag_aa, outside.answers?.length], ["REFUSED", false, 0]);
  const chaos = dnsPacket.decode(
    answer(ZONE, query(dnsPacket.encode({ type: "query", id: 1, questions: [{ name: "bcn.example.org", type: "TXT", class: "CH" }] })), "udp"),
  ) as { rcode?: string };
  assert.equal(chaos.rcode, "REFUSED");
});

test("malformed input: FORMERR with the id when there is a header, silence otherwise, never a throw", () => {
  const short = decodeQuery(Buffer.from([1, 2, 3]));
  assert.deepEqual([short.ok, !short.ok && short.reply], [false, null]);
  const truncated = ask(`${TOKEN}.t.bcn.example.org`, "A").subarray(0, 20);
  const formerr = decodeQuery(truncated);
  assert.ok(!formerr.ok && formerr.reply);
  const decoded = dnsPacket.decode(formerr.reply) as { id?: number; rcode?: string; flag_qr: boolean };
  assert.deepEqual([decoded.id, decoded.rcode, decoded.flag_qr], [4242, "FORMERR", true]);
  const two = decodeQuery(
    dnsPacket.encode({
      type: "query",
      id: 7,
      questions: [
        { name: "a.bcn.example.org", type: "A" },
        { name: "b.bcn.example.org", type: "A" },
      ],
    }),
  );
  assert.equal(!two.ok && (dnsPacket.decode(two.reply!) as { rcode?: string }).rcode, "FORMERR");
  const response = decodeQuery(dnsPacket.encode({ type: "response", id: 7, questions: [{ name: "a.bcn.example.org", type: "A" }] }));
  assert.deepEqual([response.ok, !response.ok && response.reply], [false, null]);
  const notify = Buffer.from(ask("bcn.example.org", "SOA"));
  notify.writeUInt16BE(notify.readUInt16BE(2) | (4 << 11), 2);
  const notimp = decodeQuery(notify);
  assert.equal(!notimp.ok && (dnsPacket.decode(notimp.reply!) as { rcode?: string }).rcode, "NOTIMP");
});

test("EDNS0: an OPT is answered with ours; an unknown EDNS version is BADVERS", () => {
  const r = reply(ask(`${TOKEN}.t.bcn.example.org`, "A", { additionals: [{ type: "OPT", name: ".", udpPayloadSize: 4096 } as dnsPacket.Answer] }));
  const opt = r.additionals?.find((a) => a.type === "OPT") as { udpPayloadSize?: number } | undefined;
  assert.equal(opt?.udpPayloadSize, EDNS_UDP_LIMIT);
  const v1 = decodeQuery(
    ask("bcn.example.org", "SOA", { additionals: [{ type: "OPT", name: ".", udpPayloadSize: 4096, ednsVersion: 1 } as unknown as dnsPacket.Answer] }),
  );
  assert.ok(!v1.ok && v1.reply);
  const bad = dnsPacket.decode(v1.reply).additionals?.[0] as { extendedRcode?: number } | undefined;
  assert.equal(bad?.extendedRcode, 1);
});

test("an answer too big for UDP is truncated with TC=1 and no records; TCP and a larger EDNS size carry it whole", () => {
  const many: Zone = { ...ZONE, answerIps: Array.from({ length: 16 }, (_, i) => `198.51.100.${i + 1}`) };
  // Sixteen records behind pointers to the question fit in 512 bytes after any but a long name.
  const name = `${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(40)}.bcn.example.org`;
  const plain = reply(ask(name, "A"), many, "udp");
  assert.deepEqual([plain.flag_tc, plain.answers?.length, plain.questions?.[0]?.name], [true, 0, name]);
  assert.equal(answer(many, query(ask(name, "A")), "udp").length <= 512, true);
  const tcp = reply(ask(name, "A"), many, "tcp");
  assert.deepEqual([tcp.flag_tc, tcp.answers?.length], [false, 16]);
  const edns = reply(ask(name, "A", { additionals: [{ type: "OPT", name: ".", udpPayloadSize: 1232 } as dnsPacket.Answer] }), many, "udp");
  assert.deepEqual([edns.flag_tc, edns.answers?.length], [false, 16]);
  const beacon = reply(ask(`${TOKEN}.t.bcn.example.org`, "A"), many, "udp");
  assert.deepEqual([beacon.flag_tc, beacon.answers?.length], [false, 16]);
});

test("address answers say what dns-packet would encode for them, record for record", () => {
  const zones: Zone[] = [ZONE, { ...ZONE, answerIps: ["203.0.113.7"], answerIpv6: ["2001:db8::1", "2001:db8::2"], ttl: 300 }];
  const names = [`${TOKEN}.t.bcn.example.org`, `${TOKEN.toUpperCase()}.T.Bcn.Example.Org.`, "bcn.example.org", "www.bcn.example.org", "elsewhere.example.net"];
  const opt = { additionals: [{ type: "OPT", name: ".", udpPayloadSize: 4096 } as dnsPacket.Answer] };
  let compared = 0;
  for (const zone of zones) {
    for (const name of names) {
      for (const type of ["A", "AAAA", "TXT"]) {
        for (const extra of [{}, opt, { flags: 0 }]) {
          for (const transport of ["udp", "tcp"] as const) {
            const asked = query(ask(name, type, extra));
            assert.deepEqual(dnsPacket.decode(answer(zone, asked, transport)), dnsPacket.decode(encodeAnswer(zone, asked, transport)), `${type} ${name}`);
            compared++;
          }
        }
      }
    }
  }
  assert.equal(compared, 180);
});

test("the question is echoed byte for byte, a label holding a dot or a byte that is not UTF-8 included", () => {
  const labels = [Buffer.from("a.b"), Buffer.from([0xff, 0x41]), ...["bcn", "example", "org"].map((label) => Buffer.from(label))];
  const asked = Buffer.concat([
    Buffer.from([0x10, 0x92, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
    ...labels.map((label) => Buffer.concat([Buffer.from([label.length]), label])),
    Buffer.from([0x00, 0x00, 0x01, 0x00, 0x01]),
  ]);
  const replied = answer(ZONE, query(asked), "udp");
  assert.deepEqual(replied.subarray(12, asked.length), asked.subarray(12));
  const decoded = dnsPacket.decode(replied);
  assert.deepEqual(
    decoded.answers?.map((a) => [a.name, (a as Rec).data]),
    ZONE.answerIps.map((ip) => [decoded.questions?.[0]?.name, ip]),
  );
});

test("SERVFAIL keeps the question and the id", () => {
  const r = dnsPacket.decode(serverFailure(query(ask(`${TOKEN}.t.bcn.example.org`, "A")))) as { id?: number; rcode?: string; questions?: unknown[] };
  assert.deepEqual([r.id, r.rcode, r.questions?.length], [4242, "SERVFAIL", 1]);
});
