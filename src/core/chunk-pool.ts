/**
 * Fixed-size buffers kept for reuse, for answers written in pieces
 * (JsonChunks): a large answer then allocates nothing once the pool has
 * warmed up. Allocating ~1 MB per answer instead either maps and faults in
 * fresh pages every time (blocks above glibc's mmap threshold,
 * src/memory-settings.ts) or counts as V8 external memory, which brings full
 * collections closer. Chunks stay below that threshold, so even the ones
 * allocated under load come from malloc's heap, and the pool keeps at most
 * `maxFree` of them: a burst does not hold its memory for ever.
 */
export class ChunkPool {
  private readonly free: Buffer[] = [];

  constructor(
    readonly chunkSize: number,
    private readonly maxFree: number,
  ) {}

  /** A chunk of `chunkSize` bytes with unspecified contents. */
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.chunkSize);
  }

  /** Hands chunks back once nothing reads them any more (their bytes are overwritten by the next taker). */
  give(chunks: readonly Buffer[]): void {
    for (const chunk of chunks) {
      if (this.free.length >= this.maxFree) return;
      if (chunk.length === this.chunkSize) this.free.push(chunk);
    }
  }

  /** Chunks waiting to be taken. */
  get available(): number {
    return this.free.length;
  }
}
