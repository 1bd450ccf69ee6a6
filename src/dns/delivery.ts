/**
 * One delivery attempt to the registry, and what its answer means for each
 * event: delivered (200), try again later (429, 5xx, no answer, anything
 * else), or refused for good (another 4xx: a dead letter). A batch goes to
 * `POST /dns_events`, where each item has its own answer; a registry that
 * does not serve that route (404, 405, or 413 for a body over its limit) gets
 * the events one by one at `POST /dns_event`. Uses node:http with a
 * kept-alive agent, since the sender makes many of these a second.
 */
import http from "node:http";
import https from "node:https";
import { z } from "zod";
import { ERROR_STATUS, ErrorEnvelopeSchema } from "../core/errors.js";
import type { JournalEntry } from "./journal.js";

export type Outcome =
  | { kind: "delivered"; tlogIndex: number }
  | { kind: "retry"; reason: string; retryAfterSeconds: number | null }
  | { kind: "refused"; status: number; answer: string };

const AcceptedSchema = z.object({ ok: z.literal(true), tlog_index: z.number().int().nonnegative() });
const RetryAfterSchema = z.object({ error: z.looseObject({ retry_after: z.number().nonnegative() }) });

/** Answers longer than this are not the registry's JSON (a batch's, an error for each of its 500 items, stays far below); reading stops there. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** A batch's answer: each event's outcome, in the batch's order, or that the registry does not take batches. */
export type BatchOutcome = { kind: "outcomes"; outcomes: Outcome[] } | { kind: "unsupported"; status: number };

const BatchAnswerSchema = z.object({ results: z.array(z.unknown()) });

export interface DeliveryTarget {
  url: URL;
  batchUrl: URL;
  secret: string | null;
  timeoutMs: number;
  agent: http.Agent;
}

export function deliveryTarget(registryUrl: string, secret: string | null, timeoutMs: number, sockets: number): DeliveryTarget {
  const base = registryUrl.endsWith("/") ? registryUrl : `${registryUrl}/`;
  const url = new URL("dns_event", base);
  const Agent = url.protocol === "https:" ? https.Agent : http.Agent;
  return { url, batchUrl: new URL("dns_events", base), secret, timeoutMs, agent: new Agent({ keepAlive: true, maxSockets: sockets }) };
}

/** The event as the registry takes it, at /dns_event and as an item of /dns_events. */
function eventBody(entry: JournalEntry) {
  return { token_id: entry.token_id, client_ip: entry.client_ip, qtype: entry.qtype, qname: entry.qname, event_id: entry.event_id };
}

export async function deliver(target: DeliveryTarget, entry: JournalEntry): Promise<Outcome> {
  const answer = await post(target, target.url, JSON.stringify(eventBody(entry)));
  return "reason" in answer ? answer : classify(answer.status, answer.body, answer.retryAfter);
}

/** Sends `entries` in one POST /dns_events. */
export async function deliverBatch(target: DeliveryTarget, entries: readonly JournalEntry[]): Promise<BatchOutcome> {
  const answer = await post(target, target.batchUrl, JSON.stringify({ events: entries.map(eventBody) }));
  if ("reason" in answer) return everyItem(answer, entries.length);
  return classifyBatch(answer.status, answer.body, answer.retryAfter, entries.length);
}

/**
 * What a batch's answer means for each of its `count` events. A 200 answers
 * each item; any other status is every event's answer, as it would be for a
 * single event (401 dead-letters them all, 429 waits for all).
 */
export function classifyBatch(status: number, answer: string, retryAfterHeader: string | string[] | undefined, count: number): BatchOutcome {
  if (status === 404 || status === 405 || status === 413) return { kind: "unsupported", status };
  if (status !== 200) return everyItem(classify(status, answer, retryAfterHeader), count);
  const parsed = BatchAnswerSchema.safeParse(parseJson(answer));
  if (!parsed.success || parsed.data.results.length !== count) {
    return everyItem({ kind: "retry", reason: `HTTP 200 without {results:[…]} of ${count} items`, retryAfterSeconds: null }, count);
  }
  return { kind: "outcomes", outcomes: parsed.data.results.map(classifyItem) };
}

function everyItem(outcome: Outcome, count: number): BatchOutcome {
  return { kind: "outcomes", outcomes: Array.from({ length: count }, () => outcome) };
}

/**
 * One item of a batch's answer, read by the rule of a single event's answer:
 * an error item as if /dns_event had answered it with its code's status, a
 * leaf as a 200, anything else as a 200 without a leaf (retried).
 */
function classifyItem(result: unknown): Outcome {
  const refused = ErrorEnvelopeSchema.safeParse(result);
  return classify(refused.success ? ERROR_STATUS[refused.data.error.code] : 200, JSON.stringify(result), undefined);
}

type Answered = { status: number; body: string; retryAfter: string | string[] | undefined };

/** One POST; no answer at all (refused connection, timeout) is a retry. */
function post(target: DeliveryTarget, url: URL, body: string): Promise<Answered | Extract<Outcome, { kind: "retry" }>> {
  const headers: http.OutgoingHttpHeaders = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "user-agent": "oversight-registry-dns-bridge",
  };
  if (target.secret !== null) headers["x-oversight-dns-secret"] = target.secret;
  const request = url.protocol === "https:" ? https.request : http.request;
  return new Promise((resolve) => {
    const req = request(url, { method: "POST", headers, agent: target.agent, timeout: target.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
      });
      res.on("error", (error) => resolve({ kind: "retry", reason: error.message, retryAfterSeconds: null }));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), retryAfter: res.headers["retry-after"] }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${target.timeoutMs} ms`)));
    req.on("error", (error) => resolve({ kind: "retry", reason: error.message, retryAfterSeconds: null }));
    req.end(body);
  });
}

/** What an answer means for the event; exported for the tests of each status. */
export function classify(status: number, answer: string, retryAfterHeader: string | string[] | undefined): Outcome {
  if (status === 200) {
    const accepted = AcceptedSchema.safeParse(parseJson(answer));
    if (accepted.success) return { kind: "delivered", tlogIndex: accepted.data.tlog_index };
    return { kind: "retry", reason: "HTTP 200 without {ok:true,tlog_index}", retryAfterSeconds: null };
  }
  if (status === 429) return { kind: "retry", reason: "rate limited (429)", retryAfterSeconds: retryAfter(answer, retryAfterHeader) };
  if (status >= 400 && status < 500) return { kind: "refused", status, answer };
  return { kind: "retry", reason: `HTTP ${status}`, retryAfterSeconds: null };
}

function retryAfter(answer: string, header: string | string[] | undefined): number | null {
  const fromBody = RetryAfterSchema.safeParse(parseJson(answer));
  if (fromBody.success) return fromBody.data.error.retry_after;
  const text = Array.isArray(header) ? header[0] : header;
  return text !== undefined && /^\d{1,6}$/.test(text) ? Number(text) : null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
