// The DNS bridge end to end: real UDP and TCP queries against the bridge on an
// ephemeral port, a real registry behind it, every beacon query in the
// registry's log exactly once.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as dnsPacket from "dns-packet";
import { deliver, deliveryTarget } from "../../src/dns/delivery.js";
import { startTestRegistry, type TestRegistry } from "../http/registry-server.js";
import {
  APEX,
  DNS_SECRET,
  beaconName,
  queryPacket,
  startTestBridge,
  tcpExchange,
  tokenOf,
  udpExchange,
  udpQuery,
  until,
  type DnsLeaf,
  type Reply,
} from "./harness.js";

function dnsLeaves(reg: TestRegistry): DnsLeaf[] {
  const { entries } = reg.service.log.range(0, 1000);
  return entries.map((e: { leaf_data: string }) => JSON.parse(e.leaf_data) as DnsLeaf).filter((leaf) => leaf.kind === "dns");
}

const data = (reply: Reply) => reply.answers?.map((a) => (a as { data?: unknown }).data);

test("answers over UDP and TCP are right, and each beacon query reaches the registry's log once", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const bridge = await startTestBridge(t, reg.url);
  const port = bridge.dnsPort;

  const mixed = `${tokenOf(10).toUpperCase()}.T.Bcn.Example.Org`;
  const a = await udpQuery(port, beaconName(tokenOf(1)), "A");
  assert.deepEqual([a.rcode, a.flag_aa, data(a)], ["NOERROR", true, ["192.0.2.53"]]);
  const caseRandomised = await udpQuery(port, mixed, "A");
  assert.equal(caseRandomised.questions?.[0]?.name, mixed);
  assert.equal(caseRandomised.answers?.[0]?.name, mixed);
  const aaaa = await udpQuery(port, beaconName(tokenOf(2)), "AAAA");
  assert.deepEqual([aaaa.rcode, aaaa.answers?.length, aaaa.authorities?.[0]?.type], ["NOERROR", 0, "SOA"]);
  const soa = await udpQuery(port, APEX, "SOA");
  assert.equal(soa.answers?.[0]?.type, "SOA");
  const outside = await udpQuery(port, "example.com", "A");
  assert.equal(outside.rcode, "REFUSED");
  const garbage = await udpExchange(port, Buffer.from("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x09nottrunc", "latin1"));
  assert.equal((dnsPacket.decode(garbage!) as Reply).rcode, "FORMERR");

  const [ns, tcpA, tcpTxt] = await tcpExchange(port, [
    queryPacket(APEX, "NS"),
    queryPacket(beaconName(tokenOf(3)), "A"),
    queryPacket(beaconName(tokenOf(4)), "TXT"),
  ]);
  assert.deepEqual(data(ns!), [`ns1.${APEX}`]);
  assert.deepEqual(data(tcpA!), ["192.0.2.53"]);
  assert.deepEqual([tcpTxt!.rcode, tcpTxt!.answers?.length], ["NOERROR", 0]);

  // Beacon queries: tokens 1 (A), 10 (mixed case, A), 2 (AAAA), 3 (A over TCP), 4 (TXT over TCP).
  await until("five events in the registry", () => dnsLeaves(reg).length >= 5);
  // The sender thread counts a delivery once the journal has settled it, and the count reaches this thread by message.
  await until(
    "an empty backlog, its deliveries counted",
    async () => bridge.journal.pending === 0 && (await bridge.metrics.get("dns_events_delivered_total")) === 5,
  );
  const leaves = dnsLeaves(reg)
    .map((l) => [l.token_id, l.qtype, l.qname, l.source_ip])
    .sort();
  assert.deepEqual(
    leaves,
    [
      [tokenOf(1), "A", beaconName(tokenOf(1)), "127.0.0.1"],
      [tokenOf(10), "A", mixed, "127.0.0.1"],
      [tokenOf(2), "AAAA", beaconName(tokenOf(2)), "127.0.0.1"],
      [tokenOf(3), "A", beaconName(tokenOf(3)), "127.0.0.1"],
      [tokenOf(4), "TXT", beaconName(tokenOf(4)), "127.0.0.1"],
    ].sort(),
  );
  assert.equal(await bridge.metrics.get("dns_events_delivered_total"), 5);
  assert.equal(await bridge.metrics.get("dns_malformed_total"), 1);
});

