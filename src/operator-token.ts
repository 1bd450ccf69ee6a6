/**
 * The operator token guarding /register and /attribute. A registry never
 * starts open by accident: without OVERSIGHT_OPERATOR_TOKEN it uses the token
 * kept in `<data dir>/operator-token`, creating one on first start, and only
 * OVERSIGHT_AUTH_DISABLED=1 turns authentication off.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createFileOnce } from "./core/durable-file.js";
import { SECRET_ADVICE, SECRET_RULE, secretWeakness } from "./core/secret-strength.js";

export const OPERATOR_TOKEN_FILE = "operator-token";

export class OperatorTokenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "OperatorTokenError";
  }
}

export interface ResolvedOperatorToken {
  token: string | null;
  source: "env" | "file" | "generated" | "disabled";
  path?: string;
  /** Set when the token file is readable by group or others. */
  warning?: string;
}

export interface OperatorTokenOptions {
  configured?: string | null;
  authDisabled: boolean;
  dataDir: string;
}

export function resolveOperatorToken(options: OperatorTokenOptions): ResolvedOperatorToken {
  if (options.authDisabled) return { token: null, source: "disabled" };
  if (options.configured) return { token: options.configured, source: "env" };
  const file = path.join(options.dataDir, OPERATOR_TOKEN_FILE);
  const existing = readTokenFile(file);
  if (existing !== null) return existing;
  return createTokenFile(file);
}

function readTokenFile(file: string): ResolvedOperatorToken | null {
  let text: string;
  let mode: number;
  try {
    text = fs.readFileSync(file, "utf8");
    mode = fs.statSync(file).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new OperatorTokenError(`cannot read the operator token file ${file}`, { cause: error });
  }
  const token = text.trim();
  const weakness = secretWeakness(token);
  if (weakness !== null) {
    throw new OperatorTokenError(
      `the operator token in ${file} must be ${SECRET_RULE}, but ${weakness}; ` +
        `write a stronger one (${SECRET_ADVICE}) or delete the file to have one generated`,
    );
  }
  const resolved: ResolvedOperatorToken = { token, source: "file", path: file };
  if ((mode & 0o077) !== 0) {
    resolved.warning = `${file} is readable by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it`;
  }
  return resolved;
}

/** Two registries starting together end up with the same token, never a torn file. */
function createTokenFile(file: string): ResolvedOperatorToken {
  const token = randomBytes(32).toString("base64url");
  let created: boolean;
  try {
    created = createFileOnce(file, `${token}\n`);
  } catch (error) {
    throw new OperatorTokenError(`cannot write the operator token file ${file}`, { cause: error });
  }
  if (created) return { token, source: "generated", path: file };
  const winner = readTokenFile(file);
  if (winner === null) throw new OperatorTokenError(`the operator token file ${file} vanished while it was being created`);
  return winner;
}
