/**
 * Offline verification of an evidence bundle: every signature, every proof
 * against the bundle's head, and every proven leaf against the row it
 * vouches for. Pure: takes the parsed bundle, returns one verdict per check.
 * Bundles from other implementations are checked as far as their contents
 * allow, and each thing that could not be checked is reported as a skip.
 * Browser-safe: `verify-evidence` and the inspector page run this same code.
 */
import * as z from "zod";
import { equalBytes, parseHex, toHex, utf8 } from "./bytes.js";
import { verifyEd25519 } from "./ed25519.js";
import { SignedTreeHeadSchema, verifyTreeHead, type SignedTreeHead } from "./head.js";
import { canonicalBytes } from "./jcs.js";
import { manifestParties, verifyManifest } from "./manifest.js";
import { nobleHasher, verifyInclusion } from "./rfc6962.js";
import { isoSeconds } from "../registry/time.js";

export type CheckStatus = "ok" | "fail" | "skip" | "warn";

export interface Check {
  status: CheckStatus;
  what: string;
  /** Why it failed or was skipped, or what an ok covered. */
  detail?: string;
}

export interface VerifyOptions {
  /** The registry key the auditor trusts (hex); without it the bundle's own `registry_pub` is used, with a warning. */
  registryPub?: string;
}

const BundleSchema = z.looseObject({
  file_id: z.unknown().optional(),
  registry_pub: z.unknown().optional(),
  manifest: z.unknown().optional(),
  events: z.array(z.unknown()).optional(),
  tlog_head: z.unknown().optional(),
  tlog_proofs: z.array(z.unknown()).optional(),
  registration: z.unknown().optional(),
  bundle_signature_ed25519: z.unknown().optional(),
});

const InclusionSchema = z.looseObject({
  index: z.number().int().nonnegative().optional(),
  leaf_hash: z.string(),
  proof: z.array(z.string()),
  root: z.string().optional(),
  tree_size: z.number().int().nonnegative().optional(),
});
type Inclusion = z.infer<typeof InclusionSchema>;

const ProofItemSchema = z.looseObject({
  event_row: z.number().int().nonnegative().optional(),
  tlog_index: z.number().int().nonnegative().optional(),
  proof: z.unknown().optional(),
  inclusion: z.unknown().optional(),
  leaf_data: z.string().optional(),
});
type ProofItem = z.infer<typeof ProofItemSchema>;

const RegistrationSchema = z.looseObject({
  tlog_index: z.number().int().nonnegative().optional(),
  proof: z.unknown().optional(),
  leaf_data: z.string().optional(),
});

const EventRowSchema = z.looseObject({
  kind: z.unknown().optional(),
  token_id: z.unknown().optional(),
  file_id: z.unknown().optional(),
  recipient_id: z.unknown().optional(),
  source_ip: z.unknown().optional(),
  user_agent: z.unknown().optional(),
  timestamp: z.unknown().optional(),
  extra: z.unknown().optional(),
  tlog_index: z.unknown().optional(),
});

const ok = (what: string, detail?: string): Check => ({ status: "ok", what, ...(detail ? { detail } : {}) });
const fail = (what: string, detail: string): Check => ({ status: "fail", what, detail });
const skip = (what: string, detail: string): Check => ({ status: "skip", what, detail });
const warn = (what: string, detail: string): Check => ({ status: "warn", what, detail });

export function verifyEvidenceBundle(input: unknown, options: VerifyOptions = {}): Check[] {
  const parsed = BundleSchema.safeParse(input);
  if (!parsed.success) return [fail("bundle", "not a JSON object")];
  const bundle = parsed.data;
  const checks: Check[] = [];

  const key = registryKey(bundle.registry_pub, options, checks);
  checks.push(bundleSignature(bundle, key));
  const head = treeHead(bundle.tlog_head, key, checks);
  const manifest = manifestChecks(bundle, checks);

  const events = bundle.events ?? [];
  const proven = new Set<number>();
  if (bundle.tlog_proofs === undefined) {
    checks.push(skip("event proofs", "no tlog_proofs in bundle"));
  } else {
    for (const [i, raw] of bundle.tlog_proofs.entries()) checks.push(...eventProof(raw, i, head, events, proven));
  }
  events.forEach((row, r) => {
    if (!proven.has(r)) checks.push(skip(`event row ${r}`, `no inclusion proof in bundle${describeRow(row)}`));
  });
  checks.push(...registrationChecks(bundle.registration, head, manifest));
  return checks;
}

