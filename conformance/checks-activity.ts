/** Beacon routes, DNS events, attribution and semantic candidates. */
import { crc32, inflateSync } from "node:zlib";
import { z } from "zod";
import type { HttpResponse } from "./client.js";
import {
  type Check,
  type Context,
  ensure,
  EventSchema,
  expectError,
  expectFields,
  expectJson,
  fail,
  Index,
  need,
  parseLeaf,
  RangeSchema,
  sameJson,
  skip,
  snippet,
} from "./checks-common.js";
import { randomHex } from "./issuer.js";

const USER_AGENT = "oversight-conformance/1";
const DNS_CLIENT_IP = "192.0.2.53";

const AttributeHitSchema = z.object({
  found: z.literal(true),
  file_id: z.string(),
  recipient_id: z.string(),
  issuer_id: z.string(),
  manifest: z.record(z.string(), z.unknown()),
  recent_events: z.array(EventSchema).max(50),
  events: z.array(EventSchema),
});
type AttributeHit = z.infer<typeof AttributeHitSchema>;

const DnsAnswerSchema = z.object({ ok: z.literal(true), tlog_index: Index });

const SemanticSchema = z.object({
  generated_at: z.union([z.string(), z.number().int()]),
  count: Index,
  candidates: z.array(z.object({ mark_id: z.string(), file_id: z.string(), recipient_id: z.string(), registered_at: z.union([z.string(), z.number().int()]) })),
});

const PNG_SIGNATURE = Buffer.from("89504e470d0a1a0a", "hex");

/** A structurally valid 1×1 PNG: signature, chunk CRCs, IHDR size, inflatable IDAT, IEND. */
function checkPng(bytes: Buffer): void {
  ensure(bytes.subarray(0, 8).equals(PNG_SIGNATURE), "body does not start with the PNG signature");
  const chunks: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < bytes.length; ) {
    ensure(at + 12 <= bytes.length, "truncated PNG chunk");
    const length = bytes.readUInt32BE(at);
    const type = bytes.subarray(at + 4, at + 8);
    const data = bytes.subarray(at + 8, at + 8 + length);
    ensure(at + 12 + length <= bytes.length, `truncated PNG ${type.toString("latin1")} chunk`);
    ensure(crc32(Buffer.concat([type, data])) === bytes.readUInt32BE(at + 8 + length), `bad CRC on PNG ${type.toString("latin1")} chunk`);
    chunks.push({ type: type.toString("latin1"), data });
    at += 12 + length;
  }
  const ihdr = chunks[0];
  ensure(ihdr?.type === "IHDR" && ihdr.data.length === 13, "first PNG chunk is not IHDR");
  ensure(ihdr.data.readUInt32BE(0) === 1 && ihdr.data.readUInt32BE(4) === 1, `PNG is ${ihdr.data.readUInt32BE(0)}×${ihdr.data.readUInt32BE(4)}, not 1×1`);
  ensure(chunks.at(-1)?.type === "IEND", "PNG does not end with IEND");
  const idat = Buffer.concat(chunks.filter((c) => c.type === "IDAT").map((c) => c.data));
  ensure(idat.length > 0, "PNG has no IDAT");
  try {
    inflateSync(idat);
  } catch {
    fail("PNG IDAT does not inflate");
  }
}

type Answer = "png" | "empty" | "valid";

interface BeaconRoute {
  method: "GET" | "POST";
  path: (token: string) => string;
  label: string;
  kind: string;
  answer: Answer;
}

