/**
 * A route's success answer as data, written by one function for Express and
 * the fast path alike, so both put the same bytes and headers on the wire.
 */
import type { ServerResponse } from "node:http";

export const JSON_TYPE = "application/json; charset=utf-8";

export interface Answer {
  /** 200 unless set. */
  status?: number;
  headers?: Readonly<Record<string, string>>;
  /** Content-Type of `body`. */
  type?: string;
  /** No body: an empty answer without Content-Type. */
  body?: string | Buffer;
}

export function json(value: unknown, headers?: Readonly<Record<string, string>>): Answer {
  return { type: JSON_TYPE, body: JSON.stringify(value), ...(headers ? { headers } : {}) };
}

export function sendAnswer(res: ServerResponse, answer: Answer): void {
  if (answer.headers) for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.statusCode = answer.status ?? 200;
  if (answer.body === undefined) {
    res.end();
    return;
  }
  res.setHeader("Content-Type", answer.type ?? "application/octet-stream");
  res.setHeader("Content-Length", typeof answer.body === "string" ? Buffer.byteLength(answer.body) : answer.body.length);
  // Node leaves the body out of an answer to HEAD and keeps its Content-Length, as Express's res.send does.
  res.end(answer.body);
}
