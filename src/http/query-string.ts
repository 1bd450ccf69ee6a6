/**
 * The query string of a request as both dispatchers read it. Express is
 * given this parser ("query parser", app.ts) and the fast path calls it, so a
 * query means the same on either: node:querystring, Express's "simple"
 * parser (flat keys, a repeated key as an array of its values).
 */
import querystring, { type ParsedUrlQuery } from "node:querystring";

export type { ParsedUrlQuery };

export const parseQueryString: (text: string) => ParsedUrlQuery = querystring.parse;

/**
 * Query characters the fast path takes (RFC 3986 `query`): Express's URL
 * parser (parseurl) reads anything else, such as `#`, spaces or non-ASCII,
 * another way, so such a query is left to it.
 */
const PLAIN_QUERY = /^[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/;

export function isPlainQuery(text: string): boolean {
  return PLAIN_QUERY.test(text);
}
