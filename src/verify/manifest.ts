/**
 * The manifest's signed forms and their signature check (docs/PROTOCOL.md#manifests),
 * shared by the server, `verify-evidence` and the inspector page.
 *
 * Verification is on the registration hot path, so every top-level member is
 * canonicalized exactly once; the full and the legacy signed forms are two
 * joins of the same member strings (JCS orders members by key, so dropping a
 * member from the sorted list is dropping it from the canonical text).
 */
import * as z from "zod";
import { parseHex, utf8, utf8Length } from "./bytes.js";
import { verifyEd25519 } from "./ed25519.js";
import { CanonicalJsonError, canonicalize } from "./jcs.js";

export type Ed25519Verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

export const LIMITS = Object.freeze({
  identifierBytes: 256,
  beacons: 500,
  watermarks: 500,
  manifestBytes: 262_144,
  corpusEntries: 64,
  corpusFieldBytes: 256,
});

export const identifierMessage = `must be 1-${LIMITS.identifierBytes} bytes (UTF-8)`;
export const isIdentifier = (value: unknown): value is string => typeof value === "string" && value.length > 0 && utf8Length(value) <= LIMITS.identifierBytes;

const JsonObjectSchema = z.record(z.string(), z.unknown());

const RecipientSchema = z.strictObject({
  recipient_id: z.string(),
  x25519_pub: z.string(),
  ed25519_pub: z.string().nullish(),
  p256_pub: z.string().nullish(),
});

const WatermarkSchema = z.strictObject({ layer: z.string(), mark_id: z.string() });

/**
 * The manifest as a client may send it. Absent and null optional fields are
 * both allowed: absent ones get their default, null ones are dropped from the
 * signed form (that is the order docs/PROTOCOL.md#manifest-signature gives, and the signers follow it).
 */
export const ManifestInputSchema = z.strictObject({
  file_id: z.string(),
  issued_at: z.int(),
  version: z.string().nullish(),
  suite: z.string().nullish(),
  original_filename: z.string().nullish(),
  content_hash: z.string().nullish(),
  canonical_content_hash: z.string().nullish(),
  content_type: z.string().nullish(),
  size_bytes: z.int().nullish(),
  issuer_id: z.string().nullish(),
  issuer_ed25519_pub: z.string().nullish(),
  recipient: RecipientSchema.nullish(),
  watermarks: z.array(WatermarkSchema).nullish(),
  beacons: z.array(JsonObjectSchema).nullish(),
  policy: JsonObjectSchema.nullish(),
  l3_policy: JsonObjectSchema.nullish(),
  signature_ed25519: z.string().nullish(),
  signature_ml_dsa: z.string().nullish(),
});
export type ManifestInput = z.infer<typeof ManifestInputSchema>;

const EMPTY_ARRAY: readonly unknown[] = Object.freeze([]);
const EMPTY_OBJECT: Readonly<Record<string, unknown>> = Object.freeze({});

/** What an absent optional field means (docs/PROTOCOL.md#manifests); signers fill the same values. */
export const MANIFEST_DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({
  version: "OVERSIGHT-v1",
  suite: "OSGT-CLASSIC-v1",
  original_filename: "",
  content_hash: "",
  canonical_content_hash: "",
  content_type: "application/octet-stream",
  size_bytes: 0,
  issuer_id: "",
  issuer_ed25519_pub: "",
  recipient: null,
  watermarks: EMPTY_ARRAY,
  beacons: EMPTY_ARRAY,
  policy: EMPTY_OBJECT,
  l3_policy: EMPTY_OBJECT,
  signature_ed25519: "",
  signature_ml_dsa: "",
});

const SIGNATURE_FIELDS = new Set(["signature_ed25519", "signature_ml_dsa"]);
/** Every field of the table, in JCS (UTF-16 code unit) order; all are ASCII. */
const FIELDS_SORTED = Object.keys(ManifestInputSchema.shape).sort();

export type ManifestVerdict =
  | { ok: true; signedBytes: Uint8Array; legacy: boolean; manifest: Record<string, unknown> }
  | { ok: false; code: "missing_field" | "signature_invalid"; reason: string };

