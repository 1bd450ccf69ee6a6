/**
 * A plain HTTP client for the registry: counts requests, and on 429 waits
 * for `retry_after` and retries once (the registry rate limits per address).
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface HttpResponse {
  status: number;
  headers: Headers;
  bytes: Buffer;
  text: string;
  /** Parsed body when it is JSON, `undefined` otherwise. */
  json: unknown;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A string is sent as is (so bytes are under the caller's control). */
  body?: string;
  /** Send the operator token, when there is one. */
  auth?: boolean;
}

const TIMEOUT_MS = 15_000;
const MAX_RETRY_WAIT_S = 10;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function retryAfterSeconds(response: HttpResponse): number {
  const error = (response.json as { error?: { retry_after?: unknown } } | undefined)?.error;
  const fromBody = typeof error?.retry_after === "number" ? error.retry_after : Number.NaN;
  const fromHeader = Number(response.headers.get("retry-after"));
  const seconds = Number.isFinite(fromBody) ? fromBody : Number.isFinite(fromHeader) ? fromHeader : 1;
  return Math.min(Math.max(seconds, 0), MAX_RETRY_WAIT_S);
}

export class RegistryClient {
  requests = 0;
  rateLimited = 0;

  constructor(
    readonly baseUrl: string,
    readonly token: string | null,
  ) {}

  url(path: string): string {
    return this.baseUrl.replace(/\/+$/, "") + path;
  }

  async request(path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const first = await this.once(path, options);
    if (first.status !== 429) return first;
    this.rateLimited++;
    await sleep(retryAfterSeconds(first) * 1000);
    return this.once(path, options);
  }

  get(path: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
    return this.request(path, { headers });
  }

  post(path: string, body: unknown, options: { auth?: boolean; headers?: Record<string, string> } = {}): Promise<HttpResponse> {
    return this.postText(path, JSON.stringify(body), options);
  }

  postText(path: string, body: string, options: { auth?: boolean; headers?: Record<string, string> } = {}): Promise<HttpResponse> {
    return this.request(path, {
      method: "POST",
      body,
      auth: options.auth ?? true,
      headers: { "content-type": "application/json", ...options.headers },
    });
  }

  private async once(path: string, options: RequestOptions): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.auth && this.token !== null) headers.authorization = `Bearer ${this.token}`;
    this.requests++;
    const response = await fetch(this.url(path), {
      method: options.method ?? "GET",
      headers,
      body: options.body ?? null,
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    const text = bytes.toString("utf8");
    return { status: response.status, headers: response.headers, bytes, text, json: parseJson(text) };
  }
}
