import { test } from "node:test";
import assert from "node:assert/strict";
import { NodeCache } from "../../src/tlog/node-cache.js";

const hashOf = (level: number, index: number) => Buffer.alloc(32, (level * 31 + index) % 251);

test("a cached node comes back with its bytes; unknown ones and levels below the lowest are misses, and has() says which", () => {
  const cache = new NodeCache(1 << 20);
  cache.resize(1000);
  assert.equal(cache.lowestLevel, 1);
  cache.set(3, 7, hashOf(3, 7), 1000);
  assert.deepEqual(cache.get(3, 7), hashOf(3, 7));
  assert.equal(cache.has(3, 7), true);
  for (const [level, index] of [
    [3, 6],
    [3, 10_000],
    [4, 7],
  ] as const) {
    assert.equal(cache.get(level, index), undefined);
    assert.equal(cache.has(level, index), false);
  }
  cache.clear();
  assert.equal(cache.get(3, 7), undefined);
  assert.equal(cache.has(3, 7), false);
});

test("the lowest cached level rises with the tree so the slots stay within the budget", () => {
  const budget = 64 * 1024;
  const cache = new NodeCache(budget);
  let lowest = 0;
  for (let size = 1; size <= 2 ** 22; size *= 2) {
    cache.resize(size);
    assert.ok(cache.lowestLevel >= lowest, `the lowest level never falls (size ${size})`);
    lowest = cache.lowestLevel;
    for (let level = lowest; 2 ** level <= size; level++) {
      for (let index = 0; index < size / 2 ** level; index++) cache.set(level, index, hashOf(level, index), size);
    }
    assert.ok(cache.allocatedBytes <= 1.25 * budget * (33 / 32) + 1024, `${cache.allocatedBytes} bytes at size ${size}`);
  }
  assert.equal(lowest, 12, "2^22 leaves in 64 KiB: levels 12 and up (2^11 slots)");
  assert.equal(cache.get(11, 0), undefined, "levels that fell below the lowest are dropped");
  assert.deepEqual(cache.get(12, 5), hashOf(12, 5));
  cache.set(2, 0, hashOf(2, 0), 2 ** 22);
  assert.equal(cache.get(2, 0), undefined, "nodes below the lowest level are not kept");
});

test("a level grows as the tree does and keeps what it held", () => {
  const cache = new NodeCache(1 << 20);
  cache.resize(16);
  cache.set(1, 3, hashOf(1, 3), 16);
  cache.resize(4096);
  cache.set(1, 2000, hashOf(1, 2000), 4096);
  assert.deepEqual(cache.get(1, 3), hashOf(1, 3));
  assert.deepEqual(cache.get(1, 2000), hashOf(1, 2000));
});
