/**
 * What every process's metrics share: a prom-client registry of its own (never
 * the global default, so one test process can run several servers), the
 * process and event-loop metrics in it, and gauges read at scrape time.
 */
import { Gauge, Registry, collectDefaultMetrics } from "prom-client";

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** A fresh registry holding prom-client's default metrics (CPU, memory, GC, handles, event-loop lag). */
export function processRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * A gauge whose value is read at every scrape. A reading of null, or one that
 * throws (the database closing under a late scrape), leaves the series out of
 * that scrape rather than failing it or reporting a made-up zero.
 */
export function callbackGauge(registry: Registry, name: string, help: string, read: () => number | null): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      let value: number | null;
      try {
        value = read();
      } catch {
        value = null;
      }
      if (value === null || !Number.isFinite(value)) this.remove();
      else this.set(value);
    },
  });
}
