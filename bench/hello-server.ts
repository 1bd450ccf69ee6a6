/**
 * A bare node:http hello-world server, bench:http's first ceiling: the least
 * a server can do per request, so no route can go faster through the same
 * client on the same machine. Says it is ready as the registry does.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

const BODY = Buffer.from("hello\n");

const server = http.createServer((_req, res) => {
  res.setHeader("Content-Type", "text/plain");
  res.setHeader("Content-Length", BODY.length);
  res.end(BODY);
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ level: "info", msg: "listening", url: `http://127.0.0.1:${port}` }));
});
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
