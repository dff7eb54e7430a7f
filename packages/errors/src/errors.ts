import {
  callOf,
  createKey,
  type Duration,
  RpcErrorCode as ErrorCode,
  type Middleware,
  MiddlewareError,
  type RpcCall,
  type RpcErrorObject,
  type RpcNext,
  type RpcResult,
  scrubSecrets,
  toMs,
} from '@mcp-middleware/core';
import type { McpServer, ToolCallback } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AnySchema, ZodRawShapeCompat } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import {
  type AnswerDecision,
  classifyError,
  decideAnswer,
  decideToolAnswer,
  formatDuration,
  type ToolOutcome,
} from './classify.js';

/** Where a masked error came from. */
export type MaskedErrorSource = 'tool' | 'server' | 'middleware';

/** What `onError` learns about a masked error besides the error itself. */
export interface MaskedErrorReport {
  /** The correlation id the client was shown. */
  readonly errorId: string;
  /** `tool`: a tool handler threw; `server`: the server answered with an internal error; `middleware`: a later middleware threw. */
  readonly source: MaskedErrorSource;
  /** The JSON-RPC method, e.g. `tools/call`. */
  readonly method: string;
  readonly toolName: string | undefined;
  /** The call, when the middleware saw it (undefined for a wrapped tool served without this middleware). */
  readonly call: RpcCall | undefined;
}

export interface ErrorsOptions {
  /** Longest a tool call may run; then its signal aborts and the caller gets a timeout error. `false`: no limit. @default '30s' */
  timeout?: Duration | false;
  /** Time limits for single tools, by name; they override `timeout`. @default {} */
  toolTimeouts?: Readonly<Record<string, Duration | false>>;
  /** What the client sees for an unexpected error; ` (error id: …)` is appended. @default 'Internal error' */
  maskedMessage?: string;
  /**
   * Mask `isError` results of tools not wrapped with `tool()`: `McpServer` fills them with the raw exception
   * message, which may hold secrets. Set `false` if you serve tools you cannot wrap and trust their texts.
   * @default true
   */
  maskUnwrapped?: boolean;
  /** Receives every masked error with the id the client saw. Must not throw. @default one JSON line on stderr */
  onError?: (error: unknown, report: MaskedErrorReport) => void;
}

/** The middleware, plus the wrapper tool handlers go through so it can tell their errors apart. */
export interface ErrorsMiddleware extends Middleware {
  readonly name: 'errors';
  rpc(call: RpcCall, next: RpcNext): Promise<RpcResult>;
  /**
   * Wraps a tool handler: a `ToolError` becomes an `isError` result with its message, a protocol error
   * (`ProtocolError`, any core `MiddlewareError`, the SDK's `McpError`) a JSON-RPC error with its code, anything
   * else a masked result with an error id. Use it for every tool:
   * `server.registerTool('name', config, errs.tool(async (args, extra) => …))`.
   */
  tool<Args extends ToolArgs = undefined>(handler: ToolCallback<Args>): ToolCallback<Args>;
  /**
   * Wraps every tool registered on `server` from now on (`registerTool`, and the older `tool`) with `tool()`, so
   * none can be forgotten; returns the same server. Call it before registering tools:
   * `const server = errs.server(new McpServer(info))`. A handler already wrapped with `tool()` is kept as it is.
   */
  server<S extends McpServer>(server: S): S;
  close(): Promise<void>;
}

/** @deprecated Unused since core's call context (`callOf`); nothing is written to `_meta` any more. */
export const CALL_META_KEY = 'io.github.mcp-middleware/errors-call';
/** Where a masked result or error carries its correlation id for clients that want it as data. */
export const ERROR_ID_META_KEY = 'io.github.mcp-middleware/error-id';

/** What `McpServer.registerTool` accepts as an input schema: a zod shape, a schema, or none. */
export type ToolArgs = undefined | ZodRawShapeCompat | AnySchema;

interface CallRecord {
  readonly call: RpcCall;
  outcome: ToolOutcome | undefined;
}

interface HandlerExtraLike {
  readonly signal?: AbortSignal;
  readonly _meta?: Record<string, unknown>;
  /** SDK v2's `ctx` keeps the call's signal here. */
  readonly mcpReq?: { readonly signal?: AbortSignal };
}

