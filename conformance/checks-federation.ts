/**
 * Part 2 extensions, run when /.well-known advertises a checkpoint origin and
 * verifier key: C2SP checkpoint, consistency proofs, proofs at older sizes, tiles.
 */
import { z } from "zod";
import type { HttpResponse } from "./client.js";
import {
  type Check,
  type Context,
  ensure,
  expectError,
  expectJson,
  fetchHead,
  fetchLeaves,
  Hex32,
  InclusionProofSchema,
  Index,
  need,
  skip,
  snippet,
  type VerifiedHead,
} from "./checks-common.js";
import { hexBytes, parseCheckpoint, parseEntryBundle, parseVerifierKey, verifyConsistency, verifyInclusion, verifyNote } from "./verify.js";

const TILE_WIDTH = 256;

const ConsistencySchema = z.object({ first: Index, second: Index, proof: z.array(Hex32) });

function federation(ctx: Context): { origin: string; vkey: string } {
  if (!ctx.state.federation) skip("/.well-known advertises no federation.checkpoint_origin / checkpoint_vkey");
  return ctx.state.federation;
}

async function consistency(ctx: Context, first: number, second?: number): Promise<z.infer<typeof ConsistencySchema>> {
  const query = second === undefined ? `first=${first}` : `first=${first}&second=${second}`;
  const answer = expectJson(await ctx.client.get(`/tlog/consistency?${query}`), 200, ConsistencySchema, `/tlog/consistency?${query}`);
  ensure(answer.first === first, `/tlog/consistency?${query} answered first=${answer.first}`);
  if (second !== undefined) ensure(answer.second === second, `/tlog/consistency?${query} answered second=${answer.second}`);
  return answer;
}

async function expectConsistent(ctx: Context, older: VerifiedHead, newer: VerifiedHead): Promise<void> {
  const answer = await consistency(ctx, older.size, newer.size);
  const path = answer.proof.map((h) => hexBytes(h, 32)!);
  ensure(
    verifyConsistency(older.size, newer.size, path, older.root, newer.root),
    `consistency proof ${older.size} → ${newer.size} does not verify between the two signed roots`,
  );
}

function tileSuffix(width: number): string {
  return width === TILE_WIDTH ? "" : `.p/${width}`;
}

function checkTileCaching(res: HttpResponse, width: number, path: string): void {
  if (width !== TILE_WIDTH) return;
  const cache = res.headers.get("cache-control") ?? "";
  ensure(/immutable/.test(cache) && /max-age=31536000/.test(cache), `${path} is a full tile but Cache-Control is ${JSON.stringify(cache)}`);
}

