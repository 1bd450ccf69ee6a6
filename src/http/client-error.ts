/**
 * Answers for requests Node's HTTP parser refuses before any route sees them
 * (malformed framing, oversized headers, unknown methods, HTTP/2 prefaces,
 * timeouts) and for unsupported `Expect` headers. Node would answer those with
 * an empty body; every answer of the registry is the v1 envelope.
 */
import { STATUS_CODES, type Server } from "node:http";
import type { Duplex } from "node:stream";
import { RegistryError } from "../core/errors.js";
import type { Logger } from "../log.js";
import { answerError } from "./error-handler.js";

const MAX_REASON = 200;

/** The status and message for a client error Node reports by `code`. */
function describeClientError(error: { code?: unknown; reason?: unknown }): { status: number; message: string } {
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, message: "request headers are too large" };
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return { status: 413, message: "chunk extensions are too large" };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, message: "the request was not received in time" };
    case "HPE_PAUSED_H2_UPGRADE":
      return { status: 400, message: "HTTP/2 without TLS is not served here; use HTTP/1.1" };
  }
  const reason = typeof error.reason === "string" && error.reason !== "" ? `: ${error.reason.slice(0, MAX_REASON)}` : "";
  return { status: 400, message: `malformed HTTP request${reason}` };
}

/** The whole HTTP/1.1 answer, written straight to the socket since no response object exists yet. */
function clientErrorResponse(status: number, message: string): string {
  const body = JSON.stringify(new RegistryError("missing_field", message, { status }).envelope());
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n` +
    "Content-Type: application/json; charset=utf-8\r\n" +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    "Cache-Control: no-store\r\n" +
    "Connection: close\r\n\r\n" +
    body
  );
}

interface ClientSocket extends Duplex {
  /** The response in flight on this connection; Node's own default handler checks it the same way. */
  _httpMessage?: { headersSent?: boolean } | null;
}

export function answerClientErrors(server: Server, logger: Logger): void {
  server.on("clientError", (error: NodeJS.ErrnoException, socket: ClientSocket) => {
    // Once our answer is on its way, later parse errors on the same bytes change nothing.
    if (socket.writableEnded) return;
    const answerable = error.code !== "ECONNRESET" && socket.writable && socket._httpMessage?.headersSent !== true;
    if (!answerable) {
      socket.destroy();
      return;
    }
    const { status, message } = describeClientError(error);
    socket.end(clientErrorResponse(status, message), () => socket.destroy());
  });
  server.on("checkExpectation", (req, res) => {
    const expectation = String(req.headers.expect).slice(0, MAX_REASON);
    answerError(logger, new RegistryError("missing_field", `unsupported Expect: ${expectation}`, { status: 417 }), req, res);
  });
}