function serializeError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error)) return scrubSecrets(typeof error === 'string' ? error : String(error));
  // Scrubbed: an error's text may quote a header or a connection string.
  const out: Record<string, unknown> = {
    name: error.name,
    message: scrubSecrets(error.message),
    stack: error.stack === undefined ? undefined : scrubSecrets(error.stack, 8192),
  };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out['code'] = code;
  if (error.cause !== undefined && depth < 3) out['cause'] = serializeError(error.cause, depth + 1);
  return out;
}

function defaultOnError(error: unknown, report: MaskedErrorReport): void {
  // One line, so log collectors keep the error and its id together. stderr: stdout is the stdio transport.
  console.error(
    JSON.stringify({
      level: 'error',
      msg: 'masked error',
      errorId: report.errorId,
      source: report.source,
      method: report.method,
      tool: report.toolName,
      error: serializeError(error),
    }),
  );
}

function checkTimeout(value: Duration | false, option: string): number | false {
  if (value === false) return false;
  const ms = toMs(value, `errors: ${option}`);
  if (ms <= 0) throw new TypeError(`errors: ${option} must be greater than 0 (use false for no limit)`);
  return ms;
}

function toolErrorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/**
 * A clear error model for MCP tools: `ToolError`s reach the model as `isError` results, protocol errors go on the
 * wire as JSON-RPC errors with their code (unknown tools and bad arguments: -32602), everything else is masked
 * behind an error id that `onError` also gets; tool calls that run too long are cancelled through their signal
 * and answered with a timeout error (-32001).
 */