const BEACON_ROUTES: BeaconRoute[] = [
  { method: "GET", path: (t) => `/p/${t}.png`, label: "/p/{token}.png", kind: "http_img", answer: "png" },
  { method: "GET", path: (t) => `/r/${t}`, label: "/r/{token}", kind: "ocsp", answer: "empty" },
  { method: "POST", path: (t) => `/r/${t}`, label: "/r/{token}", kind: "ocsp", answer: "empty" },
  { method: "GET", path: (t) => `/ocsp/r/${t}`, label: "/ocsp/r/{token}", kind: "ocsp", answer: "empty" },
  { method: "POST", path: (t) => `/ocsp/r/${t}`, label: "/ocsp/r/{token}", kind: "ocsp", answer: "empty" },
  { method: "GET", path: (t) => `/v/${t}`, label: "/v/{token}", kind: "license", answer: "valid" },
  { method: "GET", path: (t) => `/lic/v/${t}`, label: "/lic/v/{token}", kind: "license", answer: "valid" },
];

function checkBeaconAnswer(res: HttpResponse, answer: Answer): void {
  ensure(res.status === 200, `expected 200, got ${snippet(res)}`);
  if (answer === "png") {
    const type = res.headers.get("content-type");
    ensure(type?.startsWith("image/png"), `content-type is ${JSON.stringify(type)}, not image/png`);
    checkPng(res.bytes);
  } else if (answer === "empty") {
    ensure(res.bytes.length === 0, `body is ${res.bytes.length} bytes, expected empty`);
  } else {
    ensure(res.json !== undefined && sameJson(res.json, { valid: true }), `body is ${JSON.stringify(res.text)}, expected {"valid":true}`);
  }
}

function hitBeacon(ctx: Context, route: BeaconRoute, token: string): Promise<HttpResponse> {
  const headers = { "user-agent": USER_AGENT };
  if (route.method === "GET") return ctx.client.get(route.path(token), headers);
  // An OCSP client POSTs a DER request; the registry only needs the hit.
  return ctx.client.request(route.path(token), {
    method: "POST",
    headers: { ...headers, "content-type": "application/ocsp-request" },
    body: "0\u0003\u0002\u0001\u0000",
  });
}

const beaconChecks: Check[] = BEACON_ROUTES.map((route) => ({
  name: `beacon: ${route.method} ${route.label} → ${route.answer === "png" ? "1×1 image/png" : route.answer === "empty" ? "empty 200" : '{"valid":true}'}`,
  async run(ctx) {
    const file = need(ctx.state.file, "the registration round trip");
    checkBeaconAnswer(await hitBeacon(ctx, route, file.httpToken), route.answer);
    const hits = (ctx.state.beaconHits ??= {});
    hits[route.kind] = (hits[route.kind] ?? 0) + 1;
    if (route.label === "/p/{token}.png") checkBeaconAnswer(await hitBeacon(ctx, route, `unknown-${randomHex(12)}`), route.answer);
  },
}));

async function attribute(ctx: Context, selector: Record<string, string>): Promise<AttributeHit> {
  const file = need(ctx.state.file, "the registration round trip");
  const hit = expectJson(await ctx.client.post("/attribute", selector), 200, AttributeHitSchema, `/attribute ${JSON.stringify(selector)}`);
  const recipient = (file.manifest.recipient as { recipient_id: string }).recipient_id;
  expectFields(hit, { file_id: file.manifest.file_id, recipient_id: recipient, issuer_id: file.issuer.id }, "/attribute answer");
  ensure(sameJson(hit.manifest, file.manifest), "/attribute manifest differs from the registered one");
  ensure(sameJson(hit.events, hit.recent_events), "/attribute events and recent_events differ");
  for (let i = 1; i < hit.recent_events.length; i++) {
    ensure(hit.recent_events[i - 1]!.timestamp >= hit.recent_events[i]!.timestamp, "recent_events are not newest first");
  }
  return hit;
}

async function expectMiss(ctx: Context, selector: Record<string, string>): Promise<void> {
  const res = await ctx.client.post("/attribute", selector);
  ensure(res.status === 200, `miss ${JSON.stringify(selector)}: expected 200, got ${snippet(res)}`);
  ensure(
    res.json !== undefined && sameJson(res.json, { found: false }),
    `miss ${JSON.stringify(selector)} answered ${res.text.slice(0, 200)}, expected {"found":false}`,
  );
}

