/** Express middleware from an edge step that throws its refusal (auth, rate limit): Express and the fast path run the same middleware. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestHandler } from "express";

export function expressStep(step: (req: IncomingMessage, res: ServerResponse) => unknown): RequestHandler {
  return (req, res, next) => {
    try {
      step(req, res);
    } catch (error) {
      next(error);
      return;
    }
    next();
  };
}
