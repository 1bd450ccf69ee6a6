/**
 * The server's side of manifests: identifier schemas, the limits, signing
 * bytes and sidecars. The signed forms and their check are src/verify/manifest.ts,
 * shared with the inspector page; here they run on OpenSSL's Ed25519.
 */
import { verifyEd25519 } from "./ed25519.js";
import { missingField } from "./errors.js";
import { utf8Length } from "./hex.js";
import { canonicalize } from "../verify/jcs.js";
import {
  dropNulls,
  identifierMessage,
  isIdentifier,
  isPlainObject,
  LIMITS,
  signedForms,
  verifyManifest as verifyManifestWith,
  type ManifestVerdict,
} from "../verify/manifest.js";
import { WellFormedText } from "./text.js";

export {
  checkManifest,
  LIMITS,
  MANIFEST_DEFAULTS,
  ManifestInputSchema,
  manifestParties,
  manifestVerdict,
  type ManifestCheck,
  type ManifestInput,
  type ManifestParties,
  type ManifestVerdict,
} from "../verify/manifest.js";

/** A string of 1..256 UTF-8 bytes: file, recipient, issuer, token and mark identifiers. */
export const IdentifierSchema = WellFormedText.refine(isIdentifier, { message: identifierMessage });

/** `verifyManifest` of src/verify/manifest.ts on OpenSSL, ~10× faster: registrations verify here. */
export const verifyManifest = (m: unknown): ManifestVerdict => verifyManifestWith(m, verifyEd25519);

/**
 * The bytes a signer signs (the full form, or the legacy form when asked).
 * Throws `Error` with the verdict's reason when `m` is not a well-formed manifest.
 */
export function manifestSignedBytes(m: unknown, options: { legacy?: boolean } = {}): Buffer {
  const forms = signedForms(m);
  if ("reason" in forms) throw new Error(forms.reason);
  return Buffer.from(options.legacy ? (forms.legacy ?? forms.full) : forms.full, "utf8");
}

/** Enforces the limits of docs/PROTOCOL.md#limits; throws `missing_field` naming the limit. */
export function checkManifestLimits(m: unknown): void {
  if (!isPlainObject(m)) throw missingField("manifest must be a JSON object");
  requireIdentifier(m.file_id, "file_id");
  const beacons = m.beacons ?? [];
  const watermarks = m.watermarks ?? [];
  if (!Array.isArray(beacons)) throw missingField("beacons must be an array");
  if (!Array.isArray(watermarks)) throw missingField("watermarks must be an array");
  if (beacons.length > LIMITS.beacons) {
    throw missingField(`at most ${LIMITS.beacons} beacons per registration (got ${beacons.length})`);
  }
  if (watermarks.length > LIMITS.watermarks) {
    throw missingField(`at most ${LIMITS.watermarks} watermarks per registration (got ${watermarks.length})`);
  }
  // issuer_id and recipient_id may be empty (they default to ""); only their length is bounded.
  optionalIdentifier(m.issuer_id, "issuer_id");
  if (isPlainObject(m.recipient)) optionalIdentifier(m.recipient.recipient_id, "recipient.recipient_id");
  beacons.forEach((beacon, i) => {
    const item = isPlainObject(beacon) ? beacon : {};
    requireIdentifier(item.token_id, `beacons[${i}].token_id`);
    requireIdentifier(item.kind, `beacons[${i}].kind`);
  });
  watermarks.forEach((mark, i) => {
    const item = isPlainObject(mark) ? mark : {};
    requireIdentifier(item.mark_id, `watermarks[${i}].mark_id`);
    requireIdentifier(item.layer, `watermarks[${i}].layer`);
  });
  const bytes = compactJsonBytes(m);
  if (bytes > LIMITS.manifestBytes) {
    throw missingField(`manifest compact JSON must be at most ${LIMITS.manifestBytes} bytes (got ${bytes})`);
  }
}

function requireIdentifier(value: unknown, name: string): void {
  if (!isIdentifier(value)) throw missingField(`${name} ${identifierMessage}`);
}

function optionalIdentifier(value: unknown, name: string): void {
  if (value === undefined || value === null || value === "") return;
  if (!isIdentifier(value)) throw missingField(`${name} must be a string of at most ${LIMITS.identifierBytes} bytes (UTF-8)`);
}

function compactJsonBytes(m: Record<string, unknown>): number {
  let text: string | undefined;
  try {
    text = JSON.stringify(m);
  } catch {
    throw missingField("manifest must be JSON");
  }
  return utf8Length(text ?? "");
}

/**
 * Whether a request's `beacons`/`watermarks` sidecar is the signed array, in any
 * item order and any key order. Null members are dropped on both sides first:
 * the signature never covers them, so they cannot make two arrays differ.
 */
export function sidecarMatches(signedArray: unknown, sentArray: unknown): boolean {
  if (!Array.isArray(signedArray) || !Array.isArray(sentArray)) return false;
  if (signedArray.length !== sentArray.length) return false;
  try {
    const signed = signedArray.map((item) => canonicalize(dropNulls(item))).sort();
    const sent = sentArray.map((item) => canonicalize(dropNulls(item))).sort();
    return signed.every((item, i) => item === sent[i]);
  } catch {
    return false;
  }
}
