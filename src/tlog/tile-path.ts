/**
 * C2SP tlog-tiles layout with tile height 8 (256 hashes or entries per tile):
 * `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`, where N is written in
 * zero-padded 3-digit groups, all but the last prefixed with `x`
 * (1234067 → `x001/x234/067`). Parsing accepts exactly one spelling per tile,
 * so a cache key or a route can never see two paths for the same bytes.
 */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 1 << TILE_HEIGHT;
/** The spec's bound on levels (hashes of 256^63 leaves would be far past any size). */
export const MAX_TILE_LEVEL = 63;

export interface TileRef {
  /** 0 for entry bundles. */
  level: number;
  index: number;
  /** 1..256; 256 is a full tile (no `.p/` suffix). */
  width: number;
  entries: boolean;
}

export class TilePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TilePathError";
  }
}

export function formatTileIndex(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new TilePathError(`tile index ${index} is not a safe non-negative integer`);
  let n = index;
  let out = pad3(n % 1000);
  while (n >= 1000) {
    n = Math.floor(n / 1000);
    out = `x${pad3(n % 1000)}/${out}`;
  }
  return out;
}

export function formatTilePath(tile: { level?: number; index: number; width?: number; entries?: boolean }): string {
  const entries = tile.entries ?? false;
  const level = tile.level ?? 0;
  const width = tile.width ?? TILE_WIDTH;
  if (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL) throw new TilePathError(`tile level ${level} is outside 0..${MAX_TILE_LEVEL}`);
  if (entries && level !== 0) throw new TilePathError("entry bundles have no level");
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) throw new TilePathError(`tile width ${width} is outside 1..${TILE_WIDTH}`);
  const suffix = width === TILE_WIDTH ? "" : `.p/${width}`;
  return `tile/${entries ? "entries" : level}/${formatTileIndex(tile.index)}${suffix}`;
}

const LEVEL = /^(0|[1-9][0-9]?)$/;
const WIDTH = /^[1-9][0-9]{0,2}$/;
/** Enough 3-digit groups for any safe integer (2^53 has 16 digits). */
const MAX_GROUPS = 6;

/** Parses a path such as `tile/1/x001/x234/067` or `tile/entries/273.p/112` (no leading slash). */
export function parseTilePath(path: string): TileRef {
  if (path.length > 64) throw new TilePathError("tile path is too long");
  const parts = path.split("/");
  if (parts.length < 3 || parts[0] !== "tile") throw new TilePathError("tile path must be tile/<L>/<N>[.p/<W>]");
  const levelText = parts[1]!;
  const entries = levelText === "entries";
  let level = 0;
  if (!entries) {
    if (!LEVEL.test(levelText) || Number(levelText) > MAX_TILE_LEVEL) throw new TilePathError(`tile level must be 0..${MAX_TILE_LEVEL} without leading zeros`);
    level = Number(levelText);
  }

  let groups = parts.slice(2);
  let width = TILE_WIDTH;
  const last = groups[groups.length - 1]!;
  if (groups.length >= 2 && groups[groups.length - 2]!.endsWith(".p")) {
    if (!WIDTH.test(last) || Number(last) >= TILE_WIDTH) throw new TilePathError(`partial tile width must be 1..${TILE_WIDTH - 1} without leading zeros`);
    width = Number(last);
    groups = groups.slice(0, -1);
    groups[groups.length - 1] = groups[groups.length - 1]!.slice(0, -2);
  }
  return { level, index: parseTileIndex(groups), width, entries };
}

function parseTileIndex(groups: string[]): number {
  if (groups.length === 0 || groups.length > MAX_GROUPS) throw new TilePathError("tile index has the wrong number of groups");
  let index = 0;
  groups.forEach((group, i) => {
    const isLast = i === groups.length - 1;
    const match = (isLast ? /^([0-9]{3})$/ : /^x([0-9]{3})$/).exec(group);
    if (!match) throw new TilePathError(`tile index group ${JSON.stringify(group)} is malformed`);
    // `x000/…` would be a second spelling of a smaller index.
    if (i === 0 && !isLast && match[1] === "000") throw new TilePathError("tile index has a leading zero group");
    index = index * 1000 + Number(match[1]);
  });
  if (!Number.isSafeInteger(index)) throw new TilePathError("tile index exceeds 2^53-1");
  return index;
}

/** How many hashes level `level` has in a tree of `size` leaves: floor(size / 256^level). */
export function hashesAtLevel(size: number, level: number): number {
  let count = size;
  for (let l = 0; l < level && count > 0; l++) count = Math.floor(count / TILE_WIDTH);
  return count;
}

export interface LevelTiles {
  level: number;
  /** Number of full (256-wide) tiles: indexes 0..full-1. */
  full: number;
  /** Width of the partial tile at index `full`, or 0 when there is none. */
  partialWidth: number;
}

/** The tiles that exist for a tree of `size` leaves, level by level, up to the last non-empty level. */
export function tilesForSize(size: number): LevelTiles[] {
  const out: LevelTiles[] = [];
  for (let level = 0, count = size; count > 0; level++, count = Math.floor(count / TILE_WIDTH)) {
    out.push({ level, full: Math.floor(count / TILE_WIDTH), partialWidth: count % TILE_WIDTH });
  }
  return out;
}

/**
 * Whether a tree of `size` leaves has everything `tile` covers: the level's
 * hashes (or the leaves, for entry bundles) from index*256 to index*256+width.
 */
export function tileWithinSize(tile: TileRef, size: number): boolean {
  const available = hashesAtLevel(size, tile.entries ? 0 : tile.level);
  const fullTiles = Math.floor(available / TILE_WIDTH);
  if (tile.index < fullTiles) return true;
  return tile.index === fullTiles && tile.width <= available % TILE_WIDTH;
}

const pad3 = (n: number): string => String(n).padStart(3, "0");