type Refusal = Extract<ManifestVerdict, { ok: false }>;

const invalid = (reason: string): Refusal => ({ ok: false, code: "signature_invalid", reason });
const NOT_VERIFIED = "signature_ed25519 does not verify with issuer_ed25519_pub";

/**
 * Everything verification needs once the manifest passed the pure checks, so
 * that the Ed25519 step can run elsewhere (a worker thread) and end in the same
 * verdict through `manifestVerdict`.
 */
export interface ManifestCheck {
  ok: true;
  /** Defaults filled and nulls dropped; signatures as received. */
  manifest: Record<string, unknown>;
  publicKey: Uint8Array;
  signature: Uint8Array;
  /** The signed texts to try, in order: the full form, then the legacy form when it is a different text. */
  forms: readonly string[];
  /**
   * JCS of the manifest exactly as received (what the registry stores), joined
   * from the members already canonicalized for the signed forms; null when a
   * member the signature does not cover is not canonical JSON.
   */
  canonical: string | null;
}

export interface SignedForms {
  manifest: Record<string, unknown>;
  full: string;
  /** Null when the legacy form is the same text as the full form. */
  legacy: string | null;
  canonical: string | null;
}

/**
 * Never throws: anything that is not a correctly signed manifest is a verdict.
 * `verify` is the Ed25519 check: the pure one here, OpenSSL's on the server.
 */
export function verifyManifest(m: unknown, verify: Ed25519Verify = verifyEd25519): ManifestVerdict {
  const check = checkManifest(m);
  if (!check.ok) return check;
  for (let i = 0; i < check.forms.length; i++) {
    if (verify(check.publicKey, utf8(check.forms[i]!), check.signature)) return manifestVerdict(check, i);
  }
  return invalid(NOT_VERIFIED);
}

/** The checks of `verifyManifest` up to the signature itself. Never throws. */
export function checkManifest(m: unknown): ManifestCheck | Refusal {
  try {
    const forms = signedForms(m);
    if ("reason" in forms) return forms;
    const publicKey = parseHex(forms.manifest.issuer_ed25519_pub, 32);
    if (!publicKey) return invalid("issuer_ed25519_pub must be 64 hex characters");
    const signature = parseHex(forms.manifest.signature_ed25519, 64);
    if (!signature) return invalid("signature_ed25519 must be 128 hex characters");
    return {
      ok: true,
      manifest: forms.manifest,
      publicKey,
      signature,
      forms: forms.legacy === null ? [forms.full] : [forms.full, forms.legacy],
      canonical: forms.canonical,
    };
  } catch {
    // Getters that throw, proxies, nesting deep enough to exhaust the stack.
    return invalid("manifest could not be read as JSON");
  }
}

/** The verdict of a check whose form `verified` (an index into `check.forms`, -1 for none) verified. */
export function manifestVerdict(check: ManifestCheck, verified: number): ManifestVerdict {
  const form = check.forms[verified];
  if (verified < 0 || form === undefined) return invalid(NOT_VERIFIED);
  return { ok: true, signedBytes: utf8(form), legacy: verified > 0, manifest: check.manifest };
}

