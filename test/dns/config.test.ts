// The bridge's settings as an operator leaves them: the defaults each flag
// documents in docs/DNS-BRIDGE.md.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadBridgeConfig } from "../../src/dns/config.js";

test("the defaults: a delivery window of 256 events, FULL, the documented bounds", () => {
  const config = loadBridgeConfig(["--beacon-domain", "beacon.example.org", "--answer-ip", "192.0.2.1", "--registry-url", "http://127.0.0.1:8765"], {}, "/srv");
  assert.notEqual(config, "help");
  if (config === "help") return;
  assert.deepEqual(
    {
      deliveryWindow: config.deliveryWindow,
      synchronous: config.synchronous,
      journalMax: config.journalMax,
      sourceRate: config.sourceRate,
      port: config.port,
      metricsPort: config.metricsPort,
      dataDir: config.dataDir,
    },
    {
      deliveryWindow: 256,
      synchronous: "FULL",
      journalMax: 1_000_000,
      sourceRate: { perSecond: 200, burst: 2000 },
      port: 53,
      metricsPort: 9153,
      dataDir: "/srv/data/dns-bridge",
    },
  );
});
