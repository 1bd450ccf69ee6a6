/**
 * How the registry's process should be started to stay small
 * (docs/DEPLOYMENT.md#memory); the Dockerfile sets the same, and the
 * benchmarks start the registry with them (test/deploy/healthcheck.test.ts
 * keeps the Dockerfile in step). Both only take effect at process start, so they
 * cannot be set from inside.
 *
 * - V8's young generation grows to 16 MiB semi-spaces under a steady stream
 *   of short-lived answers (proofs, ranges), ~25 MB of resident memory that
 *   buys no measurable throughput; 4 MiB caps it.
 * - glibc serves large blocks from mmap only until the first one is freed,
 *   then raises the threshold and serves them from its heap, which does not
 *   shrink; a fixed threshold returns them to the system when they are
 *   freed. Each such block is mapped and faulted in afresh, so hot paths
 *   build below it (a /tlog/range answer: RANGE_PIECE in
 *   registry/log-reads.ts, chunks of core/json-chunks.ts).
 */
export const REGISTRY_NODE_OPTIONS: readonly string[] = ["--max-semi-space-size=4"];
export const REGISTRY_MEMORY_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: "131072" };
