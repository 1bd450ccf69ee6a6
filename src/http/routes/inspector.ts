/**
 * GET / (the evidence inspector page, docs/INSPECTOR.md) and GET /web/<file>
 * (its content-hashed script and stylesheet), built by web/build.mjs next to
 * the compiled server. A request that prefers JSON over HTML gets the v1 404
 * envelope at `/`, as before the page existed, so API clients see no change.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Router, type Response } from "express";
import { z } from "zod";
import type { DescribedRoute } from "../route.js";

/** dist/http/routes → dist/web; build/src/http/routes → build/src/web. */
export const INSPECTOR_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../web");

/**
 * The page's own policy, stricter than helmet's default for the API: only this
 * origin's scripts, styles and fetches; no inline anything, no frames, no
 * plugins. `upgrade-insecure-requests` is left out: the page is also served
 * over plain HTTP on loopback (`npm start`), where it would break every fetch.
 */
export const INSPECTOR_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** `Cache-Control` of the content-hashed assets: a new build gives them new names. */
export const ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable";
const TYPES: Record<string, string> = { ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };

const PAGE_CACHE_CONTROL = "no-cache";

/** The page and its assets as the API description shows them; Express serves them behind the route table (app.ts). */
export const INSPECTOR_PAGE = {
  methods: ["GET", "HEAD"],
  path: "/",
  bucket: "read",
  doc: {
    tag: "inspector",
    summary: "The evidence inspector page (docs/INSPECTOR.md) for a client that prefers HTML; a client that prefers JSON gets the 404 envelope",
    ok: { kind: "text", type: "text/html; charset=utf-8" },
    cacheControl: PAGE_CACHE_CONTROL,
    errors: [404, 429],
  },
} as const satisfies DescribedRoute;

export const INSPECTOR_ASSET = {
  methods: ["GET", "HEAD"],
  path: "/web/:name",
  bucket: "read",
  doc: {
    tag: "inspector",
    summary: "The inspector page's content-hashed script and stylesheet",
    ok: { kind: "text", type: Object.values(TYPES) },
    cacheControl: ASSET_CACHE_CONTROL,
    errors: [404, 429],
    paths: [{ path: "/web/{name}", params: z.object({ name: z.string() }) }],
  },
} as const satisfies DescribedRoute;

export const INSPECTOR_ROUTES: readonly DescribedRoute[] = [INSPECTOR_PAGE, INSPECTOR_ASSET];

interface Asset {
  type: string;
  body: Buffer;
}

/** The page's files, read once: they change only with a new build, which restarts the server. */
function loadPage(dir: string): { index: Buffer; assets: Map<string, Asset> } | null {
  const indexPath = path.join(dir, "index.html");
  if (!existsSync(indexPath)) return null;
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (type) assets.set(name, { type, body: readFileSync(path.join(dir, name)) });
  }
  return { index: readFileSync(indexPath), assets };
}

export function inspectorRoutes(dir: string = INSPECTOR_DIR): Router {
  const router = Router();
  const page = loadPage(dir);
  if (!page) return router;
  const send = (res: Response, type: string, cache: string, body: Buffer) => {
    res.set({ "Content-Type": type, "Cache-Control": cache, "Content-Security-Policy": INSPECTOR_CSP }).send(body);
  };

  router.get(INSPECTOR_PAGE.path, (req, res, next) => {
    if (req.accepts(["html", "json"]) !== "html") return next();
    send(res, INSPECTOR_PAGE.doc.ok.type, PAGE_CACHE_CONTROL, page.index);
  });
  router.get(INSPECTOR_ASSET.path, (req, res, next) => {
    const asset = page.assets.get(req.params.name);
    if (!asset) return next();
    send(res, asset.type, ASSET_CACHE_CONTROL, asset.body);
  });
  return router;
}
