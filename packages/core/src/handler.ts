import type { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo, RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { type BodyReader, DEFAULT_MAX_BODY_SIZE, onBodyEnd, readJsonBody } from './body.js';
import type { Key } from './call.js';
import { resolveClientAddress, type TrustProxy, validateTrustProxy } from './client-address.js';
import { composeHttp } from './compose.js';
import { type CorsOptions, type CorsPolicy, corsPolicy } from './cors.js';
import { type Duration, toMs } from './duration.js';
import { errorToResponse, jsonRpcErrorResponse, MiddlewareError } from './errors.js';
import { type EventStore, sessionEventStore } from './event-store.js';
import { negotiatedVersion, refuseBatch, refuseDuplicateIds, requestIdsOf } from './messages.js';
import { checkOrigin, isProbeHost, loopbackHosts, type OriginPolicy } from './origin.js';
import { describeError } from './scrub.js';
import { serverWrapper } from './server.js';
import {
  digest,
  foreignAnswers,
  recordFits,
  replicaRequestIdPrefix,
  restoreServerState,
  restoreTransportState,
  type SessionRecord,
  type SessionStore,
} from './session-store.js';
import { defaultMaxPerPrincipal, type SessionRefusal, SessionTable, sessionOwner } from './sessions.js';
import { throttled } from './throttle.js';
import { type ErrorReport, MiddlewareTransport } from './transport.js';
import type {
  AuthInfo,
  CloseOptions,
  HandlerHost,
  HttpContext,
  Middleware,
  Route,
  RouteKind,
  ServerNotification,
} from './types.js';

/** What an MCP server must offer to be served: the SDK's `McpServer` and low-level `Server` both fit. */
export interface ConnectableServer {
  connect(transport: Transport): Promise<void>;
  close(): Promise<void>;
}

export interface ServerFactoryContext {
  /** The session id (stateful mode), or undefined (stateless: one server per request). */
  readonly sessionId: string | undefined;
  /**
   * One JSON Schema validator shared by every server this handler makes. Pass it on:
   * `new McpServer(info, { jsonSchemaValidator })`; building a validator per server is most of the cost of a
   * new server.
   */
  readonly jsonSchemaValidator: AjvJsonSchemaValidator;
  /** The HTTP request that asked for this server. */
  readonly http: HttpContext;
}

export type ServerFactory = (context: ServerFactoryContext) => ConnectableServer | Promise<ConnectableServer>;

export interface SessionOptions {
  /** Most sessions held at once; an `initialize` beyond it gets 503. @default 1000 */
  max?: number;
  /**
   * Most sessions one principal holds at once (anonymous clients: one client address). A new session beyond it
   * closes that principal's least recently used idle session; when all of them are busy it gets 429. Keeps one
   * client from filling the table and locking everyone else out.
   * @default a tenth of `max` (100)
   */
  maxPerPrincipal?: number;
  /** A session nobody used for this long is closed. @default '30m' */
  idleTimeout?: Duration;
  /**
   * Where session records go so any replica behind a load balancer can serve any session (restores it from its
   * record), counting `maxPerPrincipal` across replicas. SDK v1 path only (`server`). @default none: sessions live
   * in this process only
   */
  store?: SessionStore;
  /** With a store: how often a session in use renews its record (not a store write per request). @default '5s' */
  touchInterval?: Duration;
}

/** A Fetch handler that serves MCP itself: SDK v2's `createMcpHandler(...).fetch` has this shape. */
export type UpstreamFetch = (
  req: Request,
  options: { authInfo?: AuthInfo; parsedBody?: unknown },
) => Promise<Response>;

export interface McpHandlerOptions {
  /**
   * Makes the MCP server (SDK v1): once per session (stateful) or once per request (stateless). Give this or
   * `fetch`.
   */
  server?: ServerFactory;
  /**
   * Serve MCP requests with this Fetch handler instead (SDK v2: `createMcpHandler(factory).fetch`), behind the
   * same HTTP layer, routes and checks. Wrap the servers its factory makes with `handler.wrapServer(server)` so
   * the RPC layer runs too. Session options do not apply: the upstream handler owns its serving.
   */
  fetch?: UpstreamFetch;
  /** Where the MCP endpoint lives. @default '/mcp' */
  path?: string;
  /** Middleware, outermost first. */
  middleware?: readonly Middleware[];
  /** Extra routes beside the MCP endpoint (middleware can bring their own, too). */
  routes?: readonly Route[];
  /** Stateful sessions (the default), or `false` for stateless serving (scales out with no affinity). @default {} */
  sessions?: SessionOptions | false;
  /** Largest JSON request body accepted, in bytes; larger gets 413. @default 1048576 (1 MiB) */
  maxBodySize?: number;
  /** Which proxies to believe about the client address. @default false */
  trustProxy?: TrustProxy;
  /** `Host` header values accepted; others get 403. `serve()` on a loopback address sets this. @default any */
  allowedHosts?: readonly string[];
  /** Browser origins accepted besides the server's own. @default [] */
  allowedOrigins?: readonly string[];
  /**
   * `Host` values unprotected routes (health probes, metadata) answer besides `allowedHosts`. Those routes always
   * answer an IP-literal or `localhost` Host, as Docker and Kubernetes probes send: DNS rebinding needs a host
   * name, so such a request cannot be one. Add here the names probes use (a Service name, say).
   * @default []
   */
  probeHosts?: readonly string[];
  /** Answer POSTs with plain JSON instead of SSE streams (no progress or server requests mid-call). @default false */
  enableJsonResponse?: boolean;
  /**
   * Makes SSE streams resumable (`server` serving with sessions): each event is stored and carries an `id:`, and a
   * client that lost a stream resumes with `Last-Event-ID`. Every session shares the store, each under its own
   * stream names (`<session id>/<stream id>`), so one session cannot replay another's events. A store every replica
   * reaches (such as `@mcp-middleware/sessions-redis`) lets any replica replay. Not for `fetch` (SDK v2's
   * `createMcpHandler` takes no event store) nor stateless serving (nothing to resume).
   * @default none: events carry no id and a cut stream is lost
   */
  eventStore?: EventStore;
  /**
   * The reconnection delay suggested to clients in each resumable stream's first event (SSE `retry:`). Needs
   * `eventStore`.
   * @default none: the client's own backoff
   */
  retryInterval?: Duration;
  /**
   * Lets browser pages on other origins call the server: answers preflights (before any middleware, so auth does not
   * challenge them) and adds `Access-Control-Allow-Origin` and `-Expose-Headers` to every answer to an allowed
   * origin. Its origins also pass the Origin check.
   * @default none: no CORS headers; preflights get 405
   */
  cors?: CorsOptions;
  /** Unexpected errors (the client sees only `Internal error`). @default printed to stderr */
  onError?: (error: unknown, report: ErrorReport) => void;
}

export interface FetchInfo {
  /** The TCP peer's address, as the runtime reports it. */
  clientAddress?: string;
  /**
   * Sets a header on the outgoing message directly (Node's `ServerResponse.setHeader`). Given by adapters that
   * can; otherwise headers from `ctx.setResponseHeader()` are copied onto the final `Response`.
   */
  setHeader?: (name: string, value: string) => void;
  /** Calls back once the response was written or the connection closed first (`aborted`). Node's adapter gives it. */
  onFinished?: (listener: (aborted: boolean) => void) => void;
  /**
   * Reads the request body from the runtime's own stream, under a size limit (undefined: larger). Given by adapters
   * that can (Node's): the body is then read without a web `Request` and `ReadableStream` being built for it.
   */
  readBody?: BodyReader;
}

export interface McpHandler {
  /** Serves one request. Fits `export default { fetch }` runtimes, Hono, Next.js route handlers and `serve()`. */
  fetch(req: Request, info?: FetchInfo): Promise<Response>;
  /** Stops taking new work, lets in-flight calls finish (up to the drain timeout), closes sessions and middleware. */
  close(options?: CloseOptions): Promise<void>;
  /** Settles when the handler has closed. */
  readonly closed: Promise<void>;
  readonly host: HandlerHost;
  /**
   * Accept only loopback `Host` headers on `port` (unless `allowedHosts` was given). `serve()` calls this when it
   * binds to loopback; call it yourself when another runtime binds the handler to loopback.
   */
  restrictHostsToLoopback(port: number): void;
  /**
   * Runs this handler's RPC layer in a server made elsewhere: the servers SDK v2's factory makes (with `fetch`),
   * or a stdio server. Tools then find their call (and the HTTP request's context) through `callOf(extra)`.
   */
  wrapServer<S extends object>(server: S): S;
}

/** What a request's context is made from, besides the request itself. */
interface ContextFields {
  readonly path: string;
  readonly clientAddress: string | undefined;
  readonly requestId: string;
  readonly route: RouteKind;
  readonly isProtected: boolean;
  readonly maxBodySize: number;
  readonly info: FetchInfo | undefined;
}

/**
 * One request's context. A class, so a request costs one object and no closures: the getters and methods live on
 * the prototype. `setResponseHeader` is an own property that needs no `this` (the adapter's own `setHeader` where it
 * gives one): middleware may keep it to call later, or replace it to watch what is set.
 */
class RequestContext implements HttpContext {
  readonly path: string;
  readonly clientAddress: string | undefined;
  requestId: string;
  authInfo: AuthInfo | undefined = undefined;
  readonly route: RouteKind;
  readonly isProtected: boolean;
  readonly sessionId: string | undefined;
  readonly startedAt = performance.now();
  setResponseHeader: (name: string, value: string) => void;
  /** Headers for the final Response, gathered when the adapter cannot set them on the outgoing message. */
  pendingHeaders: Array<[string, string]> | undefined;
  sentListeners: Array<(aborted: boolean) => void> | undefined;
  readonly #req: Request;
  readonly #maxBodySize: number;
  readonly #readBody: BodyReader | undefined;
  #url: URL | undefined;
  #state: Map<string | symbol, unknown> | undefined;
  /**
   * The body, once something asked for it. The handler reads every MCP POST's body itself (batches and request ids
   * are checked before the SDK sees them) and hands the transport the parsed body, so the transport does not read it
   * again: the same work as the bare SDK, done once.
   */
  #body: Promise<unknown> | undefined;

  constructor(req: Request, fields: ContextFields) {
    this.#req = req;
    this.#maxBodySize = fields.maxBodySize;
    this.#readBody = fields.info?.readBody;
    this.path = fields.path;
    this.clientAddress = fields.clientAddress;
    this.requestId = fields.requestId;
    this.route = fields.route;
    this.isProtected = fields.isProtected;
    this.sessionId = req.headers.get(SESSION_ID_HEADER) ?? undefined;
    this.setResponseHeader =
      fields.info?.setHeader ??
      ((name, value) => {
        this.pendingHeaders ??= [];
        this.pendingHeaders.push([name, value]);
      });
  }

  get url(): URL {
    this.#url ??= new URL(this.#req.url);
    return this.#url;
  }

  body(): Promise<unknown> {
    this.#body ??= readJsonBody(this.#req, this.#maxBodySize, this.#readBody);
    return this.#body;
  }

  onResponseSent(listener: (aborted: boolean) => void): void {
    this.sentListeners ??= [];
    this.sentListeners.push(listener);
  }

  get state(): Map<string | symbol, unknown> {
    this.#state ??= new Map();
    return this.#state;
  }

  get<T>(key: Key<T>): T | undefined {
    return this.#state?.get(key) as T | undefined;
  }

  set<T>(key: Key<T>, value: T): void {
    this.state.set(key, value);
  }
}

/** The caller's `x-request-id` when it is a sane token, else a new one. */
export function requestIdOf(req: Request): string {
  const incoming = req.headers.get('x-request-id');
  return incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
}

/** The path of an absolute URL, without parsing all of it (runtimes hand over normalised URLs). */
function pathnameOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start === -1) return '/';
  let end = url.length;
  const query = url.indexOf('?', start);
  if (query !== -1) end = query;
  const hash = url.indexOf('#', start);
  if (hash !== -1 && hash < end) end = hash;
  return url.slice(start, end);
}