async function postDns(ctx: Context, headers: Record<string, string>): Promise<HttpResponse> {
  const file = need(ctx.state.file, "the registration round trip");
  const body = { token_id: file.dnsToken, client_ip: DNS_CLIENT_IP, qtype: "TXT", qname: `${file.dnsToken}.t.conformance.example` };
  return ctx.client.post("/dns_event", body, { auth: false, headers });
}

const dnsChecks: Check[] = [
  {
    // How the harness decides: a DNS secret given (--dns-secret-file or the environment) is used; otherwise a
    // loopback call without one must succeed when the harness started the registry
    // (it configured no secret); against another registry a 401 means one is configured.
    name: "dns_event: accepted (loopback without a secret, or with the DNS secret) → 200 with tlog_index, dns leaf and event",
    async run(ctx) {
      const file = need(ctx.state.file, "the registration round trip");
      let res: HttpResponse;
      if (ctx.dnsSecret !== null) res = await postDns(ctx, { "x-oversight-dns-secret": ctx.dnsSecret });
      else if (ctx.loopback) {
        res = await postDns(ctx, {});
        if (res.status === 401 && !ctx.selfStarted) {
          expectError(res, 401, "auth_required");
          ctx.state.dnsSecretRequired = true;
          skip("the registry requires a DNS secret (401 auth_required); give --dns-secret-file or OVERSIGHT_DNS_EVENT_SECRET to test the accepted path");
        }
      } else {
        expectError(await postDns(ctx, {}), [401, 503], ["auth_required", "server_error"]);
        skip("not a loopback caller and no --dns-secret: refused as the contract requires, accepted path untested");
      }
      const answer = expectJson(res, 200, DnsAnswerSchema, "/dns_event answer");
      const range = expectJson(await ctx.client.get(`/tlog/range?start=${answer.tlog_index}&limit=1`), 200, RangeSchema, "/tlog/range");
      const entry = range.entries[0];
      ensure(entry && entry.index === answer.tlog_index, `/tlog/range has no entry ${answer.tlog_index}`);
      const leaf = parseLeaf(entry.leaf_data, "dns leaf");
      const keys = ["event", "file_id", "kind", "qname", "qtype", "recipient_id", "source_ip", "timestamp", "token_id"];
      ensure(Object.keys(leaf).sort().join() === keys.join(), `dns leaf keys are ${Object.keys(leaf).sort().join(",")}`);
      expectFields(
        leaf,
        {
          event: "beacon",
          kind: "dns",
          token_id: file.dnsToken,
          file_id: file.manifest.file_id,
          recipient_id: (file.manifest.recipient as { recipient_id: string }).recipient_id,
          source_ip: DNS_CLIENT_IP,
          qtype: "TXT",
          qname: `${file.dnsToken}.t.conformance.example`,
        },
        "dns leaf",
      );
      const hit = await attribute(ctx, { token_id: file.dnsToken });
      const event = hit.recent_events.find((e) => e.tlog_index === answer.tlog_index);
      ensure(event, `/attribute by the dns token has no event with tlog_index ${answer.tlog_index}`);
      expectFields(event, { kind: "dns", source_ip: DNS_CLIENT_IP }, "dns event");
    },
  },
  {
    name: "dns_event: wrong secret → 401 auth_required (when the registry has a secret)",
    async run(ctx) {
      if (ctx.dnsSecret === null && !ctx.state.dnsSecretRequired) {
        skip("no DNS secret is configured: the loopback call without one was accepted");
      }
      expectError(await postDns(ctx, { authorization: "Bearer conformance-wrong-secret" }), 401, "auth_required");
      expectError(await postDns(ctx, { "x-oversight-dns-secret": "conformance-wrong-secret" }), 401, "auth_required");
    },
  },
];