test("a resent query (same resolver, id and name) is answered again but is one event", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const bridge = await startTestBridge(t, reg.url);
  const packet = queryPacket(beaconName(tokenOf(77)), "A", 999);
  for (let i = 0; i < 3; i++) assert.ok(await udpExchange(bridge.dnsPort, packet));
  await udpQuery(bridge.dnsPort, beaconName(tokenOf(78)), "A");
  await until("two events", () => dnsLeaves(reg).length >= 2 && bridge.journal.pending === 0);
  assert.deepEqual(
    dnsLeaves(reg)
      .map((l) => l.token_id)
      .sort(),
    [tokenOf(77), tokenOf(78)],
  );
  assert.equal(await bridge.metrics.get("dns_events_retransmitted_total"), 2);
});

test("the registry stopped while queries arrive, then started: every answered query is in the log once", async (t) => {
  const first = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const { port } = new URL(first.url);
  const bridge = await startTestBridge(t, first.url);
  await udpQuery(bridge.dnsPort, beaconName(tokenOf(100)), "A");
  await until("the first event", () => dnsLeaves(first).length === 1);
  await first.close();

  const answered: string[] = [];
  for (let i = 101; i <= 140; i++) {
    const reply = await udpQuery(bridge.dnsPort, beaconName(tokenOf(i)), "A");
    assert.deepEqual(data(reply), ["192.0.2.53"]);
    answered.push(tokenOf(i));
  }
  await until("a failed delivery", async () => (await bridge.metrics.get("dns_events_retried_total")) > 0);
  assert.equal(bridge.journal.pending, 40);

  const second = await startTestRegistry(t, { dnsSecret: DNS_SECRET, dataDir: first.dataDir, port: Number(port) });
  await until("the backlog delivered", () => bridge.journal.pending === 0);
  const tokens = dnsLeaves(second).map((l) => l.token_id);
  assert.deepEqual([...tokens].sort(), [tokenOf(100), ...answered].sort());
  assert.equal(new Set(tokens).size, tokens.length);
});

test("a 401 (wrong secret) dead-letters every event with the registry's message, delivers nothing, and retries nothing", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const bridge = await startTestBridge(t, reg.url, { secret: "a-different-secret-0123456789abcdefXYZ" });
  for (let i = 1; i <= 3; i++) await udpQuery(bridge.dnsPort, beaconName(tokenOf(i)), "A");
  const refusedForGood = () =>
    bridge.logLines
      .map((l) => JSON.parse(l) as { level: string; msg: string; status?: number })
      .filter((l) => l.level === "error" && /refused a DNS event for good/.test(l.msg) && l.status === 401);
  // The sender thread counts and logs each dead letter after the journal holds it, and its lines reach this
  // thread by message: wait for the lines too, or a busy machine shows the letters before their log and counts.
  await until("three dead letters, logged", () => bridge.journal.backlog().dead_letters === 3 && refusedForGood().length === 3);
  assert.equal(bridge.journal.pending, 0);
  assert.equal(reg.service.registry.store.size(), 0);
  assert.equal(await bridge.metrics.get("dns_events_retried_total"), 0);
  const [letter] = bridge.journal.deadLetters(1);
  assert.equal(letter?.status, 401);
  assert.match(letter?.answer ?? "", /auth_required/);
  assert.ok(
    bridge.logLines.every((l) => !l.includes("a-different-secret")),
    "the secret is never logged",
  );

  const status = (await (await fetch(`${bridge.metricsUrl}/status`)).json()) as { dead_letters: number; pending: number };
  assert.deepEqual([status.dead_letters, status.pending], [3, 0]);
  const metrics = await (await fetch(`${bridge.metricsUrl}/metrics`)).text();
  assert.match(metrics, /^dns_events_dead_lettered_total 3$/m);
  assert.match(metrics, /^dns_journal_dead_letters 3$/m);
  assert.match(metrics, /^dns_journal_backlog 0$/m);
});

