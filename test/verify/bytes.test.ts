import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHex, utf8Length } from "../../src/verify/bytes.js";

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

/** Draws 0..n-1 from a fixed seed, so a failing string is the same on every run. */
function seededDraw(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state % n;
  };
}

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
  const next = seededDraw(7);
  for (let round = 0; round < 2_000; round++) {
    let text = "";
    for (let i = next(12); i > 0; i--) {
      const [low, high] = ranges[next(ranges.length)]!;
      text += String.fromCharCode(low + next(high - low));
    }
    assert.equal(utf8Length(text), encoded(text), JSON.stringify(text));
  }
});

/** The rule parseHex implements, spelled the obvious way. */
function naiveParseHex(value: string, bytes?: number): number[] | null {
  if (value.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(value)) return null;
  if (bytes !== undefined && value.length !== bytes * 2) return null;
  return Array.from({ length: value.length / 2 }, (_, i) => Number.parseInt(value.slice(2 * i, 2 * i + 2), 16));
}

test("parseHex decodes hex of either case and refuses any other character, an odd length or the wrong size", () => {
  assert.deepEqual(parseHex("00ff7fA0bC"), new Uint8Array([0x00, 0xff, 0x7f, 0xa0, 0xbc]));
  assert.deepEqual(parseHex(""), new Uint8Array([]));
  assert.deepEqual(parseHex("abcd", 2), new Uint8Array([0xab, 0xcd]));
  for (const bad of ["abc", "0g", "g0", "0G", "@0", "`0", "0/", "0:", " 0", "0 ", "+1", "-1", "0x", "éé", "\u0130\u0130"]) {
    assert.equal(parseHex(bad), null, JSON.stringify(bad));
  }
  assert.equal(parseHex("abcd", 3), null);
  assert.equal(parseHex(1234), null);
  assert.equal(parseHex(null), null);
});

test("parseHex agrees with a regular expression and parseInt on random strings around the hex alphabet", () => {
  const alphabet = "0123456789abcdefABCDEF/:@G`gxX -\u0660\uff10";
  const next = seededDraw(11);
  for (let round = 0; round < 5_000; round++) {
    let text = "";
    // Mostly hex, so that most strings decode and the bad character, when there is one, sits anywhere.
    for (let i = next(10); i > 0; i--) text += next(4) === 0 ? alphabet[next(alphabet.length)] : alphabet[next(22)];
    const expected = naiveParseHex(text);
    const actual = parseHex(text);
    assert.deepEqual(actual === null ? null : [...actual], expected, JSON.stringify(text));
  }
});
