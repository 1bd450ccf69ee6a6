/** The v1 transparency-log routes: /tlog/head, /tlog/range, /tlog/proof/{index}. */
import {
  type Check,
  type Context,
  ensure,
  expectError,
  expectJson,
  fail,
  fetchHead,
  InclusionProofSchema,
  need,
  RangeSchema,
  type VerifiedHead,
} from "./checks-common.js";
import { EMPTY_ROOT, hexBytes, leafHash, rootFromLeafHashes, verifyInclusion } from "./verify.js";

/** Above this many leaves the harness checks a window and skips rebuilding the root from every leaf. */
const FULL_SCAN_LIMIT = 5000;
const PAGE = 1000;

const utf8 = new TextDecoder("utf-8", { fatal: true });

async function checkRangePage(ctx: Context, start: number, limit: number, expected: number): Promise<Buffer[]> {
  const page = expectJson(await ctx.client.get(`/tlog/range?start=${start}&limit=${limit}`), 200, RangeSchema, "/tlog/range");
  ensure(page.start === start, `start ${page.start}, asked for ${start}`);
  ensure(page.count === page.entries.length, `count ${page.count} but ${page.entries.length} entries`);
  ensure(page.entries.length >= expected, `${page.entries.length} entries from ${start}, expected ${expected}`);
  return page.entries.slice(0, expected).map((entry, i) => {
    ensure(entry.index === start + i, `entry ${i} of the page from ${start} has index ${entry.index}`);
    const bytes = hexBytes(entry.leaf_data_hex)!;
    const hash = leafHash(bytes);
    ensure(hash.toString("hex") === entry.leaf_hash, `leaf ${entry.index}: leaf_hash is not SHA-256(0x00 ‖ leaf_data_hex)`);
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      fail(`leaf ${entry.index}: leaf_data_hex is not UTF-8`);
    }
    ensure(text === entry.leaf_data, `leaf ${entry.index}: leaf_data is not the UTF-8 text of leaf_data_hex`);
    return hash;
  });
}

async function proofFor(ctx: Context, index: number, head: VerifiedHead): Promise<void> {
  const proof = expectJson(await ctx.client.get(`/tlog/proof/${index}`), 200, InclusionProofSchema, `/tlog/proof/${index}`);
  ensure(proof.index === index, `/tlog/proof/${index} answered index ${proof.index}`);
  let against = head;
  if (proof.tree_size !== head.size) {
    // The log grew between the two requests: compare with a head of the proof's size.
    against = await fetchHead(ctx);
    ensure(proof.tree_size === against.size, `/tlog/proof/${index} tree_size ${proof.tree_size}, signed heads had ${head.size} and ${against.size}`);
  }
  ensure(proof.root === against.root.toString("hex"), `/tlog/proof/${index} root is not the signed head's root`);
  const leaf = hexBytes(proof.leaf_hash, 32)!;
  const range = expectJson(await ctx.client.get(`/tlog/range?start=${index}&limit=1`), 200, RangeSchema, "/tlog/range");
  ensure(range.entries[0]?.leaf_hash === proof.leaf_hash, `/tlog/proof/${index} leaf_hash differs from /tlog/range's`);
  const path = proof.proof.map((h) => hexBytes(h, 32)!);
  ensure(verifyInclusion(leaf, index, against.size, path, against.root), `inclusion proof for leaf ${index} does not verify against the signed head`);
}

export const tlogChecks: Check[] = [
  {
    name: "GET /tlog/head: signed_message is JCS {root,size} and the signature verifies",
    async run(ctx) {
      const head = await fetchHead(ctx);
      if (head.size === 0) ensure(head.root.equals(EMPTY_ROOT), "empty log root is not SHA-256 of the empty string");
    },
  },
  {
    name: "GET /tlog/range: leaf hashes recomputed from leaf_data_hex, leaf_data is their UTF-8, leaves rebuild the signed root",
    async run(ctx) {
      const head = await fetchHead(ctx);
      const start = head.size > FULL_SCAN_LIMIT ? head.size - PAGE : 0;
      const hashes: Buffer[] = [];
      while (start + hashes.length < head.size) {
        const from = start + hashes.length;
        hashes.push(...(await checkRangePage(ctx, from, PAGE, Math.min(PAGE, head.size - from))));
      }
      if (start === 0) ensure(rootFromLeafHashes(hashes).equals(head.root), "the leaves from /tlog/range do not hash to the signed root");
    },
  },
  {
    name: "GET /tlog/range: limit clamped to 1..1000, start < 0 → 400 missing_field",
    async run(ctx) {
      const head = await fetchHead(ctx);
      ensure(head.size > 0, "the log is empty after a registration");
      const one = expectJson(await ctx.client.get("/tlog/range?start=0&limit=0"), 200, RangeSchema, "/tlog/range?limit=0");
      ensure(one.entries.length === 1, `limit=0 gave ${one.entries.length} entries, expected clamping to 1`);
      const many = expectJson(await ctx.client.get("/tlog/range?start=0&limit=5000"), 200, RangeSchema, "/tlog/range?limit=5000");
      ensure(many.entries.length === Math.min(head.size, 1000), `limit=5000 gave ${many.entries.length} entries from a log of ${head.size}`);
      expectError(await ctx.client.get("/tlog/range?start=-1&limit=10"), 400, "missing_field");
    },
  },
  {
    name: "GET /tlog/proof/{index}: verifies against the signed head",
    async run(ctx) {
      const file = need(ctx.state.file, "the registration round trip");
      const head = await fetchHead(ctx);
      for (const index of new Set([0, file.tlogIndex, head.size - 1])) await proofFor(ctx, index, head);
    },
  },
  {
    name: "GET /tlog/proof/{index}: out of range → 404 not_found",
    async run(ctx) {
      const head = await fetchHead(ctx);
      expectError(await ctx.client.get(`/tlog/proof/${head.size + 1_000_000}`), 404, "not_found");
    },
  },
];
