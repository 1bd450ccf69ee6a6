/**
 * The registry's read routes, fetched from the page's own origin. Nothing
 * here is trusted: every answer is checked by src/verify/ before the page
 * says anything about it.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The registry did not answer at all (down, or the network is). */
export class Unreachable extends Error {}

async function get(path: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { accept: "application/json" }, cache: "no-store" });
  } catch (error) {
    throw new Unreachable(`cannot reach the registry (${(error as Error).message})`);
  }
  if (!response.ok) {
    let code = "http_error";
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = (await response.json()) as { error?: { code?: string; message?: string } };
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
    } catch {
      // Not a v1 envelope (a proxy's error page): the status line says enough.
    }
    throw new HttpError(response.status, code, message);
  }
  return response;
}

export const getJson = async <T = Record<string, unknown>>(path: string): Promise<T> => (await (await get(path)).json()) as T;
export const getText = async (path: string): Promise<string> => (await get(path)).text();

export interface WellKnown {
  ed25519_pub: string;
  tlog_size: number;
  federation?: { checkpoint_origin?: string; checkpoint_vkey?: string };
}

export interface RangeEntry {
  index: number;
  leaf_hash: string;
  leaf_data: string;
}

export interface Range {
  start: number;
  count: number;
  entries: RangeEntry[];
}

export interface InclusionProof {
  index: number;
  leaf_hash: string;
  proof: string[];
  root: string;
  tree_size: number;
}
