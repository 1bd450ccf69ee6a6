/**
 * Test support for the auditor's tools: a real registry process
 * (`node dist/main.js`), one-shot command runs, captured command output, and the registry's own key
 * (read from its data directory) to play a malicious operator with.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { signerFromSeed, type Signer } from "../../src/core/ed25519.js";
import type { CommandIo } from "../../src/ops/monitor.js";

/** dist/main.js of this repository, from build/test/ops/. */
export const MAIN_JS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../dist/main.js");

/** Runs `node dist/main.js ARGS` with only PATH and `env` in its environment, and collects what it prints. */
export function runMain(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN_JS, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env["PATH"] ?? "", ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

export interface RegistryProcess {
  url: string;
  dataDir: string;
  dbPath: string;
  stop(): Promise<void>;
}

export async function startRegistry(dataDir: string, dbPath = path.join(dataDir, "registry.sqlite"), extraArgs: string[] = []): Promise<RegistryProcess> {
  const child: ChildProcess = spawn(process.execPath, [MAIN_JS, "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir, "--db", dbPath, ...extraArgs], {
    env: { ...process.env, OVERSIGHT_AUTH_DISABLED: "1", OVERSIGHT_LOG_ORIGIN: "test.example/oversight-registry" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`registry did not start within 15 s: ${stderr}`)), 15_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`registry exited with ${code}: ${stderr}`));
    });
    lines.on("line", (line) => {
      try {
        const record = JSON.parse(line) as { msg?: string; url?: string };
        if (record.msg === "listening" && record.url) {
          clearTimeout(timer);
          resolve(record.url);
        }
      } catch {
        // Not every line has to be ours to read.
      }
    });
  });
  return {
    url,
    dataDir,
    dbPath,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The registry's own signing key, as a malicious operator would have it. */
export function registrySigner(dataDir: string): Signer {
  const identity = JSON.parse(readFileSync(path.join(dataDir, "registry-identity.json"), "utf8")) as { ed25519_priv: string };
  return signerFromSeed(Buffer.from(identity.ed25519_priv, "hex"));
}

export interface CapturedIo {
  io: CommandIo;
  stdout(): string;
  stderr(): string;
}

export function captureIo(): CapturedIo {
  let out = "";
  let err = "";
  return {
    io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } },
    stdout: () => out,
    stderr: () => err,
  };
}

/** GET /p/<token>.png: one beacon hit, one leaf. */
export async function beaconHit(url: string, token: string): Promise<void> {
  const response = await fetch(`${url}/p/${token}.png`);
  if (response.status !== 200) throw new Error(`beacon hit answered ${response.status}`);
  await response.arrayBuffer();
}
