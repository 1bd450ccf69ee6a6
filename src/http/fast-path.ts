/**
 * A fast path in front of Express for the hot routes: beacon hits, inclusion
 * proofs and evidence bundles. Express costs about 110 µs per request before
 * any registry work (bench/README.md); on these routes that is most of it.
 *
 * It serves only the plain case — GET, no query, no Origin, a path parameter
 * that decodes to what the route accepts, a healthy registry, a token in the
 * bucket — and returns false for anything else, so Express answers exactly as
 * before. What it applies comes from where Express takes it: the shared
 * buckets and helmet instance (HttpEdge), clientAddress, IdentifierSchema,
 * IntegerParam, the use-cases, the route templates as metric labels, and the
 * error handler's envelope for failures after it has taken a request.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { IdentifierSchema } from "../core/manifest.js";
import type { Logger } from "../log.js";
import type { Spender } from "./app.js";
import { clientAddress } from "./client-address.js";
import { varyOnOrigin } from "./cors.js";
import { answerError } from "./error-handler.js";
import { planWrite, type FastWriteOptions } from "./fast-writes.js";
import type { Metrics } from "./metrics.js";
import { IntegerParam } from "./params.js";
import type { TokenBuckets } from "./rate-limit.js";
import { BEACON_ANSWERS, BEACON_ROUTES, type BeaconRoute } from "./routes/beacons.js";

export interface FastPathOptions extends FastWriteOptions {
  logger: Logger;
  metrics: Metrics;
}

/** What a route does once the request is taken: given the client address, answer on `res`. */
type Job = (address: string) => Promise<void> | void;

interface Route {
  /** The Express route template, used as the metrics label. */
  template: string;
  spender: Spender;
  /** The job for this decoded path parameter, or null when the Express handler would refuse it. */
  plan(param: string, req: IncomingMessage, res: ServerResponse): Job | null;
}

/** RFC 3986 path-segment characters: anything else (`/`, `?`, `#`, spaces, non-ASCII) goes to Express. */
const PLAIN_SEGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@%-]+$/;
const JSON_TYPE = "application/json; charset=utf-8";
const noop = () => {};

export class FastPath {
  private readonly routes: Map<string, Route>;
  private servedCount = 0;

  constructor(private readonly options: FastPathOptions) {
    this.routes = buildRoutes(options);
  }

  /** Requests this path took (and answered or failed with the envelope) instead of Express. */
  get served(): number {
    return this.servedCount;
  }

  /** Takes the request and returns true, or returns false having changed nothing (not even a bucket). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.headers.origin !== undefined || this.options.service.registry.fork) return false;
    const address = clientAddress(req, this.options.trustedProxy);
    const taken = req.method === "GET" ? this.planRead(req, res, address) : req.method === "POST" ? this.planPost(req, res, address) : null;
    if (taken === null || taken.buckets.take(taken.key) !== 0) return false;

    this.servedCount++;
    const { metrics, logger, edge } = this.options;
    const method = req.method ?? "";
    res.on("finish", () => metrics.request(taken.template, method, res.statusCode));
    edge.securityHeaders(req, res, noop);
    varyOnOrigin(res);
    const fail = (error: unknown) => answerError(logger, error, req, res);
    try {
      taken.job(address)?.catch(fail);
    } catch (error) {
      fail(error);
    }
    return true;
  }

  private planRead(req: IncomingMessage, res: ServerResponse, address: string): Taken | null {
    const url = req.url ?? "";
    const slash = url.lastIndexOf("/");
    const route = this.routes.get(url.slice(0, slash + 1));
    const raw = url.slice(slash + 1);
    if (route === undefined || !PLAIN_SEGMENT.test(raw)) return null;
    const param = decodeSegment(raw);
    const job = param === null ? null : route.plan(param, req, res);
    return job === null ? null : { template: route.template, ...this.options.edge.bucketFor(route.spender, address), job };
  }

  private planPost(req: IncomingMessage, res: ServerResponse, address: string): Taken | null {
    const plan = planWrite(req, address, this.options);
    if (plan === null) return null;
    return { ...plan, job: async (from) => json(res, await plan.run(from)) };
  }
}

/** A request the fast path takes: its metrics label, the bucket and key it spends, and what answers it. */
interface Taken {
  template: string;
  buckets: TokenBuckets;
  key: string;
  job: Job;
}

/** Keyed by everything up to the parameter, which never contains a `/`. */
function buildRoutes({ service }: FastPathOptions): Map<string, Route> {
  const beacon = ({ template, kind, suffix }: BeaconRoute): Route => ({
    template,
    spender: "beacon",
    plan: (name, req, res) => {
      const tokenId = name.endsWith(suffix) ? identifier(name.slice(0, name.length - suffix.length)) : null;
      if (tokenId === null) return null;
      return async (sourceIp) => {
        await service.events.beacon({ kind, tokenId, sourceIp, userAgent: req.headers["user-agent"] ?? "" });
        res.setHeader("Cache-Control", "no-store");
        const answer = BEACON_ANSWERS[kind];
        if (answer) send(res, answer.type, answer.body);
        else res.end();
      };
    },
  });
  const read = (template: string, plan: (param: string, res: ServerResponse) => Job | null): Route => ({
    template,
    spender: "read",
    plan: (param, _req, res) => plan(param, res),
  });
  const routes: Record<string, Route> = {
    ...Object.fromEntries(BEACON_ROUTES.map((route) => [route.prefix, beacon(route)])),
    "/tlog/proof/": read("/tlog/proof/:index", (param, res) => {
      const index = IntegerParam.safeParse(param);
      return index.success ? () => json(res, service.log.inclusion(index.data)) : null;
    }),
    "/evidence/": read("/evidence/:file_id", (param, res) => {
      const fileId = identifier(param);
      return fileId === null ? null : async () => json(res, await service.evidence.bundle(fileId));
    }),
  };
  return new Map(Object.entries(routes));
}

function identifier(value: string): string | null {
  const parsed = IdentifierSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** Express decodes path parameters with decodeURIComponent and answers 400 when that fails; leave those to it. */
function decodeSegment(raw: string): string | null {
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

function json(res: ServerResponse, body: unknown): void {
  send(res, JSON_TYPE, JSON.stringify(body));
}

function send(res: ServerResponse, type: string, body: string | Buffer): void {
  res.setHeader("Content-Type", type);
  res.setHeader("Content-Length", typeof body === "string" ? Buffer.byteLength(body) : body.length);
  res.end(body);
}