const attributeChecks: Check[] = [
  {
    name: "beacon: every hit is an event in /attribute recent_events",
    async run(ctx) {
      const file = need(ctx.state.file, "the registration round trip");
      const hits = need(ctx.state.beaconHits, "the beacon hits");
      const hit = await attribute(ctx, { token_id: file.httpToken });
      for (const [kind, count] of Object.entries(hits)) {
        const events = hit.recent_events.filter((e) => e.kind === kind);
        ensure(events.length === count, `${events.length} ${kind} events, expected ${count}`);
        for (const e of events) {
          ensure(e.tlog_index !== null, `a ${kind} event has no tlog_index`);
          ensure(e.user_agent === USER_AGENT, `a ${kind} event has user_agent ${JSON.stringify(e.user_agent)}`);
          ensure(e.source_ip, `a ${kind} event has no source_ip`);
        }
      }
    },
  },
  {
    name: "attribute: by token_id",
    async run(ctx) {
      const file = need(ctx.state.file, "the registration round trip");
      await attribute(ctx, { token_id: file.httpToken });
    },
  },
  {
    name: "attribute: by mark_id, with and without layer",
    async run(ctx) {
      const file = need(ctx.state.file, "the registration round trip");
      const mark = file.marks[1]!;
      await attribute(ctx, { mark_id: mark.mark_id, layer: mark.layer });
      await attribute(ctx, { mark_id: mark.mark_id });
      await expectMiss(ctx, { mark_id: mark.mark_id, layer: "L2_whitespace" });
    },
  },
  {
    name: "attribute: by perceptual_hash",
    async run(ctx) {
      const file = need(ctx.state.file, "the registration round trip");
      await attribute(ctx, { perceptual_hash: file.perceptualHash });
    },
  },
  {
    name: 'attribute: a miss → 200 {"found":false}',
    async run(ctx) {
      await expectMiss(ctx, { token_id: `cf-absent-${randomHex(12)}` });
    },
  },
  {
    name: "attribute: no selector → 400 missing_field",
    async run(ctx) {
      expectError(await ctx.client.post("/attribute", {}), 400, "missing_field");
      expectError(await ctx.client.post("/attribute", { layer: "L1_zero_width" }), 400, "missing_field");
    },
  },
  {
    name: "GET /candidates/semantic shape",
    async run(ctx) {
      const file = need(ctx.state.file, "the registration round trip");
      const mark = file.marks.find((m) => m.layer === "L3_semantic")!;
      const page = expectJson(await ctx.client.get("/candidates/semantic?limit=100"), 200, SemanticSchema, "/candidates/semantic");
      ensure(page.count === page.candidates.length, `count ${page.count} but ${page.candidates.length} candidates`);
      const ours = page.candidates.find((c) => c.mark_id === mark.mark_id);
      ensure(ours, "the registered L3_semantic mark is not among the newest 100 candidates");
      ensure(ours.file_id === file.manifest.file_id, `candidate file_id ${ours.file_id}`);
      ensure(!page.candidates.some((c) => c.mark_id === file.marks[0]!.mark_id), "an L1_zero_width mark is listed as a semantic candidate");
      const clamped = expectJson(await ctx.client.get("/candidates/semantic?limit=0"), 200, SemanticSchema, "/candidates/semantic?limit=0");
      ensure(clamped.candidates.length === 1, `limit=0 gave ${clamped.candidates.length} candidates, expected clamping to 1`);
      const future = Math.floor(Date.now() / 1000) + 86_400;
      const none = expectJson(await ctx.client.get(`/candidates/semantic?since=${future}`), 200, SemanticSchema, "/candidates/semantic?since");
      ensure(none.count === 0, `since=<tomorrow> still lists ${none.count} candidates`);
    },
  },
];

export const activityChecks: Check[] = [...beaconChecks, ...dnsChecks, ...attributeChecks];
