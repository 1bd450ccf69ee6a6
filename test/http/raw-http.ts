/** Raw TCP requests for what fetch cannot send: malformed HTTP, header bytes, half-sent requests. */
import { once } from "node:events";
import net from "node:net";

export interface RawAnswer {
  /** Everything the server sent, as latin1 text. */
  text: string;
  status: number | null;
  headers: Map<string, string>;
  body: string;
}

/** Writes `data` on a fresh connection to `url` and resolves with what arrived once the server closes the connection. */
export async function rawExchange(url: string, data: string | Buffer): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  // A server that closes while we still send may reset the connection; what it answered before is what counts.
  socket.on("error", () => {});
  await once(socket, "connect");
  socket.write(data);
  await once(socket, "close");
  return parseAnswer(Buffer.concat(chunks).toString("latin1"));
}

export function parseAnswer(text: string): RawAnswer {
  const end = text.indexOf("\r\n\r\n");
  const head = end < 0 ? text : text.slice(0, end);
  const [statusLine = "", ...lines] = head.split("\r\n");
  const match = /^HTTP\/1\.1 (\d{3})/.exec(statusLine);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { text, status: match ? Number(match[1]) : null, headers, body: end < 0 ? "" : text.slice(end + 4) };
}
