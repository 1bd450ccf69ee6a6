import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { test } from "node:test";
import { sendAnswer } from "../../src/http/answer.js";

/** Larger than what the loopback's socket buffers take while nobody reads, so the answer cannot be handed over at once. */
const BODY_BYTES = 16 * 1024 * 1024;

test("an answer's buffers are released once its body has been handed over, not when it is written", async (t) => {
  const parts = Array.from({ length: 64 }, (_, i) => Buffer.alloc(BODY_BYTES / 64, i));
  let released = false;
  let onRelease = () => {};
  const releasedNow = new Promise<void>((resolve) => (onRelease = resolve));
  let onSent = () => {};
  const sent = new Promise<void>((resolve) => (onSent = resolve));
  const server = http.createServer((_req, res) => {
    sendAnswer(res, {
      content: { type: "application/octet-stream", body: parts },
      release: () => {
        released = true;
        onRelease();
      },
    });
    onSent();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => server.close());

  const socket = net.connect((server.address() as AddressInfo).port, "127.0.0.1");
  t.after(() => socket.destroy());
  socket.pause();
  await once(socket, "connect");
  socket.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  await sent;
  assert.equal(released, false, "the client has read nothing: the buffers are still being sent");

  let received = 0;
  socket.on("data", (chunk: Buffer) => (received += chunk.length));
  socket.resume();
  await Promise.all([releasedNow, once(socket, "end")]);
  assert.ok(received > BODY_BYTES, "the whole answer arrived");
});
