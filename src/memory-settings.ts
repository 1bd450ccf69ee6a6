import v8 from "node:v8";

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
 * - V8 lets its old space grow to up to 4 times what survived the last full
 *   collection before it collects again when the heap may grow to gigabytes,
 *   and to 1.3-1.4 times when it may grow to 256-512 MiB. The registry's live
 *   heap is ~20-30 MB, yet the old space reached 49-60 MiB after the
 *   evidence bundle pulls of bench:reads; with 512 MiB allowed it stayed at
 *   22.5. Past 512 MiB the process would stop with an out-of-memory error.
 * - glibc serves large blocks from mmap only until the first one is freed,
 *   then raises the threshold and serves them from its heap, which does not
 *   shrink; a fixed threshold returns them to the system when they are
 *   freed. Each such block is mapped and faulted in afresh, so hot paths
 *   build below it (a /tlog/range answer: RANGE_PIECE in
 *   registry/log-reads.ts, chunks of core/json-chunks.ts).
 * - A fixed mmap threshold also fixes glibc's trim threshold at 128 KiB:
 *   whenever that much lay free at the top of its heap, free() gave it back
 *   to the system, and the next requests took it back and faulted it in
 *   again, pages zeroed by the kernel every time: profiles of evidence
 *   bundles showed brk calls and page faults in SQLite's page cache among
 *   the kernel's largest shares. Keeping up to 1 MiB free per heap took
 *   server CPU per bundle to 0.86x and per proof to 0.93x, for ~3 MiB of
 *   resident memory (bench:http and bench:reads at 1,000,000 leaves).
 */
export const REGISTRY_NODE_OPTIONS: readonly string[] = ["--max-semi-space-size=4", "--max-old-space-size=512"];
export const REGISTRY_MEMORY_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: "131072",
  MALLOC_TRIM_THRESHOLD_: "1048576",
};

/**
 * The young generation of the isolates started after this is called: the
 * worker threads (the writer, the signature verifiers). The process's own
 * `--max-semi-space-size` (above) applies to every isolate and overrides a
 * Worker's `resourceLimits`, so it is lowered for the isolates made from now
 * on; V8 reads it only when it makes an isolate, so the main thread keeps its
 * own. A worker allocates little per job, yet at 4 MiB it kept two full
 * semi-spaces resident, 8 MiB per thread (bench:reads: `rss_end` ~6 MiB
 * lower at 1 MiB).
 */
const WORKER_V8_FLAGS = "--max-semi-space-size=1";

export function limitWorkerHeaps(): void {
  v8.setFlagsFromString(WORKER_V8_FLAGS);
}
