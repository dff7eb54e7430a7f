/**
 * The closed set of error codes every package shares, with their HTTP status and JSON-RPC code.
 * Switch on `err.code`; the numbers are what goes on the wire.
 */
export const ERROR_CODES = {
  bad_request: { status: 400, rpc: -32600 },
  parse_error: { status: 400, rpc: -32700 },
  invalid_params: { status: 400, rpc: -32602 },
  method_not_found: { status: 404, rpc: -32601 },
  // Not -32001: that is the SDK's RequestTimeout, and a log must tell a refusal from a deadline by code alone.
  unauthorized: { status: 401, rpc: -32005 },
  forbidden: { status: 403, rpc: -32003 },
  not_found: { status: 404, rpc: -32004 },
  payload_too_large: { status: 413, rpc: -32600 },
  rate_limited: { status: 429, rpc: -32029 },
  timeout: { status: 504, rpc: -32001 },
  unavailable: { status: 503, rpc: -32002 },
  internal: { status: 500, rpc: -32603 },
} as const;

export type ErrorCodeName = keyof typeof ERROR_CODES;

/**
 * JSON-RPC error numbers as both SDK lines put them on the wire, so packages need neither SDK at run time
 * (v1 calls them `ErrorCode`, v2 `ProtocolErrorCode`).
 */
export const RpcErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  ConnectionClosed: -32000,
  RequestTimeout: -32001,
} as const;

const BRAND = Symbol.for('@mcp-middleware/core.MiddlewareError');

export interface MiddlewareErrorOptions {
  cause?: unknown;
  /** Extra data for the client (JSON-RPC `error.data`). Never put secrets here. */
  data?: unknown;
  /** HTTP headers to send with the error response (e.g. `WWW-Authenticate`, `Retry-After`). */
  headers?: Record<string, string>;
}

/**
 * The base error of every package. The message is meant for the client; anything else belongs in `cause`.
 * Recognised across duplicate bundled copies through a `Symbol.for` brand: use `MiddlewareError.is(err)`.
 */
export class MiddlewareError extends Error {
  static readonly code: ErrorCodeName = 'internal';
  readonly code: ErrorCodeName;
  readonly data: unknown;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCodeName, message: string, options: MiddlewareErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.data = options.data;
    this.headers = options.headers ?? {};
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get rpcCode(): number {
    return ERROR_CODES[this.code].rpc;
  }

  static is(value: unknown): value is MiddlewareError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

Object.defineProperty(MiddlewareError.prototype, BRAND, { value: true });

/** A JSON-RPC error response body for HTTP (`id: null`, since it answers the HTTP request, not one message). */
export function jsonRpcErrorResponse(
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
  data?: unknown,
): Response {
  const error: { code: number; message: string; data?: unknown } = { code, message };
  if (data !== undefined) error.data = data;
  return new Response(JSON.stringify({ jsonrpc: '2.0', error, id: null }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** Turns a `MiddlewareError` into the HTTP response it stands for. */
export function errorToResponse(err: MiddlewareError): Response {
  return jsonRpcErrorResponse(err.status, err.rpcCode, err.message, { ...err.headers }, err.data);
}
