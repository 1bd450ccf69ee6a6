import assert from "node:assert/strict";
import { test } from "node:test";
import { shareOfCeiling } from "../../bench/ceilings.js";

const CEILINGS = { helloRps: 16_000, verifyPerS: 5_000, cores: 2 };

test("registrations are read against signature checks on every core, everything else against the hello-world rate", () => {
  assert.deepEqual(shareOfCeiling("register", 2_500, CEILINGS), { ceiling: "ed25519_verify_x2", ceiling_rps: 10_000, share_of_ceiling: 0.25 });
  for (const scenario of ["beacon", "dns", "proof_at_N", "health_under_bundles"]) {
    assert.deepEqual(shareOfCeiling(scenario, 4_000, CEILINGS), { ceiling: "http_hello_world", ceiling_rps: 16_000, share_of_ceiling: 0.25 });
  }
});

test("a ceiling that measured nothing gives no share rather than a division by zero", () => {
  assert.equal(shareOfCeiling("beacon", 10, { ...CEILINGS, helloRps: 0 }).share_of_ceiling, null);
});
