/**
 * A route's success answer as data, written by one function for Express and
 * the fast path alike, so both put the same bytes and headers on the wire.
 */
import type { ServerResponse } from "node:http";
import { writeHead } from "./response-head.js";

export const JSON_TYPE = "application/json; charset=utf-8";

export interface Answer {
  /** 200 unless set. */
  status?: number;
  headers?: Readonly<Record<string, string>>;
  /**
   * None: an empty answer without Content-Type. A list of buffers is written
   * one after the other, so a large body made of a few parts is never copied
   * into one buffer just to be written.
   */
  content?: { type: string; body: string | Buffer | readonly Buffer[] };
  /**
   * Called once the whole answer has been handed to the operating system
   * (the response's `finish`): from then on the body's buffers may be
   * reused. An answer whose connection fails first never calls it, and its
   * buffers are left to the garbage collector.
   */
  release?: () => void;
}

export function json(value: unknown, headers?: Readonly<Record<string, string>>): Answer {
  return { content: { type: JSON_TYPE, body: JSON.stringify(value) }, ...(headers ? { headers } : {}) };
}

export function sendAnswer(res: ServerResponse, answer: Answer): void {
  if (answer.release) res.once("finish", answer.release);
  const status = answer.status ?? 200;
  const headers: string[] = [];
  if (answer.headers) for (const name in answer.headers) headers.push(name, answer.headers[name]!);
  if (answer.content === undefined) {
    writeHead(res, status, headers);
    res.end();
    return;
  }
  const { type, body } = answer.content;
  headers.push("Content-Type", type, "Content-Length", String(byteLength(body)));
  writeHead(res, status, headers);
  // Node leaves the body out of an answer to HEAD and keeps its Content-Length, as Express's res.send does.
  if (typeof body === "string" || Buffer.isBuffer(body)) {
    res.end(body);
    return;
  }
  res.cork();
  for (const part of body) res.write(part);
  res.end();
  res.uncork();
}

function byteLength(body: string | Buffer | readonly Buffer[]): number {
  if (typeof body === "string") return Buffer.byteLength(body);
  if (Buffer.isBuffer(body)) return body.length;
  let total = 0;
  for (const part of body) total += part.length;
  return total;
}
