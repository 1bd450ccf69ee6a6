import assert from "node:assert/strict";
import { test } from "node:test";
import { rawExchange, type RawAnswer } from "./raw-http.js";
import { startTestRegistry, type TestRegistry } from "./registry-server.js";

const LIMIT = 700_000;
const TEN_MB = 10 * 1_048_576;

function expect413(answer: RawAnswer): void {
  assert.equal(answer.status, 413, answer.text.slice(0, 300));
  assert.equal(answer.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(answer.headers.get("connection"), "close");
  assert.deepEqual(JSON.parse(answer.body), {
    error: { code: "missing_field", message: `request body is larger than the limit of ${LIMIT} bytes` },
  });
}

/** Headers of a POST declaring `length` bytes, of which none (or `sent`) follow: the answer must not wait for them. */
function declared(reg: TestRegistry, path: string, length: number, extra = ""): string {
  return (
    `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n` + `Authorization: Bearer ${reg.token}\r\n${extra}\r\n`
  );
}

test("a Content-Length over the limit is refused from the header on both paths, and the connection is closed", async (t) => {
  const reg = await startTestRegistry(t, { maxBodyBytes: LIMIT });
  for (const path of ["/register", "/attribute", "/dns_event"]) {
    const served = reg.fastPath.served;
    expect413(await rawExchange(reg.url, declared(reg, path, TEN_MB)));
    assert.equal(reg.fastPath.served, served + 1, `the fast path answers ${path}`);
    expect413(await rawExchange(reg.url, declared(reg, path, TEN_MB, "Origin: https://refused.example\r\n")));
    expect413(await rawExchange(reg.url, declared(reg, `${path}?via=[express]`, LIMIT + 1)));
    assert.equal(reg.fastPath.served, served + 1, `Express answers ${path} with an Origin or a query of other characters`);
  }
  // Part of the body sent, the rest never: the answer still comes, and nothing was written.
  const partial = declared(reg, "/dns_event", TEN_MB) + `{"token_id":"${"x".repeat(60_000)}`;
  expect413(await rawExchange(reg.url, partial));
  assert.equal(reg.service.log.size(), 0);
});

test("a body within the limit on a kept-alive connection is still answered normally", async (t) => {
  const reg = await startTestRegistry(t, { maxBodyBytes: LIMIT });
  const body = JSON.stringify({ token_id: "t" });
  const request = declared(reg, "/attribute", Buffer.byteLength(body), "Connection: close\r\n") + body;
  const answer = await rawExchange(reg.url, request);
  assert.equal(answer.status, 200);
  assert.deepEqual(JSON.parse(answer.body), { found: false });
});
