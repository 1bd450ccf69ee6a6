/**
 * Checks, before the registry creates anything in its data directory, that
 * it will be able to listen: a wrong --port must not leave a new data
 * directory, key and token behind. The port is bound and released at once;
 * the server binds it again moments later (another program could take it in
 * between, and then the start fails as it would have anyway).
 */
import net from "node:net";

export class PortError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PortError";
  }
}

const PROBLEMS: Record<string, string> = {
  EADDRINUSE: "the port is in use by another program",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "the address is not one of this machine's",
  ENOTFOUND: "the host name does not resolve",
  EAI_AGAIN: "the host name does not resolve",
};

export async function checkListen(host: string, port: number): Promise<void> {
  // Port 0 picks a free port: nothing to check.
  if (port === 0) return;
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port, exclusive: true }, resolve);
    });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why = typeof code === "string" && code in PROBLEMS ? PROBLEMS[code]! : (error as Error).message;
    throw new PortError(
      `cannot listen on ${host.includes(":") ? `[${host}]` : host}:${port}: ${why}; nothing was created (choose another --port / OVERSIGHT_PORT)`,
    );
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
