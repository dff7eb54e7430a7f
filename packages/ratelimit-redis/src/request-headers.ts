/**
 * Protocol 2026-07-28 (SEP-2243) puts each request's JSON-RPC method and target in HTTP headers: `Mcp-Method`, and
 * `Mcp-Name` for the methods that name something (the tool of `tools/call`). The HTTP layer can then apply
 * per-tool limits without reading the body. Earlier revisions send no such headers, and a header on a request that
 * does not claim 2026-07-28 means nothing, so the protocol version is checked first.
 */
import type { HttpContext, Key } from '@mcp-middleware/core';

/** The first protocol revision whose requests carry `Mcp-Method` / `Mcp-Name`. */
export const HEADER_ROUTED_SINCE = '2026-07-28';

/** What a 2026-07-28 request's headers say it is. */
export interface HeaderRoute {
  readonly method: string;
  /** The tool's name, for `tools/call` only. */
  readonly toolName: string | undefined;
}

const VERSION = /^\d{4}-\d{2}-\d{2}$/;
const METHOD = /^[\w/.-]{1,128}$/;
// Values that are not plain printable ASCII arrive base64-encoded between these markers.
const BASE64_PREFIX = '=?base64?';
const BASE64_SUFFIX = '?=';
const MAX_NAME = 256;

function decodeName(raw: string): string | undefined {
  if (!raw.startsWith(BASE64_PREFIX) || !raw.endsWith(BASE64_SUFFIX)) return raw;
  const encoded = raw.slice(BASE64_PREFIX.length, raw.length - BASE64_SUFFIX.length);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) return undefined;
  return Buffer.from(encoded, 'base64').toString('utf8');
}

/** The method and tool a request names in its headers; undefined for 2025 requests or malformed headers. */
export function routeFromHeaders(headers: Headers): HeaderRoute | undefined {
  const version = headers.get('mcp-protocol-version');
  if (version === null || !VERSION.test(version) || version < HEADER_ROUTED_SINCE) return undefined;
  const method = headers.get('mcp-method');
  if (method === null || !METHOD.test(method)) return undefined;
  if (method !== 'tools/call') return { method, toolName: undefined };
  const raw = headers.get('mcp-name');
  const toolName = raw === null || raw.length > MAX_NAME * 2 ? undefined : decodeName(raw);
  // A tools/call without a usable name is left to the RPC layer, which reads the body.
  if (toolName === undefined || toolName.length === 0 || toolName.length > MAX_NAME) return undefined;
  return { method, toolName };
}

/** Where the HTTP layer notes which call it already counted, for the RPC layer to skip it. */
export const COUNTED_AT_HTTP: Key<HeaderRoute> = Symbol('ratelimit-redis.counted-at-http');

/**
 * Whether the HTTP layer counted this call from its headers. The call's own method and tool must match: if the
 * headers named another tool, the RPC layer counts the real one (the SDK also refuses such a mismatch).
 */
export function countedAtHttp(
  http: Pick<HttpContext, 'get'> | undefined,
  method: string,
  toolName: string | undefined,
): boolean {
  const route = http?.get(COUNTED_AT_HTTP);
  return route !== undefined && route.method === method && route.toolName === toolName;
}
