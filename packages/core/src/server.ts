import { type CallInit, callOf, stampCall } from './call.js';
import { composeRpc, type RpcHandler } from './compose.js';
import { MiddlewareError } from './errors.js';
import type { ErrorReport } from './transport.js';
import type { AuthInfo, HttpContext, Middleware, RpcCall, RpcErrorObject, RpcResult } from './types.js';

/*
 * The RPC layer runs where both SDK lines meet: the server's table of per-method request handlers
 * (`Protocol._requestHandlers` on v1 `Server` and v2 `Server` alike, both a `Map<method, (request, extra|ctx)>`).
 * Every handler in it, and every handler registered later (McpServer adds `tools/call` on the first tool), is
 * wrapped once. That reaches traffic on any transport, including the per-request transports SDK v2 builds inside
 * its own `createMiddlewareHandler`, which a transport decorator never sees.
 */

type SdkHandler = (request: SdkRequest, extra: SdkExtra) => Promise<unknown>;
interface SdkRequest {
  readonly id?: string | number;
  readonly method: string;
  readonly params?: Record<string, unknown>;
}
/** The SDK's per-request object: v1 `RequestHandlerExtra` or v2 `ServerContext` (which has `mcpReq`). */
type SdkExtra = Record<string, unknown> & {
  signal?: AbortSignal;
  mcpReq?: Record<string, unknown> & { signal: AbortSignal };
};

export interface WrapServerOptions {
  /** The middleware whose RPC layer runs around every request the server handles, outermost first. */
  middleware: readonly Middleware[];
  /**
   * Exceptions thrown by middleware (the client sees a plain `Internal error`).
   * @default printed to stderr
   */
  onError?: (error: unknown, report: ErrorReport) => void;
  /** @internal Finds the HTTP context of the request that carried a call (by the SDK's request-info object). */
  httpContext?: (key: object) => HttpContext | undefined;
}

const WRAPPED = Symbol('mcp-middleware.wrapped');
/** Where 2026-07-28 requests name their revision (SEP-2575's per-request envelope). */
const PROTOCOL_VERSION_META_KEY = 'io.modelcontextprotocol/protocolVersion';

const INTERNAL_ERROR: RpcErrorObject = { code: -32603, message: 'Internal error' };
const CANCELLED: RpcErrorObject = {
  code: -32001,
  message: 'Request cancelled',
  data: { reason: 'cancelled' },
};

/** An error the SDK turns into exactly this JSON-RPC error object (both lines read `code`, `message`, `data`). */
class RpcAnswer extends Error {
  readonly code: number;
  readonly data: unknown;
  constructor(error: RpcErrorObject) {
    super(error.message);
    this.code = error.code;
    this.data = error.data;
  }
}

interface ProtocolLike {
  _requestHandlers: Map<string, SdkHandler>;
  fallbackRequestHandler?: SdkHandler;
  /** Where SDK v1 aborts a handler's signal: `notifications/cancelled`, and the transport closing. */
  _oncancel?: (notification: { params?: { requestId?: unknown } }) => unknown;
  _onclose?: () => void;
  [WRAPPED]?: true;
}

function protocolOf(server: unknown): ProtocolLike {
  for (const candidate of [server, (server as { server?: unknown } | null)?.server]) {
    if (
      typeof candidate === 'object' &&
      candidate !== null &&
      (candidate as { _requestHandlers?: unknown })._requestHandlers instanceof Map
    ) {
      return candidate as ProtocolLike;
    }
  }
  throw new TypeError(
    'wrapServer: expected an McpServer or Server from @modelcontextprotocol/sdk 1.x or @modelcontextprotocol/server 2.x',
  );
}

function errorObjectOf(error: unknown): RpcErrorObject {
  const e = error as { code?: unknown; message?: unknown; data?: unknown } | null;
  const code = typeof e?.code === 'number' && Number.isSafeInteger(e.code) ? e.code : INTERNAL_ERROR.code;
  const message = typeof e?.message === 'string' ? e.message : INTERNAL_ERROR.message;
  return e?.data === undefined ? { code, message } : { code, message, data: e.data };
}

