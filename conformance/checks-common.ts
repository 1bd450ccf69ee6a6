/**
 * What every group of checks shares: the run context and the state the
 * checks hand to each other, failure helpers, and the response schemas of
 * the wire contract (docs/PROTOCOL.md).
 */
import { z } from "zod";
import type { HttpResponse, RegistryClient } from "./client.js";
import type { Issuer, Manifest, Registration } from "./issuer.js";
import { canonicalize, hexBytes, verifyEd25519 } from "./verify.js";

export class CheckFailure extends Error {}
export class CheckSkipped extends Error {}

export function fail(message: string): never {
  throw new CheckFailure(message);
}

export function skip(message: string): never {
  throw new CheckSkipped(message);
}

export function ensure(condition: unknown, message: string): asserts condition {
  if (!condition) fail(message);
}

/** A value an earlier check was meant to produce; its absence fails this check too. */
export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) fail(`needs ${what}, which failed earlier`);
  return value;
}

export interface RegisteredFile {
  issuer: Issuer;
  manifest: Manifest;
  body: Registration;
  /** The exact request text, so a retry can be byte-identical. */
  bodyText: string;
  tlogIndex: number;
  dnsToken: string;
  httpToken: string;
  marks: { mark_id: string; layer: string }[];
  perceptualHash: string;
}

export interface VerifiedHead {
  size: number;
  root: Buffer;
}

export interface State {
  registryKey?: Buffer;
  federation?: { origin: string; vkey: string };
  /** `federation.extensions` from /.well-known, when the registry lists them. */
  extensions?: string[] | undefined;
  file?: RegisteredFile;
  /** A signed head seen right after the registration, for proofs at an older size. */
  earlierHead?: VerifiedHead;
  /** Beacon hits on the registered file's http token, by event kind. */
  beaconHits?: Record<string, number>;
  /** Set when the registry refused an unauthenticated DNS event, i.e. it has a DNS secret. */
  dnsSecretRequired?: boolean;
}

export interface Context {
  client: RegistryClient;
  token: string | null;
  dnsSecret: string | null;
  /** The harness started the registry itself, so it knows no DNS secret is configured. */
  selfStarted: boolean;
  /** The base URL's host is a loopback address, so the registry sees us as loopback. */
  loopback: boolean;
  state: State;
}

export interface Check {
  name: string;
  run(ctx: Context): Promise<void>;
}

// ---- response schemas --------------------------------------------------------

export const Hex32 = z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hex digits");
export const Hex64 = z.string().regex(/^[0-9a-f]{128}$/, "128 lowercase hex digits");
export const Index = z.number().int().nonnegative();
export const IsoTimestamp = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, "YYYY-MM-DDTHH:MM:SSZ");

export const ErrorEnvelopeSchema = z.strictObject({
  error: z.looseObject({ code: z.string(), message: z.string().min(1) }),
});

export const SignedHeadSchema = z.object({ size: Index, root: Hex32, signature: Hex64, signed_message: z.string() });
export type SignedHead = z.infer<typeof SignedHeadSchema>;

export const InclusionProofSchema = z.object({
  index: Index,
  leaf_hash: Hex32,
  proof: z.array(Hex32),
  root: Hex32,
  tree_size: z.number().int().positive(),
});
export type InclusionProof = z.infer<typeof InclusionProofSchema>;

export const RangeEntrySchema = z.object({ index: Index, leaf_hash: Hex32, leaf_data: z.string(), leaf_data_hex: z.string().regex(/^(?:[0-9a-f]{2})*$/) });
export const RangeSchema = z.object({ start: Index, count: Index, entries: z.array(RangeEntrySchema) });
export type RangeEntry = z.infer<typeof RangeEntrySchema>;

export const EventSchema = z.looseObject({
  kind: z.string(),
  source_ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  timestamp: z.number().int(),
  qualified_timestamp: z.string().nullable(),
  tlog_index: Index.nullable(),
});
export type EventRow = z.infer<typeof EventSchema>;

// ---- response helpers --------------------------------------------------------

