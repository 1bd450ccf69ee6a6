import { fileURLToPath } from "node:url";
import path from "node:path";

/** The repository root. Tests run compiled from build/test/, two levels below it. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
