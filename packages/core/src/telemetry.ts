/**
 * Keys under which middleware share telemetry without importing each other: a tracing middleware writes, a logger
 * reads. Symbols from `Symbol.for`, so duplicate installed copies of core agree on them.
 */
import type { Key } from './call.js';

/** The W3C ids of the span a call or HTTP request runs in, as lowercase hex. */
export interface TraceIds {
  /** 32 hex characters. */
  readonly traceId: string;
  /** 16 hex characters. */
  readonly spanId: string;
}

/**
 * Where a tracing middleware puts the `TraceIds` of its span: in `call.state` for an RPC call and in `ctx.state` for
 * an HTTP request. Loggers read it to stamp their lines (`trace_id`, `span_id`).
 */
export const TRACE_IDS: Key<TraceIds> = Symbol.for('@mcp-middleware/core.traceIds');
