/** Query and path parameters: decimal integers only ("1e3", " 5", "0x10" are refused, not coerced). */
import { z } from "zod";

export const IntegerParam = z
  .string()
  .regex(/^-?[0-9]{1,16}$/, "must be a decimal integer")
  .transform(Number)
  .pipe(z.number().int().safe());

export const optionalInteger = (fallback: number) => IntegerParam.optional().transform((value) => value ?? fallback);
