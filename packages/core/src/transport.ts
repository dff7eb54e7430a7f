import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type {
  JSONRPCErrorResponse,
  JSONRPCMessage,
  JSONRPCNotification,
  JSONRPCRequest,
  JSONRPCResultResponse,
  MessageExtraInfo,
  RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { headerOf, linkCallByMeta } from './call.js';
import { composeRpc, type RpcHandler } from './compose.js';
import { RpcErrorCode as ErrorCode, MiddlewareError } from './errors.js';
import type { HttpContext, Middleware, RpcCall, RpcResult } from './types.js';

/** Why an error reached `onError`: a middleware threw, or the transport failed to deliver a result. */
export interface ErrorReport {
  readonly phase: 'http' | 'rpc' | 'transport';
  readonly call?: RpcCall;
  readonly http?: HttpContext;
}

export interface MiddlewareTransportOptions {
  /** The middleware whose RPC layer runs around every incoming request. */
  middleware: readonly Middleware[];
  /**
   * Receives exceptions thrown by middleware (the client sees a plain `Internal error`) and delivery failures.
   * @default errors are passed to the transport's `onerror`
   */
  onError?: (error: unknown, report: ErrorReport) => void;
  /** @internal Finds the HTTP context of the request that carried a message. Set by `createMiddlewareHandler`. */
  httpContext?: (extra: MessageExtraInfo | undefined) => HttpContext | undefined;
  /** @internal Sees every incoming message's extra info first (the handler links it to its HTTP context). */
  link?: (extra: MessageExtraInfo | undefined) => void;
  /** @internal Told when a request arrives, for drain accounting. */
  onCallStart?: () => void;
  /** @internal Told when a request has been answered (or cancelled by the client). */
  onCallEnd?: (transport: MiddlewareTransport) => void;
  /**
   * @internal Prefixed onto the ids of server-to-client requests on the way out and taken off their answers on the
   * way in, so any replica can tell whose request an answer is for. Set by `createMiddlewareHandler` with a store.
   */
  requestIdPrefix?: string;
  /** @internal Sees each notification the server sends, before it goes out (observe only). */
  onNotification?: (notification: JSONRPCNotification, transport: MiddlewareTransport) => void;
}

/** A request the server has been handed and whose answer we are waiting for. */
interface Pending {
  readonly call: RpcCall;
  readonly request: JSONRPCRequest;
  readonly extra: MessageExtraInfo | undefined;
  readonly controller: AbortController;
  /** Settles the innermost `next()` with the server's answer. */
  resolveServer?: (result: RpcResult) => void;
  /** The server has the request (next() was called). */
  delivered: boolean;
  /** The client cancelled: nothing is sent back. */
  clientCancelled: boolean;
}

// The transport validated every message already; these shape checks avoid a second schema parse per message
// (the SDK's is* guards run zod), which is a measurable share of a call.
function isRequest(m: JSONRPCMessage): m is JSONRPCRequest {
  return 'method' in m && 'id' in m;
}
function isNotification(m: JSONRPCMessage): m is JSONRPCNotification {
  return 'method' in m && !('id' in m);
}
function isResult(m: JSONRPCMessage): m is JSONRPCResultResponse {
  return 'result' in m && !('method' in m);
}
function isError(m: JSONRPCMessage): m is JSONRPCErrorResponse {
  return 'error' in m && !('method' in m);
}

/** Bound on ids of requests whose late server answers must be dropped: a cancelled handler may still answer. */
const MAX_DROPPED_IDS = 1024;

const INTERNAL_ERROR = { code: ErrorCode.InternalError, message: 'Internal error' } as const;
const CANCELLED = {
  code: ErrorCode.RequestTimeout,
  message: 'Request cancelled',
  data: { reason: 'cancelled' },
};

/**
 * Decorates any SDK `Transport` so RPC middleware runs around every incoming JSON-RPC request. Middleware can answer
 * without the server, sees the server's answer on the way out, and can cancel the server's handler.
 * Server-to-client requests, notifications and client responses pass through untouched.
 *
 * ```ts
 * await server.connect(new MiddlewareTransport(new StdioServerTransport(), { middleware: [rateLimit(...)] }));
 * ```
 */
export class MiddlewareTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  readonly #inner: Transport;
  readonly #run: RpcHandler;
  readonly #options: MiddlewareTransportOptions;
  readonly #pending = new Map<RequestId, Pending>();
  readonly #dropped = new Set<RequestId>();
  readonly #passThrough: boolean;
  /** Without RPC middleware, only the ids of requests not yet answered are kept (for drain and idle checks). */
  readonly #open = new Set<RequestId>();

  constructor(inner: Transport, options: MiddlewareTransportOptions) {
    this.#inner = inner;
    this.#options = options;
    this.#run = composeRpc(options.middleware, (call) => this.#deliver(call));
    this.#passThrough = !options.middleware.some((m) => typeof m.rpc === 'function');
    inner.onmessage = (message, extra) => this.#receive(message, extra);
    inner.onclose = () => this.#closed();
    inner.onerror = (error) => this.onerror?.(error);
    if (inner.setProtocolVersion) {
      this.setProtocolVersion = (version) => inner.setProtocolVersion?.(version);
    }
  }

  setProtocolVersion?: (version: string) => void;

  get sessionId(): string | undefined {
    return this.#inner.sessionId;
  }

  /** The transport this one decorates. */
  get inner(): Transport {
    return this.#inner;
  }

  /** Requests received and not yet answered. */
  get inFlight(): number {
    return this.#passThrough ? this.#open.size : this.#pending.size;
  }

  /** Whether a request with this id was received and not yet answered. */
  isInFlight(id: RequestId): boolean {
    return this.#passThrough ? this.#open.has(id) : this.#pending.has(id);
  }

  start(): Promise<void> {
    return this.#inner.start();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.#options.requestIdPrefix !== undefined && 'method' in message) {
      message = this.#prefixOutgoing(message);
    }
    const id = isResult(message) || isError(message) ? message.id : undefined;
    if (id === undefined) {
      if (this.#options.onNotification && isNotification(message)) {
        try {
          this.#options.onNotification(message, this);
        } catch (error) {
          this.#report(error, { phase: 'transport' });
        }
      }
      return this.#inner.send(message, options);
    }
    if (this.#passThrough) {
      if (!this.#open.delete(id)) return this.#inner.send(message, options);
      // Not an async function: the answer is handed to the inner transport synchronously, as without us.
      return this.#inner.send(message, options).finally(() => this.#options.onCallEnd?.(this));
    }
    const pending = this.#pending.get(id);
    if (pending?.resolveServer) {
      const resolve = pending.resolveServer;
      pending.resolveServer = undefined;
      resolve(
        isResult(message) ? { result: message.result } : { error: (message as JSONRPCErrorResponse).error },
      );
      return Promise.resolve();
    }
    // The middleware answered already (a timeout, say) and cancelled the handler: drop its late answer.
    if (this.#dropped.delete(id)) return Promise.resolve();
    return this.#inner.send(message, options);
  }

  /** A server-to-client request, or the server's cancellation of one, with the replica's prefix on its id. */
  #prefixOutgoing(message: JSONRPCMessage): JSONRPCMessage {
    const prefix = this.#options.requestIdPrefix!;
    if (isRequest(message)) return { ...message, id: `${prefix}${message.id}` };
    if (isNotification(message) && message.method === 'notifications/cancelled') {
      const params = message.params as { requestId?: RequestId } | undefined;
      if (params?.requestId !== undefined) {
        return { ...message, params: { ...params, requestId: `${prefix}${params.requestId}` } };
      }
    }
    return message;
  }

  /** An answer to one of this replica's server-to-client requests, with the id the server gave it. */
  #unprefixIncoming(message: JSONRPCMessage): JSONRPCMessage {
    const prefix = this.#options.requestIdPrefix!;
    if (!(isResult(message) || isError(message)) || typeof message.id !== 'string') return message;
    if (!message.id.startsWith(prefix)) return message;
    const rest = message.id.slice(prefix.length);
    // The SDK numbers its requests; an id it never sent stays a string and finds no waiting request.
    return { ...message, id: /^\d{1,15}$/.test(rest) ? Number(rest) : rest };
  }

  #receive(message: JSONRPCMessage, extra: MessageExtraInfo | undefined): void {
    this.#options.link?.(extra);
    if (this.#options.requestIdPrefix !== undefined) message = this.#unprefixIncoming(message);
    if (this.#passThrough) {
      if (isRequest(message) && !this.#open.has(message.id)) {
        this.#open.add(message.id);
        this.#options.onCallStart?.();
      } else if (isNotification(message) && message.method === 'notifications/cancelled') {
        // The server sends nothing for a cancelled request: it is over now.
        const requestId = (message.params as { requestId?: RequestId } | undefined)?.requestId;
        if (requestId !== undefined && this.#open.delete(requestId)) {
          this.onmessage?.(message, extra);
          this.#options.onCallEnd?.(this);
          return;
        }
      }
      this.onmessage?.(message, extra);
      return;
    }
    if (isRequest(message)) {
      this.#handleRequest(message, extra);
      return;
    }
    if (isNotification(message) && message.method === 'notifications/cancelled') {
      const requestId = (message.params as { requestId?: RequestId } | undefined)?.requestId;
      const pending = requestId === undefined ? undefined : this.#pending.get(requestId);
      if (pending) {
        pending.clientCancelled = true;
        pending.controller.abort((message.params as { reason?: string }).reason ?? 'cancelled by client');
        // The server never saw the request: nothing to cancel there.
        if (!this.#releaseServer(pending)) return;
      }
    }
    this.onmessage?.(message, extra);
  }

  #handleRequest(request: JSONRPCRequest, extra: MessageExtraInfo | undefined): void {
    const id = request.id;
    if (this.#pending.has(id)) {
      void this.#sendSafely(
        {
          jsonrpc: '2.0',
          id,
          error: { code: ErrorCode.InvalidRequest, message: 'A request with this id is already in flight' },
        },
        undefined,
      );
      return;
    }
    const controller = new AbortController();
    const params = request.params;
    const toolName =
      request.method === 'tools/call' && typeof params?.name === 'string'
        ? (params.name as string)
        : undefined;
    const http = this.#options.httpContext?.(extra);
    const state = new Map<string | symbol, unknown>();
    const call: RpcCall = {
      id,
      method: request.method,
      params,
      toolName,
      authInfo: extra?.authInfo,
      sessionId: this.#inner.sessionId,
      requestInfo: extra?.requestInfo,
      header: (name) => headerOf(extra?.requestInfo, name),
      http,
      signal: controller.signal,
      get cancelled() {
        return controller.signal.aborted;
      },
      state,
      get: (key) => state.get(key) as never,
      set: (key, value) => void state.set(key, value),
      protocolVersion: undefined,
      startedAt: performance.now(),
      cancel: (reason) => this.#cancel(pending, reason),
      notify: (notification) =>
        this.#inner.send({ jsonrpc: '2.0', ...notification }, { relatedRequestId: id }),
    };
    if (params) {
      // So a tool can find its call with callOf(extra): an empty `_meta` when the client sent none (no content added).
      if (typeof params._meta !== 'object' || params._meta === null) params._meta = {};
      linkCallByMeta(params._meta, call);
    }
    const pending: Pending = { call, request, extra, controller, delivered: false, clientCancelled: false };
    this.#pending.set(id, pending);
    this.#options.onCallStart?.();

    let outcome: Promise<RpcResult>;
    try {
      outcome = this.#run(call);
    } catch (error) {
      outcome = Promise.reject(error);
    }
    outcome
      .then(
        (result) => result,
        (error: unknown): RpcResult => {
          if (MiddlewareError.is(error)) {
            const data = error.data;
            return {
              error: { code: error.rpcCode, message: error.message, ...(data === undefined ? {} : { data }) },
            };
          }
          this.#report(error, { phase: 'rpc', call, http });
          return { error: { ...INTERNAL_ERROR } };
        },
      )
      .then(async (result) => {
        // A middleware that answered without waiting for the server's answer leaves the handler running.
        if (this.#releaseServer(pending)) this.#cancelOnServer(id, 'answered by middleware');
        if (!pending.clientCancelled) {
          const response: JSONRPCMessage =
            result.error !== undefined
              ? { jsonrpc: '2.0', id, error: result.error }
              : { jsonrpc: '2.0', id, result: result.result };
          await this.#sendSafely(response, call);
        }
        // Only now is the call over: a stateless handler closes the transport when nothing is left in flight.
        this.#finish(pending);
      });
  }

  /** The innermost `next()`: hands the request to the server and waits for its answer. */
  #deliver(call: RpcCall): Promise<RpcResult> {
    const pending = this.#pending.get(call.id);
    if (!pending || pending.call !== call) {
      return Promise.resolve({ error: { code: ErrorCode.ConnectionClosed, message: 'Connection closed' } });
    }
    if (call.signal.aborted) {
      return Promise.resolve({ error: { ...CANCELLED } });
    }
    return new Promise<RpcResult>((resolve) => {
      pending.resolveServer = resolve;
      pending.delivered = true;
      this.onmessage?.(pending.request, pending.extra);
    });
  }

  #cancel(pending: Pending, reason = 'cancelled by middleware'): void {
    if (this.#pending.get(pending.call.id) !== pending) return;
    if (!pending.controller.signal.aborted) pending.controller.abort(reason);
    if (this.#releaseServer(pending)) this.#cancelOnServer(pending.call.id, reason);
  }

  /**
   * Settles a `next()` still waiting on the server, remembering the id so the server's late answer is dropped.
   * Returns whether the server had the request.
   */
  #releaseServer(pending: Pending): boolean {
    const resolve = pending.resolveServer;
    if (!resolve) return false;
    pending.resolveServer = undefined;
    this.#dropped.add(pending.call.id);
    if (this.#dropped.size > MAX_DROPPED_IDS) {
      this.#dropped.delete(this.#dropped.values().next().value as RequestId);
    }
    resolve({ error: { ...CANCELLED } });
    return true;
  }

  /** Delivers `notifications/cancelled` to the server, which aborts the handler's `extra.signal`. */
  #cancelOnServer(requestId: RequestId, reason: string): void {
    this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason } });
  }

  #finish(pending: Pending): void {
    if (this.#pending.get(pending.call.id) === pending) {
      this.#pending.delete(pending.call.id);
      this.#options.onCallEnd?.(this);
    }
  }

  async #sendSafely(message: JSONRPCMessage, call: RpcCall | undefined): Promise<void> {
    try {
      await this.#inner.send(message, call ? { relatedRequestId: call.id } : undefined);
    } catch (error) {
      this.#report(error, { phase: 'transport', ...(call ? { call, http: call.http } : {}) });
    }
  }

  #report(error: unknown, report: ErrorReport): void {
    if (this.#options.onError) {
      try {
        this.#options.onError(error, report);
      } catch {
        // A failing reporter must not take the transport down.
      }
      return;
    }
    this.onerror?.(error instanceof Error ? error : new Error(String(error)));
  }

  #closed(): void {
    const open = this.#open.size;
    this.#open.clear();
    for (let i = 0; i < open; i++) this.#options.onCallEnd?.(this);
    for (const pending of this.#pending.values()) {
      pending.controller.abort('connection closed');
      pending.resolveServer?.({ error: { code: ErrorCode.ConnectionClosed, message: 'Connection closed' } });
      pending.resolveServer = undefined;
      pending.clientCancelled = true;
    }
    this.onclose?.();
  }
}
