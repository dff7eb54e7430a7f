import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import { jsonRpcErrorResponse } from './errors.js';
import type { HttpContext } from './types.js';

/** Protocol 2025-06-18 removed JSON-RPC batching; versions before it allow it. */
const FIRST_VERSION_WITHOUT_BATCHES = '2025-06-18';

/** How many JSON-RPC messages a parsed body holds: a batch's length, else 1. */
export function messageCount(body: unknown): number {
  return Array.isArray(body) ? Math.max(1, body.length) : 1;
}

/**
 * How many JSON-RPC messages the request carries (a batch counts each one; anything else counts 1). HTTP-layer
 * policies charge this, so a batch of 100 calls costs what 100 requests cost. Reads the body (`ctx.body()`).
 */
export async function messageCountOf(ctx: HttpContext): Promise<number> {
  return ctx.route === 'mcp' ? messageCount(await ctx.body()) : 1;
}

/** The version a server on this SDK settles on for an `initialize` asking for `requested`. */
export function negotiatedVersion(requested: unknown, supported: readonly string[], latest: string): string {
  return typeof requested === 'string' && supported.includes(requested) ? requested : latest;
}

function batchesAllowed(version: string): boolean {
  return version < FIRST_VERSION_WITHOUT_BATCHES;
}

function isInitialize(message: unknown): boolean {
  return (message as { method?: unknown } | null)?.method === 'initialize';
}

/**
 * Refuses a batch the protocol does not allow: any batch under 2025-06-18 or later (by the session's negotiated
 * version or the request's `MCP-Protocol-Version`, whichever is stricter), and a batch holding `initialize`.
 */
export function refuseBatch(
  body: unknown,
  versions: ReadonlyArray<string | null | undefined>,
): Response | undefined {
  if (!Array.isArray(body)) return undefined;
  if (body.some(isInitialize)) {
    return jsonRpcErrorResponse(400, -32600, 'Invalid Request: initialize must not be part of a batch');
  }
  const strict = versions.find((v): v is string => typeof v === 'string' && !batchesAllowed(v));
  if (strict !== undefined) {
    return jsonRpcErrorResponse(
      400,
      -32600,
      `Invalid Request: JSON-RPC batches are not supported in protocol version ${strict}`,
    );
  }
  return undefined;
}

/** The ids of the requests (not notifications or responses) in a parsed body. */
export function requestIdsOf(body: unknown): RequestId[] {
  const ids: RequestId[] = [];
  for (const m of Array.isArray(body) ? body : [body]) {
    const message = m as { method?: unknown; id?: unknown } | null;
    if (typeof message?.method !== 'string') continue;
    if (typeof message.id === 'string' || typeof message.id === 'number') ids.push(message.id);
  }
  return ids;
}

/**
 * Refuses requests whose id is already in flight in the session (or repeats within the batch). Handed to the SDK
 * transport, a second request with the same id takes over the first one's response stream, and the first call is
 * never answered.
 */
export function refuseDuplicateIds(
  ids: readonly RequestId[],
  inFlight: (id: RequestId) => boolean,
): Response | undefined {
  const seen = new Set<RequestId>();
  for (const id of ids) {
    if (seen.has(id) || inFlight(id)) {
      return jsonRpcErrorResponse(
        409,
        -32600,
        `Invalid Request: a request with id ${JSON.stringify(id).slice(0, 64)} is already in flight in this session`,
      );
    }
    seen.add(id);
  }
  return undefined;
}