function registryKey(value: unknown, options: VerifyOptions, checks: Check[]): Uint8Array | null {
  const key = parseHex(value, 32);
  if (!key) {
    checks.push(fail("registry key", "registry_pub is missing or not 64 hex characters"));
    return null;
  }
  if (options.registryPub === undefined) {
    checks.push(warn("registry key", `trusting the bundle's own registry_pub ${toHex(key)}; pass --registry-pub to pin the key you trust`));
    return key;
  }
  const trusted = parseHex(options.registryPub, 32);
  if (!trusted || !equalBytes(trusted, key)) {
    checks.push(fail("registry key", `bundle registry_pub ${toHex(key)} is not the trusted key ${options.registryPub}`));
    return trusted;
  }
  checks.push(ok("registry key", `bundle registry_pub is the trusted key ${toHex(key)}`));
  return key;
}

function bundleSignature(bundle: Record<string, unknown>, key: Uint8Array | null): Check {
  const what = "bundle signature";
  if (!key) return skip(what, "no usable registry key");
  const { bundle_signature_ed25519: signature, ...unsigned } = bundle;
  if (typeof signature !== "string") return fail(what, "bundle_signature_ed25519 is missing");
  let message: Uint8Array;
  try {
    message = canonicalBytes(unsigned);
  } catch (error) {
    return fail(what, `the bundle cannot be canonicalized: ${(error as Error).message}`);
  }
  return verifyEd25519(key, message, signature) ? ok(what) : fail(what, "Ed25519 signature over the JCS of the bundle does not verify");
}

function treeHead(value: unknown, key: Uint8Array | null, checks: Check[]): SignedTreeHead | null {
  const what = "tlog head signature";
  if (value === undefined || value === null) {
    checks.push(skip(what, "no tlog_head in bundle"));
    return null;
  }
  const head = SignedTreeHeadSchema.safeParse(value);
  if (!head.success) {
    checks.push(fail(what, "tlog_head is not a {size, root, signature, signed_message} head"));
    return null;
  }
  if (!key) checks.push(skip(what, "no usable registry key"));
  else if (verifyTreeHead(head.data, key)) checks.push(ok(what, `size ${head.data.size} root ${head.data.root}`));
  else checks.push(fail(what, `head of size ${head.data.size} is not signed by the registry key`));
  return head.data;
}

function manifestChecks(bundle: z.infer<typeof BundleSchema>, checks: Check[]): Record<string, unknown> | null {
  if (bundle.manifest === undefined || bundle.manifest === null) {
    checks.push(skip("manifest signature", "no manifest in bundle"));
    return null;
  }
  const verdict = verifyManifest(bundle.manifest);
  if (!verdict.ok) {
    checks.push(fail("manifest signature", verdict.reason));
    return null;
  }
  checks.push(ok("manifest signature", verdict.legacy ? "issuer signature verifies (legacy signed form)" : "issuer signature verifies"));
  const fileId = manifestParties(verdict.manifest).fileId;
  if (bundle.file_id === undefined) checks.push(skip("manifest file_id", "bundle has no file_id"));
  else if (bundle.file_id === fileId) checks.push(ok("manifest file_id", "matches the bundle's file_id"));
  else checks.push(fail("manifest file_id", `manifest is for ${JSON.stringify(fileId)}, bundle for ${JSON.stringify(bundle.file_id)}`));
  return verdict.manifest;
}

/** The proof object, wherever this bundle's implementation put it. */
function inclusionOf(item: ProofItem): Inclusion | null {
  const candidates = [item.proof, item.inclusion, Array.isArray(item.proof) ? { ...item, proof: item.proof } : undefined];
  for (const candidate of candidates) {
    const parsed = InclusionSchema.safeParse(candidate);
    if (parsed.success) return parsed.data;
  }
  return null;
}

interface Proven {
  checks: Check[];
  /** Set when the leaf data (if any) hashes to the proven leaf hash. */
  leaf: Record<string, unknown> | null;
  index: number | null;
}

