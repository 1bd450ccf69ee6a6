/**
 * POST /register: verify a signed manifest and record it as one fact; where
 * it is written (write-apply.ts) its file is pinned to the issuer key and its
 * rows and its register leaf go in one transaction.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { RegistryError, missingField } from "../core/errors.js";
import { CanonicalJsonError, canonicalize } from "../verify/jcs.js";
import { LIMITS, checkManifest, checkManifestLimits, manifestParties, manifestVerdict, sidecarMatches } from "../core/manifest.js";
import { utf8Length } from "../core/hex.js";
import { WellFormedText } from "../core/text.js";
import { firstVerified, type SignatureCheck, type SignatureVerifier } from "../core/signature-check.js";
import { registerRefusal } from "../core/token-scopes.js";
import type { Operator } from "./operator-access.js";
import type { Registry } from "./registry.js";

export const RegisterRequestSchema = z.looseObject({
  manifest: z.record(z.string(), z.unknown()),
  beacons: z.array(z.unknown()).default([]),
  watermarks: z.array(z.unknown()).default([]),
  corpus: z.record(WellFormedText, WellFormedText).nullish(),
});
export type RegisterRequest = z.infer<typeof RegisterRequestSchema>;

export const RegisterResultSchema = z.object({
  ok: z.literal(true),
  file_id: z.string(),
  registered_beacons: z.int().nonnegative(),
  tlog_index: z.int().nonnegative(),
  /** Would describe a Rekor submission; this registry makes none. */
  rekor: z.null(),
});
export type RegisterResult = z.infer<typeof RegisterResultSchema>;

const BeaconItems = z.array(z.looseObject({ token_id: z.string(), kind: z.string() }));
const WatermarkItems = z.array(z.object({ mark_id: z.string(), layer: z.string() }));

export class Registrations {
  /**
   * `verifier` checks manifest signatures off this thread (the server's worker
   * pool); without one they are checked here.
   */
  constructor(
    private readonly registry: Registry,
    private readonly verifier: SignatureVerifier | null = null,
  ) {}

  /** Checks in the order docs/PROTOCOL.md#routes gives (auth and rate limits are the HTTP layer's), then one sequenced write. */
  /** `operator`: whose token sent it (null with auth disabled); its scope must cover the issuer, and the row records its name. */
  async register(request: RegisterRequest, operator: Operator | null = null): Promise<RegisterResult> {
    const { manifest } = request;
    const fileId = manifest["file_id"];
    if (typeof fileId !== "string" || fileId.length === 0) throw missingField("manifest.file_id is required");
    if (utf8Length(fileId) > LIMITS.identifierBytes) {
      throw missingField(`manifest.file_id is longer than ${LIMITS.identifierBytes} bytes`);
    }
    checkManifestLimits(manifest);
    const corpus = Object.entries(request.corpus ?? {});
    checkCorpusLimits(corpus);
    const corpusJson = canonicalOrRefuse(request.corpus ?? null, "corpus");

    const check = checkManifest(manifest);
    if (!check.ok) throw new RegistryError(check.code, check.reason);
    if (operator !== null) {
      const { issuerId, issuerPub } = manifestParties(manifest);
      const refusal = registerRefusal(operator.scopes, issuerId, issuerPub);
      if (refusal !== null) throw new RegistryError("auth_required", `${refusal}; token ${JSON.stringify(operator.name)}`, { status: 403 });
    }
    const signed: SignatureCheck = { publicKey: check.publicKey, signature: check.signature, messages: check.forms };
    const verdict = manifestVerdict(check, this.verifier ? await this.verifier.verify(signed) : firstVerified(signed));
    if (!verdict.ok) throw new RegistryError(verdict.code, verdict.reason);
    if (!sidecarMatches(manifest["beacons"] ?? [], request.beacons)) {
      throw new RegistryError("sidecar_mismatch", "beacons differ from the manifest's signed beacons");
    }
    if (!sidecarMatches(manifest["watermarks"] ?? [], request.watermarks)) {
      throw new RegistryError("sidecar_mismatch", "watermarks differ from the manifest's signed watermarks");
    }

    const parties = manifestParties(manifest);
    const beacons = BeaconItems.parse(manifest["beacons"] ?? []);
    const watermarks = WatermarkItems.parse(manifest["watermarks"] ?? []);
    // Verification already canonicalized every member; joining them is what canonicalize(manifest) would return.
    const manifestJson = check.canonical ?? canonicalOrRefuse(manifest, "manifest");
    // JCS of {manifest, beacons, watermarks, corpus}: members in key order, the manifest's text reused.
    const digest = createHash("sha256")
      .update(
        `{"beacons":${canonicalize(request.beacons)},"corpus":${corpusJson},` + `"manifest":${manifestJson},"watermarks":${canonicalize(request.watermarks)}}`,
      )
      .digest("hex");

    // Ownership of the tokens and marks, and an identical re-send, are decided where the rows are (write-apply.ts).
    const tlogIndex = await this.registry.write({
      kind: "register",
      at: this.registry.clock(),
      fileId: parties.fileId,
      recipientId: parties.recipientId,
      issuerId: parties.issuerId,
      issuerPub: parties.issuerPub,
      manifestJson,
      digest,
      operator: operator?.name ?? null,
      beacons: beacons.map(({ token_id, kind }) => ({ token_id, kind })),
      watermarks,
      corpus,
    });
    return { ok: true, file_id: parties.fileId, registered_beacons: beacons.length, tlog_index: tlogIndex, rekor: null };
  }
}

function checkCorpusLimits(entries: [string, string][]): void {
  if (entries.length > LIMITS.corpusEntries) throw missingField(`corpus has more than ${LIMITS.corpusEntries} entries`);
  for (const [kind, value] of entries) {
    for (const field of [kind, value]) {
      if (field.length === 0 || utf8Length(field) > LIMITS.corpusFieldBytes) {
        throw missingField(`corpus keys and values must be 1..${LIMITS.corpusFieldBytes} bytes`);
      }
    }
  }
}

/** Text that cannot be canonicalized (a lone UTF-16 surrogate) is a malformed request, not a server failure. */
function canonicalOrRefuse(value: unknown, what: string): string {
  try {
    return canonicalize(value);
  } catch (error) {
    if (error instanceof CanonicalJsonError) throw missingField(`${what} cannot be canonicalized: ${error.message}`);
    throw error;
  }
}
