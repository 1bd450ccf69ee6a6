// The bridge delivering in batches (POST /dns_events) to a real registry, each
// item settled by its own answer; and its fallback to one POST /dns_event per
// event against a registry without the route, through a small node:http stub
// in front of a real registry that refuses batches with 404.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { DEFAULT_BACKOFF } from "../../src/dns/backoff.js";
import { deliveryTarget } from "../../src/dns/delivery.js";
import { Journal } from "../../src/dns/journal.js";
import { Sender } from "../../src/dns/sender.js";
import { createLogger } from "../../src/log.js";
import { startTestRegistry, type TestRegistry } from "../http/registry-server.js";
import { tempDir } from "../temp.js";
import { DNS_SECRET, beaconName, startTestBridge, tokenOf, udpQuery, until, type DnsLeaf } from "./harness.js";

function dnsTokens(reg: TestRegistry): string[] {
  const { entries } = reg.service.log.range(0, 1000);
  return entries.map((e: { leaf_data: string }) => JSON.parse(e.leaf_data) as DnsLeaf).map((leaf) => leaf.token_id);
}

const journalEvent = (i: number) => ({ token_id: tokenOf(i), client_ip: "192.0.2.7", qtype: "A", qname: beaconName(tokenOf(i)) });

/** A journal holding `count` undelivered events, as a bridge leaves it when the registry was down. */
async function journalWith(t: TestContext, count: number): Promise<{ dataDir: string; journal: Journal }> {
  const dataDir = tempDir(t, "oversight-dns-bridge-");
  const journal = new Journal(dataDir, { synchronous: "NORMAL" });
  for (let i = 1; i <= count; i++) await journal.append(journalEvent(i));
  return { dataDir, journal };
}

test("a backlog goes out in batches: every event once, in journal order, one request per window", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const COUNT = 250;
  const { dataDir, journal } = await journalWith(t, COUNT);
  await journal.close();
  const bridge = await startTestBridge(t, reg.url, { dataDir, deliveryWindow: 100 });
  // The sender thread's counts reach this thread by their own channel, after the journal's: wait for them too.
  await until(
    "the backlog delivered and counted",
    async () => bridge.journal.pending === 0 && (await bridge.metrics.get("dns_events_delivered_total")) === COUNT,
  );
  assert.deepEqual(
    dnsTokens(reg),
    Array.from({ length: COUNT }, (_, i) => tokenOf(i + 1)),
  );
  assert.equal(await bridge.metrics.get("dns_events_delivered_total"), COUNT);
  assert.equal(await bridge.metrics.get("dns_delivery_requests_total"), 3);
});

test("after a round that did not fill the window the sender pauses, so events journaled one by one meanwhile go in one request", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const journal = new Journal(tempDir(t, "oversight-dns-bridge-"), { synchronous: "NORMAL" });
  t.after(() => journal.close());
  const counts = new Map<string, number>();
  const count = (name: string) => counts.get(name) ?? 0;
  const pauses: (() => void)[] = [];
  const sender = new Sender({
    journal: { oldest: async (limit) => journal.oldest(limit), settle: (delivered, refused) => journal.settle(delivered, refused) },
    target: deliveryTarget(reg.url, DNS_SECRET, 10_000, 64),
    window: 64,
    batchReprobeMs: 600_000,
    backoff: DEFAULT_BACKOFF,
    metrics: { add: (name, by = 1) => counts.set(name, count(name) + by) },
    logger: createLogger({ level: "error", stream: { write: () => true } }),
    // Every pause is held until the test ends it, so the five appends surely land within the gathering pause.
    schedule: (run) => {
      pauses.push(run);
      return () => {};
    },
  });
  t.after(() => sender.stop());
  await journal.append(journalEvent(1));
  sender.notify();
  await until("the first event delivered", () => count("dns_events_delivered_total") === 1);
  await until("the sender gathering after a round that did not fill its window", () => pauses.length === 1);
  for (let i = 2; i <= 6; i++) {
    await journal.append(journalEvent(i));
    sender.notify();
  }
  pauses[0]!();
  await until("the five later events delivered", () => count("dns_events_delivered_total") === 6);
  assert.equal(count("dns_delivery_requests_total"), 2);
  assert.deepEqual(dnsTokens(reg), [1, 2, 3, 4, 5, 6].map(tokenOf));
});

