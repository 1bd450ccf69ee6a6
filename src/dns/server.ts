/**
 * The sockets: UDP and TCP on one address and port. Each message goes to
 * `handle`, whose reply (or null: no reply) is sent back the way the message
 * came. TCP carries each message behind a two-byte length (RFC 1035 §4.2.2);
 * connections are bounded in number, size and idle time, so a slow or
 * hostile client cannot hold the server.
 */
import dgram from "node:dgram";
import net from "node:net";
import type { Transport } from "./answer.js";

export interface Remote {
  address: string;
  port: number;
}

export type Handler = (message: Buffer, remote: Remote, transport: Transport) => Promise<Buffer | null>;

export interface DnsServerOptions {
  address: string;
  port: number;
  handle: Handler;
  onError: (error: Error, where: string) => void;
  maxTcpConnections?: number;
  tcpIdleMs?: number;
}

export interface DnsServer {
  port: number;
  close(): Promise<void>;
}

/** With port 0 the UDP socket picks one and TCP must get the same; another program may hold it on TCP. */
const PORT_ATTEMPTS = 20;
/** Messages read from one TCP connection and not yet answered. */
const MAX_QUEUED = 32;

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  for (let attempt = 1; ; attempt++) {
    const udp = await bindUdp(options);
    const port = udp.address().port;
    try {
      const tcp = await listenTcp(options, port);
      return {
        port,
        close: async () => {
          await Promise.all([new Promise<void>((resolve) => udp.close(() => resolve())), closeTcp(tcp)]);
        },
      };
    } catch (error) {
      udp.close();
      if (options.port !== 0 || (error as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

function bindUdp(options: DnsServerOptions): Promise<dgram.Socket> {
  const udp = dgram.createSocket({ type: net.isIPv6(options.address) ? "udp6" : "udp4" });
  udp.on("message", (message, info) => {
    options.handle(message, { address: info.address, port: info.port }, "udp").then(
      (reply) => {
        if (reply !== null) udp.send(reply, info.port, info.address, (error) => error && options.onError(error, "udp send"));
      },
      (error: Error) => options.onError(error, "udp"),
    );
  });
  return new Promise((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(options.port, options.address, () => {
      udp.off("error", reject);
      udp.on("error", (error) => options.onError(error, "udp socket"));
      resolve(udp);
    });
  });
}

interface TcpListener {
  server: net.Server;
  sockets: Set<net.Socket>;
}

function listenTcp(options: DnsServerOptions, port: number): Promise<TcpListener> {
  const sockets = new Set<net.Socket>();
  const maxConnections = options.maxTcpConnections ?? 256;
  const server = net.createServer({ noDelay: true }, (socket) => {
    if (sockets.size >= maxConnections) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    serveConnection(socket, options);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, options.address, () => {
      server.off("error", reject);
      server.on("error", (error) => options.onError(error, "tcp listener"));
      resolve({ server, sockets });
    });
  });
}

/**
 * Messages on one connection are answered in the order they came, one at a
 * time. A client that pipelines faster than we answer is paused, so one
 * connection holds at most MAX_QUEUED messages and one partial frame.
 */
function serveConnection(socket: net.Socket, options: DnsServerOptions): void {
  let buffered = Buffer.alloc(0);
  let chain = Promise.resolve();
  let queued = 0;
  socket.setTimeout(options.tcpIdleMs ?? 10_000, () => socket.destroy());
  socket.on("error", () => socket.destroy());
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2) {
      const length = buffered.readUInt16BE(0);
      if (buffered.length < 2 + length) return;
      const message = buffered.subarray(2, 2 + length);
      buffered = buffered.subarray(2 + length);
      const remote = { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
      if (++queued >= MAX_QUEUED) socket.pause();
      chain = chain
        .then(async () => {
          const reply = await options.handle(message, remote, "tcp").catch((error: Error) => {
            options.onError(error, "tcp");
            return null;
          });
          if (reply === null) {
            // A message we drop on UDP cannot be skipped silently on a stream the client is waiting on.
            socket.destroy();
            return;
          }
          if (socket.destroyed) return;
          const framed = Buffer.alloc(2 + reply.length);
          framed.writeUInt16BE(reply.length, 0);
          reply.copy(framed, 2);
          socket.write(framed);
        })
        .finally(() => {
          if (--queued < MAX_QUEUED && socket.isPaused()) socket.resume();
        });
    }
  });
}

function closeTcp(listener: TcpListener): Promise<void> {
  return new Promise((resolve) => {
    listener.server.close(() => resolve());
    for (const socket of listener.sockets) socket.destroy();
  });
}