/**
 * Where a request's HTTP context is left for the RPC layer: on the object the SDK hands each call of that request (v1's
 * `requestInfo`, v2's `Request`). A property, not a WeakMap entry: a WeakMap insert per request cost more than the rest
 * of the link, and its entries outlive their requests until a collection. A tool that looks finds nothing new there:
 * `callOf(extra).http` is the same context.
 */
const HTTP_CONTEXT = Symbol('mcp-middleware.httpContext');
type Linked = { [HTTP_CONTEXT]?: HttpContext };
const linkContext = (carrier: object, ctx: HttpContext) => {
  (carrier as Linked)[HTTP_CONTEXT] = ctx;
};
const linkedContext = (carrier: object): HttpContext | undefined => (carrier as Linked)[HTTP_CONTEXT];

/**
 * Stands in for `authInfo` on the way through the SDK v1 transport, the one object it hands on by reference; the
 * transport decorator swaps the real identity back before the server sees it, and leaves the HTTP context on the SDK's
 * request-info object (`linkContext`) so the RPC layer finds it. The tool gets the real identity in `extra.authInfo`,
 * never the carrier, and its `_meta` holds only what the client sent.
 */
class ContextCarrier {
  constructor(readonly ctx: HttpContext) {}
}

/** The SDK v1 pieces this handler serves with, loaded on first use so core imports without SDK v1 installed. */
interface SdkV1 {
  readonly Transport: typeof WebStandardStreamableHTTPServerTransport;
  readonly validator: AjvJsonSchemaValidator;
  /** The protocol versions this SDK speaks, and the one it settles on for anything else. */
  readonly versions: { readonly supported: readonly string[]; readonly latest: string };
}