/** Inclusion of one leaf in the bundle's head, and its data against the proven hash. */
function proveLeaf(
  label: string,
  inclusion: Inclusion | null,
  claimedIndex: number | undefined,
  leafData: string | undefined,
  head: SignedTreeHead | null,
): Proven {
  const checks: Check[] = [];
  const done = (leaf: Record<string, unknown> | null = null, index: number | null = null): Proven => ({ checks, leaf, index });
  if (!inclusion) {
    checks.push(fail(`${label} inclusion`, "no inclusion proof object"));
    return done();
  }
  const index = inclusion.index ?? claimedIndex;
  if (index === undefined) {
    checks.push(fail(`${label} inclusion`, "the proof names no leaf index"));
    return done();
  }
  if (claimedIndex !== undefined && inclusion.index !== undefined && claimedIndex !== inclusion.index) {
    checks.push(fail(`${label} inclusion`, `tlog_index ${claimedIndex} but the proof is for leaf ${inclusion.index}`));
  }
  const what = `${label} inclusion (leaf ${index})`;
  const hash = parseHex(inclusion.leaf_hash, 32);
  const path = inclusion.proof.map((h) => parseHex(h, 32));
  if (!head) {
    checks.push(skip(what, "no tlog head to check against"));
  } else if (!hash || path.some((h) => h === null)) {
    checks.push(fail(what, "leaf_hash or a proof hash is not 64 hex characters"));
  } else if (inclusion.tree_size !== undefined && inclusion.tree_size !== head.size) {
    checks.push(fail(what, `proof is for tree size ${inclusion.tree_size}, the bundle's head is size ${head.size}`));
  } else if (inclusion.root !== undefined && inclusion.root.toLowerCase() !== head.root) {
    checks.push(fail(what, `proof root ${inclusion.root} is not the head's root ${head.root}`));
  } else if (verifyInclusion(hash, index, head.size, path as Uint8Array[], parseHex(head.root, 32)!)) {
    checks.push(ok(what, `in the head of size ${head.size}`));
  } else {
    checks.push(fail(what, `proof does not lead from leaf_hash to the head's root`));
  }

  if (leafData === undefined) {
    checks.push(skip(`${label} leaf data`, "not in bundle (only the proven leaf hash could be checked)"));
    return done(null, index);
  }
  if (!hash || !equalBytes(nobleHasher.leaf(utf8(leafData)), hash)) {
    checks.push(fail(`${label} leaf data`, "leaf_data does not hash to the proven leaf_hash"));
    return done(null, index);
  }
  checks.push(ok(`${label} leaf data`, "hashes to the proven leaf_hash"));
  let leaf: unknown;
  try {
    leaf = JSON.parse(leafData);
  } catch {
    checks.push(fail(`${label} leaf data`, "leaf_data is not JSON"));
    return done(null, index);
  }
  if (typeof leaf !== "object" || leaf === null || Array.isArray(leaf)) {
    checks.push(fail(`${label} leaf data`, "leaf_data is not a JSON object"));
    return done(null, index);
  }
  return done(leaf as Record<string, unknown>, index);
}

function eventProof(raw: unknown, i: number, head: SignedTreeHead | null, events: unknown[], proven: Set<number>): Check[] {
  const parsed = ProofItemSchema.safeParse(raw);
  if (!parsed.success) return [fail(`tlog_proofs[${i}]`, "not a proof item")];
  const item = parsed.data;
  const label = item.event_row === undefined ? `tlog_proofs[${i}]` : `event row ${item.event_row}`;
  const result = proveLeaf(label, inclusionOf(item), item.tlog_index, item.leaf_data, head);
  const checks = result.checks;
  if (item.event_row === undefined || item.event_row >= events.length) {
    checks.push(fail(`${label} row`, item.event_row === undefined ? "names no event_row" : `event_row ${item.event_row} is not in events`));
    return checks;
  }
  proven.add(item.event_row);
  const row = EventRowSchema.safeParse(events[item.event_row]);
  if (!row.success) {
    checks.push(fail(`${label} row`, "event row is not an object"));
    return checks;
  }
  if (typeof row.data.tlog_index === "number" && result.index !== null && row.data.tlog_index !== result.index) {
    checks.push(fail(`${label} row`, `row has tlog_index ${row.data.tlog_index}, the proof is for leaf ${result.index}`));
  }
  if (result.leaf) checks.push(compareEvent(label, result.leaf, row.data));
  return checks;
}

