/**
 * A same-origin stand-in for a dishonest or compromised registry: forwards
 * every request to `target` and lets a test alter evidence bundles on the way
 * back. The page is served through it too, so its CSP's `connect-src 'self'`
 * holds, and its origin (hence the browser's local storage) survives a
 * restart of the registry behind it.
 */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";

export type Bundle = Record<string, any>;

export interface AlteringProxy {
  url: string;
  target: string;
  alterEvidence: ((bundle: Bundle) => void) | null;
}

const HOP_BY_HOP = new Set(["content-length", "transfer-encoding", "connection", "keep-alive"]);

export async function startAlteringProxy(t: TestContext, target: string): Promise<AlteringProxy> {
  const proxy: AlteringProxy = { url: "", target, alterEvidence: null };
  const server = http.createServer(async (req, res) => {
    try {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === "string" && !HOP_BY_HOP.has(name) && name !== "host") headers.set(name, value);
      }
      const upstream = await fetch(proxy.target + req.url, { method: req.method ?? "GET", headers });
      let body = Buffer.from(await upstream.arrayBuffer());
      if (proxy.alterEvidence && req.url?.startsWith("/evidence/") && upstream.status === 200) {
        const bundle = JSON.parse(body.toString("utf8")) as Bundle;
        proxy.alterEvidence(bundle);
        body = Buffer.from(JSON.stringify(bundle));
      }
      upstream.headers.forEach((value, name) => {
        if (!HOP_BY_HOP.has(name) && name !== "content-encoding") res.setHeader(name, value);
      });
      res.writeHead(upstream.status).end(body);
    } catch (error) {
      res.writeHead(502).end(String(error));
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  proxy.url = `http://127.0.0.1:${port}`;
  return proxy;
}