/** One request as RPC middleware sees it, on either SDK line. */
class ServerCall implements RpcCall {
  readonly id: string | number;
  readonly method: string;
  readonly params: Record<string, unknown> | undefined;
  readonly toolName: string | undefined;
  readonly authInfo: AuthInfo | undefined;
  readonly sessionId: string | undefined;
  readonly requestInfo: RpcCall['requestInfo'];
  readonly http: HttpContext | undefined;
  readonly protocolVersion: string | undefined;
  readonly startedAt = performance.now();
  readonly notify: RpcCall['notify'];
  /** Made when the signal is first read: most calls finish without anyone asking for it. */
  #controller: AbortController | undefined;
  /** Why the call was aborted, once it was (before or after the signal was made). */
  #abortReason: string | undefined;
  #state: Map<string | symbol, unknown> | undefined;
  /** Settles the innermost `next()` early when the call is cancelled while the server works on it. */
  #settle: ((result: RpcResult) => void) | undefined;
  /** The server's own error, kept so an untouched error reaches the SDK exactly as it was thrown. */
  serverError: { readonly object: RpcErrorObject; readonly thrown: unknown } | undefined;
  /** The SDK's handler is running and nobody is waiting for it any more only if a middleware answered first. */
  serverBusy = false;
  readonly #request: SdkRequest;
  readonly #extra: SdkExtra;

  /** The SDK's handler for this request's method: where the innermost `next()` goes. */
  readonly #handler: SdkHandler;
  /** The SDK's own signal for the request: the client cancelled, or the connection closed. */
  sdkSignal: AbortSignal | undefined = undefined;