function issues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join(".") : "(body)"}: ${i.message}`)
    .join("; ");
}

export function snippet(response: HttpResponse): string {
  const text = response.text.length > 200 ? response.text.slice(0, 200) + "…" : response.text;
  return `HTTP ${response.status} ${JSON.stringify(text)}`;
}

export function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) fail(`${what} has the wrong shape (${issues(result.error)})`);
  return result.data;
}

function ensureJsonType(response: HttpResponse): void {
  const type = response.headers.get("content-type") ?? "";
  ensure(/^application\/json\b/i.test(type) && /charset=utf-8/i.test(type), `content-type ${JSON.stringify(type)} is not application/json; charset=utf-8`);
}

export function expectJson<S extends z.ZodType>(response: HttpResponse, status: number, schema: S, what: string): z.infer<S> {
  ensure(response.status === status, `expected ${status}, got ${snippet(response)}`);
  ensure(response.json !== undefined, `body is not JSON: ${snippet(response)}`);
  ensureJsonType(response);
  return parse(schema, response.json, what);
}

export function expectError(response: HttpResponse, status: number | number[], code: string | string[]): void {
  const statuses = Array.isArray(status) ? status : [status];
  const codes = Array.isArray(code) ? code : [code];
  ensure(statuses.includes(response.status), `expected ${statuses.join(" or ")} ${codes.join(" or ")}, got ${snippet(response)}`);
  ensure(response.json !== undefined, `error body is not JSON: ${snippet(response)}`);
  ensureJsonType(response);
  const envelope = parse(ErrorEnvelopeSchema, response.json, "error envelope");
  ensure(codes.includes(envelope.error.code), `error code ${JSON.stringify(envelope.error.code)}, expected ${codes.join(" or ")}`);
}

export const sameJson = (a: unknown, b: unknown): boolean => canonicalize(a) === canonicalize(b);

export function requireKeys(value: object, keys: readonly string[], what: string): void {
  const missing = keys.filter((k) => !(k in value));
  ensure(missing.length === 0, `${what} lacks ${missing.join(", ")}`);
}

/** Checks a v1 signed tree head against the registry key; returns size and root. */
export function verifyHead(head: SignedHead, registryKey: Buffer, what: string): VerifiedHead {
  const expected = canonicalize({ root: head.root, size: head.size });
  ensure(head.signed_message === expected, `${what} signed_message ${JSON.stringify(head.signed_message)} is not ${expected}`);
  const signature = hexBytes(head.signature, 64)!;
  ensure(verifyEd25519(registryKey, Buffer.from(head.signed_message, "utf8"), signature), `${what} signature does not verify with the registry key`);
  return { size: head.size, root: hexBytes(head.root, 32)! };
}

export async function fetchHead(ctx: Context): Promise<VerifiedHead> {
  const key = need(ctx.state.registryKey, "the registry key from /.well-known");
  const head = expectJson(await ctx.client.get("/tlog/head"), 200, SignedHeadSchema, "/tlog/head");
  return verifyHead(head, key, "/tlog/head");
}

/** Leaves [start, end) through /tlog/range, page by page (the server may clamp `limit`). */
export async function fetchLeaves(ctx: Context, start: number, end: number): Promise<RangeEntry[]> {
  const entries: RangeEntry[] = [];
  while (start + entries.length < end) {
    const from = start + entries.length;
    const page = expectJson(await ctx.client.get(`/tlog/range?start=${from}&limit=${Math.min(end - from, 1000)}`), 200, RangeSchema, "/tlog/range");
    ensure(page.entries.length > 0, `/tlog/range?start=${from} returned no entries below size ${end}`);
    entries.push(...page.entries);
  }
  return entries.slice(0, end - start);
}

export function parseLeaf(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail(`${what} is not JSON`);
  }
  ensure(value !== null && typeof value === "object" && !Array.isArray(value), `${what} is not a JSON object`);
  ensure(canonicalize(value) === text, `${what} is not in canonical (RFC 8785) form`);
  return value as Record<string, unknown>;
}

export function expectFields(actual: Record<string, unknown>, expected: Record<string, unknown>, what: string): void {
  const wrong = Object.entries(expected).filter(([k, v]) => !(k in actual) || !sameJson(actual[k], v));
  ensure(wrong.length === 0, `${what}: ${wrong.map(([k, v]) => `${k} is ${JSON.stringify(actual[k])}, expected ${JSON.stringify(v)}`).join("; ")}`);
}
