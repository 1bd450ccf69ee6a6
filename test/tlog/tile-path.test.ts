import { test } from "node:test";
import assert from "node:assert/strict";
import {
  TILE_HEIGHT,
  TILE_WIDTH,
  TilePathError,
  formatTileIndex,
  formatTilePath,
  hashesAtLevel,
  parseTilePath,
  tileWithinSize,
  tilesForSize,
} from "../../src/tlog/tile-path.js";
import { readFixture } from "../fixtures.js";

const c2sp = readFixture("c2sp-vectors.json");

interface PathVector {
  level: number;
  index: number;
  width: number;
  entries?: boolean;
  path: string;
}

/** Deliberately naive reference: pad to a multiple of 3 digits, cut, prefix all but the last with x. */
function naiveIndex(n: number): string {
  let digits = String(n);
  while (digits.length % 3 !== 0) digits = "0" + digits;
  const groups = digits.match(/.{3}/g)!;
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
}

test("height 8 means 256 hashes per tile", () => {
  assert.equal(TILE_HEIGHT, 8);
  assert.equal(TILE_WIDTH, 256);
});

test("the C2SP tile path vectors format and parse", () => {
  for (const v of c2sp.tile_paths as PathVector[]) {
    const entries = v.entries ?? false;
    assert.equal(formatTilePath({ level: v.level, index: v.index, width: v.width, entries }), v.path);
    assert.deepEqual(parseTilePath(v.path), { level: v.level, index: v.index, width: v.width, entries });
  }
  assert.equal(formatTileIndex(1234067), "x001/x234/067");
});

test("the tiles of the 70,000-entry log match the published counts and paths", () => {
  const expected = c2sp.tiles_for_size_70000;
  const tiles = tilesForSize(70000);
  assert.equal(tiles.length, 3);
  tiles.forEach((t) => {
    const e = expected[`level${t.level}`];
    assert.deepEqual({ full: t.full, partial_width: t.partialWidth }, e, `level ${t.level}`);
  });
  const partials = tiles.map((t) => formatTilePath({ level: t.level, index: t.full, width: t.partialWidth }));
  assert.deepEqual(partials, ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]);
  assert.equal(formatTilePath({ index: 273, width: 112, entries: true }), "tile/entries/273.p/112");
  assert.equal(formatTilePath({ level: 0, index: 272 }), "tile/0/272");
  assert.equal(formatTilePath({ level: 1, index: 0 }), "tile/1/000");
});

test("tilesForSize at the edges", () => {
  assert.deepEqual(tilesForSize(0), []);
  assert.deepEqual(tilesForSize(1), [{ level: 0, full: 0, partialWidth: 1 }]);
  assert.deepEqual(tilesForSize(256), [
    { level: 0, full: 1, partialWidth: 0 },
    { level: 1, full: 0, partialWidth: 1 },
  ]);
  assert.equal(hashesAtLevel(70000, 0), 70000);
  assert.equal(hashesAtLevel(70000, 1), 273);
  assert.equal(hashesAtLevel(70000, 2), 1);
  assert.equal(hashesAtLevel(70000, 3), 0);
  assert.equal(hashesAtLevel(70000, 63), 0);
});

test("tileWithinSize: full and partial tiles exist only up to the tree size", () => {
  const t = (level: number, index: number, width = 256, entries = false) => ({ level, index, width, entries });
  assert.equal(tileWithinSize(t(0, 272), 70000), true);
  assert.equal(tileWithinSize(t(0, 273), 70000), false);
  assert.equal(tileWithinSize(t(0, 273, 112), 70000), true);
  assert.equal(tileWithinSize(t(0, 273, 113), 70000), false);
  assert.equal(tileWithinSize(t(0, 272, 5), 70000), true);
  assert.equal(tileWithinSize(t(0, 274, 1), 70000), false);
  assert.equal(tileWithinSize(t(1, 0), 70000), true);
  assert.equal(tileWithinSize(t(1, 1, 17), 70000), true);
  assert.equal(tileWithinSize(t(1, 1, 18), 70000), false);
  assert.equal(tileWithinSize(t(2, 0, 1), 70000), true);
  assert.equal(tileWithinSize(t(3, 0, 1), 70000), false);
  assert.equal(tileWithinSize(t(0, 273, 112, true), 70000), true);
  assert.equal(tileWithinSize(t(0, 0, 1), 0), false);
  assert.equal(tileWithinSize(t(0, Number.MAX_SAFE_INTEGER, 1), 70000), false);
});

test("index encoding matches a naive reference and round-trips", () => {
  const indexes = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 999_999, 1_000_000, 1_234_067, 2 ** 32, Number.MAX_SAFE_INTEGER];
  let x = 12345;
  for (let i = 0; i < 500; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    indexes.push(x * (i % 7 === 0 ? 4099 : 1));
  }
  for (const index of indexes) {
    assert.equal(formatTileIndex(index), naiveIndex(index), String(index));
    for (const width of [1, 17, 255, 256]) {
      for (const entries of [false, true]) {
        const level = entries ? 0 : index % 64;
        const tile = { level, index, width, entries };
        assert.deepEqual(parseTilePath(formatTilePath(tile)), tile);
      }
    }
  }
});

test("malformed tile paths are rejected", () => {
  const bad = [
    "",
    "tile",
    "tile/0",
    "tile/0/",
    "/tile/0/000",
    "tiles/0/000",
    "tile/00/000",
    "tile/01/000",
    "tile/64/000",
    "tile/-1/000",
    "tile/+1/000",
    "tile/a/000",
    "tile/Entries/000",
    "tile/0/0",
    "tile/0/00",
    "tile/0/0000",
    "tile/0/1234",
    "tile/0/abc",
    "tile/0/x001",
    "tile/0/001/000",
    "tile/0/x000/001",
    "tile/0/x001/x000",
    "tile/0/X001/000",
    "tile/0/xx01/000",
    "tile/0/x01/000",
    "tile/0/000.p/0",
    "tile/0/000.p/256",
    "tile/0/000.p/300",
    "tile/0/000.p/012",
    "tile/0/000.p/",
    "tile/0/000.p",
    "tile/0/000.p/1/2",
    "tile/0/000/.p/1",
    "tile/0/000.q/1",
    "tile/0/.p/1",
    "tile/0/000/",
    "tile/0//000",
    "tile/entries/x001",
    "tile/entries/000.p/256",
    "tile/0/x009/x007/x199/x254/x740/x992/000",
    "tile/0/x009/x007/x199/x254/x740/992",
  ];
  for (const path of bad) assert.throws(() => parseTilePath(path), TilePathError, path);
});

test("formatTilePath refuses out-of-range tiles", () => {
  assert.throws(() => formatTilePath({ level: 64, index: 0 }), TilePathError);
  assert.throws(() => formatTilePath({ level: -1, index: 0 }), TilePathError);
  assert.throws(() => formatTilePath({ level: 0, index: -1 }), TilePathError);
  assert.throws(() => formatTilePath({ level: 0, index: 1.5 }), TilePathError);
  assert.throws(() => formatTilePath({ level: 0, index: 2 ** 53 }), TilePathError);
  assert.throws(() => formatTilePath({ level: 0, index: 0, width: 0 }), TilePathError);
  assert.throws(() => formatTilePath({ level: 0, index: 0, width: 257 }), TilePathError);
  assert.throws(() => formatTilePath({ level: 1, index: 0, entries: true }), TilePathError);
});
