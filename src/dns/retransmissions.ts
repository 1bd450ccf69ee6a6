/**
 * Resolvers resend a query they got no answer to, with the same message id,
 * within a second or two. The answer may have been lost after we journaled
 * the query, so a resend is the same event, not a new one. Memory is bounded:
 * entries expire after the window and the oldest go first past `maxEntries`.
 */
export interface RetransmissionOptions {
  windowMs: number;
  maxEntries: number;
  /** Milliseconds on a clock that never goes back. */
  now: () => number;
}

export class RecentQueries {
  // Insertion order is arrival order, so expired entries are always at the front.
  private readonly seenAt = new Map<string, number>();

  constructor(private readonly options: RetransmissionOptions) {}

  /** True when the same resolver asked the same name with the same message id within the window; remembers this one otherwise. */
  isRetransmission(resolver: string, messageId: number, name: string, qtype: string): boolean {
    const now = this.options.now();
    this.expire(now);
    const key = keyOf(resolver, messageId, name, qtype);
    if (this.seenAt.has(key)) return true;
    this.seenAt.set(key, now);
    if (this.seenAt.size > this.options.maxEntries) this.seenAt.delete(this.seenAt.keys().next().value!);
    return false;
  }

  /** The query could not be journaled: its resend must be treated as new. */
  forget(resolver: string, messageId: number, name: string, qtype: string): void {
    this.seenAt.delete(keyOf(resolver, messageId, name, qtype));
  }

  get size(): number {
    return this.seenAt.size;
  }

  private expire(now: number): void {
    for (const [key, at] of this.seenAt) {
      if (now - at < this.options.windowMs) return;
      this.seenAt.delete(key);
    }
  }
}

function keyOf(resolver: string, messageId: number, name: string, qtype: string): string {
  return `${resolver}\n${messageId}\n${name.toLowerCase()}\n${qtype}`;
}
