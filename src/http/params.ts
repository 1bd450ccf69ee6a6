/**
 * Query and path parameters: non-negative decimal integers only ("1e3", " 5",
 * "0x10", "-1" are refused, not coerced). An index, a size or a time with a
 * sign is a malformed request (400), never a lookup that merely finds nothing
 * (404). A `limit` is the exception: the protocol clamps it, so any decimal
 * integer, negative ones too, is taken and clamped by the route.
 */
import { z } from "zod";
import { missingField } from "../core/errors.js";
import type { ParamParser } from "./route.js";

export const IntegerParam = z
  .string()
  .regex(/^[0-9]{1,16}$/, "must be a non-negative decimal integer")
  .transform(Number)
  .pipe(z.number().int().safe());

export const optionalInteger = (fallback: number) => IntegerParam.optional().transform((value) => value ?? fallback);

const SignedIntegerParam = z
  .string()
  .regex(/^-?[0-9]{1,16}$/, "must be a decimal integer")
  .transform(Number)
  .pipe(z.number().int().safe());

/** A `limit` the route clamps to its range, as other registry v1 implementations do. */
export const optionalLimit = (fallback: number) => SignedIntegerParam.optional().transform((value) => value ?? fallback);

/** A path parameter parsed by `schema`, refused as 400 missing_field with `message`; the API description shows `schema`. */
export function pathParam<S extends z.ZodType>(schema: S, message: string): ParamParser<z.output<S>> {
  const parse = (raw: string | string[]) => {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw missingField(message);
    return parsed.data;
  };
  return Object.assign(parse, { schema });
}
