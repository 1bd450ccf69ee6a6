/**
 * How long the sender waits after a failed delivery: the registry's own
 * `retry_after` when it gave one (429), otherwise exponential backoff with
 * half of it jittered, so many bridges coming back after an outage do not
 * arrive in step, and none spins on a dead registry.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** A `retry_after` above this is capped, so a confused registry cannot park the bridge for a day. */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 30_000, maxRetryAfterMs: 300_000 };

/** `failures` counts consecutive failed rounds, the current one included (≥ 1); `random` is in [0, 1). */
export function retryDelayMs(policy: BackoffPolicy, failures: number, retryAfterSeconds: number | null, random: number): number {
  if (retryAfterSeconds !== null) return Math.min(policy.maxRetryAfterMs, Math.max(0, retryAfterSeconds * 1000));
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.round(ceiling / 2 + (random * ceiling) / 2);
}
