/**
 * Scheduling priority of one thread. On a machine where the bridge, its
 * registry and the resolvers' traffic share a few cores, a thread woken to
 * answer a query can wait milliseconds for a core that delivery work holds;
 * against a thread at a higher nice value it gets the core at once, and that
 * thread still has every core that is idle.
 */
import fs from "node:fs";
import os from "node:os";

/**
 * The sender thread's nice value. Delivery only has to keep up on average,
 * while every answer waits for the main and journal threads: under contention
 * for the cores those go first.
 */
export const SENDER_NICE = 10;

/**
 * Raises the calling thread's nice value to at least `nice`, leaving the
 * process's other threads as they are: Linux's setpriority acts on one thread
 * when given its id, which /proc/thread-self names ("<pid>/task/<tid>").
 * Returns the thread id, or null where the system offers neither (the thread
 * then keeps its priority).
 */
export function lowerThreadPriority(nice: number): number | null {
  try {
    const link = fs.readlinkSync("/proc/thread-self");
    const tid = Number(link.slice(link.lastIndexOf("/") + 1));
    os.setPriority(tid, Math.max(nice, os.getPriority(tid)));
    return tid;
  } catch {
    return null;
  }
}
