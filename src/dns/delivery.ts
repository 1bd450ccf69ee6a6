/**
 * One delivery attempt of one journaled event to `POST /dns_event`, and what
 * its answer means for the event: delivered (200), try again later (429, 5xx,
 * no answer, anything else), or refused for good (another 4xx: a dead letter). Uses
 * node:http with a kept-alive agent, since the sender makes thousands of
 * these a second.
 */
import http from "node:http";
import https from "node:https";
import { z } from "zod";
import type { JournalEntry } from "./journal.js";

export type Outcome =
  | { kind: "delivered"; tlogIndex: number }
  | { kind: "retry"; reason: string; retryAfterSeconds: number | null }
  | { kind: "refused"; status: number; answer: string };

const AcceptedSchema = z.object({ ok: z.literal(true), tlog_index: z.number().int().nonnegative() });
const RetryAfterSchema = z.object({ error: z.looseObject({ retry_after: z.number().nonnegative() }) });

/** Answers longer than this are not the registry's JSON; reading stops there. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface DeliveryTarget {
  url: URL;
  secret: string | null;
  timeoutMs: number;
  agent: http.Agent;
}

export function deliveryTarget(registryUrl: string, secret: string | null, timeoutMs: number, sockets: number): DeliveryTarget {
  const url = new URL("dns_event", registryUrl.endsWith("/") ? registryUrl : `${registryUrl}/`);
  const Agent = url.protocol === "https:" ? https.Agent : http.Agent;
  return { url, secret, timeoutMs, agent: new Agent({ keepAlive: true, maxSockets: sockets }) };
}

export function deliver(target: DeliveryTarget, entry: JournalEntry): Promise<Outcome> {
  const body = JSON.stringify({
    token_id: entry.token_id,
    client_ip: entry.client_ip,
    qtype: entry.qtype,
    qname: entry.qname,
    event_id: entry.event_id,
  });
  const headers: http.OutgoingHttpHeaders = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "user-agent": "oversight-registry-dns-bridge",
  };
  if (target.secret !== null) headers["x-oversight-dns-secret"] = target.secret;
  const request = target.url.protocol === "https:" ? https.request : http.request;
  return new Promise<Outcome>((resolve) => {
    const req = request(target.url, { method: "POST", headers, agent: target.agent, timeout: target.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
      });
      res.on("error", (error) => resolve({ kind: "retry", reason: error.message, retryAfterSeconds: null }));
      res.on("end", () => resolve(classify(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"), res.headers["retry-after"])));
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
