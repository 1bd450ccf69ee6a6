/** Helpers for HTTP tests: a real server on 127.0.0.1:0, and envelope assertions. */
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface StartedApp {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  close(): Promise<void>;
}

/** Serves `app` (an Express app or any request listener) on an ephemeral loopback port. */
export async function startApp(app: http.RequestListener): Promise<StartedApp> {
  const server = http.createServer(app);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      (closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      })),
  };
}

/** Asserts a v1 error answer: status, JSON content type, `{"error":{"code","message"}}`; returns `error`. */
export async function expectEnvelope(res: Response, status: number, code: string): Promise<Record<string, unknown>> {
  const text = await res.text();
  assert.equal(res.status, status, `status of ${text}`);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  const body = JSON.parse(text) as { error?: Record<string, unknown> };
  assert.ok(body.error, `no error envelope in ${text}`);
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, "string");
  assert.notEqual(body.error.message, "");
  return body.error;
}
