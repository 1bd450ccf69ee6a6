// POST /dns_events: many DNS events in one request, each item exactly what
// /dns_event takes, answered item by item in order; a malformed body is
// refused whole and records nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_DNS_EVENTS_PER_BATCH } from "../../src/registry/dns-event-batch.js";
import { envelope, leafText, startTestRegistry, type TestRegistry } from "./registry-server.js";

const SECRET = "dns-events-test-secret-0123456789abcdef";
const token = (i: number) => i.toString(16).padStart(32, "0");
const event = (i: number, eventId: string | undefined = `ev-${i}`) => ({
  token_id: token(i),
  client_ip: "198.51.100.9",
  qtype: "A",
  qname: `${token(i)}.t.example.org`,
  ...(eventId === undefined ? {} : { event_id: eventId }),
});

const batch = (reg: TestRegistry, events: unknown, headers: Record<string, string> = {}) => reg.call("/dns_events", { json: { events }, auth: false, headers });

const dnsRows = (reg: TestRegistry) => reg.service.registry.db.prepare("SELECT count(*) AS n FROM events WHERE kind = 'dns'").get();

test("a batch records its items in order, answers each, and a seen event_id answers its original leaf", async (t) => {
  const reg = await startTestRegistry(t);
  const single = await reg.call("/dns_event", { json: event(1), auth: false });
  assert.deepEqual(await single.json(), { ok: true, tlog_index: 0 });

  const res = await batch(reg, [event(2), event(1), event(3, undefined), event(2)]);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    results: [
      { ok: true, tlog_index: 1 },
      { ok: true, tlog_index: 0 },
      { ok: true, tlog_index: 2 },
      { ok: true, tlog_index: 1 },
    ],
  });
  assert.equal(reg.service.registry.store.size(), 3);
  assert.deepEqual(dnsRows(reg), { n: 3 });
  assert.deepEqual(
    [1, 2].map((i) => JSON.parse(leafText(reg, i)).token_id),
    [token(2), token(3)],
  );
});

test("a bad item gets its own v1 error and records nothing; the items around it are recorded", async (t) => {
  const reg = await startTestRegistry(t);
  const res = await batch(reg, [event(1), { ...event(2), event_id: "has space" }, { qname: "no-token" }, event(4)]);
  assert.equal(res.status, 200);
  const { results } = await res.json();
  assert.deepEqual(results[0], { ok: true, tlog_index: 0 });
  assert.equal(results[1].error.code, "missing_field");
  assert.match(results[1].error.message, /event_id/);
  assert.equal(results[2].error.code, "missing_field");
  assert.match(results[2].error.message, /token_id/);
  assert.deepEqual(results[3], { ok: true, tlog_index: 1 });
  assert.equal(reg.service.registry.store.size(), 2);
});

test("a malformed body is refused whole with 400 missing_field and records nothing", async (t) => {
  const reg = await startTestRegistry(t);
  const tooMany = Array.from({ length: MAX_DNS_EVENTS_PER_BATCH + 1 }, (_, i) => event(i));
  for (const body of [{}, { events: [] }, { events: "x" }, { events: [event(1), 7] }, { events: [event(1), [event(2)]] }, { events: tooMany }]) {
    const res = await reg.call("/dns_events", { json: body, auth: false });
    assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
    assert.equal((await envelope(res)).code, "missing_field");
  }
  const notJson = await reg.call("/dns_events", { body: "{", headers: { "content-type": "application/json" }, auth: false });
  assert.equal(notJson.status, 400);
  assert.equal(reg.service.registry.store.size(), 0);
  const full = await batch(reg, tooMany.slice(0, MAX_DNS_EVENTS_PER_BATCH));
  assert.equal((await full.json()).results.length, MAX_DNS_EVENTS_PER_BATCH);
  assert.equal(reg.service.registry.store.size(), MAX_DNS_EVENTS_PER_BATCH);
});

test("the DNS secret is required as on /dns_event; a refused request records nothing", async (t) => {
  const reg = await startTestRegistry(t, { dnsSecret: SECRET });
  const none = await batch(reg, [event(1)]);
  assert.equal(none.status, 401);
  assert.equal((await envelope(none)).code, "auth_required");
  const wrong = await batch(reg, [event(1)], { "x-oversight-dns-secret": "not-the-secret-0123456789abcdef" });
  assert.equal(wrong.status, 401);
  assert.equal(reg.service.registry.store.size(), 0);
  const right = await batch(reg, [event(1)], { "x-oversight-dns-secret": SECRET });
  assert.deepEqual(await right.json(), { results: [{ ok: true, tlog_index: 0 }] });
});

test("without a secret only a loopback caller is admitted: a forwarded remote one is refused", async (t) => {
  const reg = await startTestRegistry(t, { trustedProxy: true });
  const remote = await batch(reg, [event(1)], { "x-forwarded-for": "203.0.113.7" });
  assert.equal(remote.status, 503);
  assert.match((await envelope(remote)).message, /OVERSIGHT_DNS_EVENT_SECRET/);
  assert.equal(reg.service.registry.store.size(), 0);
});

test("every item spends a token of the DNS bucket: items past the empty bucket are rate_limited, an empty bucket refuses the whole batch", async (t) => {
  let ms = 0;
  const OFF = { perSecond: 0, burst: 1 };
  const reg = await startTestRegistry(t, {
    dnsSecret: SECRET,
    rates: { write: OFF, read: OFF, token: OFF, dns: { perSecond: 1, burst: 3 } },
    rateClock: () => ms,
  });
  const send = (events: unknown[]) => batch(reg, events, { "x-oversight-dns-secret": SECRET });
  const first = await send([1, 2, 3, 4, 5].map((i) => event(i)));
  assert.equal(first.status, 200);
  const { results } = await first.json();
  assert.deepEqual(
    results.slice(0, 3),
    [0, 1, 2].map((i) => ({ ok: true, tlog_index: i })),
  );
  for (const refused of results.slice(3)) {
    assert.equal(refused.error.code, "rate_limited");
    assert.equal(refused.error.retry_after, 1);
  }
  assert.equal(reg.service.registry.store.size(), 3);

  const empty = await send([event(4)]);
  assert.equal(empty.status, 429);
  assert.equal((await envelope(empty)).retry_after, 1);
  ms += 2_000;
  const later = await send([event(4), event(5)]);
  assert.deepEqual(await later.json(), { results: [3, 4].map((i) => ({ ok: true, tlog_index: i })) });
});

test("items that fail inside the registry answer server_error in a 200, and their causes are logged", async (t) => {
  const reg = await startTestRegistry(t);
  // A lost table: every DNS event fails to be written.
  reg.service.registry.db.exec("DROP TABLE dns_event_ids");
  const res = await batch(reg, [event(1), event(2)]);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { results: Array(2).fill({ error: { code: "server_error", message: "internal error" } }) });
  assert.equal(reg.service.registry.store.size(), 0);
  const logged = reg.logLines.map((line) => JSON.parse(line)).filter((line) => line.msg === "a DNS event of a batch could not be recorded");
  assert.deepEqual(
    logged.map((line) => line.index),
    [0, 1],
  );
  assert.match(JSON.stringify(logged[0].error), /dns_event_ids/);
});

test("the registry advertises the batch route among its extensions, for clients that look before they send", async (t) => {
  const reg = await startTestRegistry(t);
  const wellKnown = (await (await reg.call("/.well-known/oversight-registry")).json()) as { federation: { extensions: string[] } };
  assert.ok(wellKnown.federation.extensions.includes("dns_event_batches"), JSON.stringify(wellKnown.federation.extensions));
});
