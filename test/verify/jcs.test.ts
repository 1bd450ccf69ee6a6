import { test } from "node:test";
import assert from "node:assert/strict";
import { toHex } from "../../src/verify/bytes.js";
import { CanonicalJsonError, canonicalBytes, canonicalMembers, canonicalize } from "../../src/verify/jcs.js";
import { readFixture } from "../fixtures.js";

interface JcsVector {
  input: unknown;
  canonical: string;
  canonical_hex: string;
}

const { vectors } = readFixture<{ vectors: JcsVector[] }>("jcs-vectors.json");

test("every fixture vector canonicalizes byte for byte", () => {
  assert.ok(vectors.length > 0);
  for (const vector of vectors) {
    assert.equal(canonicalize(vector.input), vector.canonical, JSON.stringify(vector.input));
    assert.equal(toHex(canonicalBytes(vector.input)), vector.canonical_hex, JSON.stringify(vector.input));
  }
});

test("canonical text is independent of member order at every depth", () => {
  const a = { z: 1, a: { y: [1, { d: 2, c: 3 }], b: "x" } };
  const b = { a: { b: "x", y: [1, { c: 3, d: 2 }] }, z: 1 };
  assert.equal(canonicalize(a), canonicalize(b));
  assert.equal(canonicalize(a), '{"a":{"b":"x","y":[1,{"c":3,"d":2}]},"z":1}');
});

test("keys sort by UTF-16 code units, not code points", () => {
  // U+FFFF is one unit 0xFFFF; U+1F600 is the pair 0xD83D 0xDE00, which sorts first.
  assert.equal(canonicalize({ "\uffff": 1, "\u{1F600}": 2 }), '{"\u{1F600}":2,"\uffff":1}');
});

test("integers: plain decimal, -0 is 0, the safe range is accepted", () => {
  assert.equal(canonicalize(-0), "0");
  assert.equal(canonicalize([Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]), "[9007199254740991,-9007199254740991]");
  assert.equal(canonicalize(1e3), "1000");
});

test("objects without a prototype are plain objects", () => {
  const bare = Object.create(null) as Record<string, unknown>;
  bare.b = 1;
  bare.a = 2;
  assert.equal(canonicalize(bare), '{"a":2,"b":1}');
});

test("a __proto__ key from JSON.parse is an ordinary key", () => {
  assert.equal(canonicalize(JSON.parse('{"__proto__":{"x":1},"a":0}')), '{"__proto__":{"x":1},"a":0}');
});

test("control characters use short escapes where they exist and lowercase \\u00XX otherwise", () => {
  assert.equal(canonicalize("\u0001\u001f\b\t\n\f\r\u007f/"), '"\\u0001\\u001f\\b\\t\\n\\f\\r\u007f/"');
});

const rejected: Array<[string, unknown]> = [
  ["a float", 1.5],
  ["a float in a nested array", { a: [[0.1]] }],
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["-Infinity", { x: Number.NEGATIVE_INFINITY }],
  ["2^53", 2 ** 53],
  ["-(2^53)", [-(2 ** 53)]],
  ["1e300", 1e300],
  ["a lone high surrogate in a value", "a\ud800"],
  ["a lone low surrogate in a value", ["\udc00b"]],
  ["a lone surrogate in a key", { "k\ud83d": 1 }],
  ["undefined", undefined],
  ["undefined as a member", { a: undefined }],
  ["undefined in an array", [undefined]],
  ["a function", () => 1],
  ["a symbol", Symbol("s")],
  ["a bigint", 1n],
  ["a Date", new Date(0)],
  ["a Map", new Map()],
  [
    "a class instance",
    new (class Point {
      x = 1;
    })(),
  ],
  ["a Buffer", Buffer.from("x")],
];

for (const [name, value] of rejected) {
  test(`rejects ${name} with CanonicalJsonError`, () => {
    assert.throws(() => canonicalize(value), CanonicalJsonError);
    assert.throws(() => canonicalBytes(value), CanonicalJsonError);
  });
}

test("a value referenced at several places is written at each, as separate copies would be", () => {
  const proof = { root: "ab", proof: ["cd", "ef"], index: 3 };
  const list = [1, "two"];
  const shared = { b: proof, a: proof, c: [proof, list, list], d: list };
  const copies = { b: { ...proof }, a: { ...proof }, c: [{ ...proof }, [...list], [...list]], d: [...list] };
  assert.equal(canonicalize(shared), canonicalize(copies));
  assert.equal(canonicalize(shared), reference(copies));
  const bad = { x: 1.5 };
  assert.throws(() => canonicalize({ a: bad, b: bad }), /\$\.a\.x/);
});

test("the error names where the bad value is", () => {
  assert.throws(() => canonicalize({ policy: { limits: [1, 2.5] } }), /\$\.policy\.limits\[1\]/);
});

/** Deliberately naive reference: sort entries by key, recurse, JSON.stringify leaves. */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

test("agrees with a naive reference on generated values", () => {
  let state = 12345;
  const next = (n: number): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  const alphabet = ["a", "b", "Z", "é", "\u20ac", "\u{1F512}", '"', "\\", "\n", "\u0000", "1", " "];
  const str = (): string => Array.from({ length: next(5) }, () => alphabet[next(alphabet.length)]).join("");
  const gen = (depth: number): unknown => {
    switch (depth > 3 ? next(4) : next(6)) {
      case 0:
        return str();
      case 1:
        return next(2 ** 30) - 2 ** 29;
      case 2:
        return [true, false, null][next(3)];
      case 3:
        return null;
      case 4:
        return Array.from({ length: next(4) }, () => gen(depth + 1));
      default:
        return Object.fromEntries(Array.from({ length: next(4) }, () => [str(), gen(depth + 1)]));
    }
  };
  for (let i = 0; i < 500; i++) {
    const value = gen(0);
    assert.equal(canonicalize(value), reference(value), JSON.stringify(value));
    const object = { value, [str()]: gen(1), [str()]: gen(1) };
    const members = canonicalMembers(object);
    assert.deepEqual(
      members.map(([key]) => key),
      Object.keys(object).sort(),
    );
    assert.equal(`{${members.map(([, text]) => text).join(",")}}`, reference(object), JSON.stringify(object));
  }
});