export const federationChecks: Check[] = [
  {
    name: "GET /checkpoint: signed with the advertised vkey, size and root equal to /tlog/head",
    async run(ctx) {
      const { origin, vkey } = federation(ctx);
      const res = await ctx.client.get("/checkpoint");
      ensure(res.status === 200, `expected 200, got ${snippet(res)}`);
      const type = res.headers.get("content-type") ?? "";
      ensure(/^text\/plain\b/i.test(type) && /charset=utf-8/i.test(type), `content-type ${JSON.stringify(type)} is not text/plain; charset=utf-8`);
      const checkpoint = parseCheckpoint(verifyNote(res.text, parseVerifierKey(vkey)));
      ensure(checkpoint.origin === origin, `checkpoint origin ${JSON.stringify(checkpoint.origin)}, advertised ${JSON.stringify(origin)}`);
      const head = await fetchHead(ctx);
      ensure(head.size >= checkpoint.size, `checkpoint size ${checkpoint.size} is ahead of the later /tlog/head size ${head.size}`);
      if (head.size === checkpoint.size) ensure(head.root.equals(checkpoint.root), "checkpoint root differs from /tlog/head root at the same size");
      else await expectConsistent(ctx, checkpoint, head);
    },
  },
  {
    name: "GET /tlog/consistency: an earlier signed head → a later one verifies (edge cases too)",
    async run(ctx) {
      federation(ctx);
      const earlier = need(ctx.state.earlierHead, "the head seen after the registration");
      const later = await fetchHead(ctx);
      ensure(later.size > earlier.size, `the log did not grow past ${earlier.size} although events were logged`);
      await expectConsistent(ctx, earlier, later);
      const defaulted = await consistency(ctx, earlier.size);
      ensure(defaulted.second >= later.size, `second defaulted to ${defaulted.second}, below the current size ${later.size}`);
      ensure((await consistency(ctx, 0, later.size)).proof.length === 0, "first=0 gave a non-empty proof");
      ensure((await consistency(ctx, later.size, later.size)).proof.length === 0, "first=second gave a non-empty proof");
      expectError(await ctx.client.get(`/tlog/consistency?first=${later.size}&second=${earlier.size}`), 400, "missing_field");
    },
  },
  {
    name: "GET /tlog/proof/{index}?tree_size=N: proof at an older size verifies against the older signed head",
    async run(ctx) {
      federation(ctx);
      const file = need(ctx.state.file, "the registration round trip");
      const earlier = need(ctx.state.earlierHead, "the head seen after the registration");
      const path = `/tlog/proof/${file.tlogIndex}?tree_size=${earlier.size}`;
      const proof = expectJson(await ctx.client.get(path), 200, InclusionProofSchema, path);
      ensure(proof.tree_size === earlier.size && proof.index === file.tlogIndex, `${path} answered index ${proof.index}, tree_size ${proof.tree_size}`);
      ensure(proof.root === earlier.root.toString("hex"), `${path} root is not the older signed root`);
      const hashes = proof.proof.map((h) => hexBytes(h, 32)!);
      ensure(verifyInclusion(hexBytes(proof.leaf_hash, 32)!, file.tlogIndex, earlier.size, hashes, earlier.root), `${path} does not verify`);
    },
  },
  {
    name: "GET /tile/0/000[.p/W]: hashes equal the leaf hashes from /tlog/range",
    async run(ctx) {
      federation(ctx);
      const head = await fetchHead(ctx);
      const width = Math.min(head.size, TILE_WIDTH);
      ensure(width > 0, "the log is empty");
      const path = `/tile/0/000${tileSuffix(width)}`;
      const res = await ctx.client.get(path);
      ensure(res.status === 200, `${path}: expected 200, got ${snippet(res)}`);
      ensure(res.bytes.length === width * 32, `${path} is ${res.bytes.length} bytes, expected ${width * 32}`);
      checkTileCaching(res, width, path);
      const leaves = await fetchLeaves(ctx, 0, width);
      leaves.forEach((leaf, i) => {
        ensure(res.bytes.subarray(i * 32, i * 32 + 32).toString("hex") === leaf.leaf_hash, `${path} hash ${i} differs from /tlog/range's leaf_hash`);
      });
    },
  },
  {
    name: "GET /tile/entries/000[.p/W]: parses into the leaves from /tlog/range",
    async run(ctx) {
      federation(ctx);
      const head = await fetchHead(ctx);
      const width = Math.min(head.size, TILE_WIDTH);
      ensure(width > 0, "the log is empty");
      const path = `/tile/entries/000${tileSuffix(width)}`;
      const res = await ctx.client.get(path);
      ensure(res.status === 200, `${path}: expected 200, got ${snippet(res)}`);
      checkTileCaching(res, width, path);
      const entries = parseEntryBundle(res.bytes);
      ensure(entries.length === width, `${path} holds ${entries.length} entries, expected ${width}`);
      const leaves = await fetchLeaves(ctx, 0, width);
      leaves.forEach((leaf, i) => {
        ensure(entries[i]!.toString("hex") === leaf.leaf_data_hex, `${path} entry ${i} differs from /tlog/range's leaf_data_hex`);
      });
    },
  },
];
