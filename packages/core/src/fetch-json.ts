import { readBounded } from './body.js';

/** 256 KiB: authorization server metadata, key sets and introspection answers are a few KiB. */
export const DEFAULT_MAX_JSON_BYTES = 256 * 1024;

export interface JsonFetchOptions {
  /** Time limit of the whole call (connect, headers, body), in ms. Give this or a `signal` that aborts. */
  timeoutMs?: number;
  /** Aborts the call (a closing middleware, a health check's own timeout). */
  signal?: AbortSignal;
  /** Largest body read; a larger one is refused without being read whole. @default 256 KiB */
  maxBytes?: number;
  /** The `fetch` to use. @default globalThis.fetch */
  fetch?: typeof fetch;
}

/**
 * What came back: a JSON object from a 200 answer, or why not. `status` is the HTTP status, 0 when no answer came.
 * Reasons: `unreachable` (network error or aborted), `timeout`, `status` (not 200; a redirect is not followed),
 * `too-large`, `not-json` (not a JSON object).
 */
export type JsonFetchOutcome =
  | { ok: true; status: 200; body: Record<string, unknown> }
  | { ok: false; status: number; reason: 'unreachable' | 'timeout' | 'status' | 'too-large' | 'not-json' };

/**
 * One bounded call for a JSON object to a server we do not control (authorization servers, key sets): a time limit,
 * a size limit read with `readBounded`, and no redirects (a redirect could send the call, and whatever
 * credentials it carries, elsewhere). Never throws for what the server does; the outcome says what went wrong.
 */
export async function fetchJsonObject(
  url: string | URL,
  init: RequestInit,
  options: JsonFetchOptions,
): Promise<JsonFetchOutcome> {
  const timer = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
  const signals = [timer, options.signal].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  const failed = (status: number): JsonFetchOutcome => ({
    ok: false,
    status,
    reason: timer?.aborted ? 'timeout' : 'unreachable',
  });
  const fetchFn = options.fetch ?? globalThis.fetch;
  let response: Response;
  try {
    response = await fetchFn(url, { ...init, redirect: 'manual', ...(signal ? { signal } : {}) });
  } catch {
    return failed(0);
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {});
    return { ok: false, status: response.status, reason: 'status' };
  }
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readBounded(response, options.maxBytes ?? DEFAULT_MAX_JSON_BYTES);
  } catch {
    return failed(200);
  }
  if (bytes === undefined) return { ok: false, status: 200, reason: 'too-large' };
  try {
    const body: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
      return { ok: true, status: 200, body: body as Record<string, unknown> };
    }
  } catch {
    // not JSON: answered below
  }
  return { ok: false, status: 200, reason: 'not-json' };
}