async function loadSdkV1(): Promise<SdkV1> {
  try {
    const [transport, ajv, types] = await Promise.all([
      import('@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'),
      import('@modelcontextprotocol/sdk/validation/ajv'),
      import('@modelcontextprotocol/sdk/types.js'),
    ]);
    return {
      Transport: transport.WebStandardStreamableHTTPServerTransport,
      validator: new ajv.AjvJsonSchemaValidator(),
      versions: { supported: types.SUPPORTED_PROTOCOL_VERSIONS, latest: types.LATEST_PROTOCOL_VERSION },
    };
  } catch (cause) {
    throw new Error(
      'createMiddlewareHandler({ server }) serves with @modelcontextprotocol/sdk 1.x: install it, or on SDK v2 pass ' +
        '{ fetch: createMcpHandler(factory).fetch } from @modelcontextprotocol/server instead',
      { cause },
    );
  }
}

function isInitialize(message: unknown): boolean {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { method?: unknown }).method === 'initialize' &&
    'id' in message
  );
}
const REQUEST_ID = /^[\w.:@-]{1,128}$/;
const LOG_LEVELS = new Set(['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']);

/** The level a `logging/setLevel` request in the body asks for, if any. */
function logLevelIn(parsedBody: unknown): string | undefined {
  for (const m of Array.isArray(parsedBody) ? parsedBody : [parsedBody]) {
    const message = m as { method?: unknown; params?: { level?: unknown } } | null;
    const level = message?.method === 'logging/setLevel' ? message.params?.level : undefined;
    if (typeof level === 'string' && LOG_LEVELS.has(level)) return level;
  }
  return undefined;
}

