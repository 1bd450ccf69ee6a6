// The optional event_id of POST /dns_event: a bridge re-sending an event it
// could not see acknowledged gets the original leaf back, never a second one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { envelope, startTestRegistry } from "./registry-server.js";

const event = (eventId: string | undefined, token = "a".repeat(32)) => ({
  token_id: token,
  client_ip: "198.51.100.9",
  qtype: "A",
  qname: `${token}.t.example.org`,
  ...(eventId === undefined ? {} : { event_id: eventId }),
});

test("an event_id sent again answers the original tlog_index and records nothing", async (t) => {
  const reg = await startTestRegistry(t);
  const first = await reg.call("/dns_event", { json: event("ev-1"), auth: false });
  assert.deepEqual(await first.json(), { ok: true, tlog_index: 0 });
  await reg.call("/dns_event", { json: event("ev-2"), auth: false });
  const again = await reg.call("/dns_event", { json: event("ev-1"), auth: false });
  assert.deepEqual(await again.json(), { ok: true, tlog_index: 0 });
  assert.equal(reg.service.registry.store.size(), 2);
  const rows = reg.service.registry.db.prepare("SELECT count(*) AS n FROM events WHERE kind = 'dns'").get();
  assert.deepEqual(rows, { n: 2 });
});

test("one event_id sent concurrently is one leaf, however the sends are batched", async (t) => {
  const reg = await startTestRegistry(t);
  const answers = await Promise.all(Array.from({ length: 20 }, () => reg.call("/dns_event", { json: event("same-id"), auth: false }).then((r) => r.json())));
  assert.equal(new Set(answers.map((a: { tlog_index: number }) => a.tlog_index)).size, 1);
  assert.equal(reg.service.registry.store.size(), 1);
});

test("without event_id every send is an event, as in v1", async (t) => {
  const reg = await startTestRegistry(t);
  for (let i = 0; i < 3; i++) await reg.call("/dns_event", { json: event(undefined), auth: false });
  assert.equal(reg.service.registry.store.size(), 3);
});

test("a malformed event_id is refused and changes nothing", async (t) => {
  const reg = await startTestRegistry(t);
  for (const bad of ["", "x".repeat(65), "has space", "ünï"]) {
    const res = await reg.call("/dns_event", { json: event(bad), auth: false });
    assert.equal(res.status, 400, bad);
    assert.equal((await envelope(res)).code, "missing_field");
  }
  const notString = await reg.call("/dns_event", { json: { ...event(undefined), event_id: 7 }, auth: false });
  assert.equal(notString.status, 400);
  assert.equal(reg.service.registry.store.size(), 0);
});
