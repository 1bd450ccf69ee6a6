// The bridge's threads: the thread that answers never waits on a commit it
// does not need, and a journal commit that fails or a journal or sender
// thread that dies is answered SERVFAIL, counted and logged, never a hang;
// the threads come back and nothing acknowledged is lost or sent twice.
// Real worker threads, a real SQLite file locked by a second connection, a
// real registry.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import Database from "better-sqlite3";
import * as dnsPacket from "dns-packet";
import { JOURNAL_FILE } from "../../src/dns/journal.js";
import { startTestRegistry, type TestRegistry } from "../http/registry-server.js";
import { APEX, DNS_SECRET, beaconName, queryPacket, startTestBridge, tokenOf, udpExchange, udpQuery, until, type Reply, type TestBridge } from "./harness.js";

function dnsTokens(reg: TestRegistry): string[] {
  return reg.service.log.range(0, 1000).entries.map((e: { leaf_data: string }) => (JSON.parse(e.leaf_data) as { token_id: string }).token_id);
}

/** A second connection to the bridge's journal, as another process would hold it. */
function journalConnection(t: TestContext, bridge: TestBridge): Database.Database {
  const db = new Database(path.join(bridge.dataDir, JOURNAL_FILE));
  t.after(() => db.close());
  return db;
}

const logged = (bridge: TestBridge, text: string) => bridge.logLines.some((l) => l.includes(text));

test("a beacon query waiting for its commit does not hold up the answers that need none", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const bridge = await startTestBridge(t, reg.url);
  const other = journalConnection(t, bridge);
  // The journal thread cannot commit while this lock is held (it waits up to SQLite's 5 s busy timeout).
  other.exec("BEGIN IMMEDIATE");
  let beaconAnswered = false;
  const beacon = udpExchange(bridge.dnsPort, queryPacket(beaconName(tokenOf(1)), "A")).then((reply) => {
    beaconAnswered = true;
    return reply;
  });
  await until("the beacon query waiting for its commit", () => bridge.journal.uncommitted === 1);
  const soa = await udpQuery(bridge.dnsPort, APEX, "SOA");
  assert.equal(soa.answers?.[0]?.type, "SOA");
  assert.equal(beaconAnswered, false, "the SOA answer did not wait for the beacon query's commit");
  other.exec("ROLLBACK");
  assert.equal((dnsPacket.decode((await beacon)!) as Reply).rcode, "NOERROR");
  await until("the event delivered", () => bridge.journal.pending === 0 && dnsTokens(reg).length === 1);
  assert.deepEqual(dnsTokens(reg), [tokenOf(1)]);
});

test("a commit that fails is answered SERVFAIL, counted and logged; the next query is journaled", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const bridge = await startTestBridge(t, reg.url);
  const other = journalConnection(t, bridge);
  other.exec("CREATE TRIGGER refuse BEFORE INSERT ON pending BEGIN SELECT RAISE(ABORT, 'the disk says no'); END");
  assert.equal((await udpQuery(bridge.dnsPort, beaconName(tokenOf(1)), "A")).rcode, "SERVFAIL");
  assert.equal(await bridge.metrics.get("dns_events_journal_failed_total"), 1);
  assert.ok(bridge.logLines.some((l) => l.includes("could not journal a beacon query") && l.includes("the disk says no")));
  other.exec("DROP TRIGGER refuse");
  assert.equal((await udpQuery(bridge.dnsPort, beaconName(tokenOf(2)), "A")).rcode, "NOERROR");
  await until("the second event delivered", () => bridge.journal.pending === 0 && dnsTokens(reg).length === 1);
  assert.deepEqual(dnsTokens(reg), [tokenOf(2)]);
});

test("the journal thread dying mid-commit: its query is answered SERVFAIL, the threads come back, later queries are delivered once", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const bridge = await startTestBridge(t, reg.url);
  const other = journalConnection(t, bridge);
  other.exec("BEGIN IMMEDIATE");
  const inFlight = udpExchange(bridge.dnsPort, queryPacket(beaconName(tokenOf(1)), "A"));
  await until("the beacon query waiting for its commit", () => bridge.journal.uncommitted === 1);
  const stopped = bridge.journal.workers.journal!.terminate();
  // Released at once, the stuck BEGIN returns rather than throwing into a stopping thread, which would abort the
  // process (WiseLibs/better-sqlite3#1507); the thread stops as soon as it runs JavaScript again, before it commits.
  other.exec("ROLLBACK");
  await stopped;
  assert.equal((dnsPacket.decode((await inFlight)!) as Reply).rcode, "SERVFAIL");
  const lines = bridge.logLines.map((l) => JSON.parse(l) as { level: string; msg: string; failed_appends?: number });
  assert.ok(lines.some((l) => l.level === "error" && /the journal thread stopped/.test(l.msg) && l.failed_appends === 1));
  assert.equal(await bridge.metrics.get("dns_events_journal_failed_total"), 1);

  await until("the journal thread restarted", () => logged(bridge, "the journal thread is running again"));
  for (let i = 2; i <= 4; i++) assert.equal((await udpQuery(bridge.dnsPort, beaconName(tokenOf(i)), "A")).rcode, "NOERROR");
  await until("the events delivered", () => bridge.journal.pending === 0 && dnsTokens(reg).length === 3);
  assert.deepEqual(dnsTokens(reg).sort(), [2, 3, 4].map(tokenOf));
});

test("the sender thread dying with a backlog: the threads come back and every journaled event is delivered once", async (t) => {
  const down = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const { port } = new URL(down.url);
  await down.close();
  const bridge = await startTestBridge(t, down.url);
  for (let i = 1; i <= 10; i++) assert.equal((await udpQuery(bridge.dnsPort, beaconName(tokenOf(i)), "A")).rcode, "NOERROR");
  await until("a failed delivery", async () => (await bridge.metrics.get("dns_events_retried_total")) > 0);
  await bridge.journal.workers.sender!.terminate();
  await until("the sender thread restarted", () => logged(bridge, "the sender thread is running again"));
  assert.equal(bridge.journal.pending, 10);

  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET, dataDir: down.dataDir, port: Number(port) });
  await until("the backlog delivered", () => bridge.journal.pending === 0);
  assert.deepEqual(dnsTokens(reg).sort(), Array.from({ length: 10 }, (_, i) => tokenOf(i + 1)).sort());
  assert.equal(bridge.journal.backlog().delivered, 10);
});

test("closing while appends are in flight commits them and acknowledges each before the journal thread goes", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const bridge = await startTestBridge(t, reg.url, { synchronous: "FULL" });
  const appends = [1, 2, 3].map((i) => bridge.journal.append({ token_id: tokenOf(i), client_ip: "192.0.2.7", qtype: "A", qname: beaconName(tokenOf(i)) }));
  await bridge.journal.close();
  const outcomes = await Promise.allSettled(appends);
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ["fulfilled", "fulfilled", "fulfilled"],
  );
});
