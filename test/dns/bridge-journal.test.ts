// The journal on the thread that answers: a beacon query is answered only
// once its row is durable; a commit or an fsync that fails, or a journal
// another program holds locked, is answered SERVFAIL, counted and logged,
// never a hang; a sender thread that dies comes back and nothing acknowledged
// is lost or sent twice; closing answers what became durable meanwhile. Real
// sockets, a real SQLite file (locked by a second connection where needed), a
// real registry; the WAL's fdatasync is the real one, watched or failed by
// the test.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import * as dnsPacket from "dns-packet";
import { JOURNAL_FILE } from "../../src/dns/journal.js";
import type { Fdatasync } from "../../src/dns/wal-sync.js";
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

/** The real fdatasync, running `before` ahead of each call; `failNext` makes the next call fail instead. */
function watchedFsyncs(before: () => void = () => {}) {
  let failing: string | null = null;
  const fdatasync: Fdatasync = (fd) => {
    before();
    if (failing !== null) {
      const code = failing;
      failing = null;
      throw Object.assign(new Error(`${code}: the disk says no`), { code });
    }
    fs.fdatasyncSync(fd);
  };
  return {
    fdatasync,
    failNext(code: string) {
      failing = code;
    },
  };
}

const answered = (reply: Buffer | null) => (dnsPacket.decode(reply!) as Reply).rcode;

test("a beacon query is answered only after an fsync made once its row was committed has returned", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const seen: { committed: unknown; replied: boolean }[] = [];
  let other: Database.Database | undefined;
  let replied = false;
  const fsyncs = watchedFsyncs(() => seen.push({ committed: other?.prepare("SELECT count(*) FROM pending").pluck().get(), replied }));
  const bridge = await startTestBridge(t, reg.url, { synchronous: "FULL", fdatasync: fsyncs.fdatasync });
  other = journalConnection(t, bridge);
  const reply = await udpExchange(bridge.dnsPort, queryPacket(beaconName(tokenOf(1)), "A"));
  replied = true;
  assert.equal(answered(reply), "NOERROR");
  assert.deepEqual(seen, [{ committed: 1, replied: false }], "one fsync, made with the row committed and before the answer arrived");
  await until("the event delivered", () => bridge.journal.pending === 0 && dnsTokens(reg).length === 1);
  assert.deepEqual(dnsTokens(reg), [tokenOf(1)]);
});

test("an fsync that fails is answered SERVFAIL, counted and logged once; later beacon queries too until a restart, other queries answered", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const fsyncs = watchedFsyncs();
  const bridge = await startTestBridge(t, reg.url, { synchronous: "FULL", fdatasync: fsyncs.fdatasync });
  fsyncs.failNext("EIO");
  assert.equal((await udpQuery(bridge.dnsPort, beaconName(tokenOf(1)), "A")).rcode, "SERVFAIL");
  assert.equal((await udpQuery(bridge.dnsPort, beaconName(tokenOf(2)), "A")).rcode, "SERVFAIL");
  assert.equal((await udpQuery(bridge.dnsPort, APEX, "SOA")).rcode, "NOERROR");
  assert.equal(await bridge.metrics.get("dns_events_journal_failed_total"), 2);
  assert.equal(await bridge.metrics.get("dns_events_journaled_total"), 0);
  const logged = bridge.logLines.filter((l) => l.includes("could not journal a beacon query"));
  assert.equal(logged.length, 1);
  assert.ok(logged[0]!.includes("EIO"));
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

test("a journal another program holds locked: beacon queries are answered SERVFAIL without waiting for the lock, other queries answered; journaled again once it is free", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const bridge = await startTestBridge(t, reg.url);
  const other = journalConnection(t, bridge);
  other.exec("BEGIN IMMEDIATE");
  assert.equal((await udpQuery(bridge.dnsPort, beaconName(tokenOf(1)), "A")).rcode, "SERVFAIL");
  assert.equal((await udpQuery(bridge.dnsPort, APEX, "SOA")).rcode, "NOERROR");
  assert.ok(other.inTransaction, "both answered while the lock was still held");
  assert.equal(await bridge.metrics.get("dns_events_journal_failed_total"), 1);
  other.exec("ROLLBACK");
  assert.equal((await udpQuery(bridge.dnsPort, beaconName(tokenOf(2)), "A")).rcode, "NOERROR");
  await until("the second event delivered", () => bridge.journal.pending === 0 && dnsTokens(reg).length === 1);
  assert.deepEqual(dnsTokens(reg), [tokenOf(2)]);
});

test("the sender thread dying with a backlog: it comes back and every journaled event is delivered once", async (t) => {
  const down = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const { port } = new URL(down.url);
  await down.close();
  const bridge = await startTestBridge(t, down.url);
  for (let i = 1; i <= 10; i++) assert.equal((await udpQuery(bridge.dnsPort, beaconName(tokenOf(i)), "A")).rcode, "NOERROR");
  await until("a failed delivery", async () => (await bridge.metrics.get("dns_events_retried_total")) > 0);
  await bridge.journal.sender!.terminate();
  await until("the sender thread restarted", () => bridge.logLines.some((l) => l.includes("the sender thread is running again")));
  assert.equal(bridge.journal.pending, 10);

  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET, dataDir: down.dataDir, port: Number(port) });
  await until("the backlog delivered", () => bridge.journal.pending === 0);
  assert.deepEqual(dnsTokens(reg).sort(), Array.from({ length: 10 }, (_, i) => tokenOf(i + 1)).sort());
  assert.equal(bridge.journal.backlog().delivered, 10);
});

test("closing while a beacon query's append is being made durable: it is answered before the sockets close", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  let closed: Promise<void> | undefined;
  let bridge: TestBridge | undefined;
  const fsyncs = watchedFsyncs(() => {
    closed ??= bridge?.close();
  });
  bridge = await startTestBridge(t, reg.url, { synchronous: "FULL", fdatasync: fsyncs.fdatasync });
  const reply = await udpExchange(bridge.dnsPort, queryPacket(beaconName(tokenOf(1)), "A"));
  assert.ok(closed !== undefined, "the bridge began closing during the fsync");
  assert.equal(answered(reply), "NOERROR");
  await closed;
});
