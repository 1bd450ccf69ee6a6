/**
 * `npm run openapi`: writes the OpenAPI document to docs/openapi.json, where a
 * test compares it with the document the code generates.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { OPENAPI_FILE, openApiText } from "../http/openapi.js";
import { API_ROUTES } from "../http/route-table.js";
import { VERSION } from "../version.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const target = path.join(repoRoot, OPENAPI_FILE);
writeFileSync(target, openApiText(API_ROUTES, VERSION));
console.log(`wrote ${target}`);
