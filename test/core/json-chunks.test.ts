import assert from "node:assert/strict";
import { test } from "node:test";
import { ChunkPool } from "../../src/core/chunk-pool.js";
import { JsonChunks } from "../../src/core/json-chunks.js";

/** One entry as /tlog/range writes it, through JsonChunks. */
function writeEntry(out: JsonChunks, text: Buffer): void {
  out.ascii('{"leaf_data":"');
  out.stringContent(text, 0, text.length);
  out.ascii('","leaf_data_hex":"');
  out.hex(text, 0, text.length);
  out.ascii('"}');
}

const expectedEntry = (text: Buffer) => JSON.stringify({ leaf_data: text.toString("utf8"), leaf_data_hex: text.toString("hex") });

/** Texts with every character JSON escapes, multi-byte UTF-8 of every length, and a long run. */
const TEXTS = [
  Buffer.from(Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join("")),
  Buffer.from('quote " backslash \\ slash / del \u007f'),
  Buffer.from("é € 😀 \u2028\u2029 \u0000\u001f"),
  Buffer.from(""),
  Buffer.from("\n".repeat(300) + "x".repeat(2000)),
];

test("JsonChunks writes what JSON.stringify writes, whatever chunk size splits it", () => {
  for (const chunkSize of [19, 20, 23, 64, 4096]) {
    for (const text of TEXTS) {
      const out = new JsonChunks(new ChunkPool(chunkSize, 4));
      writeEntry(out, text);
      const { parts } = out.finish();
      assert.ok(
        parts.every((part) => part.length <= chunkSize),
        `chunks of ${chunkSize}`,
      );
      assert.equal(Buffer.concat(parts).toString("utf8"), expectedEntry(text), `chunks of ${chunkSize}, text ${JSON.stringify(text.toString())}`);
    }
  }
});

test("JsonChunks writes the hex of runs of every length at any offset, whether the run fits the chunk or is split", () => {
  const bytes = Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 151 + 7) % 256));
  for (const chunkSize of [64, 129, 1024]) {
    for (let length = 0; length <= 300; length++) {
      const from = length % 5;
      const out = new JsonChunks(new ChunkPool(chunkSize, 4));
      out.ascii("x".repeat(length % 3));
      out.hex(bytes, from, from + length);
      out.ascii("y");
      const expected = `${"x".repeat(length % 3)}${bytes.toString("hex", from, from + length)}y`;
      assert.equal(Buffer.concat(out.finish().parts).toString("latin1"), expected, `${length} bytes from ${from}, chunks of ${chunkSize}`);
    }
  }
});

test("JsonChunks refuses a text longer than a chunk rather than cut it", () => {
  const out = new JsonChunks(new ChunkPool(8, 1));
  assert.throws(() => out.ascii("123456789"), RangeError);
});

test("released chunks are reused once, and the pool keeps no more than its limit", () => {
  const pool = new ChunkPool(16, 8);
  const out = new JsonChunks(pool);
  out.hex(Buffer.alloc(20), 0, 20);
  const first = out.finish();
  assert.equal(first.parts.length, 3);
  assert.equal(pool.available, 0, "nothing is reused while the parts may still be read");
  first.release();
  first.release();
  assert.equal(pool.available, 3, "released twice, each chunk is given back once");
  const next = new JsonChunks(pool);
  next.ascii("a");
  next.ascii("b".repeat(16));
  next.ascii("c");
  next.ascii("d".repeat(16));
  const parts = next.finish().parts;
  assert.equal(pool.available, 0);
  assert.deepEqual(
    parts.map((part) => part.toString()),
    ["a", "b".repeat(16), "c", "d".repeat(16)],
    "every chunk has one taker",
  );
  assert.equal(new Set(parts.map((part) => part.buffer)).size, 4);

  const failed = new JsonChunks(pool);
  failed.ascii("x");
  failed.discard();
  assert.equal(pool.available, 1, "an answer that fails gives its chunks back");

  const small = new ChunkPool(16, 2);
  const burst = new JsonChunks(small);
  burst.hex(Buffer.alloc(20), 0, 20);
  burst.finish().release();
  assert.equal(small.available, 2, "three chunks given back, two kept");
});

test("JsonChunks writes integers and pre-encoded text whole or split, as the chunk boundaries fall", () => {
  const values = [0, 7, 10, 999, 1_000_000, Number.MAX_SAFE_INTEGER];
  const text = Buffer.from(',"leaf_data_hex":"');
  for (const chunkSize of [16, 17, 19, 64]) {
    const out = new JsonChunks(new ChunkPool(chunkSize, 4));
    for (const value of values) {
      out.integer(value);
      out.raw(text);
    }
    const { parts } = out.finish();
    assert.equal(Buffer.concat(parts).toString("latin1"), values.map((value) => `${value}${text}`).join(""), `chunks of ${chunkSize}`);
  }
});