function isAnswer(message: unknown): message is JSONRPCMessage {
  return (
    isPlainObject(message) &&
    'id' in message &&
    !('method' in message) &&
    ('result' in message || 'error' in message)
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
const SESSION_ID_HEADER = 'mcp-session-id';

interface Session {
  readonly id: string;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly decorated: MiddlewareTransport;
  readonly server: ConnectableServer;
  /** Who created the session; a request from anyone else is answered as if the session did not exist. */
  readonly principal: string;
  /** Whose share of the session table it uses. */
  readonly owner: string;
  /** The protocol version the session negotiated: it decides whether batches are allowed. */
  readonly protocolVersion: string;
  /** Ids of requests being handed to the transport, which has not yet passed them to the decorator. */
  readonly handingOver: Set<RequestId>;
  /** With a store: the session's record, and when this replica last renewed it. */
  readonly stored?: { record: SessionRecord; touchedAt: number };
  lastSeen: number;
  busy(): boolean;
}

const SESSION_REFUSALS: Record<SessionRefusal, () => Response> = {
  principal: () =>
    jsonRpcErrorResponse(429, -32000, 'Too Many Requests: this client holds too many busy sessions', {
      'retry-after': '30',
    }),
  global: () =>
    jsonRpcErrorResponse(503, -32000, 'Service Unavailable: too many sessions', { 'retry-after': '30' }),
};

/** Sessions are bound to the identity that created them, so a leaked session id alone is worth nothing. */
function principalOf(authInfo: AuthInfo | undefined): string {
  if (!authInfo) return '';
  const subject = authInfo.extra?.['subject'];
  return `${authInfo.clientId}\u0000${typeof subject === 'string' ? subject : ''}`;
}

function withHeaders(response: Response, headers: ReadonlyArray<readonly [string, string]>): Response {
  try {
    for (const [name, value] of headers) response.headers.set(name, value);
    return response;
  } catch {
    // Immutable headers (a Response from fetch()): copy once.
    const copy = new Response(response.body, response);
    for (const [name, value] of headers) copy.headers.set(name, value);
    return copy;
  }
}

/** The event store and retry interval for a session's transport, checked once. */
function resumabilityOptions(
  options: McpHandlerOptions,
): (sessionId: string) => { eventStore?: EventStore; retryInterval?: number } {
  const store = options.eventStore;
  if (store === undefined) {
    if (options.retryInterval !== undefined)
      throw new TypeError('createMiddlewareHandler: retryInterval needs an eventStore');
    return () => ({});
  }
  if (typeof store?.storeEvent !== 'function' || typeof store.replayEventsAfter !== 'function') {
    throw new TypeError(
      'createMiddlewareHandler: eventStore must have storeEvent() and replayEventsAfter() (the SDK EventStore)',
    );
  }
  if (options.fetch !== undefined) {
    throw new TypeError(
      "createMiddlewareHandler: eventStore applies to `server` serving; SDK v2's createMcpHandler takes no event store",
    );
  }
  if (options.sessions === false) {
    throw new TypeError(
      'createMiddlewareHandler: eventStore needs sessions (stateless serving has no stream to resume)',
    );
  }
  const retryInterval =
    options.retryInterval === undefined ? undefined : toMs(options.retryInterval, 'retryInterval');
  return (sessionId) => ({
    eventStore: sessionEventStore(store, sessionId),
    ...(retryInterval === undefined ? {} : { retryInterval }),
  });
}

function defaultOnError(error: unknown, report: ErrorReport): void {
  console.error(`[mcp-middleware] unexpected error in ${report.phase} layer: ${describeError(error)}`);
}

/**
 * Serves an MCP endpoint over Streamable HTTP with the SDK's web-standard transport, behind HTTP and RPC
 * middleware, with extra routes beside it. Returns a Fetch handler.
 */
export function createMiddlewareHandler(options: McpHandlerOptions): McpHandler {
  const upstream = options?.fetch;
  if (upstream !== undefined && typeof upstream !== 'function') {
    throw new TypeError(
      'createMiddlewareHandler: `fetch` must be a Fetch handler, e.g. SDK v2 handler.fetch',
    );
  }
  if (upstream !== undefined && options.server !== undefined) {
    throw new TypeError(
      'createMiddlewareHandler: give `server` (served here, SDK v1) or `fetch` (SDK v2), not both',
    );
  }
  if (upstream === undefined && typeof options?.server !== 'function') {
    throw new TypeError(
      'createMiddlewareHandler: `server` must be a function that returns an McpServer or Server ' +
        '(or give `fetch`: the handler of SDK v2 createMcpHandler)',
    );
  }
  const path = options.path ?? '/mcp';
  if (!path.startsWith('/'))
    throw new TypeError(`createMiddlewareHandler: path must start with '/', got '${path}'`);
  const middleware = options.middleware ?? [];
  for (const m of middleware) {
    if (!m || typeof m.name !== 'string')
      throw new TypeError('createMiddlewareHandler: every middleware needs a name');
  }
  const maxBodySize = options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE;
  if (!Number.isInteger(maxBodySize) || maxBodySize <= 0) {
    throw new TypeError(
      `createMiddlewareHandler: maxBodySize must be a positive whole number of bytes, got ${maxBodySize}`,
    );
  }
  const trustProxy = validateTrustProxy(options.trustProxy ?? false);
  const stateful = options.sessions !== false;
  const sessionOptions = options.sessions === false ? {} : (options.sessions ?? {});
  const maxSessions = sessionOptions.max ?? 1000;
  if (!Number.isInteger(maxSessions) || maxSessions < 1) {
    throw new TypeError(
      `createMiddlewareHandler: sessions.max must be a whole number >= 1, got ${maxSessions}`,
    );
  }
  const maxPerPrincipal = sessionOptions.maxPerPrincipal ?? defaultMaxPerPrincipal(maxSessions);
  if (!Number.isInteger(maxPerPrincipal) || maxPerPrincipal < 1) {
    throw new TypeError(
      `createMcpHandler: sessions.maxPerPrincipal must be a whole number >= 1, got ${maxPerPrincipal}`,
    );
  }
  const idleMs = toMs(sessionOptions.idleTimeout ?? '30m', 'sessions.idleTimeout');
  const store = stateful && upstream === undefined ? sessionOptions.store : undefined;
  const touchMs = toMs(sessionOptions.touchInterval ?? '5s', 'sessions.touchInterval');
  // Answers to server-to-client requests find their replica only when the store can forward them.
  const requestIdPrefix =
    store?.replicaId !== undefined && store.forward && store.listen
      ? replicaRequestIdPrefix(store.replicaId)
      : undefined;
  const onError = options.onError ?? defaultOnError;
  const resumability = resumabilityOptions(options);
  const cors: CorsPolicy | undefined = options.cors === undefined ? undefined : corsPolicy(options.cors);
  let originPolicy: OriginPolicy = {
    allowedHosts: options.allowedHosts?.map((h) => h.toLowerCase()),
    allowedOrigins: [
      ...(options.allowedOrigins ?? []),
      ...(cors && cors.origins !== '*' ? cors.origins : []),
    ],
    anyOrigin: cors?.origins === '*',
  };
  const probeHosts = (options.probeHosts ?? []).map((h) => h.toLowerCase());
  const enableJsonResponse = options.enableJsonResponse ?? false;
  let sdk: Promise<SdkV1> | undefined;
  const sdkV1 = () => {
    sdk ??= loadSdkV1();
    return sdk;
  };

  const routes = new Map<string, Route>();
  for (const route of [...(options.routes ?? []), ...middleware.flatMap((m) => m.routes ?? [])]) {
    if (route.path === path)
      throw new TypeError(`createMiddlewareHandler: route ${route.path} collides with the MCP endpoint`);
    if (routes.has(route.path))
      throw new TypeError(`createMiddlewareHandler: two routes claim ${route.path}`);
    routes.set(route.path, route);
  }

  // With no middleware nothing reads the context: no carrier, no link, no wrapped server.
  const needsContext = middleware.length > 0;
  const link = (extra: MessageExtraInfo | undefined) => {
    const carrier = extra?.authInfo as unknown;
    if (!(carrier instanceof ContextCarrier)) return;
    const { ctx } = carrier;
    // Assigned, not deleted: a delete would turn the SDK's per-message object into a slow dictionary-mode one.
    extra!.authInfo = ctx.authInfo;
    if (extra!.requestInfo) linkContext(extra!.requestInfo, ctx);
  };

  const sessions = new SessionTable<Session>(maxSessions, maxPerPrincipal);
  const notificationListeners = new Set<(notification: ServerNotification, sessionId: string) => void>();
  const serverNotified = (notification: ServerNotification, transport: MiddlewareTransport) => {
    const sessionId = transport.sessionId;
    if (sessionId === undefined) return;
    for (const listener of notificationListeners) listener(notification, sessionId);
  };
  let inFlight = 0;
  let draining = false;
  let drainWaiters: Array<() => void> = [];
  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });

  const report = (error: unknown, r: ErrorReport) => {
    try {
      onError(error, r);
    } catch {
      // A failing reporter must not fail the request.
    }
  };
  // The RPC layer composed once for every server this handler wraps (one per request when stateless, and on SDK v2).
  const wrapRpc = needsContext
    ? serverWrapper({ middleware, onError: report, httpContext: linkedContext })
    : undefined;

  const callStarted = () => {
    inFlight++;
  };
  const callEnded = () => {
    inFlight--;
    if (inFlight === 0 && drainWaiters.length > 0) {
      const waiters = drainWaiters;
      drainWaiters = [];
      for (const w of waiters) w();
    }
  };
  const decorate = (transport: Transport, onIdle?: () => void) =>
    // The RPC layer runs in the server (wrapServer); the decorator links contexts and counts calls for the drain.
    new MiddlewareTransport(transport, {
      middleware: [],
      onError: report,
      link,
      // Listeners attach when the handler is made, before any session: none, no cost per message.
      ...(notificationListeners.size > 0 ? { onNotification: serverNotified } : {}),
      onCallStart: callStarted,
      onCallEnd: (t) => {
        callEnded();
        if (onIdle && t.inFlight === 0) onIdle();
      },
      ...(requestIdPrefix === undefined ? {} : { requestIdPrefix }),
    });

  const sweeper = stateful
    ? setInterval(
        () => {
          const now = performance.now();
          for (const session of sessions.values()) {
            // Only unanswered calls count as work: an open GET stream alone must not keep a session forever.
            // With a store this drops only the local copy: the record expires by itself when no replica renews it.
            if (session.decorated.inFlight === 0 && now - session.lastSeen > idleMs)
              void closeSession(session);
          }
        },
        Math.max(1000, Math.min(idleMs / 2, 60_000)),
      )
    : undefined;
  sweeper?.unref?.();

  /** Closes this replica's copy of a session; `forget` also deletes its record (DELETE and eviction end it). */
  async function closeSession(session: Session, forget = false): Promise<void> {
    sessions.delete(session);
    if (forget && session.stored) await forgetRecord(session.id, session.stored.record.owner);
    await session.server.close().catch((error) => report(error, { phase: 'transport' }));
  }

  // ---- Session records (sessions.store): restore on any replica, forward answers to the replica that waits ----

  const storeUnavailable = () =>
    jsonRpcErrorResponse(503, -32000, 'Service Unavailable: the session store is unreachable', {
      'retry-after': '5',
    });
  const sessionNotFound = () => jsonRpcErrorResponse(404, -32001, 'Session not found');
  /** Store failures repeat per request while the store is down: one report per interval, with the count. */
  const storeFailed = throttled('10s', (error: unknown, suppressed: number) =>
    report(
      new Error(
        `session store failed${suppressed > 0 ? ` (and ${suppressed} more times)` : ''}: ${describeError(error)}`,
      ),
      { phase: 'http' },
    ),
  );
  const forwardDropped = throttled('10s', (suppressed: number) =>
    report(
      new Error(
        `dropped answers forwarded for a session this replica no longer holds${suppressed > 0 ? ` (and ${suppressed} more)` : ''}`,
      ),
      { phase: 'transport' },
    ),
  );
  /** Restores in progress, one per session and principal, so concurrent requests make one server. */
  const restoring = new Map<string, Promise<Session | Response | undefined>>();
  const unlisten = store?.listen?.({
    deleted: (id) => {
      const session = sessions.get(id);
      if (session) void closeSession(session);
    },
    forwarded: (id, messages) => {
      const session = sessions.get(id);
      if (!session) {
        forwardDropped();
        return;
      }
      // Only answers travel this way: anything else in a notice is not delivered.
      for (const message of messages) {
        if (isAnswer(message)) session.transport.onmessage?.(message);
      }
    },
  });

  async function forgetRecord(id: string, owner: string): Promise<void> {
    try {
      await store!.delete(id, owner);
    } catch (error) {
      storeFailed(error);
    }
  }

  /** Renews the record now and then; a record gone (deleted or expired elsewhere) ends this copy. */
  function touchRecord(session: Session, now: number): void {
    const stored = session.stored!;
    if (now - stored.touchedAt < touchMs) return;
    stored.touchedAt = now;
    store!.touch(stored.record, idleMs).then(
      (alive) => {
        if (!alive) void closeSession(session);
      },
      (error: unknown) => storeFailed(error),
    );
  }

  /** Saves a new session's record; a refusal when the record is too large or the principal's share is used up. */
  async function saveRecord(record: SessionRecord): Promise<Response | undefined> {
    if (!recordFits(record)) {
      return jsonRpcErrorResponse(400, -32600, 'Invalid Request: initialize params are too large');
    }
    try {
      const saved = await store!.create(record, { ttlMs: idleMs, maxPerOwner: maxPerPrincipal });
      if (!saved) {
        sessions.countRefusal();
        return jsonRpcErrorResponse(429, -32000, 'Too Many Requests: this client holds too many sessions', {
          'retry-after': '30',
        });
      }
      return undefined;
    } catch (error) {
      // The store is away: the session still starts, served by this replica alone (its share counted here only);
      // the first touch after the store is back saves the record, and from then on any replica can restore it.
      storeFailed(error);
      return undefined;
    }
  }

  /** The record of a session this replica does not hold, if it exists and belongs to the caller. */
  async function ownRecord(id: string, ctx: HttpContext): Promise<SessionRecord | Response | undefined> {
    // The digest first, so an unknown session and a stranger's take the same steps.
    const principal = await digest(principalOf(ctx.authInfo));
    let record: SessionRecord | undefined;
    try {
      record = await store!.load(id);
    } catch (error) {
      storeFailed(error);
      return storeUnavailable();
    }
    return record?.principal === principal ? record : undefined;
  }

  /** Makes this replica's copy of a session from its record: a transport marked initialized, a new server. */
  async function restoreSession(record: SessionRecord, ctx: HttpContext): Promise<Session | Response> {
    const owner = sessionOwner(principalOf(ctx.authInfo), ctx.clientAddress);
    const admission = sessions.admit(owner);
    if (!admission.ok) return SESSION_REFUSALS[admission.reason]();
    // Only this replica's copy makes room: the evicted session may be in use on another replica.
    if (admission.evict) await closeSession(admission.evict);
    return createSession(ctx, owner, record.protocolVersion, record, true);
  }

  /** The record of a new session, from its `initialize` params. */
  async function newRecord(
    ctx: HttpContext,
    owner: string,
    protocolVersion: string,
    params: unknown,
  ): Promise<SessionRecord> {
    const { capabilities, clientInfo } = (params ?? {}) as { capabilities?: unknown; clientInfo?: unknown };
    const [principal, ownerDigest] = await Promise.all([digest(principalOf(ctx.authInfo)), digest(owner)]);
    return {
      id: crypto.randomUUID(),
      principal,
      owner: ownerDigest,
      protocolVersion,
      clientCapabilities: isPlainObject(capabilities) ? capabilities : {},
      clientInfo: isPlainObject(clientInfo) ? clientInfo : undefined,
      createdAt: Date.now(),
    };
  }

  /** DELETE of a session held here: the transport closes it, then its record goes everywhere. */
  async function deleteStoredSession(
    session: Session,
    req: Request,
    ctx: HttpContext | undefined,
    parsedBody: unknown,
  ): Promise<Response> {
    const response = ctx
      ? await handleWithTransport(session.transport, req, ctx, parsedBody)
      : await session.transport.handleRequest(req);
    if (response.status === 200) await forgetRecord(session.id, session.stored!.record.owner);
    return response;
  }

  /** A request in a session, with a store: the session may be held here, elsewhere, or nowhere. */
  async function serveWithStore(req: Request, ctx: HttpContext, id: string): Promise<Response> {
    let session = sessions.get(id);
    if (session && session.principal !== principalOf(ctx.authInfo)) {
      // The same steps as for a session held elsewhere or nowhere: the answer's timing tells nothing.
      await ownRecord(id, ctx);
      return sessionNotFound();
    }
    let record: SessionRecord | undefined;
    if (!session) {
      const found = await ownRecord(id, ctx);
      if (found instanceof Response) return found;
      if (!found) return sessionNotFound();
      record = found;
      if (req.method === 'DELETE') {
        await forgetRecord(id, found.owner);
        return new Response(null, { status: 200 });
      }
    }
    let parsedBody = req.method === 'POST' ? await ctx.body() : undefined;
    if (requestIdPrefix !== undefined && parsedBody !== undefined) {
      const foreign = foreignAnswers(parsedBody, requestIdPrefix);
      if (foreign) {
        try {
          await Promise.all(
            [...foreign.byReplica].map(([replica, messages]) => store!.forward!(replica, id, messages)),
          );
        } catch (error) {
          storeFailed(error);
          return storeUnavailable();
        }
        if (foreign.rest.length === 0) return new Response(null, { status: 202 });
        parsedBody = Array.isArray(parsedBody) ? foreign.rest : foreign.rest[0];
      }
    }
    if (!session) {
      const key = `${id}\u0000${record!.principal}`;
      let pending = restoring.get(key);
      if (!pending) {
        pending = restoreSession(record!, ctx).finally(() => restoring.delete(key));
        restoring.set(key, pending);
      }
      const restored = await pending;
      if (restored instanceof Response) return restored.clone();
      if (!restored) return sessionNotFound();
      session = restored;
    }
    return serveInSession(session, req, ctx, parsedBody);
  }

  /** Passes the request itself to the SDK transport, with the parsed body (if read) and the identity. */
  function handleWithTransport(
    transport: WebStandardStreamableHTTPServerTransport,
    req: Request,
    ctx: HttpContext,
    parsedBody: unknown,
  ): Promise<Response> {
    const authInfo = needsContext ? new ContextCarrier(ctx) : ctx.authInfo;
    const extra: { parsedBody?: unknown; authInfo?: AuthInfo } = {};
    if (parsedBody !== undefined) extra.parsedBody = parsedBody;
    if (authInfo) extra.authInfo = authInfo as AuthInfo;
    return transport.handleRequest(req, extra);
  }

  /** Makes a server with the user's factory and runs the RPC layer in it. */
  async function makeServer(sessionId: string | undefined, ctx: HttpContext): Promise<ConnectableServer> {
    const { validator } = await sdkV1();
    return wrap(await options.server!({ sessionId, jsonSchemaValidator: validator, http: ctx }));
  }

  async function serveStateless(req: Request, ctx: HttpContext): Promise<Response> {
    if (req.method !== 'POST') {
      return jsonRpcErrorResponse(405, -32000, 'Method not allowed: this server is stateless', {
        allow: 'POST',
      });
    }
    const parsedBody = await ctx.body();
    // No session to remember a version: the request's header decides (none: 2025-03-26, which allows batches).
    const batch = refuseBatch(parsedBody, [req.headers.get('mcp-protocol-version')]);
    if (batch) return batch;
    const { Transport } = await sdkV1();
    const transport = new Transport({ enableJsonResponse, maxRequestBodySize: maxBodySize });
    const server = await makeServer(undefined, ctx);
    let answered = false;
    // On the next turn: the SDK forgets an answered call's AbortController only after its answer was sent, and
    // closing before that aborts it for nothing (an AbortError built per request: ~8 µs on Node 20, 5 on Node 24).
    const release = () => {
      setImmediate(() => {
        server.close().catch((error) => report(error, { phase: 'transport', http: ctx }));
      });
    };
    // One server per request: closed once every call it was given has been answered.
    const decorated = decorate(transport, () => {
      if (answered) release();
    });
    await server.connect(decorated);
    try {
      const response = await handleWithTransport(transport, req, ctx, parsedBody);
      answered = true;
      if (decorated.inFlight === 0) release();
      return response;
    } catch (error) {
      release();
      throw error;
    }
  }

  async function serveStateful(req: Request, ctx: HttpContext): Promise<Response> {
    if (ctx.sessionId !== undefined) {
      if (store) return serveWithStore(req, ctx, ctx.sessionId);
      const session = sessions.get(ctx.sessionId);
      // Answered before the body is read: a stranger's upload costs nothing.
      if (!session || session.principal !== principalOf(ctx.authInfo)) {
        return jsonRpcErrorResponse(404, -32001, 'Session not found');
      }
      return serveInSession(session, req, ctx, req.method === 'POST' ? await ctx.body() : undefined);
    }
    const parsedBody = req.method === 'POST' ? await ctx.body() : undefined;
    const initialize = (
      Array.isArray(parsedBody)
        ? parsedBody.find(isInitialize)
        : isInitialize(parsedBody)
          ? parsedBody
          : undefined
    ) as { params?: { protocolVersion?: unknown } } | undefined;
    if (!initialize) {
      return jsonRpcErrorResponse(400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    }
    const batch = refuseBatch(parsedBody, []);
    if (batch) return batch;
    const owner = sessionOwner(principalOf(ctx.authInfo), ctx.clientAddress);
    const admission = sessions.admit(owner);
    if (!admission.ok) return SESSION_REFUSALS[admission.reason]();
    if (admission.evict) {
      // With a store the evicted record must be gone before the new one is counted across replicas.
      const evicted = closeSession(admission.evict, true);
      if (store) await evicted;
    }
    const { versions } = await sdkV1();
    const protocolVersion = negotiatedVersion(
      initialize.params?.protocolVersion,
      versions.supported,
      versions.latest,
    );
    let record: SessionRecord | undefined;
    if (store) {
      record = await newRecord(ctx, owner, protocolVersion, initialize.params);
      const refused = await saveRecord(record);
      if (refused) return refused;
    }
    const session = await createSession(ctx, owner, protocolVersion, record);
    return serveInSession(session, req, ctx, parsedBody);
  }

  /**
   * Hands a request to its session's transport (`ctx` undefined: the direct path), first refusing a batch the
   * session's protocol forbids and a request id already in flight in the session.
   */
  async function serveInSession(
    session: Session,
    req: Request,
    ctx: HttpContext | undefined,
    parsedBody: unknown,
  ): Promise<Response> {
    const batch = refuseBatch(parsedBody, [session.protocolVersion, req.headers.get('mcp-protocol-version')]);
    if (batch) return batch;
    const ids = requestIdsOf(parsedBody);
    const duplicate = refuseDuplicateIds(
      ids,
      (id) => session.handingOver.has(id) || session.decorated.isInFlight(id),
    );
    if (duplicate) return duplicate;
    for (const id of ids) session.handingOver.add(id);
    session.lastSeen = performance.now();
    if (session.stored) {
      touchRecord(session, session.lastSeen);
      if (req.method === 'DELETE') return deleteStoredSession(session, req, ctx, parsedBody);
    }
    try {
      const level = session.stored ? logLevelIn(parsedBody) : undefined;
      // Saved before the answer, so the client's next request finds it on any replica.
      if (level) {
        session.stored!.record = { ...session.stored!.record, logLevel: level };
        await store!.setLogLevel(session.id, level, idleMs).catch((error: unknown) => storeFailed(error));
      }
      if (ctx) return await handleWithTransport(session.transport, req, ctx, parsedBody);
      return await session.transport.handleRequest(
        req,
        parsedBody === undefined ? undefined : { parsedBody },
      );
    } finally {
      // The transport has passed every message of the request to the decorator by now.
      for (const id of ids) session.handingOver.delete(id);
    }
  }

  /**
   * Makes a session: a new one, or (given the `record` of one another replica created, or that was saved) this
   * replica's copy of it.
   */
  async function createSession(
    ctx: HttpContext,
    owner: string,
    protocolVersion: string,
    record?: SessionRecord,
    restore = false,
  ): Promise<Session> {
    const id = record?.id ?? crypto.randomUUID();
    const { Transport } = await sdkV1();
    const transport = new Transport({
      sessionIdGenerator: () => id,
      enableJsonResponse,
      maxRequestBodySize: maxBodySize,
      ...resumability(id),
    });
    const server = await makeServer(id, ctx);
    if (restore && record) {
      try {
        restoreTransportState(transport, id);
        restoreServerState(server, record);
      } catch (error) {
        await server.close().catch(() => {});
        throw error;
      }
    }
    const decorated = decorate(transport);
    const handingOver = new Set<RequestId>();
    const session: Session = {
      id,
      transport,
      decorated,
      server,
      principal: principalOf(ctx.authInfo),
      owner,
      protocolVersion,
      handingOver,
      ...(record ? { stored: { record, touchedAt: performance.now() } } : {}),
      lastSeen: performance.now(),
      busy: () => decorated.inFlight > 0 || handingOver.size > 0,
    };
    // DELETE, close() or a transport failure: forget the session.
    decorated.onclose = () => {
      sessions.delete(session);
    };
    await server.connect(decorated);
    sessions.add(session);
    return session;
  }

  async function serveMcp(req: Request, ctx: HttpContext): Promise<Response> {
    if (draining) {
      return jsonRpcErrorResponse(503, -32000, 'Service Unavailable: server is shutting down', {
        'retry-after': '5',
        connection: 'close',
      });
    }
    if (upstream) return serveUpstream(upstream, req, ctx);
    return stateful ? serveStateful(req, ctx) : serveStateless(req, ctx);
  }

  /** Hands the request itself to another Fetch handler (SDK v2's), with the identity and any body already read. */
  async function serveUpstream(fetchMcp: UpstreamFetch, req: Request, ctx: HttpContext): Promise<Response> {
    // SDK v2 gives its handlers this very Request (`ctx.http.req`): the RPC layer finds the HTTP context by it.
    if (needsContext) linkContext(req, ctx);
    // Handing over the parsed body also keeps SDK v2 from cloning the request for its era check, so its legacy path
    // sees this same Request too.
    const parsedBody = req.method === 'POST' ? await ctx.body() : undefined;
    const options = {
      ...(ctx.authInfo ? { authInfo: ctx.authInfo } : {}),
      ...(parsedBody === undefined ? {} : { parsedBody }),
    };
    // The drain waits for each POST until its answer is sent, not just until its handler returned (SDK v2 writes the
    // response after). GET streams do not count: an open one must not hold a drain.
    if (req.method !== 'POST') return fetchMcp(req, options);
    callStarted();
    let response: Response;
    try {
      response = await fetchMcp(req, options);
    } catch (error) {
      callEnded();
      throw error;
    }
    // Told by the adapter's own event where there is one (no copy of the body), else by watching the body once.
    ctx.onResponseSent(() => callEnded());
    return response;
  }

  /** Runs this handler's RPC layer in a server made elsewhere (SDK v2's factory, or stdio). */
  function wrap<S extends object>(server: S): S {
    return wrapRpc ? wrapRpc(server) : server;
  }

  const dispatch = async (req: Request, ctx: HttpContext): Promise<Response> => {
    if (ctx.route === 'mcp') return serveMcp(req, ctx);
    const route = routes.get(pathnameOf(req.url));
    if (!route) return jsonRpcErrorResponse(404, -32000, 'Not Found');
    const methods = route.methods ?? ['GET', 'HEAD'];
    if (!methods.includes(req.method)) {
      return jsonRpcErrorResponse(405, -32000, 'Method not allowed', { allow: methods.join(', ') });
    }
    return route.handle(req, ctx);
  };
  const chain = composeHttp(middleware, dispatch);

  /**
   * With no middleware nothing reads the context, so a request in an existing session goes straight to its
   * transport: the same checks (drain, Origin/Host, the session's owner, x-request-id), none of the layers.
   */
  function direct(req: Request, info: FetchInfo | undefined): Promise<Response> | undefined {
    const sessionId = req.headers.get(SESSION_ID_HEADER);
    if (sessionId === null || draining || pathnameOf(req.url) !== path) return undefined;
    // A browser's request gets its CORS headers on the full path.
    if (cors && req.headers.get('origin') !== null) return undefined;
    const session = sessions.get(sessionId);
    // No middleware, so no identity: only sessions opened anonymously are served here.
    if (session?.principal !== principalOf(undefined) || !info?.setHeader) return undefined;
    if (!checkOrigin(originPolicy, req.headers.get('host'), req.headers.get('origin')).ok) return undefined;
    info.setHeader('x-request-id', requestIdOf(req));
    if (cors) info.setHeader('vary', 'Origin');
    return serveDirect(session, req, info.readBody);
  }

  async function serveDirect(session: Session, req: Request, readBody?: BodyReader): Promise<Response> {
    let parsedBody: unknown;
    try {
      parsedBody = await readJsonBody(req, maxBodySize, readBody);
    } catch (error) {
      if (MiddlewareError.is(error)) return errorToResponse(error);
      throw error;
    }
    return serveInSession(session, req, undefined, parsedBody);
  }

  /**
   * The methods to allow when `req` is a CORS preflight core answers (the MCP endpoint, or a route that does not
   * serve OPTIONS itself) from an origin CORS allows; undefined otherwise.
   */
  function preflightMethods(
    req: Request,
    pathname: string,
    route: RouteKind,
    origin: string | null,
  ): readonly string[] | undefined {
    if (req.method !== 'OPTIONS' || !req.headers.has('access-control-request-method')) return undefined;
    if (!cors!.allows(origin)) return undefined;
    if (route === 'mcp') return ['GET', 'POST', 'DELETE'];
    const methods = route === 'route' ? (routes.get(pathname)!.methods ?? ['GET', 'HEAD']) : undefined;
    return methods?.includes('OPTIONS') ? undefined : methods;
  }

  async function fetch(req: Request, info?: FetchInfo): Promise<Response> {
    if (middleware.length === 0) {
      const answered = direct(req, info);
      if (answered) {
        return answered.catch((error: unknown) => {
          report(error, { phase: 'http' });
          return jsonRpcErrorResponse(500, -32603, 'Internal error');
        });
      }
    }
    const pathname = pathnameOf(req.url);
    const route: RouteKind = pathname === path ? 'mcp' : routes.has(pathname) ? 'route' : 'not-found';
    // Headers for the final response go on the outgoing message where the adapter allows (no Response copy or
    // Headers conversion on the hot path); else they are gathered and copied onto the Response once.
    const ctx = new RequestContext(req, {
      path: pathname,
      clientAddress:
        trustProxy === false
          ? resolveClientAddress(info?.clientAddress, undefined, false)
          : resolveClientAddress(info?.clientAddress, req.headers.get('x-forwarded-for'), trustProxy),
      requestId: requestIdOf(req),
      route,
      isProtected: route === 'mcp' || (route === 'route' && routes.get(pathname)!.protected === true),
      maxBodySize,
      info,
    });
    ctx.setResponseHeader('x-request-id', ctx.requestId);
    const origin = req.headers.get('origin');
    if (cors) for (const [name, value] of cors.responseHeaders(origin)) ctx.setResponseHeader(name, value);
    let response: Response;
    // Origin guards what can change state (the MCP endpoint, protected routes); public metadata and probes may be
    // read cross-origin, as browser-based clients discovering the authorization server must, and answer probes
    // addressed by IP or a configured probe host whatever `allowedHosts` says.
    const host = req.headers.get('host');
    const verdict =
      route === 'route' && !ctx.isProtected && isProbeHost(host, probeHosts)
        ? ({ ok: true } as const)
        : checkOrigin(originPolicy, host, ctx.isProtected ? origin : null);
    const preflight = cors && verdict.ok ? preflightMethods(req, pathname, route, origin) : undefined;
    if (!verdict.ok) {
      response = jsonRpcErrorResponse(403, -32000, verdict.message);
    } else if (preflight) {
      for (const [name, value] of cors!.preflightHeaders(origin!, preflight))
        ctx.setResponseHeader(name, value);
      response = new Response(null, { status: 204 });
    } else {
      try {
        response = await chain(req, ctx);
      } catch (error) {
        if (MiddlewareError.is(error)) {
          response = errorToResponse(error);
        } else {
          report(error, { phase: 'http', http: ctx });
          response = jsonRpcErrorResponse(500, -32603, 'Internal error');
        }
      }
    }
    if (ctx.pendingHeaders) response = withHeaders(response, ctx.pendingHeaders);
    if (ctx.sentListeners) {
      const listeners = ctx.sentListeners;
      const done = (aborted: boolean) => {
        for (const listener of listeners) {
          try {
            listener(aborted);
          } catch (error) {
            report(error, { phase: 'http', http: ctx });
          }
        }
      };
      if (info?.onFinished) info.onFinished(done);
      else response = onBodyEnd(response, done);
    }
    return response;
  }

  async function close(closeOptions: CloseOptions = {}): Promise<void> {
    if (closing) return closing;
    const drainMs = toMs(closeOptions.drainTimeout ?? '10s', 'drainTimeout');
    draining = true;
    closing = (async () => {
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, drainMs);
          drainWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      if (sweeper) clearInterval(sweeper);
      unlisten?.();
      await Promise.all([...sessions.values()].map((session) => closeSession(session)));
      for (const m of [...middleware].reverse()) {
        try {
          await m.close?.();
        } catch (error) {
          report(error, { phase: 'transport' });
        }
      }
      resolveClosed();
    })();
    return closing;
  }

  const host: HandlerHost = {
    get draining() {
      return draining;
    },
    get sessions() {
      return sessions.size;
    },
    get sessionsRefused() {
      return sessions.refused;
    },
    get inFlight() {
      return inFlight;
    },
    close,
    async notifySessions(notification, filter) {
      let sent = 0;
      const message = { jsonrpc: '2.0' as const, method: notification.method, params: notification.params };
      if (message.params === undefined) delete message.params;
      await Promise.all(
        [...sessions.values()].map(async (session) => {
          if (filter && !filter(session.id)) return;
          sent++;
          // The inner transport: listeners see what servers send, not what they were handed from elsewhere.
          await session.transport.send(message).catch((error) => report(error, { phase: 'transport' }));
        }),
      );
      return sent;
    },
    onServerNotification(listener) {
      notificationListeners.add(listener);
      return () => void notificationListeners.delete(listener);
    },
  };
  for (const m of middleware) m.attach?.(host);

  const restrictHostsToLoopback = (port: number) => {
    if (!options.allowedHosts) originPolicy = { ...originPolicy, allowedHosts: loopbackHosts(port) };
  };

  return { fetch, close, closed, host, restrictHostsToLoopback, wrapServer: wrap };
}

/**
 * @deprecated Renamed to `createMiddlewareHandler` (SDK v2 has its own `createMcpHandler` with other semantics).
 * This alias stays for at least one minor version.
 */
export const createMcpHandler = createMiddlewareHandler;