export function signedForms(m: unknown): SignedForms | Refusal {
  if (!isPlainObject(m)) return invalid("manifest must be a JSON object");
  if (!isIdentifier(m.file_id)) return { ok: false, code: "missing_field", reason: `file_id ${identifierMessage}` };
  const parsed = ManifestInputSchema.safeParse(m);
  if (!parsed.success) return invalid(describeIssues(parsed.error.issues));

  const manifest: Record<string, unknown> = {};
  const members: string[] = [];
  const legacyMembers: string[] = [];
  const received: string[] = [];
  let receivedComplete = true;
  for (const key of FIELDS_SORTED) {
    const present = Object.hasOwn(m, key);
    const value = present ? m[key] : MANIFEST_DEFAULTS[key];
    if (SIGNATURE_FIELDS.has(key)) {
      // Blanked after nulls are dropped, so a null signature field is still signed as "".
      if (value !== null) manifest[key] = value;
      members.push(`"${key}":""`);
      legacyMembers.push(`"${key}":""`);
      if (present) {
        const member = receivedMember(key, value);
        if (member === null) receivedComplete = false;
        else received.push(member);
      }
      continue;
    }
    if (value === null) {
      if (present) received.push(`"${key}":null`);
      continue;
    }
    const kept = dropNulls(value);
    manifest[key] = kept;
    let canonical: string;
    try {
      canonical = canonicalize(kept);
    } catch (error) {
      if (error instanceof CanonicalJsonError) return invalid(error.message.replace(/^\$/, key));
      throw error;
    }
    const member = `"${key}":${canonical}`;
    members.push(member);
    if (!isLegacyOmitted(key, kept)) legacyMembers.push(member);
    if (present) received.push(kept === value ? member : `"${key}":${canonicalize(value)}`);
  }
  // The strict schema admits no other keys; counting guards the join against anything it does not see.
  const complete = receivedComplete && received.length === Object.keys(m).length;
  return {
    manifest,
    full: `{${members.join(",")}}`,
    legacy: legacyMembers.length === members.length ? null : `{${legacyMembers.join(",")}}`,
    canonical: complete ? `{${received.join(",")}}` : null,
  };
}

/** A signature member as received: never signed, so JCS may refuse it here without failing verification. */
function receivedMember(key: string, value: unknown): string | null {
  try {
    return `"${key}":${canonicalize(value)}`;
  } catch (error) {
    if (error instanceof CanonicalJsonError) return null;
    throw error;
  }
}

/** Older clients signed without these two members while they held their defaults. */
function isLegacyOmitted(key: string, value: unknown): boolean {
  if (key === "canonical_content_hash") return value === "";
  if (key === "l3_policy") return isPlainObject(value) && Object.keys(value).length === 0;
  return false;
}

/**
 * Drops null-valued object members at every depth; array elements are kept as
 * they are. Copies only what changes: manifests rarely hold nulls, and copying
 * 500 beacons on every registration would cost more than canonicalizing them.
 */
export function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const kept = dropNulls(value[i]);
      if (kept !== value[i]) (copy ??= value.slice())[i] = kept;
    }
    return copy ?? value;
  }
  if (!isPlainObject(value)) return value;
  const entries = Object.entries(value);
  let changed = false;
  const kept: Array<[string, unknown]> = [];
  for (const [key, member] of entries) {
    if (member === null) {
      changed = true;
      continue;
    }
    const inner = dropNulls(member);
    if (inner !== member) changed = true;
    kept.push([key, inner]);
  }
  // fromEntries defines own properties, so a "__proto__" key stays a key.
  return changed ? Object.fromEntries(kept) : value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const MAX_REPORTED_ISSUES = 3;

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const described = issues.slice(0, MAX_REPORTED_ISSUES).map((issue) => {
    const where = issue.path.length > 0 ? issue.path.map(String).join(".") : "manifest";
    if (issue.code === "unrecognized_keys") {
      return `${where}: unknown field ${issue.keys.map((k) => JSON.stringify(k.slice(0, 64))).join(", ")}`;
    }
    return `${where}: ${issue.message}`;
  });
  return described.join("; ");
}

export interface ManifestParties {
  fileId: string;
  /** "unknown" when the manifest names no recipient. */
  recipientId: string;
  /** "unknown" when the manifest names no issuer. */
  issuerId: string;
  /** Lowercase hex, so that one key is one issuer whatever case the client wrote. */
  issuerPub: string;
}

export function manifestParties(m: Record<string, unknown>): ManifestParties {
  const recipient = isPlainObject(m.recipient) ? m.recipient : {};
  return {
    fileId: typeof m.file_id === "string" ? m.file_id : "",
    recipientId: nonEmptyOr(recipient.recipient_id, "unknown"),
    issuerId: nonEmptyOr(m.issuer_id, "unknown"),
    issuerPub: typeof m.issuer_ed25519_pub === "string" ? m.issuer_ed25519_pub.toLowerCase() : "",
  };
}

const nonEmptyOr = (value: unknown, fallback: string): string => (typeof value === "string" && value !== "" ? value : fallback);
