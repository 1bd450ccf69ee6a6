/**
 * SIGINT and SIGTERM as a promise, for the long-running commands. Call it
 * before starting anything: a supervisor (or a test) may signal as soon as the
 * ready line is logged, before the code after `await start()` has run, and a
 * signal nobody listens for kills the process instead of stopping it cleanly.
 */
import type { Logger } from "./log.js";

export function stopRequested(logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info("shutting down", { signal });
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
