import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import { rawExchange, type RawAnswer } from "./raw-http.js";
import { startTestRegistry } from "./registry-server.js";

function expectEnvelope(answer: RawAnswer, status: number, what: string): void {
  assert.equal(answer.status, status, `${what}: ${answer.text.slice(0, 300)}`);
  assert.equal(answer.headers.get("content-type"), "application/json; charset=utf-8", what);
  assert.equal(answer.headers.get("connection"), "close", what);
  assert.equal(Number(answer.headers.get("content-length")), Buffer.byteLength(answer.body), what);
  const body = JSON.parse(answer.body) as { error: { code: string; message: string } };
  assert.equal(body.error.code, "missing_field", what);
  assert.ok(body.error.message.length > 0, what);
}

const GET = "GET /health HTTP/1.1\r\nHost: x\r\n";

test("requests Node's parser refuses are answered with the v1 envelope and the connection is closed", async (t) => {
  const reg = await startTestRegistry(t);
  const cases: [string, string, number][] = [
    [
      "conflicting Content-Length and Transfer-Encoding",
      "POST /dns_event HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400,
    ],
    ["two Content-Lengths", "POST /dns_event HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 400],
    ["a 32 KB header", `${GET}X-Big: ${"a".repeat(32_768)}\r\n\r\n`, 431],
    ["an unknown method", "BREW /health HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["NUL in a header", `${GET}X-A: a\0b\r\n\r\n`, 400],
    ["a bad chunk size", "POST /dns_event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400],
    ["the HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400],
    ["a bare LF request line", "GET /health HTTP/1.1\nHost: x\n\n", 400],
  ];
  for (const [what, request, status] of cases) expectEnvelope(await rawExchange(reg.url, request), status, what);
});

test("an unsupported Expect gets 417 with the envelope", async (t) => {
  const reg = await startTestRegistry(t);
  const answer = await rawExchange(reg.url, `${GET}Expect: bogus\r\nConnection: close\r\n\r\n`);
  assert.equal(answer.status, 417, answer.text);
  assert.equal(answer.headers.get("content-type"), "application/json; charset=utf-8");
  assert.deepEqual(JSON.parse(answer.body), { error: { code: "missing_field", message: "unsupported Expect: bogus" } });
});

const TINY = { headersTimeoutMs: 200, requestTimeoutMs: 400, keepAliveTimeoutMs: 200 };

test("a client that stops in the middle of its headers gets 408 with the envelope and is disconnected", async (t) => {
  const reg = await startTestRegistry(t, { httpLimits: TINY });
  expectEnvelope(await rawExchange(reg.url, "GET /health HT"), 408, "half a request line");
  expectEnvelope(await rawExchange(reg.url, `${GET}User-Agent: slo`), 408, "half a header");
});

test("a client that stops in the middle of its body gets 408 on both paths, and nothing is written", async (t) => {
  const reg = await startTestRegistry(t, { httpLimits: TINY });
  for (const origin of ["", "Origin: https://refused.example\r\n"]) {
    const request = `POST /dns_event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n${origin}\r\n{"tok`;
    expectEnvelope(await rawExchange(reg.url, request), 408, `half a body ${origin}`);
  }
  assert.equal(reg.service.log.size(), 0);
});

test("an idle kept-alive connection is closed after the keep-alive timeout", async (t) => {
  const reg = await startTestRegistry(t, { httpLimits: TINY });
  const { hostname, port } = new URL(reg.url);
  const socket = net.connect(Number(port), hostname);
  let received = "";
  socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
  await once(socket, "connect");
  socket.write(`${GET}\r\n`);
  await once(socket, "close");
  assert.match(received, /^HTTP\/1\.1 200 /);
});
