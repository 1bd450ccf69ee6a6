/**
 * The fast path's half for POST /register, /attribute and /dns_event. It takes
 * a request only when Express would read its body the same way: a JSON media
 * type in UTF-8, no content coding, a Content-Length, and credentials that
 * pass the same checks as the auth middleware. A length over the limit is
 * refused from the header, as jsonBody does, without reading the body; any
 * other body is parsed as jsonBody does and handed to the route's own action.
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { RegistryError } from "../core/errors.js";
import type { RegistryService } from "../registry/service.js";
import type { HttpEdge, Spender } from "./app.js";
import type { ScopeName } from "../core/token-scopes.js";
import type { Operator, OperatorAccess } from "../registry/operator-access.js";
import { admitOperator, dnsAdmits } from "./auth.js";
import { bodyTooLarge } from "./json-body.js";
import type { TokenBuckets } from "./rate-limit.js";
import { WRITE_ACTIONS, type WriteAction } from "./routes/writes.js";

export interface FastWriteOptions {
  service: RegistryService;
  edge: HttpEdge;
  operators: OperatorAccess;
  dnsSecret: string | null;
  trustedProxy: boolean;
  maxBodyBytes: number;
}

export interface WritePlan {
  buckets: TokenBuckets;
  key: string;
  /** Reads the body and runs the route's action; resolves with the JSON answer. */
  run: (address: string) => Promise<unknown>;
}

const JSON_UTF8 = /^application\/json[ \t]*(;[ \t]*charset=("?)utf-8\2[ \t]*)?$/i;

/** A plan for a write the fast path can take exactly as Express would, or null to leave it to Express. */
export function planWrite(req: IncomingMessage, address: string, options: FastWriteOptions): WritePlan | null {
  const length = plainJsonLength(req.headers);
  if (length === null) return null;
  const read = async () => {
    if (length > options.maxBodyBytes) throw bodyTooLarge(options.maxBodyBytes);
    return parseObject(await readBody(req, length));
  };
  const { edge, service } = options;
  const plan = (spender: Spender, action: WriteAction, operator: Operator | null = null): WritePlan => ({
    ...edge.bucketFor(spender, address, operator?.name),
    run: async (from) => action(service, await read(), from, operator),
  });
  const operatorPlan = (scope: ScopeName, action: WriteAction) => {
    const admitted = admittedOperator(req, options.operators, scope);
    return admitted === undefined ? null : plan("operator", action, admitted);
  };
  switch (req.url) {
    case "/register":
      return operatorPlan("register", WRITE_ACTIONS.register);
    case "/attribute":
      return operatorPlan("attribute", WRITE_ACTIONS.attribute);
    case "/dns_event":
      return dnsAdmits(req, { secret: options.dnsSecret, trustedProxy: options.trustedProxy })
        ? plan("dns", WRITE_ACTIONS.dnsEvent)
        : null;
    default:
      return null;
  }
}

/** The operator, or undefined when the request is refused: Express then answers the refusal, with its header. */
function admittedOperator(req: IncomingMessage, access: OperatorAccess, scope: ScopeName): Operator | null | undefined {
  try {
    return admitOperator(req, access, scope);
  } catch {
    return undefined;
  }
}

function plainJsonLength(headers: IncomingHttpHeaders): number | null {
  if (!JSON_UTF8.test(headers["content-type"] ?? "")) return null;
  if (headers["transfer-encoding"] !== undefined) return null;
  const coding = headers["content-encoding"];
  if (coding !== undefined && coding.trim().toLowerCase() !== "identity") return null;
  const length = /^[0-9]{1,10}$/.test(headers["content-length"] ?? "") ? Number(headers["content-length"]) : 0;
  return length > 0 ? length : null;
}

function readBody(req: IncomingMessage, length: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks, length).toString("utf8")));
    req.on("aborted", () => reject(new RegistryError("missing_field", "request body was not received completely")));
    req.on("error", reject);
  });
}

/** As jsonBody: a JSON object at the top level (a UTF-8 byte order mark is dropped, as body-parser's decoder does). */
function parseObject(text: string): unknown {
  let body: unknown;
  try {
    body = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new RegistryError("missing_field", "malformed JSON", { cause: error });
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new RegistryError("missing_field", "request body must be a JSON object");
  }
  return body;
}
