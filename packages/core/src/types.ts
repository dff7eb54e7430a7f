import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type {
  JSONRPCErrorResponse,
  JSONRPCNotification,
  JSONRPCRequest,
  RequestId,
  RequestInfo,
  Result,
} from '@modelcontextprotocol/sdk/types.js';

import type { Key } from './call.js';
import type { Duration } from './duration.js';

export type { AuthInfo };

/** Where a request landed, so middleware can tell the MCP endpoint from probes and metadata. */
export type RouteKind = 'mcp' | 'route' | 'not-found';

/** What every HTTP middleware sees besides the `Request`. One object per HTTP request. */
export interface HttpContext {
  /** The parsed request URL (parsed on first read). */
  readonly url: URL;
  /** The request's path, as `url.pathname` gives it, without parsing the URL. */
  readonly path: string;
  /** The client's address, after the handler's `trustProxy` policy was applied; undefined when the runtime gives none. */
  readonly clientAddress: string | undefined;
  /** A request id: the validated incoming `x-request-id`, or one generated here. Echoed in the response. */
  requestId: string;
  /** Who is calling, once an auth middleware has said so. Flows to the SDK's `extra.authInfo` and to RPC middleware. */
  authInfo: AuthInfo | undefined;
  /**
   * What the request is for: the MCP endpoint (`'mcp'`), a route a middleware or the user registered (`'route'`),
   * or nothing (`'not-found'`). Auth and rate limits apply to the MCP endpoint and to routes registered with
   * `protected: true`; `isProtected` says which.
   */
  readonly route: RouteKind;
  /** True when auth and limits apply to this request (the MCP endpoint, or a route registered as protected). */
  readonly isProtected: boolean;
  /** The MCP session id the client sent, if any. */
  readonly sessionId: string | undefined;
  /**
   * The JSON body, read once under the handler's size limit and shared by every middleware and the transport.
   * Resolves to `undefined` for requests without a JSON body. Rejects with a `MiddlewareError` (`payload_too_large`,
   * `bad_request`) that the handler turns into 413/400.
   */
  body(): Promise<unknown>;
  /**
   * Adds a header to whatever response this request ends with (middleware answers and errors included). Cheaper
   * than changing a `Response` after the fact: on Node the header goes straight to the outgoing message.
   */
  setResponseHeader(name: string, value: string): void;
  /**
   * Calls `listener` once the response has been written out, or the client went away first (`aborted`): for access
   * logs and metrics that need the end of a streamed response. On Node the adapter's own event tells it; elsewhere
   * core watches the body once, only when someone listens.
   */
  onResponseSent(listener: (aborted: boolean) => void): void;
  /** Per-request scratch space for middleware that cooperate (keys should be symbols or package-prefixed). */
  readonly state: Map<string | symbol, unknown>;
  /**
   * Reads what a middleware stored under a key made by `createKey<T>()` (or any symbol). Unlike reading `state`, it
   * makes no map for a request that has none: prefer it on the hot path.
   */
  get<T>(key: Key<T>): T | undefined;
  /** Stores a value for later middleware of this request (`ctx.get(key)`, `call.http?.get(key)`). */
  set<T>(key: Key<T>, value: T): void;
  /** The time the handler received the request (`performance.now()` clock). */
  readonly startedAt: number;
}

/** The answer to one JSON-RPC request: a result, or an error object. */
export type RpcResult = { result: Result; error?: never } | { error: RpcErrorObject; result?: never };

/** A JSON-RPC error object as it goes on the wire. */
export type RpcErrorObject = JSONRPCErrorResponse['error'];