test("429 from the registry: the bridge waits its retry_after and delivers once the bucket refills", async (t) => {
  let ms = 0;
  const reg = await startTestRegistry(t, {
    dnsSecret: DNS_SECRET,
    rates: { write: { perSecond: 0, burst: 1 }, read: { perSecond: 0, burst: 1 }, token: { perSecond: 0, burst: 1 }, dns: { perSecond: 1, burst: 3 } },
    rateClock: () => ms,
  });
  const bridge = await startTestBridge(t, reg.url, { deliveryWindow: 1 });
  for (let i = 1; i <= 5; i++) await udpQuery(bridge.dnsPort, beaconName(tokenOf(i)), "A");
  await until("three delivered and a 429", async () => reg.service.registry.store.size() === 3 && (await bridge.metrics.get("dns_events_retried_total")) > 0);
  assert.equal(bridge.journal.pending, 2);
  ms += 60_000;
  await until("all delivered", () => bridge.journal.pending === 0);
  assert.deepEqual(
    dnsLeaves(reg).map((l) => l.token_id),
    [1, 2, 3, 4, 5].map(tokenOf),
  );
  assert.equal(bridge.journal.backlog().dead_letters, 0);
});

test("bounds: a source over its rate and a full journal are still answered, counted and logged, not journaled", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  await reg.close(); // nothing is delivered, so the journal only grows
  const limited = await startTestBridge(t, reg.url, { rate: { perSecond: 0.001, burst: 2 } });
  for (let i = 1; i <= 4; i++) assert.deepEqual(data(await udpQuery(limited.dnsPort, beaconName(tokenOf(i)), "A")), ["192.0.2.53"]);
  assert.equal(await limited.metrics.get("dns_events_journaled_total"), 2);
  assert.equal(await limited.metrics.get("dns_events_rate_limited_total"), 2);

  const capped = await startTestBridge(t, reg.url, { journalMax: 3 });
  for (let i = 1; i <= 5; i++) assert.deepEqual(data(await udpQuery(capped.dnsPort, beaconName(tokenOf(i)), "A")), ["192.0.2.53"]);
  assert.equal(capped.journal.pending, 3);
  assert.equal(await capped.metrics.get("dns_events_journal_full_total"), 2);
  const full = capped.logLines.filter((l) => l.includes("the journal is full"));
  assert.equal(full.length, 1, "one line when the cap is reached, not one per query");
});

test("fuzz: random and truncated packets never stop the bridge from answering good queries", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const bridge = await startTestBridge(t, reg.url);
  let seed = 0x2545f491;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const good = queryPacket(beaconName(tokenOf(1)), "A");
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 25; i++) {
      const kind = random();
      let packet: Buffer;
      if (kind < 0.4) packet = Buffer.from(Array.from({ length: Math.floor(random() * 100) }, () => Math.floor(random() * 256)));
      else if (kind < 0.8) packet = good.subarray(0, Math.floor(random() * good.length));
      else {
        packet = Buffer.from(good);
        packet[Math.floor(random() * packet.length)] = Math.floor(random() * 256);
      }
      // Replies to garbage are allowed but not awaited: the point is what comes after.
      await udpExchange(bridge.dnsPort, packet, 1);
    }
    const reply = await udpQuery(bridge.dnsPort, beaconName(tokenOf(1000 + round)), "A");
    assert.deepEqual(data(reply), ["192.0.2.53"]);
  }
  const [afterGarbage] = await tcpExchange(bridge.dnsPort, [queryPacket(APEX, "SOA")]);
  assert.equal(afterGarbage!.answers?.[0]?.type, "SOA");
  await until("the good queries delivered", () => bridge.journal.pending === 0);
  const tokens = new Set(dnsLeaves(reg).map((l) => l.token_id));
  for (let round = 0; round < 40; round++) assert.ok(tokens.has(tokenOf(1000 + round)));
});

