/**
 * Text from outside the registry. A JSON body can carry a lone UTF-16
 * surrogate ("\ud800"), which has no UTF-8 form: canonical JSON refuses it and
 * SQLite would store U+FFFD instead. Every schema of outside text builds on
 * this one, so such a request is refused where it enters, as malformed.
 */
import { z } from "zod";

export const WellFormedText = z.string().refine((value) => value.isWellFormed(), {
  message: "must not contain a lone UTF-16 surrogate",
});
