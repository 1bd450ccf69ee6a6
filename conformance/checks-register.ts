/** POST /register: the round trip, idempotent retries, and each rejection in the contract's order of checks. */
import { z } from "zod";
import {
  type Check,
  type Context,
  ensure,
  expectError,
  expectFields,
  expectJson,
  fetchHead,
  fetchLeaves,
  Index,
  IsoTimestamp,
  need,
  parseLeaf,
  RangeSchema,
  skip,
} from "./checks-common.js";
import { buildManifest, newIssuer, randomHex, registration, signManifest, unsignedManifest, type Manifest } from "./issuer.js";

const RegisterAnswerSchema = z.object({
  ok: z.literal(true),
  file_id: z.string(),
  registered_beacons: Index,
  tlog_index: Index,
  rekor: z.union([z.null(), z.record(z.string(), z.unknown())]),
});

const REGISTER_LEAF_KEYS = ["event", "file_id", "issuer_id", "issuer_pub", "n_beacons", "n_watermarks", "recipient_id", "timestamp"];

const token = (): string => `cf${randomHex(15)}`;

async function ensureNotRegistered(ctx: Context, fileId: string): Promise<void> {
  const res = await ctx.client.get(`/evidence/${encodeURIComponent(fileId)}`);
  ensure(res.status === 404, `the refused file ${fileId} is visible at /evidence (HTTP ${res.status})`);
}

