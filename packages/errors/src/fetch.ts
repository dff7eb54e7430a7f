import { type Duration, type ErrorCodeName, readBounded, toMs } from '@mcp-middleware/core';
import { formatDuration } from './classify.js';
import { ToolError } from './tool-error.js';

export interface FetchWithTimeoutInit extends RequestInit {
  /** Limit for the whole exchange: connecting, the response headers and the body. @default '10s' */
  timeout?: Duration;
  /** Largest response body read, in bytes; a larger one is a `ToolError`. @default 10485760 (10 MiB) */
  maxBodySize?: number;
  /** Throw a `ToolError` (`HTTP 503 …`) for a status outside 200–299. @default true */
  throwOnHttpError?: boolean;
  /** How error messages name the service. Never the full URL, which may carry keys. @default the URL's host */
  service?: string;
}

const DEFAULT_MAX_BODY = 10 * 1024 * 1024;
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

const NETWORK_CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'response body stalled',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed TLS certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted',
};

/** Finds the system error code under fetch's `TypeError('fetch failed')` (or an AggregateError of attempts). */
function networkCode(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 4) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const inner = (error as { errors?: unknown }).errors;
  if (Array.isArray(inner) && inner.length > 0) return networkCode(inner[0], depth + 1);
  return networkCode((error as { cause?: unknown }).cause, depth + 1);
}

/** The `ToolError` code a failing HTTP status stands for. */
export function codeForStatus(status: number): ErrorCodeName {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 408:
    case 504:
      return 'timeout';
    case 413:
      return 'payload_too_large';
    case 429:
      return 'rate_limited';
  }
  if (status >= 500) return 'unavailable';
  if (status >= 400) return 'bad_request';
  return 'internal';
}

async function readBody(
  response: Response,
  max: number,
  service: string,
): Promise<Uint8Array<ArrayBuffer> | null> {
  if (!response.body) return null;
  const body = await readBounded(response, max);
  if (body === undefined) {
    throw new ToolError(`the response from ${service} is larger than ${max} bytes`, {
      code: 'payload_too_large',
    });
  }
  return body;
}

/**
 * `fetch` for tools that call other services: one time limit for the whole exchange, the body read before it
 * returns (bounded by `maxBodySize`), and every failure turned into a `ToolError` the model can act on:
 * `request to api.example.com timed out after 10 seconds`, `could not reach api.example.com: connection refused`,
 * `api.example.com answered HTTP 503 Service Unavailable`. Pass the tool's `extra.signal` as `signal` so a
 * cancelled call stops the request too. Messages name the host, never the full URL.
 */
export async function fetchWithTimeout(
  input: string | URL,
  init: FetchWithTimeoutInit = {},
): Promise<Response> {
  const {
    timeout = '10s',
    maxBodySize = DEFAULT_MAX_BODY,
    throwOnHttpError = true,
    service,
    signal: callerSignal,
    ...requestInit
  } = init;
  const ms = toMs(timeout, 'fetchWithTimeout: timeout');
  if (ms <= 0) throw new TypeError('fetchWithTimeout: timeout must be greater than 0');
  if (!Number.isInteger(maxBodySize) || maxBodySize < 0) {
    throw new TypeError(`fetchWithTimeout: maxBodySize must be a whole number of bytes, got ${maxBodySize}`);
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    // Not echoed: a URL may carry credentials.
    throw new TypeError('fetchWithTimeout: input is not a valid absolute URL');
  }
  const name = service ?? url.host;

  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`timed out after ${formatDuration(ms)}`));
  }, ms);
  const onCallerAbort = () => controller.abort(callerSignal?.reason);
  if (callerSignal?.aborted) onCallerAbort();
  else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });

  const failure = (error: unknown): ToolError => {
    if (ToolError.is(error)) return error;
    if (timedOut) {
      return new ToolError(`request to ${name} timed out after ${formatDuration(ms)}`, {
        code: 'timeout',
        cause: error,
      });
    }
    if (callerSignal?.aborted) {
      return new ToolError(`request to ${name} was cancelled`, { code: 'unavailable', cause: error });
    }
    const code = networkCode(error);
    const why = (code && NETWORK_CAUSES[code]) ?? 'network error';
    return new ToolError(`could not reach ${name}: ${why}`, { code: 'unavailable', cause: error });
  };

  try {
    let response: Response;
    try {
      response = await fetch(url, { ...requestInit, signal: controller.signal });
    } catch (error) {
      throw failure(error);
    }
    if (!response.ok && throwOnHttpError) {
      await response.body?.cancel().catch(() => {});
      const retryAfter = response.headers.get('retry-after');
      const text = `${name} answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
      throw new ToolError(
        retryAfter && /^\d+$/.test(retryAfter) ? `${text} (retry after ${retryAfter} s)` : text,
        {
          code: codeForStatus(response.status),
          data: { status: response.status },
        },
      );
    }
    let body: Uint8Array<ArrayBuffer> | null;
    try {
      body = await readBody(response, maxBodySize, name);
    } catch (error) {
      throw failure(error);
    }
    return new Response(NULL_BODY_STATUS.has(response.status) ? null : body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  } finally {
    clearTimeout(timer);
    callerSignal?.removeEventListener('abort', onCallerAbort);
  }
}
