/**
 * The issuer's side of a registration (`oversight-registry register`): from
 * the facts only the issuer knows to a signed manifest and its request body.
 * Defaults, canonical form and signed bytes come from manifest.ts, the code
 * the registry verifies with, so what this signs is what the registry checks.
 */
import { z } from "zod";
import type { Signer } from "./ed25519.js";
import { toHex } from "./hex.js";
import { checkManifestLimits, MANIFEST_DEFAULTS, manifestSignedBytes, verifyManifest } from "./manifest.js";

const text = (what: string) => z.string({ error: `must be ${what}` });

export const IssuerFactsSchema = z.strictObject(
  {
    file_id: text("a string: the file's id"),
    issuer_id: text("a string: who issues the file"),
    recipient_id: text("a string: who receives the file").optional(),
    content_hash: text("a string: the file content's hash").optional(),
    beacons: z
      .array(z.strictObject({ token_id: text("a string"), kind: text("a string such as http or dns") }, { error: "must be {token_id, kind}" }), {
        error: "must be an array of {token_id, kind}",
      })
      .default([]),
    watermarks: z
      .array(z.strictObject({ mark_id: text("a string"), layer: text("a string") }, { error: "must be {mark_id, layer}" }), {
        error: "must be an array of {mark_id, layer}",
      })
      .default([]),
    /** Unix seconds; now when absent. */
    issued_at: z.int({ error: "must be an integer (Unix seconds)" }).nonnegative({ error: "must not be negative" }).optional(),
  },
  {
    error: (issue) =>
      issue.code === "unrecognized_keys" ? `has an unknown field ${issue.keys.map((k) => `'${k}'`).join(", ")}` : "must be a JSON object of the issuer's facts",
  },
);
export type IssuerFacts = z.input<typeof IssuerFactsSchema>;

export class IssuerFactsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IssuerFactsError";
  }
}

export interface Registration {
  manifest: Record<string, unknown>;
  beacons: unknown[];
  watermarks: unknown[];
}

/** The signed registration for `facts`; throws IssuerFactsError, naming the field, for facts the registry would refuse. */
export function signRegistration(facts: unknown, signer: Signer, now: number): Registration {
  const parsed = IssuerFactsSchema.safeParse(facts);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.map(String).join(".") : "the manifest";
    throw new IssuerFactsError(`${where} ${issue.message}`);
  }
  const { recipient_id, issued_at, ...rest } = parsed.data;
  const manifest: Record<string, unknown> = {
    ...MANIFEST_DEFAULTS,
    ...rest,
    issued_at: issued_at ?? now,
    issuer_ed25519_pub: signer.publicKeyHex,
    ...(recipient_id === undefined ? {} : { recipient: { recipient_id, x25519_pub: "" } }),
  };
  try {
    checkManifestLimits(manifest);
  } catch (error) {
    throw new IssuerFactsError((error as Error).message);
  }
  manifest["signature_ed25519"] = toHex(signer.sign(manifestSignedBytes(manifest)));
  const verdict = verifyManifest(manifest);
  if (!verdict.ok) throw new IssuerFactsError(verdict.reason);
  return { manifest, beacons: structuredClone(rest.beacons), watermarks: structuredClone(rest.watermarks) };
}