  constructor(init: CallInit, request: SdkRequest, extra: SdkExtra, handler: SdkHandler) {
    this.#request = request;
    this.#extra = extra;
    this.#handler = handler;
    this.id = init.id;
    this.method = init.method;
    this.params = init.params;
    const name = init.method === 'tools/call' ? init.params?.['name'] : undefined;
    this.toolName = typeof name === 'string' ? name : undefined;
    this.authInfo = init.authInfo;
    this.sessionId = init.sessionId;
    this.requestInfo = init.requestInfo;
    this.http = init.http;
    this.protocolVersion = init.protocolVersion;
    this.notify = init.notify;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  get cancelled(): boolean {
    return this.#abortReason !== undefined;
  }

  /** The SDK's own signal for the request aborted (the client cancelled, the connection closed). */
  handleEvent(): void {
    this.sdkAborted();
  }

  /** Cancels the call if the SDK aborted its signal. */
  sdkAborted(): void {
    const signal = this.sdkSignal;
    if (signal?.aborted) this.cancel(String(signal.reason ?? 'cancelled'));
  }

  /** Aborts the handler's signal (made now or when first read), once. */
  abort(reason: string): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  get state(): Map<string | symbol, unknown> {
    this.#state ??= new Map();
    return this.#state;
  }

  get<T>(key: symbol & { readonly __valueType?: T }): T | undefined {
    return this.#state?.get(key) as T | undefined;
  }

  set<T>(key: symbol & { readonly __valueType?: T }, value: T): void {
    this.state.set(key, value);
  }

  cancel(reason = 'cancelled by middleware'): void {
    this.abort(reason);
    const settle = this.#settle;
    this.#settle = undefined;
    settle?.({ error: CANCELLED });
  }

  /** The innermost `next()`: runs the SDK's handler and waits for its answer (or a cancellation). */
  deliver(): Promise<RpcResult> {
    if (this.cancelled) return Promise.resolve({ error: CANCELLED });
    const handler = this.#handler;
    const request = this.#request;
    const extra = this.#extra;
    this.serverBusy = true;
    return new Promise<RpcResult>((resolve) => {
      this.#settle = resolve;
      const done = (result: RpcResult) => {
        this.serverBusy = false;
        if (this.#settle === resolve) {
          this.#settle = undefined;
          resolve(result);
        }
      };
      let answer: Promise<unknown>;
      try {
        answer = handler(request, extra);
      } catch (error) {
        answer = Promise.reject(error);
      }
      answer.then(
        (result) => done({ result: result as RpcResult['result'] & object }),
        (thrown: unknown) => {
          const object = errorObjectOf(thrown);
          this.serverError = { object, thrown };
          done({ error: object });
        },
      );
    });
  }
}

/**
 * `extra.signal` (v1) or `ctx.mcpReq.signal` (v2) as the handler sees it: the call's own signal, made on first read.
 * One descriptor for every call; the getter finds its call by the stamp on the object.
 */
const CALL_SIGNAL: PropertyDescriptor = {
  get(this: object): AbortSignal | undefined {
    return callOf(this)?.signal;
  },
  enumerable: true,
  configurable: true,
};

/**
 * A copy of `source` whose `signal` is its call's own (`CALL_SIGNAL`), defined on the empty object first so the copy
 * keeps fast properties; everything else is copied as it is (the call's stamp is added after).
 */
function withCallSignal<T extends Record<string, unknown>>(source: T): T {
  const copy: Record<string, unknown> = {};
  Object.defineProperty(copy, 'signal', CALL_SIGNAL);
  for (const key in source) if (key !== 'signal') copy[key] = source[key];
  return copy as T;
}

/** Reads what a call needs from the SDK's per-request object, whichever line made it. */
function callInit(
  request: SdkRequest,
  extra: SdkExtra,
  httpContext: WrapServerOptions['httpContext'],
): CallInit {
  const mcpReq = extra.mcpReq;
  if (mcpReq) {
    // SDK v2: `ctx.mcpReq` for the request, `ctx.http` for the HTTP request that carried it.
    const http = extra['http'] as { authInfo?: AuthInfo; req?: Request } | undefined;
    const req = http?.req;
    const envelope = mcpReq['envelope'] as Record<string, unknown> | undefined;
    const version = envelope?.[PROTOCOL_VERSION_META_KEY];
    return {
      id: mcpReq['id'] as string | number,
      method: request.method,
      params: request.params,
      authInfo: http?.authInfo,
      sessionId: extra['sessionId'] as string | undefined,
      requestInfo: req ? { headers: Object.fromEntries(req.headers), url: new URL(req.url) } : undefined,
      http: req && httpContext ? httpContext(req) : undefined,
      protocolVersion: typeof version === 'string' ? version : undefined,
      notify: mcpReq['notify'] as RpcCall['notify'],
    };
  }
  // SDK v1: `RequestHandlerExtra`.
  const requestInfo = extra['requestInfo'] as RpcCall['requestInfo'];
  const send = extra['sendNotification'] as RpcCall['notify'];
  return {
    id: (extra['requestId'] ?? request.id) as string | number,
    method: request.method,
    params: request.params,
    authInfo: extra['authInfo'] as AuthInfo | undefined,
    sessionId: extra['sessionId'] as string | undefined,
    requestInfo,
    http: requestInfo && httpContext ? httpContext(requestInfo) : undefined,
    protocolVersion: undefined,
    notify: (notification) => send(notification),
  };
}

function defaultOnError(error: unknown, report: ErrorReport): void {
  console.error(`[mcp-middleware] unexpected error in ${report.phase} layer:`, error);
}

/**
 * Runs the RPC layer of `middleware` around every request handler of an MCP server, on SDK v1
 * (`@modelcontextprotocol/sdk` `McpServer`/`Server`) and SDK v2 (`@modelcontextprotocol/server`), in both protocol
 * eras and over any transport. Call it once per server, before or after registering tools. Returns the server.
 *
 * ```ts
 * const server = wrapServer(new McpServer(info), { middleware: [rateLimit(...), errors()] });
 * ```
 */
export function wrapServer<S extends object>(server: S, options: WrapServerOptions): S {
  if (!Array.isArray(options?.middleware)) {
    throw new TypeError('wrapServer: options.middleware must be an array of middleware');
  }
  const protocol = protocolOf(server);
  if (protocol[WRAPPED]) throw new TypeError('wrapServer: this server is already wrapped');
  protocol[WRAPPED] = true;
  const { middleware, httpContext } = options;
  const onError = options.onError ?? defaultOnError;
  const report = (error: unknown, call: RpcCall) => {
    try {
      onError(error, { phase: 'rpc', call, http: call.http });
    } catch {
      // A failing reporter must not fail the call.
    }
  };

  // One chain for every handler of the server: each call carries its own handler to the innermost step. Servers are
  // made per request on SDK v2, so this is composed once per request there, not once per handler.
  const chain: RpcHandler = composeRpc(middleware, (call) => (call as ServerCall).deliver());
  const open = watchAborts(protocol);
  const wrap = (handler: SdkHandler): SdkHandler => {
    return (request, extra) => {
      const mcpReq = extra.mcpReq;
      const sdkSignal = mcpReq?.signal ?? extra.signal;
      // The handler sees the call's signal, so `call.cancel()` aborts the tool; it is made only if read. It sits on a
      // copy of the SDK's object (v1 `extra`, v2 `ctx.mcpReq`) that has it from the start: turning the SDK's own
      // data property into a getter made that object a slow dictionary-mode one, on every call.
      const handlerExtra = mcpReq ? extra : withCallSignal(extra);
      const call = new ServerCall(callInit(request, extra, httpContext), request, handlerExtra, handler);
      stampCall(handlerExtra, call);
      if (mcpReq) {
        const handlerMcpReq = withCallSignal(mcpReq);
        stampCall(handlerMcpReq, call);
        extra.mcpReq = handlerMcpReq;
      }
      // The SDK's signal (the client cancelled, the connection closed) cancels the call: next() settles at once.
      if (sdkSignal) {
        call.sdkSignal = sdkSignal;
        if (sdkSignal.aborted) call.sdkAborted();
        else if (open && !mcpReq) open.set(call.id, call);
        else sdkSignal.addEventListener('abort', call, { once: true });
      }
      let outcome: Promise<RpcResult>;
      try {
        outcome = chain(call);
      } catch (error) {
        outcome = Promise.reject(error);
      }
      return outcome.then(
        (result) => {
          if (open?.get(call.id) === call) open.delete(call.id);
          // A middleware answered without waiting for the handler (a timeout, say): stop the handler's work.
          if (call.serverBusy) call.abort('answered by middleware');
          if (result.error === undefined) return result.result;
          if (call.serverError?.object === result.error) throw call.serverError.thrown;
          throw new RpcAnswer(result.error);
        },
        (error: unknown) => {
          if (open?.get(call.id) === call) open.delete(call.id);
          if (call.serverBusy) call.abort('middleware failed');
          if (MiddlewareError.is(error)) {
            throw new RpcAnswer({
              code: error.rpcCode,
              message: error.message,
              ...(error.data === undefined ? {} : { data: error.data }),
            });
          }
          report(error, call);
          throw new RpcAnswer(INTERNAL_ERROR);
        },
      );
    };
  };

  const handlers = protocol._requestHandlers;
  for (const [method, handler] of handlers) Map.prototype.set.call(handlers, method, wrap(handler));
  // Handlers registered later (McpServer adds `tools/call` with the first tool) are wrapped as they arrive.
  Object.defineProperty(handlers, 'set', {
    value(this: Map<string, SdkHandler>, method: string, handler: SdkHandler) {
      return Map.prototype.set.call(this, method, wrap(handler));
    },
    configurable: true,
  });
  // Methods with no handler still pass the RPC layer (logged, limited), then get the SDK's own -32601.
  let fallback = protocol.fallbackRequestHandler
    ? wrap(protocol.fallbackRequestHandler)
    : wrap(methodNotFound);
  Object.defineProperty(protocol, 'fallbackRequestHandler', {
    get: () => fallback,
    set: (handler: SdkHandler | undefined) => {
      fallback = wrap(handler ?? methodNotFound);
    },
    configurable: true,
  });
  return server;
}

/**
 * SDK v1 aborts a handler's signal in two places only, `_oncancel` and `_onclose`: hooked here, they cancel this
 * server's open calls, which saves an 'abort' listener per call (on Node 20 one costs about 1.5 µs and keeps the call
 * alive past a young-generation collection). Undefined, and a listener per call, where the server has no such hooks.
 * SDK v2 always gets listeners: its calls have signals that other things abort too (a batch round's).
 */
function watchAborts(protocol: ProtocolLike): Map<unknown, ServerCall> | undefined {
  const { _oncancel: oncancel, _onclose: onclose } = protocol;
  if (typeof oncancel !== 'function' || typeof onclose !== 'function') return undefined;
  const open = new Map<unknown, ServerCall>();
  protocol._oncancel = function (this: ProtocolLike, notification) {
    const result = oncancel.call(this, notification);
    const cancelled = () => open.get(notification?.params?.requestId)?.sdkAborted();
    cancelled();
    // Should a later SDK abort after an await, look again once it is done.
    if (result instanceof Promise) void result.then(cancelled, () => {});
    return result;
  };
  protocol._onclose = function (this: ProtocolLike) {
    try {
      onclose.call(this);
    } finally {
      for (const call of [...open.values()]) call.sdkAborted();
    }
  };
  return open;
}

const methodNotFound: SdkHandler = () =>
  Promise.reject(new RpcAnswer({ code: -32601, message: 'Method not found' }));
