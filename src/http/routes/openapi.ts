/** GET /openapi.json: the API description, built once per process from the code's own schemas. */
import { Router } from "express";
import { OPENAPI_CACHE_CONTROL } from "../api-description.js";
import { openApiText } from "../openapi.js";

export function openApiRoutes(version: string): Router {
  const router = Router();
  let text: string | undefined;
  router.get("/openapi.json", (_req, res) => {
    text ??= openApiText(version);
    res.set("Cache-Control", OPENAPI_CACHE_CONTROL).type("application/json; charset=utf-8").send(text);
  });
  return router;
}
