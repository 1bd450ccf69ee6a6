/**
 * Token-bucket rate limiting (docs/PROTOCOL.md#rate-limits): each key (client address, or the
 * holder of the operator token or DNS secret) has a bucket of `burst` tokens
 * refilled at `perSecond`.
 * Memory is bounded: a bucket that has refilled completely is the same as no
 * bucket and is dropped, and past `maxKeys` the least recently used buckets go
 * (which can only make the limiter more lenient, never wrongly refuse).
 */
import { performance } from "node:perf_hooks";
import type { Request, RequestHandler } from "express";
import { RegistryError } from "../core/errors.js";

export interface TokenBucketOptions {
  /** Tokens added per second; 0 disables the limiter. */
  perSecond: number;
  /** Bucket size: how many requests may arrive at once. */
  burst: number;
  /** Upper bound on tracked keys (default 100,000). */
  maxKeys?: number;
  /** Milliseconds on a clock that never goes back (default `performance.now`); tests pass one they move by hand. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

const DEFAULT_MAX_KEYS = 100_000;
/** After an overflow sweep the map is brought down to this share of maxKeys, so sweeps are rare. */
const SWEEP_TARGET = 0.9;
/** Absorbs floating-point error in the refill sum so a token that is due is not refused. */
const EPSILON = 1e-9;

export class TokenBuckets {
  readonly perSecond: number;
  readonly burst: number;
  readonly maxKeys: number;
  private readonly now: () => number;
  // Map iteration order is insertion order; re-inserting on use keeps it least-recently-used first.
  private readonly buckets = new Map<string, Bucket>();

  constructor(options: TokenBucketOptions) {
    if (!(options.perSecond >= 0) || !Number.isFinite(options.perSecond)) throw new RangeError("perSecond must be ≥ 0");
    if (options.perSecond > 0 && !(options.burst >= 1)) throw new RangeError("burst must be ≥ 1");
    this.perSecond = options.perSecond;
    this.burst = options.burst;
    this.maxKeys = Math.max(1, options.maxKeys ?? DEFAULT_MAX_KEYS);
    this.now = options.now ?? (() => performance.now());
  }

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  /** Number of keys currently tracked. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token for `key`: 0 when allowed, else the whole seconds to wait before a token is available (≥ 1). */
  take(key: string, nowMs: number = this.now()): number {
    if (!this.enabled) return 0;
    const bucket = this.buckets.get(key);
    this.buckets.delete(key);
    if (bucket === undefined) {
      this.buckets.set(key, { tokens: this.burst - 1, updatedMs: nowMs });
      if (this.buckets.size > this.maxKeys) this.sweep(nowMs);
      return 0;
    }
    const tokens = this.level(bucket, nowMs);
    if (tokens >= 1 - EPSILON) {
      this.buckets.set(key, { tokens: Math.max(0, tokens - 1), updatedMs: Math.max(nowMs, bucket.updatedMs) });
      return 0;
    }
    // A refusal spends nothing and leaves the refill clock alone; it only marks the key as recently used.
    this.buckets.set(key, bucket);
    return Math.max(1, Math.ceil((1 - tokens) / this.perSecond));
  }

  private level(bucket: Bucket, nowMs: number): number {
    const elapsedMs = Math.max(0, nowMs - bucket.updatedMs);
    return Math.min(this.burst, bucket.tokens + (elapsedMs * this.perSecond) / 1000);
  }

  private sweep(nowMs: number): void {
    for (const [key, bucket] of this.buckets) {
      if (this.level(bucket, nowMs) >= this.burst) this.buckets.delete(key);
    }
    const target = Math.floor(this.maxKeys * SWEEP_TARGET);
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= target) break;
      this.buckets.delete(key);
    }
  }
}

/** The bucket sets a registry has, one per `OVERSIGHT_RATE_*` setting; the label of its refusals in the metrics. */
export type BucketName = "write" | "read" | "token" | "dns";

/** A bucket set, its name, and the key to take a token from. */
export interface BucketChoice {
  buckets: TokenBuckets;
  bucket: BucketName;
  key: string;
}

/**
 * Refuses a request with 429 rate_limited (and Retry-After) when the bucket
 * `choose` names for it is empty, and tells `onRefused` which bucket it was.
 */
export function rateLimit(choose: (req: Request) => BucketChoice, onRefused: (bucket: BucketName) => void = () => {}): RequestHandler {
  return (req, _res, next) => {
    const { buckets, bucket, key } = choose(req);
    const retryAfter = buckets.take(key);
    if (retryAfter === 0) {
      next();
      return;
    }
    onRefused(bucket);
    next(rateLimited(retryAfter));
  };
}

/** The refusal of a request, or of one item of a batch, whose bucket is empty: 429 with `retry_after`. */
export function rateLimited(retryAfter: number): RegistryError {
  return new RegistryError("rate_limited", `too many requests; retry after ${retryAfter} s`, { extra: { retry_after: retryAfter } });
}

/**
 * Takes one more token from `choice` for each item of a batch after its
 * first (the request's own token paid for that): null, or the refusal.
 */
export function admitItem(choice: BucketChoice, onRefused: (bucket: BucketName) => void): RegistryError | null {
  const retryAfter = choice.buckets.take(choice.key);
  if (retryAfter === 0) return null;
  onRefused(choice.bucket);
  return rateLimited(retryAfter);
}
