/**
 * The one error type of the registry. Every layer throws it; the HTTP edge turns
 * it into the v1 envelope `{"error":{"code","message",...extra}}`.
 * The code vocabulary is closed (docs/PROTOCOL.md#errors).
 */
import { z } from "zod";

export const ERROR_STATUS = {
  missing_field: 400,
  signature_invalid: 400,
  sidecar_mismatch: 400,
  issuer_mismatch: 409,
  auth_required: 401,
  rate_limited: 429,
  not_found: 404,
  server_error: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Every answer outside 2xx. Other members may sit beside `code` and `message`; a 429 carries `retry_after`. */
export const ErrorEnvelopeSchema = z.object({
  error: z.looseObject({
    code: z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]),
    message: z.string().min(1),
    retry_after: z.int().nonnegative().optional(),
  }),
});
export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;

export interface RegistryErrorOptions {
  /** Overrides the code's default status (413 for bodies over the limit, 503 for fail-closed). */
  status?: number;
  /** Extra members under `error` (e.g. `retry_after`). */
  extra?: Record<string, unknown>;
  cause?: unknown;
}

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly extra: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: RegistryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RegistryError";
    this.code = code;
    this.status = options.status ?? ERROR_STATUS[code];
    this.extra = options.extra ?? {};
  }

  envelope(): ErrorEnvelope {
    return { error: { ...this.extra, code: this.code, message: this.message } };
  }
}

export const missingField = (message: string, options?: RegistryErrorOptions) => new RegistryError("missing_field", message, options);
export const notFound = (message: string) => new RegistryError("not_found", message);
export const serverError = (message: string, options?: RegistryErrorOptions) => new RegistryError("server_error", message, options);