test("a batch with one item the registry refuses: that item is dead-lettered with its own error, the others are delivered", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const { dataDir, journal } = await journalWith(t, 4);
  // A journal row the registry refuses (an event_id outside its alphabet), as from a bridge of another version.
  journal.db.prepare("UPDATE pending SET event_id = 'not valid!' WHERE id = ?").run(3);
  await journal.close();

  const bridge = await startTestBridge(t, reg.url, { dataDir });
  await until(
    "three delivered and one dead letter, counted",
    async () => bridge.journal.backlog().dead_letters === 1 && (await bridge.metrics.get("dns_events_delivered_total")) === 3,
  );
  assert.deepEqual(dnsTokens(reg), [1, 2, 4].map(tokenOf));
  const [letter] = bridge.journal.deadLetters(1);
  assert.equal(letter?.token_id, tokenOf(3));
  assert.equal(letter?.status, 400);
  assert.match(letter?.answer ?? "", /missing_field/);
  assert.match(letter?.answer ?? "", /event_id/);
  assert.equal(await bridge.metrics.get("dns_delivery_requests_total"), 1);
  assert.equal(await bridge.metrics.get("dns_events_retried_total"), 0);
});

/** A registry of another implementation: /dns_events is 404 (or, once `batches` is set, served), /dns_event is the real registry's. */
async function startStub(t: TestContext, reg: TestRegistry) {
  const hits = { batch: 0, single: 0 };
  const state = { batches: false };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const isBatch = req.url === "/dns_events";
      if (isBatch) hits.batch++;
      else hits.single++;
      if (isBatch && !state.batches) {
        res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"code":"not_found","message":"no route"}}');
        return;
      }
      const answer = await fetch(reg.url + req.url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-oversight-dns-secret": String(req.headers["x-oversight-dns-secret"]) },
        body: Buffer.concat(chunks),
      });
      res.writeHead(answer.status, { "content-type": "application/json" }).end(await answer.text());
    });
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, state };
}

test("a registry without /dns_events (404): one POST /dns_event per event, every event once, and the refusal is remembered", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const stub = await startStub(t, reg);
  const bridge = await startTestBridge(t, stub.url);
  for (let i = 1; i <= 5; i++) {
    await udpQuery(bridge.dnsPort, beaconName(tokenOf(i)), "A");
    await until(`event ${i} delivered`, () => bridge.journal.pending === 0 && reg.service.registry.store.size() === i);
  }
  assert.deepEqual(dnsTokens(reg), [1, 2, 3, 4, 5].map(tokenOf));
  assert.deepEqual(stub.hits, { batch: 1, single: 5 });
  assert.equal(bridge.journal.backlog().dead_letters, 0);
  assert.ok(bridge.logLines.some((l) => l.includes("does not take batches") && l.includes('"status":404')));
});

test("batches are tried again after the remembered refusal: a registry that starts serving /dns_events gets batches", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const stub = await startStub(t, reg);
  const bridge = await startTestBridge(t, stub.url, { deliveryBatchReprobeMs: 0 });
  await udpQuery(bridge.dnsPort, beaconName(tokenOf(1)), "A");
  await until("the first event delivered one by one", () => bridge.journal.pending === 0 && reg.service.registry.store.size() === 1);
  assert.deepEqual(stub.hits, { batch: 1, single: 1 });
  stub.state.batches = true;
  for (let i = 2; i <= 4; i++) {
    await udpQuery(bridge.dnsPort, beaconName(tokenOf(i)), "A");
    await until(`event ${i} delivered`, () => bridge.journal.pending === 0 && reg.service.registry.store.size() === i);
  }
  assert.deepEqual(dnsTokens(reg), [1, 2, 3, 4].map(tokenOf));
  assert.deepEqual(stub.hits, { batch: 4, single: 1 });
});
