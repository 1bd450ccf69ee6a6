import assert from "node:assert/strict";
import { test } from "node:test";
import { inflateSync } from "node:zlib";
import { PIXEL_PNG } from "../../src/http/routes/beacons.js";

// CRC-32 as PNG defines it (ISO 3309), written out so the check does not trust the bytes it checks.
function crc32(bytes: Uint8Array): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return ~crc >>> 0;
}

test("the beacon pixel is a well-formed 1x1 RGBA PNG: valid chunk CRCs and image data", () => {
  assert.equal(PIXEL_PNG.subarray(0, 8).toString("hex"), "89504e470d0a1a0a");
  const chunks: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < PIXEL_PNG.length; ) {
    const length = PIXEL_PNG.readUInt32BE(at);
    const typeAndData = PIXEL_PNG.subarray(at + 4, at + 8 + length);
    assert.equal(PIXEL_PNG.readUInt32BE(at + 8 + length), crc32(typeAndData), "chunk CRC");
    chunks.push({ type: typeAndData.subarray(0, 4).toString("latin1"), data: typeAndData.subarray(4) });
    at += 12 + length;
  }
  assert.deepEqual(
    chunks.map((c) => c.type),
    ["IHDR", "IDAT", "IEND"],
  );
  const ihdr = chunks[0]!.data;
  assert.deepEqual([ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ihdr[8], ihdr[9]], [1, 1, 8, 6]);
  assert.equal(inflateSync(chunks[1]!.data).length, 1 + 4, "one filter byte and one RGBA pixel");
});
