import { type ErrorCodeName, MiddlewareError } from '@mcp-middleware/core';

const TOOL_ERROR = Symbol.for('@mcp-middleware/errors.ToolError');

export interface ToolErrorOptions {
  /** What kind of failure this is, for code that switches on `err.code` (logs, metrics). @default 'internal' */
  code?: ErrorCodeName;
  /** The underlying error; reported to no one and never sent to the client. */
  cause?: unknown;
  /** Extra details for server-side code (never sent to the client). */
  data?: unknown;
}

/**
 * The call was valid but the tool failed in a way the model or user should hear about: the client gets a result
 * with `isError: true` whose text is this message, verbatim. Write it for the model: what went wrong and, if
 * anything, what to try instead. Never put secrets in it.
 */
export class ToolError extends MiddlewareError {
  constructor(message: string, options: ToolErrorOptions = {}) {
    super(options.code ?? 'internal', message, {
      ...(options.cause === undefined ? {} : { cause: options.cause }),
      ...(options.data === undefined ? {} : { data: options.data }),
    });
  }

  /** Brand check that survives duplicate copies of this package. */
  static override is(value: unknown): value is ToolError {
    return (
      typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TOOL_ERROR] === true
    );
  }
}

Object.defineProperty(ToolError.prototype, TOOL_ERROR, { value: true });

/**
 * The request itself was wrong (bad arguments, a missing resource): the client gets a JSON-RPC error with this
 * code, e.g. `new ProtocolError('invalid_params', 'date must be in the future')` answers -32602. Any core
 * `MiddlewareError` and the SDK's `McpError` are treated the same way.
 */
export class ProtocolError extends MiddlewareError {}

/** A JSON-RPC -32602 `Invalid params` error for arguments the schema could not catch. */
export function invalidParams(message: string, data?: unknown): ProtocolError {
  return new ProtocolError('invalid_params', message, data === undefined ? {} : { data });
}
