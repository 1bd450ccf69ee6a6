/** GET /evidence/{file_id}: every field, both signatures, every proof, and the leaves behind them. */
import { z } from "zod";
import {
  type Check,
  type Context,
  ensure,
  expectError,
  expectFields,
  expectJson,
  Hex32,
  Hex64,
  Index,
  InclusionProofSchema,
  type InclusionProof,
  IsoTimestamp,
  need,
  parseLeaf,
  sameJson,
  SignedHeadSchema,
  skip,
  verifyHead,
  type VerifiedHead,
} from "./checks-common.js";
import { canonicalBytes, hexBytes, leafHash, verifyEd25519, verifyInclusion } from "./verify.js";

const EvidenceEventSchema = z.looseObject({
  token_id: z.string(),
  file_id: z.string().nullable(),
  recipient_id: z.string().nullable(),
  kind: z.string(),
  source_ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  extra: z.string().nullable(),
  timestamp: z.number().int(),
  qualified_timestamp: z.string().nullable(),
  tlog_index: Index.nullable(),
});
type EvidenceEvent = z.infer<typeof EvidenceEventSchema>;

const ProofItemSchema = z.object({
  event_row: Index,
  tlog_index: Index,
  proof: InclusionProofSchema,
  inclusion: InclusionProofSchema,
  leaf_data: z.string().optional(),
});

const RegistrationProofSchema = z.object({
  tlog_index: Index,
  proof: z.union([InclusionProofSchema, z.array(Hex32)]),
  leaf_data: z.string(),
});

const BundleSchema = z.object({
  file_id: z.string(),
  bundle_generated_at: IsoTimestamp,
  registry_pub: Hex32,
  manifest: z.record(z.string(), z.unknown()),
  beacons: z.array(z.looseObject({ token_id: z.string(), kind: z.string() })),
  watermarks: z.array(z.looseObject({ mark_id: z.string(), layer: z.string() })),
  events: z.array(EvidenceEventSchema),
  tlog_head: SignedHeadSchema.nullable(),
  tlog_proofs: z.array(ProofItemSchema),
  disclaimer: z.string().min(1),
  bundle_signature_ed25519: Hex64,
  registration: RegistrationProofSchema.optional(),
});
type Bundle = z.infer<typeof BundleSchema>;

interface Fetched {
  raw: Record<string, unknown>;
  bundle: Bundle;
}

const fetched = new WeakMap<Context, Fetched>();

async function evidence(ctx: Context): Promise<Fetched> {
  const cached = fetched.get(ctx);
  if (cached) return cached;
  const file = need(ctx.state.file, "the registration round trip");
  const res = await ctx.client.get(`/evidence/${encodeURIComponent(file.manifest.file_id as string)}`);
  const bundle = expectJson(res, 200, BundleSchema, "evidence bundle");
  const result = { raw: res.json as Record<string, unknown>, bundle };
  fetched.set(ctx, result);
  return result;
}

async function evidenceHead(ctx: Context): Promise<{ bundle: Bundle; head: VerifiedHead }> {
  const { bundle } = await evidence(ctx);
  const key = need(ctx.state.registryKey, "the registry key from /.well-known");
  ensure(bundle.tlog_head !== null, "tlog_head is null although the file's registration is logged");
  return { bundle, head: verifyHead(bundle.tlog_head, key, "tlog_head") };
}

