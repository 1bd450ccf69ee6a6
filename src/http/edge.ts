/**
 * What every route shares at the edge, whichever stack serves it: the token
 * buckets and the choice of which one a request spends, and the security
 * headers. Express (app.ts) and the fast path (fast-path.ts) hold
 * the same `HttpEdge`, so a request meets the same limits on both.
 */
import helmet from "helmet";
import { TokenBuckets, type BucketChoice, type BucketName } from "./rate-limit.js";

export interface Rate {
  perSecond: number;
  burst: number;
}

export interface Rates {
  write: Rate;
  read: Rate;
  token: Rate;
  dns: Rate;
}

/**
 * Who a request spends tokens as: the operator (POST /register, /attribute),
 * the DNS bridge (POST /dns_event), a beacon hit, or a reader.
 */
export type Spender = "operator" | "dns" | "beacon" | "read";

export interface HttpEdge {
  /**
   * The one place that decides which bucket a request spends, after authentication.
   * `holder`: the name of the operator token the request carries.
   */
  bucketFor(spender: Spender, address: string, holder?: string): BucketChoice;
  securityHeaders: ReturnType<typeof helmet>;
  /**
   * The headers `securityHeaders` sets, as name, value, name, value… in its
   * order: they do not depend on the request, so they are the ones helmet set
   * once at start. The fast path writes them without running helmet, whose
   * dozen chained middlewares cost it about 7 % of a proof's server CPU
   * (bench:http proof_at_N).
   */
  securityHeaderList: readonly string[];
}

export interface EdgeSecrets {
  /** null: operator auth disabled. */
  operatorToken: string | null;
  /** null: /dns_event admits loopback callers only. */
  dnsSecret: string | null;
}

/** `now`: the buckets' clock in milliseconds (see `TokenBucketOptions.now`). */
export function createEdge(rates: Rates, { operatorToken, dnsSecret }: EdgeSecrets, now?: () => number): HttpEdge {
  const buckets = (rate: Rate) => new TokenBuckets(now ? { ...rate, now } : rate);
  const write = buckets(rates.write);
  const read = buckets(rates.read);
  const byAddress = (buckets: TokenBuckets, bucket: BucketName, address: string): BucketChoice => ({ buckets, bucket, key: address });
  // A secret is held by one party, so its bucket is keyed by who holds it (each
  // operator token by its name). Without a secret the caller is anonymous (or
  // a local bridge) and is limited by its address.
  const bySecret = (secret: string | null, bucket: BucketName) => {
    if (secret === null) return (address: string) => byAddress(write, "write", address);
    const held = buckets(rates[bucket]);
    return (_address: string, holder = "holder") => ({ buckets: held, bucket, key: holder });
  };
  const choosers: Record<Spender, (address: string, holder?: string) => BucketChoice> = {
    operator: bySecret(operatorToken, "token"),
    // A DNS bridge sends every hit from one address: sharing that address's beacon bucket would refuse DNS evidence under load.
    dns: bySecret(dnsSecret, "dns"),
    beacon: (address) => byAddress(write, "write", address),
    read: (address) => byAddress(read, "read", address),
  };
  // Beacon images are embedded by documents on other origins: CORP must allow that.
  const securityHeaders = helmet({ crossOriginResourcePolicy: { policy: "cross-origin" } });
  return {
    bucketFor: (spender, address, holder) => choosers[spender](address, holder),
    securityHeaders,
    securityHeaderList: recordHeaders(securityHeaders),
  };
}

/**
 * The headers `middleware` sets on an answer, as name, value, name, value…:
 * it is run once on a stand-in that only records them. One that reads the
 * request, or uses any other part of the answer (its headers would then
 * depend on the request), fails here, at start.
 */
function recordHeaders(middleware: ReturnType<typeof helmet>): readonly string[] {
  const headers: string[] = [];
  const refuse = () => {
    throw new Error("the security headers must not depend on the request");
  };
  const req = new Proxy({}, { get: refuse });
  const res = new Proxy(
    {
      setHeader: (name: string, value: unknown) => headers.push(name, String(value)),
      // What it removes (X-Powered-By) is set by Express only, never on the fast path.
      removeHeader: () => {},
    },
    { get: (target, key) => (key === "setHeader" || key === "removeHeader" ? target[key] : refuse()) },
  );
  let done = false;
  middleware(req as never, res as never, (error?: unknown) => {
    if (error !== undefined) throw error;
    done = true;
  });
  if (!done) throw new Error("the security headers middleware did not finish at once");
  return headers;
}
