import assert from "node:assert/strict";
import { test } from "node:test";
import { utf8Length } from "../../src/verify/bytes.js";

const encoded = (text: string): number => new TextEncoder().encode(text).length;

test("utf8Length counts what TextEncoder writes: 1 to 4 bytes a character, 3 for a lone surrogate", () => {
  const samples = [
    "",
    "file-0001",
    "é",
    "ß\u07ff",
    "\u0800€\uffff",
    "😀",
    "a😀b",
    "\ud800",
    "\udc00",
    "x\ud800",
    "\ud800x",
    "\udc00\ud800",
    "\ud800\ud800\udc00",
    "\ud83d\ude00\ude00",
  ];
  for (const text of samples) assert.equal(utf8Length(text), encoded(text), JSON.stringify(text));
});

test("utf8Length agrees with TextEncoder on random strings of every kind of UTF-16 unit", () => {
  // Units drawn from each range UTF-8 treats apart: ASCII, 2 bytes, 3 bytes, high and low surrogates.
  const ranges: [number, number][] = [
    [0x00, 0x80],
    [0x80, 0x800],
    [0x800, 0xd800],
    [0xd800, 0xdc00],
    [0xdc00, 0xe000],
    [0xe000, 0x10000],
  ];
  let seed = 7;
  const next = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 2_000; round++) {
    let text = "";
    for (let i = next(12); i > 0; i--) {
      const [low, high] = ranges[next(ranges.length)]!;
      text += String.fromCharCode(low + next(high - low));
    }
    assert.equal(utf8Length(text), encoded(text), JSON.stringify(text));
  }
});