test("an event the registry committed before the bridge could note it (a crash in between) is sent again and logged once", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const down = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  await down.close();
  const before = await startTestBridge(t, down.url);
  for (let i = 1; i <= 3; i++) await udpQuery(before.dnsPort, beaconName(tokenOf(i)), "A");
  const [first] = before.journal.oldest(1);
  await before.close();
  // What the bridge had sent just before it died: the registry has it, the journal still lists it.
  const sent = await deliver(deliveryTarget(reg.url, DNS_SECRET, 10_000, 1), first!);
  assert.equal(sent.kind, "delivered");

  const after = await startTestBridge(t, reg.url, { dataDir: before.dataDir });
  await until("the backlog delivered", () => after.journal.pending === 0);
  assert.deepEqual(
    dnsLeaves(reg)
      .map((l) => l.token_id)
      .sort(),
    [1, 2, 3].map(tokenOf),
  );
});

test("TCP: a hundred pipelined queries on one connection are all answered, in order", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const bridge = await startTestBridge(t, reg.url);
  const messages = Array.from({ length: 100 }, (_, i) => queryPacket(i % 2 === 0 ? APEX : beaconName(tokenOf(500 + i)), i % 2 === 0 ? "SOA" : "A", 20_000 + i));
  const replies = await tcpExchange(bridge.dnsPort, messages);
  assert.deepEqual(
    replies.map((r) => r.id),
    messages.map((_, i) => 20_000 + i),
  );
  assert.ok(replies.every((r) => r.rcode === "NOERROR" && r.answers?.length === 1));
  await until("fifty events", () => bridge.journal.pending === 0 && reg.service.registry.store.size() === 50);
});

test("the metrics time each journaled beacon answer, its wait for the commit and the journal's transaction; other answers are not timed there", async (t) => {
  // Nothing is delivered, so the append's is the journal's only transaction.
  const down = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  await down.close();
  const bridge = await startTestBridge(t, down.url);
  const histogram = async (name: string) => {
    const text = await (await fetch(`${bridge.metricsUrl}/metrics`)).text();
    const read = (suffix: string) => Number(new RegExp(`^${name}_${suffix} (\\S+)$`, "m").exec(text)?.[1]);
    return { count: read("count"), sum: read("sum") };
  };
  const id = 4242;
  assert.equal((dnsPacket.decode((await udpExchange(bridge.dnsPort, queryPacket(beaconName(tokenOf(1)), "A", id)))!) as Reply).rcode, "NOERROR");
  // The same query again is a retransmission: answered, not journaled, so not timed.
  assert.equal((dnsPacket.decode((await udpExchange(bridge.dnsPort, queryPacket(beaconName(tokenOf(1)), "A", id)))!) as Reply).rcode, "NOERROR");
  assert.equal((await udpQuery(bridge.dnsPort, APEX, "SOA")).rcode, "NOERROR");
  const answer = await histogram("dns_beacon_answer_seconds");
  const commitWait = await histogram("dns_journal_commit_wait_seconds");
  const commit = await histogram("dns_journal_commit_seconds");
  assert.equal(answer.count, 1);
  assert.equal(commitWait.count, 1);
  assert.equal(commit.count, 1, "the journal's one transaction");
  assert.ok(commit.sum > 0 && commitWait.sum >= commit.sum, `the commit wait's ${commitWait.sum} s include the commit's ${commit.sum} s`);
  assert.ok(answer.sum >= commitWait.sum, `the answer's ${answer.sum} s include the commit wait's ${commitWait.sum} s`);
});
