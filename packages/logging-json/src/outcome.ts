import { ERROR_CODES, type ErrorCodeName, MiddlewareError, type RpcResult } from '@mcp-middleware/core';

/**
 * How an RPC call ended:
 * - `ok`: a result;
 * - `tool_error`: a tool result with `isError: true` (the tool ran and reported a failure);
 * - `protocol_error`: a JSON-RPC error other than the ones below (unknown method, bad params, internal error);
 * - `denied`: refused by policy: unauthorized (-32005), forbidden (-32003) or rate limited (-32029);
 * - `timeout`: a deadline passed (-32001, the SDK's `RequestTimeout`, or core's `timeout` error);
 * - `cancelled`: the call was cancelled (by the client, or by a middleware without a timeout message).
 */
export type CallOutcome = 'ok' | 'tool_error' | 'protocol_error' | 'denied' | 'timeout' | 'cancelled';

export interface ClassifiedCall {
  readonly outcome: CallOutcome;
  /** The JSON-RPC error code, for error outcomes. */
  readonly errorCode?: number;
  /** The JSON-RPC error message, for error outcomes. */
  readonly errorMessage?: string;
}

const DENIED = new Set<number>([
  ERROR_CODES.unauthorized.rpc,
  ERROR_CODES.forbidden.rpc,
  ERROR_CODES.rate_limited.rpc,
]);
/** -32001 is the SDK's `RequestTimeout`: core uses it for timeouts and for cancellations (told apart by `data.reason`). */
const TIMEOUT_OR_CANCELLED: number = ERROR_CODES.timeout.rpc;

const DENIED_CODES: ReadonlySet<ErrorCodeName> = new Set(['unauthorized', 'forbidden', 'rate_limited']);

/**
 * Classifies an answer that reached the client. `aborted` says whether the call's signal was aborted: -32001 on
 * an aborted call that no deadline ended is a cancellation.
 */
export function classifyResult(answer: RpcResult, aborted: boolean): ClassifiedCall {
  if (answer.error === undefined) {
    const isError = (answer.result as { isError?: unknown }).isError === true;
    return { outcome: isError ? 'tool_error' : 'ok' };
  }
  const { code, message, data } = answer.error;
  const reason = (data as { reason?: unknown } | undefined)?.reason;
  return { outcome: outcomeOfCode(code, reason, aborted), errorCode: code, errorMessage: message };
}

/**
 * Classifies an exception thrown inside the chain. A `MiddlewareError` carries its exact code (so `timeout` and
 * `unauthorized` are told apart without reading the message); anything else becomes an internal error.
 */
export function classifyThrown(error: unknown): ClassifiedCall {
  if (!MiddlewareError.is(error)) {
    return { outcome: 'protocol_error', errorCode: -32603, errorMessage: 'Internal error' };
  }
  const outcome: CallOutcome =
    error.code === 'timeout' ? 'timeout' : DENIED_CODES.has(error.code) ? 'denied' : 'protocol_error';
  return { outcome, errorCode: error.rpcCode, errorMessage: error.message };
}

function outcomeOfCode(code: number, reason: unknown, aborted: boolean): CallOutcome {
  if (DENIED.has(code)) return 'denied';
  // Core marks a cancellation with `data.reason: 'cancelled'`; no SDK message text is read.
  if (code === TIMEOUT_OR_CANCELLED) return aborted && reason === 'cancelled' ? 'cancelled' : 'timeout';
  return 'protocol_error';
}

/** The W3C trace context ids of a `traceparent` value. */
export interface TraceContext {
  readonly traceId: string;
  readonly spanId: string;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(?:-.*)?$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/**
 * Parses a W3C `traceparent` (`00-<trace id>-<parent id>-<flags>`). Returns undefined for anything malformed, the
 * invalid version `ff`, or all-zero ids, as the spec requires, so a bad header never reaches the logs.
 */
export function parseTraceparent(value: unknown): TraceContext | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  const text = value.trim();
  // The fields sit at fixed offsets: one test, no capture groups.
  if (!TRACEPARENT.test(text)) return undefined;
  const version = text.slice(0, 2);
  if (version === 'ff' || (version === '00' && text.length !== 55)) return undefined;
  const traceId = text.slice(3, 35);
  const spanId = text.slice(36, 52);
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  return { traceId, spanId };
}
