import { callOf, headerOf, stampCall } from './call.js';
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

/** Where a wrapped server keeps its state: on its handler map (where lookups arrive) and on its protocol object. */
const SERVER = Symbol('mcp-middleware.server');
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
  [SERVER]?: WrappedServer;
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
  readonly http: HttpContext | undefined;
  readonly protocolVersion: string | undefined;
  readonly startedAt = performance.now();
  /** The request's headers and URL: v1 hands them over; on v2 they are read from its `Request` when first asked. */
  #requestInfo: RpcCall['requestInfo'];
  #httpRequest: Request | undefined;
  /** v2's `ctx.mcpReq.notify`, or on v1 a wrapper around `extra.sendNotification` made when first read. */
  #notify: RpcCall['notify'] | undefined;
  #sendNotification: RpcCall['notify'] | undefined;
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
  /** The SDK's signal reaches this call through a weak reference only (`abortListener`). */
  heldWeakly = false;

  /** Reads what a call needs from the SDK's per-request object (`extra`), whichever line made it. */
  constructor(
    request: SdkRequest,
    extra: SdkExtra,
    handlerExtra: SdkExtra,
    handler: SdkHandler,
    httpContext: WrapServerOptions['httpContext'],
  ) {
    this.#request = request;
    this.#extra = handlerExtra;
    this.#handler = handler;
    this.method = request.method;
    this.params = request.params;
    const name = request.method === 'tools/call' ? request.params?.['name'] : undefined;
    this.toolName = typeof name === 'string' ? name : undefined;
    this.sessionId = extra['sessionId'] as string | undefined;
    const mcpReq = extra.mcpReq;
    if (mcpReq) {
      // SDK v2: `ctx.mcpReq` for the request, `ctx.http` for the HTTP request that carried it.
      const http = extra['http'] as { authInfo?: AuthInfo; req?: Request } | undefined;
      const req = http?.req;
      const version = (mcpReq['envelope'] as Record<string, unknown> | undefined)?.[
        PROTOCOL_VERSION_META_KEY
      ];
      this.id = mcpReq['id'] as string | number;
      this.authInfo = http?.authInfo;
      this.#httpRequest = req;
      this.http = req && httpContext ? httpContext(req) : undefined;
      this.protocolVersion = typeof version === 'string' ? version : undefined;
      this.#notify = mcpReq['notify'] as RpcCall['notify'];
    } else {
      // SDK v1: `RequestHandlerExtra`.
      const requestInfo = extra['requestInfo'] as RpcCall['requestInfo'];
      this.id = (extra['requestId'] ?? request.id) as string | number;
      this.authInfo = extra['authInfo'] as AuthInfo | undefined;
      this.#requestInfo = requestInfo;
      this.http = requestInfo && httpContext ? httpContext(requestInfo) : undefined;
      this.protocolVersion = undefined;
      this.#sendNotification = extra['sendNotification'] as RpcCall['notify'];
    }
  }

  get requestInfo(): RpcCall['requestInfo'] {
    const req = this.#httpRequest;
    if (req !== undefined && this.#requestInfo === undefined) {
      this.#requestInfo = { headers: Object.fromEntries(req.headers), url: new URL(req.url) };
    }
    return this.#requestInfo;
  }

  header(name: string): string | undefined {
    const req = this.#httpRequest;
    return req === undefined ? headerOf(this.#requestInfo, name) : (req.headers.get(name) ?? undefined);
  }

  get notify(): RpcCall['notify'] {
    if (this.#notify === undefined) {
      const send = this.#sendNotification!;
      this.#notify = (notification) => send(notification);
    }
    return this.#notify;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      if (this.#abortReason !== undefined) controller.abort(this.#abortReason);
      // The SDK's abort listener holds the call weakly: a tool that waits for nothing but this signal must stay
      // reachable from the SDK's signal, or it could be collected and never hear of the cancellation.
      else if (this.heldWeakly && !this.sdkSignal!.aborted)
        this.sdkSignal!.addEventListener('abort', holdUntil(controller));
    }
    return this.#controller.signal;
  }

  get cancelled(): boolean {
    return this.#abortReason !== undefined;
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

/** A listener that does nothing but keep `value` reachable from the signal it is added to. */
function holdUntil(value: object): () => void {
  return () => void value;
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
 * A copy of `source` whose `signal` is its call's own (`CALL_SIGNAL`, an accessor added where the source has its
 * `signal`, so the keys keep the SDK's order and the copy keeps fast properties); everything else is copied as it is
 * (the call's stamp is added after). Used for v2's `ctx.mcpReq`; v1's `extra` is copied by name (`V1Extra`).
 */
function withCallSignal<T extends Record<string, unknown>>(source: T): T {
  const copy: Record<string, unknown> = {};
  let signal = false;
  for (const key in source) {
    if (key !== 'signal') copy[key] = source[key];
    else {
      Object.defineProperty(copy, 'signal', CALL_SIGNAL);
      signal = true;
    }
  }
  if (!signal) Object.defineProperty(copy, 'signal', CALL_SIGNAL);
  return copy as T;
}

/** The keys SDK v1 (1.x) puts on a handler's `extra`, in its order. */
const V1_EXTRA_KEYS = new Set([
  'signal',
  'sessionId',
  '_meta',
  'sendNotification',
  'sendRequest',
  'authInfo',
  'requestId',
  'requestInfo',
  'taskId',
  'taskStore',
  'taskRequestedTtl',
  'closeSSEStream',
  'closeStandaloneSSEStream',
]);

/**
 * Makes SDK v1's `extra` as a handler sees it (with `new`): `signal` is the call's own (`CALL_SIGNAL`), the keys SDK v1
 * sets are copied by name in its order, then any key a later SDK adds. A loop of keyed stores, each adding a property,
 * went through V8's runtime for every key (none of those stores is cached): 25-45 K instructions per call, most of
 * what the RPC layer cost a server made per request.
 */
function V1Extra(this: Record<string, unknown>, source: SdkExtra): void {
  Object.defineProperty(this, 'signal', CALL_SIGNAL);
  this['sessionId'] = source['sessionId'];
  this['_meta'] = source['_meta'];
  this['sendNotification'] = source['sendNotification'];
  this['sendRequest'] = source['sendRequest'];
  this['authInfo'] = source['authInfo'];
  this['requestId'] = source['requestId'];
  this['requestInfo'] = source['requestInfo'];
  this['taskId'] = source['taskId'];
  this['taskStore'] = source['taskStore'];
  this['taskRequestedTtl'] = source['taskRequestedTtl'];
  this['closeSSEStream'] = source['closeSSEStream'];
  this['closeStandaloneSSEStream'] = source['closeStandaloneSSEStream'];
  for (const key in source) if (!V1_EXTRA_KEYS.has(key)) this[key] = source[key];
}
// A plain object, as the SDK's own is: a check like lodash's `isPlainObject` must not tell the copy apart.
V1Extra.prototype = Object.prototype;
const newV1Extra = V1Extra as unknown as new (source: SdkExtra) => SdkExtra;

function defaultOnError(error: unknown, report: ErrorReport): void {
  console.error(`[mcp-middleware] unexpected error in ${report.phase} layer:`, error);
}

/** The RPC layer as every server wrapped with the same options runs it: composed once, shared by all of them. */
interface RpcLayer {
  readonly chain: RpcHandler;
  readonly httpContext: WrapServerOptions['httpContext'];
  readonly onError: NonNullable<WrapServerOptions['onError']>;
}

type HandlerMap = Map<string, SdkHandler> & { [SERVER]?: WrappedServer };
const mapGet = Map.prototype.get;

/**
 * One wrapped server. Nothing is wrapped ahead: the handler map's `get` (where both SDK lines look a request's
 * handler up) hands out the RPC layer around the handler it finds, so a server made per request (stateless, and
 * SDK v2 always) pays for the one handler it runs, and handlers registered later need no hook.
 */
class WrappedServer {
  /** SDK v1's open calls by request id, for `_oncancel`/`_onclose` to abort (see `oncancelHook`); made on first use. */
  open: Map<unknown, ServerCall> | undefined;
  constructor(
    readonly protocol: ProtocolLike,
    readonly layer: RpcLayer,
    /** The protocol's own hooks, where it has both (SDK v1's abort points); else undefined: a listener per call. */
    readonly hooks: Pick<Required<ProtocolLike>, '_oncancel' | '_onclose'> | undefined,
  ) {}

  /** What the SDK runs for the request it looked up: the RPC layer around `handler` (the method's, or the fallback). */
  handlerFor(handler: SdkHandler): SdkHandler {
    return (request, extra) => this.run(handler, request, extra);
  }

  run(handler: SdkHandler, request: SdkRequest, extra: SdkExtra): Promise<unknown> {
    const mcpReq = extra.mcpReq;
    const sdkSignal = mcpReq?.signal ?? extra.signal;
    // The handler sees the call's signal, so `call.cancel()` aborts the tool; it is made only if read. It sits on a
    // copy of the SDK's object (v1 `extra`, v2 `ctx.mcpReq`) that has it from the start: turning the SDK's own data
    // property into a getter made that object a slow dictionary-mode one, on every call.
    const handlerExtra: SdkExtra = mcpReq ? extra : new newV1Extra(extra);
    const call = new ServerCall(request, extra, handlerExtra, handler, this.layer.httpContext);
    stampCall(handlerExtra, call);
    if (mcpReq) {
      const handlerMcpReq = withCallSignal(mcpReq);
      stampCall(handlerMcpReq, call);
      extra.mcpReq = handlerMcpReq;
    }
    // The SDK's signal (the client cancelled, the connection closed) cancels the call: next() settles at once.
    let open: Map<unknown, ServerCall> | undefined;
    let onAbort: (() => void) | undefined;
    if (sdkSignal) {
      call.sdkSignal = sdkSignal;
      if (sdkSignal.aborted) call.sdkAborted();
      else if (this.hooks && !mcpReq) {
        open = this.open ??= new Map();
        open.set(call.id, call);
      } else {
        onAbort = abortListener(call);
        call.heldWeakly = true;
        sdkSignal.addEventListener('abort', onAbort, { once: true });
      }
    }
    let outcome: Promise<RpcResult>;
    try {
      outcome = this.layer.chain(call);
    } catch (error) {
      outcome = Promise.reject(error);
    }
    return outcome.then(
      (result) => {
        if (open?.get(call.id) === call) open.delete(call.id);
        // SDK v2 aborts each request's signal when its per-request server closes, after the answer: an event with
        // nobody left to tell, dearer than taking the listener off now.
        if (onAbort) sdkSignal!.removeEventListener('abort', onAbort);
        // A middleware answered without waiting for the handler (a timeout, say): stop the handler's work.
        if (call.serverBusy) call.abort('answered by middleware');
        if (result.error === undefined) return result.result;
        if (call.serverError?.object === result.error) throw call.serverError.thrown;
        throw new RpcAnswer(result.error);
      },
      (error: unknown) => {
        if (open?.get(call.id) === call) open.delete(call.id);
        if (onAbort) sdkSignal!.removeEventListener('abort', onAbort);
        if (call.serverBusy) call.abort('middleware failed');
        if (MiddlewareError.is(error)) {
          throw new RpcAnswer({
            code: error.rpcCode,
            message: error.message,
            ...(error.data === undefined ? {} : { data: error.data }),
          });
        }
        try {
          this.layer.onError(error, { phase: 'rpc', call, http: call.http });
        } catch {
          // A failing reporter must not fail the call.
        }
        throw new RpcAnswer(INTERNAL_ERROR);
      },
    );
  }
}

/*
 * The overrides below are the same functions for every server, which keeps the SDK's objects in V8's fast mode:
 * an accessor made per server (as `fallbackRequestHandler` once was) turns the whole `Server` into a slow
 * dictionary-mode object, and every property the SDK reads on it afterwards is a hash lookup.
 */

/**
 * The handler map's `get`: the RPC layer around the method's handler, or around the fallback (the server's own, else
 * the SDK's -32601), so methods with no handler still pass the RPC layer (logged, limited). Both SDK lines call
 * `get` once per request, in `_onrequest`, and fall back themselves only when it returns undefined.
 */
const HANDLER_LOOKUP: PropertyDescriptor = {
  value(this: HandlerMap, method: string): SdkHandler {
    const server = this[SERVER]!;
    const handler = mapGet.call(this, method) ?? server.protocol.fallbackRequestHandler ?? methodNotFound;
    return server.handlerFor(handler);
  },
  configurable: true,
  writable: true,
};

/**
 * SDK v1 aborts a handler's signal in two places only, `_oncancel` and `_onclose`: hooked here, they cancel this
 * server's open calls, which saves an 'abort' listener per call (on Node 20 one costs about 1.5 µs and keeps the call
 * alive past a young-generation collection). Where the server has no such hooks, each call gets a listener. SDK v2's
 * calls always do: their signals are aborted by other things too (a batch round's).
 */
function oncancelHook(this: ProtocolLike, notification: { params?: { requestId?: unknown } }): unknown {
  const server = this[SERVER]!;
  const result = server.hooks!._oncancel.call(this, notification);
  const cancelled = () => server.open?.get(notification?.params?.requestId)?.sdkAborted();
  cancelled();
  // Should a later SDK abort after an await, look again once it is done.
  if (result instanceof Promise) void result.then(cancelled, () => {});
  return result;
}

function oncloseHook(this: ProtocolLike): void {
  const server = this[SERVER]!;
  try {
    server.hooks!._onclose.call(this);
  } finally {
    if (server.open) for (const call of [...server.open.values()]) call.sdkAborted();
  }
}

/**
 * The SDK signal's 'abort' listener for `call`, holding the call weakly. Node keeps each listener in an entry that V8
 * comes to allocate in the old generation, and an old object that points at a young call keeps the call and all it
 * reaches alive through young-generation collections, even once the listener is removed, until the next full
 * collection: on SDK v2, about 50 K instructions per call (first as an `EventListener` object, then as a closure).
 * Made here, so the closure's context holds the reference only. A call that somebody still waits for is reachable
 * through its own promises; one whose signal was read is also held through that signal (`ServerCall.signal`).
 */
function abortListener(call: ServerCall): () => void {
  const ref = new WeakRef(call);
  return () => ref.deref()?.sdkAborted();
}

/**
 * Makes the function that runs the RPC layer of `options.middleware` in a server: composed once, here, for every
 * server it is given (core's handler makes one per handler, and wraps each server its factory makes with it).
 * @internal
 */
export function serverWrapper(options: WrapServerOptions): <S extends object>(server: S) => S {
  if (!Array.isArray(options?.middleware)) {
    throw new TypeError('wrapServer: options.middleware must be an array of middleware');
  }
  const layer: RpcLayer = {
    // One chain for every server and handler: each call carries its own handler to the innermost step.
    chain: composeRpc(options.middleware, (call) => (call as ServerCall).deliver()),
    httpContext: options.httpContext,
    onError: options.onError ?? defaultOnError,
  };
  return <S extends object>(server: S): S => {
    const protocol = protocolOf(server);
    if (protocol[SERVER]) throw new TypeError('wrapServer: this server is already wrapped');
    const { _oncancel: oncancel, _onclose: onclose } = protocol;
    const hooked = typeof oncancel === 'function' && typeof onclose === 'function';
    const wrapped = new WrappedServer(
      protocol,
      layer,
      hooked ? { _oncancel: oncancel, _onclose: onclose } : undefined,
    );
    protocol[SERVER] = wrapped;
    const handlers = protocol._requestHandlers as HandlerMap;
    handlers[SERVER] = wrapped;
    Object.defineProperty(handlers, 'get', HANDLER_LOOKUP);
    if (hooked) {
      protocol._oncancel = oncancelHook;
      protocol._onclose = oncloseHook;
    }
    return server;
  };
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
  return serverWrapper(options)(server);
}

const methodNotFound: SdkHandler = () =>
  Promise.reject(new RpcAnswer({ code: -32601, message: 'Method not found' }));