export function errors(options: ErrorsOptions = {}): ErrorsMiddleware {
  const defaultTimeout = checkTimeout(options.timeout ?? '30s', 'timeout');
  const toolTimeouts = new Map<string, number | false>();
  for (const [name, value] of Object.entries(options.toolTimeouts ?? {})) {
    toolTimeouts.set(name, checkTimeout(value, `toolTimeouts.${name}`));
  }
  const maskedMessage = options.maskedMessage ?? 'Internal error';
  if (typeof maskedMessage !== 'string' || maskedMessage.trim() === '') {
    throw new TypeError('errors: maskedMessage must be a non-empty string');
  }
  const maskUnwrapped = options.maskUnwrapped ?? true;
  const onError = options.onError ?? defaultOnError;
  if (typeof onError !== 'function') throw new TypeError('errors: onError must be a function');

  const wrappedHandlers = new WeakSet<object>();
  // This instance's record of each call, so two errors() in one chain never read each other's.
  const RECORD = createKey<CallRecord>('errors/call');
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const report = (error: unknown, r: MaskedErrorReport): void => {
    try {
      onError(error, r);
    } catch {
      // A failing reporter must not turn a masked error into a leaked one.
    }
  };

  const maskedText = (errorId: string) => `${maskedMessage} (error id: ${errorId})`;

  const mask = (
    call: RpcCall,
    channel: 'result' | 'error',
    error: unknown,
    source: MaskedErrorSource,
  ): RpcResult => {
    const errorId = crypto.randomUUID();
    report(error, { errorId, source, method: call.method, toolName: call.toolName, call });
    if (channel === 'result') {
      return { result: { ...toolErrorResult(maskedText(errorId)), _meta: { [ERROR_ID_META_KEY]: errorId } } };
    }
    return { error: { code: ErrorCode.InternalError, message: maskedText(errorId), data: { errorId } } };
  };

  const apply = (call: RpcCall, answer: RpcResult, decision: AnswerDecision): RpcResult => {
    if (decision.ok) return answer;
    if (decision.action === 'error') return { error: decision.error };
    // Only the message survives the SDK; report it as an error so the hook sees one shape.
    return mask(call, answer.error ? 'error' : 'result', new Error(decision.reason), 'server');
  };

  const timeoutFor = (toolName: string): number | false =>
    toolTimeouts.has(toolName) ? toolTimeouts.get(toolName)! : defaultTimeout;

  /** Waits for `next()`, or answers with a timeout error and cancels the handler when time is up. */
  const withDeadline = (call: RpcCall, next: RpcNext, ms: number): Promise<RpcResult> =>
    new Promise<RpcResult>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (settled) return;
        settled = true;
        const error: RpcErrorObject = {
          code: ErrorCode.RequestTimeout,
          message: `Tool '${call.toolName}' timed out after ${formatDuration(ms)}`,
          data: { reason: 'timeout', timeoutMs: ms },
        };
        // Settle first: cancel() settles next() too, with a plain 'Request cancelled'.
        resolve({ error });
        call.cancel(`timed out after ${formatDuration(ms)}`);
      }, ms);
      timers.add(timer);
      const done = () => {
        clearTimeout(timer);
        timers.delete(timer);
      };
      next().then(
        (answer) => {
          done();
          if (settled) return;
          settled = true;
          resolve(answer);
        },
        (error: unknown) => {
          done();
          if (settled) return;
          settled = true;
          reject(error);
        },
      );
    });

  async function rpc(call: RpcCall, next: RpcNext): Promise<RpcResult> {
    if (call.method !== 'tools/call' || call.toolName === undefined) {
      let answer: RpcResult;
      try {
        answer = await next();
      } catch (error) {
        if (MiddlewareError.is(error)) throw error;
        return mask(call, 'error', error, 'middleware');
      }
      return apply(call, answer, decideAnswer(answer));
    }
    const record: CallRecord = { call, outcome: undefined };
    // The wrapped tool finds its record through core's call context (`callOf(extra)`), not through `_meta`.
    call.set(RECORD, record);
    try {
      const ms = timeoutFor(call.toolName);
      const answer = ms === false ? await next() : await withDeadline(call, next, ms);
      return apply(call, answer, decideToolAnswer(answer, record.outcome, maskUnwrapped));
    } catch (error) {
      if (MiddlewareError.is(error)) throw error;
      return mask(call, 'error', error, 'middleware');
    }
  }

  function tool<Args extends ToolArgs = undefined>(handler: ToolCallback<Args>): ToolCallback<Args> {
    if (typeof handler !== 'function') throw new TypeError('errors: tool() needs a handler function');
    // Wrapping twice would let the outer wrapper overwrite the inner one's verdict (errs.tool() on errs.server()).
    if (wrappedHandlers.has(handler)) return handler;
    const run = handler as (...args: unknown[]) => CallToolResult | Promise<CallToolResult>;
    const wrapped = async (...args: unknown[]): Promise<CallToolResult> => {
      // The SDK passes `extra` last: `(args, extra)`, or `(extra)` for a tool without an input schema.
      const extra = args[args.length - 1] as HandlerExtraLike | undefined;
      const record = callOf(extra)?.get(RECORD);
      try {
        const result = await run(...args);
        if (record) record.outcome = { kind: 'returned' };
        return result;
      } catch (error) {
        if ((extra?.signal ?? extra?.mcpReq?.signal)?.aborted) {
          // Cancelled (a timeout or the client): nobody will read this answer, and it is no bug.
          if (record) record.outcome = { kind: 'cancelled' };
          return toolErrorResult('Cancelled');
        }
        const verdict = classifyError(error);
        if (verdict.kind === 'tool') {
          if (record) record.outcome = { kind: 'tool' };
          return toolErrorResult(verdict.message);
        }
        if (verdict.kind === 'protocol') {
          // Without the middleware only McpServer's own handling is left: rethrow to it.
          if (!record) throw error;
          record.outcome = { kind: 'protocol', error: verdict.error };
          return toolErrorResult(verdict.error.message);
        }
        const errorId = crypto.randomUUID();
        report(error, {
          errorId,
          source: 'tool',
          method: 'tools/call',
          toolName: record?.call.toolName,
          call: record?.call,
        });
        if (record) record.outcome = { kind: 'masked', errorId };
        return { ...toolErrorResult(maskedText(errorId)), _meta: { [ERROR_ID_META_KEY]: errorId } };
      }
    };
    wrappedHandlers.add(wrapped);
    return wrapped as ToolCallback<Args>;
  }

  function server<S extends McpServer>(mcp: S): S {
    if (typeof mcp?.registerTool !== 'function' || typeof mcp.tool !== 'function') {
      throw new TypeError('errors: server() needs an McpServer');
    }
    const registerTool = mcp.registerTool.bind(mcp) as (
      name: string,
      config: unknown,
      cb: unknown,
    ) => unknown;
    const legacyTool = mcp.tool.bind(mcp) as (...args: unknown[]) => unknown;
    const wrap = (cb: unknown) => (typeof cb === 'function' ? tool(cb as ToolCallback) : cb);
    // Own properties shadow the prototype's methods: only this server changes. The callback is always last.
    Object.assign(mcp, {
      registerTool: (name: string, config: unknown, cb: unknown) => registerTool(name, config, wrap(cb)),
      tool: (...args: unknown[]) => legacyTool(...args.slice(0, -1), wrap(args[args.length - 1])),
    });
    return mcp;
  }

  return {
    name: 'errors',
    rpc,
    tool,
    server,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
