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
  /** None: an empty answer without Content-Type. */
  content?: { type: string; body: string | Buffer };
}

export function json(value: unknown, headers?: Readonly<Record<string, string>>): Answer {
  return { content: { type: JSON_TYPE, body: JSON.stringify(value) }, ...(headers ? { headers } : {}) };
}

export function sendAnswer(res: ServerResponse, answer: Answer): void {
  if (answer.headers) for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.statusCode = answer.status ?? 200;
  if (answer.content === undefined) {
    res.end();
    return;
  }
  const { type, body } = answer.content;
  res.setHeader("Content-Type", type);
  res.setHeader("Content-Length", typeof body === "string" ? Buffer.byteLength(body) : body.length);
  // Node leaves the body out of an answer to HEAD and keeps its Content-Length, as Express's res.send does.
  res.end(body);
}
