// The bridge as a resolver's tools see it: dig (Debian's bind9-dnsutils, which
// .ci/run installs) over UDP and TCP. Outside CI without dig these skip.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { startTestRegistry } from "../http/registry-server.js";
import { APEX, DNS_SECRET, beaconName, startTestBridge, tokenOf, until } from "./harness.js";

const run = promisify(execFile);
const hasDig = spawnSync("dig", ["-v"], { stdio: "ignore" }).error === undefined;

function needDig(t: TestContext): boolean {
  if (hasDig) return true;
  if (process.env["CI"]) assert.fail("dig is not on PATH (CI installs bind9-dnsutils in .ci/run)");
  t.skip("dig is not on PATH: apt-get install bind9-dnsutils to run the dig tests");
  return false;
}

const dig = async (port: number, ...args: string[]) =>
  (await run("dig", ["@127.0.0.1", "-p", String(port), "+time=5", "+tries=1", ...args], { timeout: 30_000 })).stdout;

test("dig: A, AAAA, SOA, NS, mixed case, outside the zone, over UDP and TCP; each beacon query logged once", async (t) => {
  if (!needDig(t)) return;
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const bridge = await startTestBridge(t, reg.url);
  const port = bridge.dnsPort;
  assert.equal((await dig(port, "+short", beaconName(tokenOf(1)), "A")).trim(), "192.0.2.53");
  assert.equal((await dig(port, "+short", "+tcp", beaconName(tokenOf(2)).toUpperCase(), "A")).trim(), "192.0.2.53");
  const aaaa = await dig(port, beaconName(tokenOf(3)), "AAAA");
  assert.match(aaaa, /status: NOERROR/);
  assert.match(aaaa, /ANSWER: 0, AUTHORITY: 1/);
  assert.match(aaaa, /flags: qr aa/);
  assert.match(await dig(port, "+short", APEX, "SOA"), new RegExp(`^ns1\\.${APEX.replace(/\./g, "\\.")}\\. hostmaster\\.`));
  assert.equal((await dig(port, "+short", "+tcp", APEX, "NS")).trim(), `ns1.${APEX}.`);
  assert.match(await dig(port, "example.com", "A"), /status: REFUSED/);
  // A resolver without EDNS0 still gets its answer within 512 bytes.
  assert.match(await dig(port, "+noedns", beaconName(tokenOf(4)), "A"), /status: NOERROR/);

  await until("four beacon events", () => bridge.journal.pending === 0 && reg.service.registry.store.size() >= 4);
  const { entries } = reg.service.log.range(0, 100);
  const tokens = entries
    .map((e: { leaf_data: string }) => JSON.parse(e.leaf_data) as { token_id: string; qtype: string })
    .map((l) => `${l.token_id} ${l.qtype}`)
    .sort();
  assert.deepEqual(tokens, [`${tokenOf(1)} A`, `${tokenOf(2)} A`, `${tokenOf(3)} AAAA`, `${tokenOf(4)} A`]);
});

test("dig: an answer too big for UDP comes back TC=1, and dig's retry over TCP gets it whole", async (t) => {
  if (!needDig(t)) return;
  const reg = await startTestRegistry(t, { dnsSecret: DNS_SECRET });
  const ips = Array.from({ length: 30 }, (_, i) => `198.51.100.${i + 1}`);
  const bridge = await startTestBridge(t, reg.url, { zone: { apex: APEX, nameservers: [`ns1.${APEX}`], answerIps: ips, answerIpv6: [], ttl: 60 } });
  const truncated = await dig(bridge.dnsPort, "+ignore", "+bufsize=512", beaconName(tokenOf(5)), "A");
  assert.match(truncated, /flags: qr aa tc/);
  const whole = await dig(bridge.dnsPort, "+short", beaconName(tokenOf(6)), "A");
  assert.deepEqual(whole.trim().split("\n").sort(), [...ips].sort());
});
