/**
 * Query and path parameters: non-negative decimal integers only ("1e3", " 5",
 * "0x10", "-1" are refused, not coerced). Every integer the routes take is an
 * index, a size, a count or a time, so a sign is always a malformed request
 * (400), never a lookup that merely finds nothing (404).
 */
import { z } from "zod";

export const IntegerParam = z
  .string()
  .regex(/^[0-9]{1,16}$/, "must be a non-negative decimal integer")
  .transform(Number)
  .pipe(z.number().int().safe());

export const optionalInteger = (fallback: number) => IntegerParam.optional().transform((value) => value ?? fallback);
