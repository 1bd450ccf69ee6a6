/**
 * A small, polite HTTP client for a registry someone else runs: every answer
 * is parsed with zod before anything trusts it, requests time out, a 429 is
 * honoured with its `retry_after`, and network errors and 5xx answers are
 * retried with bounded exponential backoff and full jitter.
 */
import { z } from "zod";
import { SignedTreeHeadSchema, TreeSizeSchema, type SignedTreeHead } from "../tlog/heads.js";

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `expected ${bytes * 2} hex characters`);

export const WellKnownSchema = z.looseObject({
  ed25519_pub: hex(32),
  version: z.string().optional(),
  tlog_size: TreeSizeSchema.optional(),
  federation: z
    .looseObject({
      checkpoint_origin: z.string().min(1).optional(),
      checkpoint_vkey: z.string().min(1).optional(),
    })
    .optional(),
});
export type WellKnown = z.infer<typeof WellKnownSchema>;

export const ConsistencyProofSchema = z.object({
  first: TreeSizeSchema,
  second: TreeSizeSchema,
  proof: z.array(hex(32)).max(128),
});
export type ConsistencyProofResponse = z.infer<typeof ConsistencyProofSchema>;

export const RangeEntrySchema = z.object({
  index: TreeSizeSchema,
  leaf_hash: hex(32),
  leaf_data: z.string(),
  leaf_data_hex: z.string().regex(/^(?:[0-9a-fA-F]{2})*$/, "expected hex bytes"),
});
export type RangeEntryResponse = z.infer<typeof RangeEntrySchema>;

export const RangePageSchema = z.object({
  start: TreeSizeSchema,
  count: TreeSizeSchema,
  entries: z.array(RangeEntrySchema).max(1000),
});
export type RangePage = z.infer<typeof RangePageSchema>;

/** The registry answered, but not with what we asked for (no retry). */
export class RegistryHttpError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly code: string | null,
    message: string,
  ) {
    super(message);
    this.name = "RegistryHttpError";
  }
}

/** The registry answered 2xx with a body that does not match the contract. */
export class RegistryProtocolError extends Error {
  constructor(
    readonly url: string,
    message: string,
  ) {
    super(message);
    this.name = "RegistryProtocolError";
  }
}

export interface RetryNotice {
  url: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface ClientOptions {
  /** Per request, including reading the body. */
  timeoutMs?: number;
  /** Total tries per request, the first included. */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A `retry_after` above this is capped, so a confused registry cannot park us for a day. */
  maxRetryAfterMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  onRetry?: (notice: RetryNotice) => void;
  userAgent?: string;
}

const DEFAULTS = {
  timeoutMs: 30_000,
  maxAttempts: 5,
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
  maxRetryAfterMs: 300_000,
  userAgent: "oversight-registry-monitor",
} as const;

const ErrorEnvelopeSchema = z.object({
  error: z.looseObject({ code: z.string(), message: z.string(), retry_after: z.number().nonnegative().optional() }),
});

const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Answer {
  status: number;
  body: string;
  retryAfterHeader: string | null;
}

class Retryable extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | null,
    readonly final: Error,
  ) {
    super(message);
  }
}

export class RegistryClient {
  readonly baseUrl: string;
  private readonly options: ResolvedOptions;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    const url = new URL(baseUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError(`registry URL must be http(s): ${baseUrl}`);
    this.baseUrl = url.href.replace(/\/+$/, "");
    this.options = {
      ...DEFAULTS,
      sleep: sleepMs,
      random: Math.random,
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    };
  }

  wellKnown(): Promise<WellKnown> {
    return this.getJson("/.well-known/oversight-registry", WellKnownSchema);
  }

  head(): Promise<SignedTreeHead> {
    return this.getJson("/tlog/head", SignedTreeHeadSchema);
  }

  /** Null when the registry does not serve consistency proofs (a v1-only registry answers 404). */
  async consistency(first: number, second: number): Promise<ConsistencyProofResponse | null> {
    const answer = await this.getJsonOrNull(`/tlog/consistency?first=${first}&second=${second}`, ConsistencyProofSchema);
    if (answer && (answer.first !== first || answer.second !== second)) {
      throw new RegistryProtocolError(this.url("/tlog/consistency"), `asked for consistency ${first} -> ${second}, got ${answer.first} -> ${answer.second}`);
    }
    return answer;
  }

  range(start: number, limit: number): Promise<RangePage> {
    return this.getJson(`/tlog/range?start=${start}&limit=${limit}`, RangePageSchema);
  }