export const registerChecks: Check[] = [
  {
    name: "auth: /register and /attribute without the operator token → 401 auth_required",
    async run(ctx) {
      if (ctx.token === null) skip("no operator token in use");
      expectError(await ctx.client.post("/register", {}, { auth: false }), 401, "auth_required");
      expectError(await ctx.client.post("/attribute", { token_id: "x" }, { auth: false }), 401, "auth_required");
      expectError(
        await ctx.client.post("/attribute", { token_id: "x" }, { auth: false, headers: { authorization: "Bearer wrong-token" } }),
        401,
        "auth_required",
      );
      const viaHeader = await ctx.client.post("/attribute", { token_id: token() }, { auth: false, headers: { "x-oversight-operator-token": ctx.token } });
      ensure(viaHeader.status === 200, `X-Oversight-Operator-Token was not accepted (HTTP ${viaHeader.status})`);
    },
  },
  {
    name: "register: round trip (2 beacons, 2 watermarks, corpus)",
    async run(ctx) {
      const issuer = newIssuer("conformance-issuer-a");
      const dnsToken = token();
      const httpToken = token();
      const marks = [
        { layer: "L1_zero_width", mark_id: randomHex(16) },
        { layer: "L3_semantic", mark_id: randomHex(16) },
      ];
      const manifest = buildManifest(issuer, {
        beacons: [
          { token_id: dnsToken, kind: "dns" },
          { token_id: httpToken, kind: "http" },
        ],
        watermarks: marks,
      });
      const perceptualHash = randomHex(8);
      const body = registration(manifest, { perceptual: perceptualHash });
      const bodyText = JSON.stringify(body);
      const answer = expectJson(await ctx.client.postText("/register", bodyText), 200, RegisterAnswerSchema, "/register answer");
      ensure(answer.file_id === manifest.file_id, `answer file_id ${answer.file_id} is not the manifest's`);
      ensure(answer.registered_beacons === 2, `registered_beacons is ${answer.registered_beacons}, expected 2`);
      ctx.state.file = { issuer, manifest, body, bodyText, tlogIndex: answer.tlog_index, dnsToken, httpToken, marks, perceptualHash };
      ctx.state.earlierHead = await fetchHead(ctx);
      ensure(ctx.state.earlierHead.size > answer.tlog_index, `tlog_index ${answer.tlog_index} is not below the head size ${ctx.state.earlierHead.size}`);
    },
  },
  {
    name: "register: the leaf at tlog_index is the register event",
    async run(ctx) {
      const file = need(ctx.state.file, "the registration round trip");
      const range = expectJson(await ctx.client.get(`/tlog/range?start=${file.tlogIndex}&limit=1`), 200, RangeSchema, "/tlog/range");
      const entry = range.entries[0];
      ensure(entry && entry.index === file.tlogIndex, `/tlog/range has no entry ${file.tlogIndex}`);
      const leaf = parseLeaf(entry.leaf_data, "register leaf");
      ensure(Object.keys(leaf).sort().join() === REGISTER_LEAF_KEYS.join(), `register leaf keys are ${Object.keys(leaf).sort().join(",")}`);
      const recipient = file.manifest.recipient as { recipient_id: string };
      expectFields(
        leaf,
        {
          event: "register",
          file_id: file.manifest.file_id,
          recipient_id: recipient.recipient_id,
          issuer_id: file.issuer.id,
          issuer_pub: file.issuer.publicKeyHex,
          n_beacons: 2,
          n_watermarks: 2,
        },
        "register leaf",
      );
      ensure(IsoTimestamp.safeParse(leaf.timestamp).success, `register leaf timestamp ${JSON.stringify(leaf.timestamp)} is not YYYY-MM-DDTHH:MM:SSZ`);
    },
  },
  {
    name: "register: byte-identical re-send returns the same tlog_index and adds no leaf",
    async run(ctx) {
      const file = need(ctx.state.file, "the registration round trip");
      const before = await fetchHead(ctx);
      const answer = expectJson(await ctx.client.postText("/register", file.bodyText), 200, RegisterAnswerSchema, "/register answer");
      ensure(answer.tlog_index === file.tlogIndex, `re-send answered tlog_index ${answer.tlog_index}, the original was ${file.tlogIndex}`);
      const after = await fetchHead(ctx);
      const added = await fetchLeaves(ctx, before.size, after.size);
      const duplicate = added.find((e) => {
        const leaf = JSON.parse(e.leaf_data) as Record<string, unknown>;
        return leaf.event === "register" && leaf.file_id === file.manifest.file_id;
      });
      ensure(!duplicate, `re-send appended register leaf ${duplicate?.index}`);
    },
  },
  {
    name: "register: bad signature → 400 signature_invalid",
    async run(ctx) {
      const issuer = newIssuer("conformance-issuer-a");
      const tampered: Manifest = { ...buildManifest(issuer), original_filename: "tampered.txt" };
      expectError(await ctx.client.post("/register", registration(tampered)), 400, "signature_invalid");
      await ensureNotRegistered(ctx, tampered.file_id as string);
      const malformed = { ...buildManifest(issuer), signature_ed25519: "zz" };
      expectError(await ctx.client.post("/register", registration(malformed)), 400, "signature_invalid");
    },
  },
  {
    name: "register: sidecar differing from the signed arrays → 400 sidecar_mismatch",
    async run(ctx) {
      const issuer = newIssuer("conformance-issuer-a");
      const manifest = buildManifest(issuer, {
        beacons: [
          { token_id: token(), kind: "dns" },
          { token_id: token(), kind: "http" },
        ],
        watermarks: [{ layer: "L2_whitespace", mark_id: randomHex(16) }],
      });
      const body = registration(manifest);
      expectError(await ctx.client.post("/register", { ...body, beacons: body.beacons.slice(1) }), 400, "sidecar_mismatch");
      const relayered = body.watermarks.map((w) => ({ ...w, layer: "L1_zero_width" }));
      expectError(await ctx.client.post("/register", { ...body, watermarks: relayered }), 400, "sidecar_mismatch");
      await ensureNotRegistered(ctx, manifest.file_id as string);
    },
  },
  {
    name: "register: same file_id under another issuer key → 409 issuer_mismatch",
    async run(ctx) {
      const file = need(ctx.state.file, "the registration round trip");
      const manifest = buildManifest(newIssuer("conformance-issuer-b"), { fileId: file.manifest.file_id as string });
      expectError(await ctx.client.post("/register", registration(manifest)), 409, "issuer_mismatch");
    },
  },
  {
    name: "register: another issuer's beacon token → 409 issuer_mismatch",
    async run(ctx) {
      const file = need(ctx.state.file, "the registration round trip");
      const manifest = buildManifest(newIssuer("conformance-issuer-b"), { beacons: [{ token_id: file.httpToken, kind: "http" }] });
      expectError(await ctx.client.post("/register", registration(manifest)), 409, "issuer_mismatch");
      await ensureNotRegistered(ctx, manifest.file_id as string);
    },
  },
  {
    name: "register: identifiers over 256 UTF-8 bytes → 400 missing_field (256 accepted)",
    async run(ctx) {
      const issuer = newIssuer("conformance-issuer-a");
      // 129 two-byte characters: under 256 characters but 258 bytes.
      const longId = buildManifest(issuer, { fileId: "é".repeat(129) });
      expectError(await ctx.client.post("/register", registration(longId)), 400, "missing_field");
      const longToken = buildManifest(issuer, { beacons: [{ token_id: "t".repeat(257), kind: "http" }] });
      expectError(await ctx.client.post("/register", registration(longToken)), 400, "missing_field");
      const longRecipient = buildManifest(issuer, { recipientId: "r".repeat(257) });
      expectError(await ctx.client.post("/register", registration(longRecipient)), 400, "missing_field");
      const atLimit = buildManifest(issuer, { fileId: "é".repeat(100) + randomHex(28) });
      const bytes = Buffer.byteLength(atLimit.file_id as string, "utf8");
      ensure(bytes === 256, `harness built a ${bytes}-byte file_id`);
      const accepted = await ctx.client.post("/register", registration(atLimit));
      ensure(accepted.status === 200, `a 256-byte file_id was refused: HTTP ${accepted.status} ${accepted.text.slice(0, 200)}`);
    },
  },
  {
    name: "register: a float in the manifest → 400",
    async run(ctx) {
      const issuer = newIssuer("conformance-issuer-a");
      const manifest: Manifest = { ...signManifest(issuer, unsignedManifest(issuer)), size_bytes: 1.5 };
      expectError(await ctx.client.post("/register", registration(manifest)), 400, ["missing_field", "signature_invalid"]);
      await ensureNotRegistered(ctx, manifest.file_id as string);
    },
  },
  {
    name: "register: malformed JSON → 400 missing_field",
    async run(ctx) {
      expectError(await ctx.client.postText("/register", '{"manifest": {"file_id": '), 400, "missing_field");
      expectError(await ctx.client.post("/register", { beacons: [], watermarks: [] }), 400, "missing_field");
    },
  },
];