const iso = (unix: number): string => new Date(unix * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

function checkProof(proof: InclusionProof, index: number, head: VerifiedHead, what: string): Buffer {
  ensure(proof.index === index, `${what}: proof index ${proof.index}, expected ${index}`);
  ensure(proof.tree_size === head.size, `${what}: proof tree_size ${proof.tree_size}, tlog_head size ${head.size}`);
  ensure(proof.root === head.root.toString("hex"), `${what}: proof root is not the tlog_head root`);
  const leaf = hexBytes(proof.leaf_hash, 32)!;
  const path = proof.proof.map((h) => hexBytes(h, 32)!);
  ensure(verifyInclusion(leaf, index, head.size, path, head.root), `${what}: inclusion proof for leaf ${index} does not verify against tlog_head`);
  return leaf;
}

function checkEventLeaf(leafData: string, row: EvidenceEvent, what: string): void {
  const leaf = parseLeaf(leafData, what);
  const expected: Record<string, unknown> = {
    event: "beacon",
    kind: row.kind,
    token_id: row.token_id,
    file_id: row.file_id,
    recipient_id: row.recipient_id,
    source_ip: row.source_ip,
    timestamp: iso(row.timestamp),
  };
  if (row.kind === "dns") {
    const extra = JSON.parse(row.extra ?? "{}") as Record<string, unknown>;
    expected.qtype = extra.qtype ?? null;
    expected.qname = extra.qname ?? null;
  } else {
    expected.user_agent = row.user_agent;
  }
  expectFields(leaf, expected, what);
}

export const evidenceChecks: Check[] = [
  {
    name: "evidence: bundle has every field, describing the registered file",
    async run(ctx) {
      const file = need(ctx.state.file, "the registration round trip");
      const { bundle } = await evidence(ctx);
      ensure(bundle.file_id === file.manifest.file_id, `file_id ${bundle.file_id}`);
      ensure(bundle.registry_pub === need(ctx.state.registryKey, "the registry key").toString("hex"), "registry_pub is not the /.well-known key");
      ensure(sameJson(bundle.manifest, file.manifest), "manifest differs from the registered one");
      const tokens = bundle.beacons.map((b) => b.token_id).sort();
      ensure(sameJson(tokens, [file.dnsToken, file.httpToken].sort()), `beacons are ${tokens.join(", ")}`);
      const marks = bundle.watermarks.map((w) => `${w.layer}:${w.mark_id}`).sort();
      ensure(sameJson(marks, file.marks.map((w) => `${w.layer}:${w.mark_id}`).sort()), `watermarks are ${marks.join(", ")}`);
      const hits = Object.values(ctx.state.beaconHits ?? {}).reduce((a, b) => a + b, 0);
      ensure(bundle.events.length >= hits, `${bundle.events.length} events, at least ${hits} beacon hits were made`);
      ensure(
        bundle.events.every((e) => e.file_id === file.manifest.file_id),
        "an event of another file is in the bundle",
      );
      for (let i = 1; i < bundle.events.length; i++) {
        const [a, b] = [bundle.events[i - 1]!, bundle.events[i]!];
        const idA = typeof a.id === "number" ? a.id : 0;
        const idB = typeof b.id === "number" ? b.id : 0;
        ensure(a.timestamp < b.timestamp || (a.timestamp === b.timestamp && idA <= idB), "events are not oldest first by timestamp then id");
      }
    },
  },
  {
    name: "evidence: bundle signature (JCS without bundle_signature_ed25519, registry key)",
    async run(ctx) {
      const { raw, bundle } = await evidence(ctx);
      const { bundle_signature_ed25519: _signature, ...unsigned } = raw;
      const key = need(ctx.state.registryKey, "the registry key");
      const signature = hexBytes(bundle.bundle_signature_ed25519, 64)!;
      ensure(verifyEd25519(key, canonicalBytes(unsigned), signature), "bundle_signature_ed25519 does not verify over the JCS of the bundle");
    },
  },
  {
    name: "evidence: tlog_head signature",
    async run(ctx) {
      const { head } = await evidenceHead(ctx);
      const file = need(ctx.state.file, "the registration round trip");
      ensure(head.size > file.tlogIndex, `tlog_head size ${head.size} does not cover the registration leaf ${file.tlogIndex}`);
    },
  },
  {
    name: "evidence: every tlog_proofs proof verifies against tlog_head (and `inclusion` is the same proof)",
    async run(ctx) {
      const { bundle, head } = await evidenceHead(ctx);
      const proven = new Set<number>();
      for (const item of bundle.tlog_proofs) {
        const row = bundle.events[item.event_row];
        ensure(row, `event_row ${item.event_row} is outside events`);
        ensure(row.tlog_index === item.tlog_index, `event_row ${item.event_row} has tlog_index ${row.tlog_index}, the proof says ${item.tlog_index}`);
        checkProof(item.proof, item.tlog_index, head, `tlog_proofs[${item.event_row}]`);
        ensure(sameJson(item.inclusion, item.proof), `tlog_proofs[${item.event_row}].inclusion differs from proof`);
        proven.add(item.event_row);
      }
      const unproven = bundle.events.findIndex((e, i) => e.tlog_index !== null && e.tlog_index < head.size && !proven.has(i));
      ensure(unproven < 0, `event row ${unproven} (tlog_index ${bundle.events[unproven]?.tlog_index}) has no proof`);
      ensure(bundle.tlog_proofs.length > 0, "no proofs although beacon events were logged");
    },
  },
  {
    name: "evidence: each proof's leaf_data hashes to the proven leaf and matches its event row",
    async run(ctx) {
      const { bundle } = await evidence(ctx);
      const withData = bundle.tlog_proofs.filter((p) => p.leaf_data !== undefined);
      if (withData.length === 0) {
        ensure(!ctx.state.extensions?.includes("leaf_data"), "/.well-known lists the leaf_data extension but no tlog_proofs item carries leaf_data");
        skip("no tlog_proofs item carries leaf_data (a Part 2 extension)");
      }
      ensure(withData.length === bundle.tlog_proofs.length, "only some tlog_proofs items carry leaf_data");
      for (const item of withData) {
        const what = `tlog_proofs[${item.event_row}].leaf_data`;
        const data = Buffer.from(item.leaf_data!, "utf8");
        ensure(leafHash(data).toString("hex") === item.proof.leaf_hash, `${what} does not hash to the proven leaf_hash`);
        checkEventLeaf(item.leaf_data!, bundle.events[item.event_row]!, what);
      }
    },
  },
  {
    name: "evidence: registration proof (tlog_index, proof, leaf_data)",
    async run(ctx) {
      const { bundle, head } = await evidenceHead(ctx);
      const file = need(ctx.state.file, "the registration round trip");
      const reg = bundle.registration;
      if (reg === undefined) {
        ensure(!ctx.state.extensions?.includes("registration_proof"), "/.well-known lists the registration_proof extension but the bundle has no registration");
        skip("the bundle carries no registration proof (a Part 2 extension)");
      }
      ensure(reg.tlog_index === file.tlogIndex, `registration.tlog_index ${reg.tlog_index}, /register answered ${file.tlogIndex}`);
      const data = Buffer.from(reg.leaf_data, "utf8");
      const hash = leafHash(data);
      if (Array.isArray(reg.proof)) {
        const path = reg.proof.map((h) => hexBytes(h, 32)!);
        ensure(verifyInclusion(hash, reg.tlog_index, head.size, path, head.root), "registration proof does not verify against tlog_head");
      } else {
        const proven = checkProof(reg.proof, reg.tlog_index, head, "registration");
        ensure(proven.equals(hash), "registration.leaf_data does not hash to the proven leaf_hash");
      }
      const leaf = parseLeaf(reg.leaf_data, "registration.leaf_data");
      expectFields(leaf, { event: "register", file_id: file.manifest.file_id, issuer_pub: file.issuer.publicKeyHex }, "registration leaf");
    },
  },
  {
    name: "evidence: unknown file_id → 404 not_found",
    async run(ctx) {
      expectError(await ctx.client.get("/evidence/conformance-no-such-file"), 404, "not_found");
    },
  },
];