  /** The C2SP checkpoint note text, or null when the registry has none. */
  async checkpoint(): Promise<string | null> {
    const answer = await this.request(this.url("/checkpoint"));
    if (answer.status === 404) return null;
    return answer.body;
  }

  getJson<S extends z.ZodType>(pathAndQuery: string, schema: S): Promise<z.infer<S>> {
    return fetchJson(this.url(pathAndQuery), schema, this.options);
  }

  async getJsonOrNull<S extends z.ZodType>(pathAndQuery: string, schema: S): Promise<z.infer<S> | null> {
    const url = this.url(pathAndQuery);
    const answer = await this.request(url);
    if (answer.status === 404) return null;
    return parseAnswer(url, answer, schema);
  }

  private request(url: string): Promise<Answer> {
    return requestWithRetry(url, this.options, true);
  }

  private url(pathAndQuery: string): string {
    return this.baseUrl + pathAndQuery;
  }
}

/** GET an absolute URL and parse its JSON with `schema`, with the same timeouts and retries as the client. */
export async function fetchJson<S extends z.ZodType>(url: string, schema: S, options: ClientOptions = {}): Promise<z.infer<S>> {
  const answer = await requestWithRetry(url, { ...DEFAULTS, sleep: sleepMs, random: Math.random, ...options }, false);
  return parseAnswer(url, answer, schema);
}

function parseAnswer<S extends z.ZodType>(url: string, answer: Answer, schema: S): z.infer<S> {
  if (answer.status < 200 || answer.status > 299) throw httpError(url, answer);
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    throw new RegistryProtocolError(url, `${url}: answer is not JSON`);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RegistryProtocolError(url, `${url}: unexpected answer (${issue ? `${issue.path.join(".") || "body"}: ${issue.message}` : "invalid"})`);
  }
  return parsed.data;
}

function httpError(url: string, answer: Answer): RegistryHttpError {
  const envelope = safeEnvelope(answer.body);
  const detail = envelope ? `${envelope.error.code}: ${envelope.error.message}` : answer.body.slice(0, 200);
  return new RegistryHttpError(url, answer.status, envelope?.error.code ?? null, `${url}: HTTP ${answer.status} ${detail}`.trim());
}

function safeEnvelope(body: string): z.infer<typeof ErrorEnvelopeSchema> | null {
  try {
    const parsed = ErrorEnvelopeSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

type ResolvedOptions = Required<Omit<ClientOptions, "onRetry">> & Pick<ClientOptions, "onRetry">;

/** 404 is returned to the caller when `allow404`; other non-2xx answers that are not worth retrying throw. */
async function requestWithRetry(url: string, options: ResolvedOptions, allow404: boolean): Promise<Answer> {
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await requestOnce(url, options);
      if (answer.status === 429) {
        throw new Retryable(`rate limited`, retryAfterMs(answer, options), httpError(url, answer));
      }
      if (answer.status >= 500) throw new Retryable(`HTTP ${answer.status}`, null, httpError(url, answer));
      if (answer.status === 404 && allow404) return answer;
      if (answer.status < 200 || answer.status > 299) throw httpError(url, answer);
      return answer;
    } catch (error) {
      if (!(error instanceof Retryable)) throw error;
      if (attempt >= options.maxAttempts) throw error.final;
      const backoff = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      const delayMs = error.retryAfterMs ?? Math.round(options.random() * backoff);
      options.onRetry?.({ url, attempt, delayMs, reason: error.message });
      await options.sleep(delayMs);
    }
  }
}

function retryAfterMs(answer: Answer, options: ResolvedOptions): number | null {
  const envelope = safeEnvelope(answer.body);
  const header = answer.retryAfterHeader ? Number(answer.retryAfterHeader) : NaN;
  const seconds = envelope?.error.retry_after ?? (Number.isFinite(header) && header >= 0 ? header : null);
  return seconds === null ? null : Math.min(options.maxRetryAfterMs, Math.ceil(seconds * 1000));
}

async function requestOnce(url: string, options: ResolvedOptions): Promise<Answer> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  try {
    const response = await fetch(url, { signal, headers: { accept: "application/json, text/plain", "user-agent": options.userAgent }, redirect: "follow" });
    const body = await response.text();
    return {
      status: response.status,
      body,
      retryAfterHeader: response.headers.get("retry-after"),
    };
  } catch (error) {
    const reason = error instanceof Error && error.name === "TimeoutError" ? `timed out after ${options.timeoutMs} ms` : describe(error);
    const final = new RegistryHttpError(url, 0, null, `${url}: ${reason}`);
    throw new Retryable(reason, null, final);
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}
