// Builds the inspector page into OUT_DIR: esbuild bundles web/src/main.ts (and
// the src/verify/ code it imports) and the stylesheet into content-hashed files,
// and index.html names them. Run by `npm run build` (into dist/web) and
// `npm run build:all` (into build/src/web, where the tests' server looks).
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] ?? "dist/web");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: [path.join(here, "src/main.ts"), path.join(here, "src/style.css")],
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  entryNames: "[name]-[hash]",
  outdir: out,
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});

const outputs = Object.entries(result.metafile.outputs);
const named = (suffix) => path.basename(outputs.find(([file]) => file.endsWith(suffix))[0]);
const html = readFileSync(path.join(here, "index.html"), "utf8").replace("{{js}}", named(".js")).replace("{{css}}", named(".css"));
writeFileSync(path.join(out, "index.html"), html);
