/**
 * Helpers for the DNS bridge tests: a bridge started in-process against a real
 * registry, a minimal DNS client on real sockets (dns-packet for the bytes),
 * and polling with a generous overall deadline that only turns a hang into a
 * failure.
 */
import dgram from "node:dgram";
import net from "node:net";
import type { TestContext } from "node:test";
import * as dnsPacket from "dns-packet";
import { startBridge, type BridgeOptions, type RunningBridge } from "../../src/dns/bridge.js";
import { createLogger } from "../../src/log.js";
import { tempDir } from "../temp.js";

export const DNS_SECRET = "dns-bridge-test-secret-0123456789abcdef";
export const APEX = "bcn.example.org";

export const tokenOf = (i: number) => i.toString(16).padStart(32, "0");
export const beaconName = (token: string) => `${token}.t.${APEX}`;

export interface TestBridge extends RunningBridge {
  dataDir: string;
  logLines: string[];
}

export async function startTestBridge(t: TestContext, registryUrl: string, overrides: Partial<BridgeOptions> = {}): Promise<TestBridge> {
  const dataDir = overrides.dataDir ?? tempDir(t, "oversight-dns-bridge-");
  const logLines: string[] = [];
  const bridge = await startBridge(
    {
      zone: { apex: APEX, nameservers: [`ns1.${APEX}`], answerIps: ["192.0.2.53"], answerIpv6: [], ttl: 60 },
      address: "127.0.0.1",
      port: 0,
      dataDir,
      registryUrl,
      secret: DNS_SECRET,
      metricsPort: 0,
      journalMax: 100_000,
      rate: { perSecond: 0, burst: 1 },
      deliveryWindow: 64,
      deliveryTimeoutMs: 10_000,
      synchronous: "NORMAL",
      backoff: { baseMs: 20, maxMs: 200, maxRetryAfterMs: 5_000 },
      ...overrides,
    },
    createLogger({ level: "info", stream: { write: (line: string) => logLines.push(line) } }),
  );
  t.after(() => bridge.close());
  return { ...bridge, dataDir, logLines };
}

export type Reply = dnsPacket.DecodedPacket & { rcode?: string };

let nextId = 1;
export function queryPacket(name: string, type: string, id = nextId++ & 0xffff): Buffer {
  return dnsPacket.encode({ type: "query", id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as dnsPacket.RecordType, class: "IN" }] });
}

/** Sends one UDP datagram and waits for the reply (null when none came within `waitMs`). */
export function udpExchange(port: number, message: Buffer, waitMs = 10_000): Promise<Buffer | null> {
  const socket = dgram.createSocket("udp4");
  return new Promise<Buffer | null>((resolve, reject) => {
    const timer = setTimeout(() => finish(null), waitMs);
    const finish = (value: Buffer | null) => {
      clearTimeout(timer);
      socket.close();
      resolve(value);
    };
    socket.on("error", reject);
    socket.on("message", (reply) => finish(reply));
    socket.send(message, port, "127.0.0.1");
  });
}

export async function udpQuery(port: number, name: string, type: string): Promise<Reply> {
  const reply = await udpExchange(port, queryPacket(name, type));
  if (reply === null) throw new Error(`no UDP answer for ${name} ${type}`);
  return dnsPacket.decode(reply) as Reply;
}

/** One TCP connection carrying `messages` (length-prefixed), answered in order. */
export function tcpExchange(port: number, messages: Buffer[]): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let buffered = Buffer.alloc(0);
    const replies: Reply[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error("TCP answer timed out")));
    socket.on("error", reject);
    socket.on("connect", () => {
      for (const message of messages) {
        const framed = Buffer.alloc(2 + message.length);
        framed.writeUInt16BE(message.length, 0);
        message.copy(framed, 2);
        socket.write(framed);
      }
    });
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const length = buffered.readUInt16BE(0);
        replies.push(dnsPacket.decode(buffered.subarray(2, 2 + length)) as Reply);
        buffered = buffered.subarray(2 + length);
      }
      if (replies.length === messages.length) {
        socket.end();
        resolve(replies);
      }
    });
    socket.on("close", () => replies.length < messages.length && reject(new Error(`TCP closed after ${replies.length} answers`)));
  });
}

/** Polls `check` until it returns true; fails after `deadlineMs` (generous: it only catches hangs). */
export async function until(what: string, check: () => boolean | Promise<boolean>, deadlineMs = 60_000): Promise<void> {
  const started = Date.now();
  for (let i = 0; ; i++) {
    if (await check()) return;
    if (Date.now() - started > deadlineMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(200, 5 * 2 ** Math.min(i, 6))));
  }
}

export interface DnsLeaf {
  token_id: string;
  qtype: string;
  qname: string;
  source_ip: string;
  kind: string;
}