/** One incoming JSON-RPC request as RPC middleware sees it. */
export interface RpcCall {
  readonly id: RequestId;
  readonly method: string;
  /**
   * The request's params: the very object the server receives. To hand per-call data to a tool, use `call.set(key,
   * value)` and `callOf(extra)?.get(key)` in the tool, not `_meta`: the tool's `_meta` holds only what the client sent.
   */
  readonly params: JSONRPCRequest['params'];
  /** The tool's name for `tools/call`, else undefined. */
  readonly toolName: string | undefined;
  /** Identity from the HTTP layer (or whatever the transport carried). */
  readonly authInfo: AuthInfo | undefined;
  readonly sessionId: string | undefined;
  /**
   * Headers and URL of the HTTP request that carried the call, when it came over HTTP. On SDK v2 they are copied
   * out of the `Request` when first read: for one header, `header(name)` is cheaper.
   */
  readonly requestInfo: RequestInfo | undefined;
  /**
   * One header of the HTTP request that carried the call (any case; repeated headers joined with `, `), read
   * without building `requestInfo`. Undefined when absent or when the call did not come over HTTP.
   */
  header(name: string): string | undefined;
  /** The HTTP context of the request that carried this call (undefined over stdio or in-memory). */
  readonly http: HttpContext | undefined;
  /** Aborted when the client cancels the call, the transport closes, or a middleware calls `cancel()`. */
  readonly signal: AbortSignal;
  /**
   * Whether `signal` has aborted. Reading it does not make the signal (which is built only when first asked for):
   * prefer it to `signal.aborted` on the hot path.
   */
  readonly cancelled: boolean;
  /** Per-call scratch space for middleware that cooperate. Prefer typed keys with `get`/`set`. */
  readonly state: Map<string | symbol, unknown>;
  /** Reads what a middleware stored under a key made by `createKey<T>()`. Tools reach it through `callOf(extra)`. */
  get<T>(key: Key<T>): T | undefined;
  /** Stores a value for later middleware and for the tool (`callOf(extra)?.get(key)`). */
  set<T>(key: Key<T>, value: T): void;
  /**
   * The protocol revision the request was made under, when the SDK tells it per request (2026-07-28 requests
   * carry it in their `_meta` envelope); undefined for 2025-era sessions.
   */
  readonly protocolVersion: string | undefined;
  /** When the transport received the call (`performance.now()` clock). */
  readonly startedAt: number;
  /**
   * Cancel the server's handler for this call: the tool's signal (`extra.signal` on SDK v1, `ctx.mcpReq.signal` on
   * v2) aborts and any late result is dropped. A pending `next()` settles with a -32001 `Request cancelled` error
   * (`data.reason: 'cancelled'`); the middleware still decides what the client gets.
   */
  cancel(reason?: string): void;
  /** Send a notification to the client, related to this call (progress, log messages). */
  notify(notification: Omit<JSONRPCNotification, 'jsonrpc'>): Promise<void>;
}

export type HttpNext = () => Promise<Response>;
export type RpcNext = () => Promise<RpcResult>;

/** An extra HTTP route a middleware (or the user) serves beside the MCP endpoint: health probes, metadata. */
export interface Route {
  /** Exact path, e.g. `/livez` or `/.well-known/oauth-protected-resource/mcp`. */
  readonly path: string;
  /** Methods served; others get 405. @default ['GET', 'HEAD'] */
  readonly methods?: readonly string[];
  /** Whether auth and rate limits apply to it. @default false */
  readonly protected?: boolean;
  handle(req: Request, ctx: HttpContext): Response | Promise<Response>;
}

/**
 * The one contract every package implements. Each layer is optional: a middleware may act on HTTP requests, on
 * JSON-RPC calls, or both, and may serve routes.
 */
export interface Middleware {
  /** A short name for logs and errors, e.g. `'oauth'`. */
  readonly name: string;
  /** HTTP layer: Fetch `Request` in, `Response` out. Call `next()` to continue, or answer yourself. */
  http?(req: Request, ctx: HttpContext, next: HttpNext): Promise<Response>;
  /** RPC layer: one JSON-RPC request in, its result or error out. Call `next()` to reach the server. */
  rpc?(call: RpcCall, next: RpcNext): Promise<RpcResult>;
  /** Routes served beside the MCP endpoint. */
  readonly routes?: readonly Route[];
  /** Called once when a handler is created with this middleware: the handler's state and its drain. */
  attach?(host: HandlerHost): void;
  /** Release clients and timers. Called once, in reverse order, when the handler closes. */
  close?(): Promise<void>;
}

export interface CloseOptions {
  /** How long in-flight calls may take to finish before transports are closed under them. @default '10s' */
  drainTimeout?: Duration;
}

/** What a handler shows its middleware: health reads it, and drains through it on SIGTERM. */
export interface HandlerHost {
  /** True once `close()` began: new MCP requests get 503. */
  readonly draining: boolean;
  /** Sessions held now (0 in stateless mode). */
  readonly sessions: number;
  /** New sessions refused so far (the table or the principal's share was full of busy sessions), for metrics. */
  readonly sessionsRefused: number;
  /** JSON-RPC requests received and not yet answered, across all sessions. */
  readonly inFlight: number;
  /** Drains and closes the handler: what `McpHandler.close()` does. */
  close(options?: CloseOptions): Promise<void>;
  /**
   * Sends a notification to the sessions this handler holds (SDK v1 `server` serving; none otherwise), each on its
   * session's standalone stream (stored for replay when an `eventStore` is set), skipping sessions `filter` refuses.
   * Resolves with how many sessions were sent it. It bypasses `onServerNotification` listeners.
   */
  notifySessions(notification: ServerNotification, filter?: (sessionId: string) => boolean): Promise<number>;
  /**
   * Calls `listener` with each notification a session's server sends (SDK v1 `server` serving), before it goes
   * out; observe only. Returns a function that removes the listener.
   */
  onServerNotification(listener: (notification: ServerNotification, sessionId: string) => void): () => void;
}

/** A notification a server sends its client: a method and its params. */
export interface ServerNotification {
  readonly method: string;
  readonly params?: JSONRPCNotification['params'];
}