/** The fields a beacon/DNS leaf and its event row must agree on. */
function compareEvent(label: string, leaf: Record<string, unknown>, row: z.infer<typeof EventRowSchema>): Check {
  const what = `${label} matches its leaf`;
  const expected: [string, unknown, unknown][] = [
    ["kind", row.kind, leaf.kind],
    ["token_id", row.token_id, leaf.token_id],
    ["file_id", row.file_id ?? null, leaf.file_id ?? null],
    ["recipient_id", row.recipient_id ?? null, leaf.recipient_id ?? null],
    ["source_ip", row.source_ip ?? null, leaf.source_ip ?? null],
    ["timestamp", typeof row.timestamp === "number" ? isoSeconds(row.timestamp) : row.timestamp, leaf.timestamp],
  ];
  if ("user_agent" in leaf && row.user_agent !== undefined) expected.push(["user_agent", row.user_agent, leaf.user_agent]);
  const extra = parseExtra(row.extra);
  for (const field of ["qname", "qtype"]) {
    if (field in leaf && extra && field in extra) expected.push([field, extra[field], leaf[field]]);
  }
  if (leaf.event !== "beacon") return fail(what, `the leaf is a ${JSON.stringify(leaf.event)} event, not a beacon`);
  const wrong = expected.filter(([, r, l]) => r !== l);
  if (wrong.length === 0) return ok(what, expected.map(([f]) => f).join(", "));
  return fail(what, wrong.map(([f, r, l]) => `${f}: row ${JSON.stringify(r)}, leaf ${JSON.stringify(l)}`).join("; "));
}

function parseExtra(extra: unknown): Record<string, unknown> | null {
  if (typeof extra !== "string") return typeof extra === "object" && extra !== null ? (extra as Record<string, unknown>) : null;
  try {
    const value: unknown = JSON.parse(extra);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function registrationChecks(raw: unknown, head: SignedTreeHead | null, manifest: Record<string, unknown> | null): Check[] {
  if (raw === undefined || raw === null) return [skip("registration proof", "not in bundle")];
  const parsed = RegistrationSchema.safeParse(raw);
  if (!parsed.success) return [fail("registration proof", "registration is not an object")];
  const registration = parsed.data;
  const inclusion = InclusionSchema.safeParse(registration.proof);
  const result = proveLeaf("registration", inclusion.success ? inclusion.data : null, registration.tlog_index, registration.leaf_data, head);
  if (!result.leaf) return result.checks;
  if (!manifest) return [...result.checks, skip("registration leaf describes the manifest", "no verified manifest to compare with")];
  const parties = manifestParties(manifest);
  const count = (value: unknown) => (Array.isArray(value) ? value.length : 0);
  const leaf = result.leaf;
  const expected: [string, unknown, unknown][] = [
    ["event", "register", leaf.event],
    ["file_id", parties.fileId, leaf.file_id],
    ["issuer_pub", parties.issuerPub, typeof leaf.issuer_pub === "string" ? leaf.issuer_pub.toLowerCase() : leaf.issuer_pub],
    ["issuer_id", parties.issuerId, leaf.issuer_id],
    ["recipient_id", parties.recipientId, leaf.recipient_id],
    ["n_beacons", count(manifest.beacons), leaf.n_beacons],
    ["n_watermarks", count(manifest.watermarks), leaf.n_watermarks],
  ];
  const wrong = expected.filter(([, m, l]) => m !== l);
  const what = "registration leaf describes the manifest";
  result.checks.push(
    wrong.length === 0
      ? ok(what, expected.map(([f]) => f).join(", "))
      : fail(what, wrong.map(([f, m, l]) => `${f}: manifest ${JSON.stringify(m)}, leaf ${JSON.stringify(l)}`).join("; ")),
  );
  return result.checks;
}

function describeRow(row: unknown): string {
  const parsed = EventRowSchema.safeParse(row);
  if (!parsed.success) return "";
  const parts = [parsed.data.kind, parsed.data.token_id].filter((v) => typeof v === "string");
  return parts.length ? ` (${parts.join(" ")})` : "";
}

export interface Verdict {
  /** True when no check failed: what "VERIFIED" means in the CLI and the page. */
  verified: boolean;
  counts: Record<CheckStatus, number>;
}

export function verdictOf(checks: readonly Check[]): Verdict {
  const counts: Record<CheckStatus, number> = { ok: 0, fail: 0, skip: 0, warn: 0 };
  for (const check of checks) counts[check.status]++;
  return { verified: counts.fail === 0, counts };
}
