/**
 * Progress of the offline database tools. The tools report through a callback
 * and never write to the terminal themselves; `progressReporter` draws one
 * self-overwriting line on stderr, and only when stderr is a terminal, so the
 * JSON report on stdout and any log captured from stderr stay clean.
 */

export interface Progress {
  /** What is being done, e.g. "tlog", "events", "manifests"; "done" ends the run. */
  phase: string;
  done: number;
  /** Null when the total is not known in advance (a log read line by line). */
  total: number | null;
}

export type ProgressCallback = (progress: Progress) => void;

/** The part of a stream the reporter uses (process.stderr in production). */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

export interface ReporterOptions {
  stream?: ProgressStream;
  /** Minimum time between two redraws of the same phase. */
  intervalMs?: number;
  now?: () => number;
}

const CLEAR_LINE = "\r\x1b[K";

/**
 * A callback that redraws `<label> <phase> <done>/<total> (<pct>%)` at most
 * once per interval (and at every phase change), and clears the line at
 * "done". A no-op when the stream is not a terminal.
 */
export function progressReporter(label: string, options: ReporterOptions = {}): ProgressCallback {
  const stream = options.stream ?? process.stderr;
  if (!stream.isTTY) return () => {};
  const interval = options.intervalMs ?? 200;
  const now = options.now ?? Date.now;
  let lastPhase: string | null = null;
  let lastDraw = -Infinity;
  return ({ phase, done, total }) => {
    if (phase === "done") {
      if (lastPhase !== null) stream.write(CLEAR_LINE);
      lastPhase = null;
      return;
    }
    const time = now();
    if (phase === lastPhase && time - lastDraw < interval) return;
    lastPhase = phase;
    lastDraw = time;
    stream.write(`${CLEAR_LINE}${label} ${formatProgress({ phase, done, total })}`);
  };
}

export function formatProgress({ phase, done, total }: Progress): string {
  if (total === null || total <= 0) return `${phase} ${done.toLocaleString("en-US")}`;
  const percent = Math.min(100, Math.floor((done / total) * 100));
  return `${phase} ${done.toLocaleString("en-US")}/${total.toLocaleString("en-US")} (${percent}%)`;
}
