import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  isInitializeRequest,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { DEFAULT_MAX_BODY_SIZE, readJsonBody } from './body.js';
import { resolveClientAddress, type TrustProxy, validateTrustProxy } from './client-address.js';
import { composeHttp, hasRpcLayer } from './compose.js';
import { type Duration, toMs } from './duration.js';
import { errorToResponse, jsonRpcErrorResponse, MiddlewareError } from './errors.js';
import { negotiatedVersion, refuseBatch, refuseDuplicateIds, requestIdsOf } from './messages.js';
import { checkOrigin, isProbeHost, loopbackHosts, type OriginPolicy } from './origin.js';
import { describeError } from './scrub.js';
import { defaultMaxPerPrincipal, type SessionRefusal, SessionTable, sessionOwner } from './sessions.js';
import { type ErrorReport, MiddlewareTransport } from './transport.js';
import type {
  AuthInfo,
  CloseOptions,
  HandlerHost,
  HttpContext,
  Middleware,
  Route,
  RouteKind,
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
}

export interface McpHandlerOptions {
  /** Makes the MCP server: once per session (stateful) or once per request (stateless). */
  server: ServerFactory;
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
}

/**
 * Where a context keeps its body promise, once something asked for the body. The handler reads every MCP POST's
 * body itself (batches and request ids are checked before the SDK sees them) and hands the transport the parsed
 * body, so the transport does not read it again: the same work as the bare SDK, done once.
 */
const BODY = Symbol('body');
type WithBody = HttpContext & { [BODY]?: Promise<unknown> };

/** The caller's `x-request-id` when it is a sane token, else a new one. */
function requestIdOf(req: Request): string {
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

/** Carries the HTTP context to the transport decorator through the one thing the SDK passes along: headers. */
const CONTEXT_HEADER = 'x-mcp-middleware-context';
const REQUEST_ID = /^[\w.:@-]{1,128}$/;
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

function defaultOnError(error: unknown, report: ErrorReport): void {
  console.error(`[mcp-middleware] unexpected error in ${report.phase} layer: ${describeError(error)}`);
}

/**
 * Serves an MCP endpoint over Streamable HTTP with the SDK's web-standard transport, behind HTTP and RPC
 * middleware, with extra routes beside it. Returns a Fetch handler.
 */
export function createMcpHandler(options: McpHandlerOptions): McpHandler {
  if (typeof options?.server !== 'function') {
    throw new TypeError('createMcpHandler: `server` must be a function that returns an McpServer or Server');
  }
  const path = options.path ?? '/mcp';
  if (!path.startsWith('/')) throw new TypeError(`createMcpHandler: path must start with '/', got '${path}'`);
  const middleware = options.middleware ?? [];
  for (const m of middleware) {
    if (!m || typeof m.name !== 'string')
      throw new TypeError('createMcpHandler: every middleware needs a name');
  }
  const maxBodySize = options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE;
  if (!Number.isInteger(maxBodySize) || maxBodySize <= 0) {
    throw new TypeError(
      `createMcpHandler: maxBodySize must be a positive whole number of bytes, got ${maxBodySize}`,
    );
  }
  const trustProxy = validateTrustProxy(options.trustProxy ?? false);
  const stateful = options.sessions !== false;
  const sessionOptions = options.sessions === false ? {} : (options.sessions ?? {});
  const maxSessions = sessionOptions.max ?? 1000;
  if (!Number.isInteger(maxSessions) || maxSessions < 1) {
    throw new TypeError(`createMcpHandler: sessions.max must be a whole number >= 1, got ${maxSessions}`);
  }
  const maxPerPrincipal = sessionOptions.maxPerPrincipal ?? defaultMaxPerPrincipal(maxSessions);
  if (!Number.isInteger(maxPerPrincipal) || maxPerPrincipal < 1) {
    throw new TypeError(
      `createMcpHandler: sessions.maxPerPrincipal must be a whole number >= 1, got ${maxPerPrincipal}`,
    );
  }
  const idleMs = toMs(sessionOptions.idleTimeout ?? '30m', 'sessions.idleTimeout');
  const onError = options.onError ?? defaultOnError;
  let originPolicy: OriginPolicy = {
    allowedHosts: options.allowedHosts?.map((h) => h.toLowerCase()),
    allowedOrigins: options.allowedOrigins ?? [],
  };
  const probeHosts = (options.probeHosts ?? []).map((h) => h.toLowerCase());
  const enableJsonResponse = options.enableJsonResponse ?? false;
  const jsonSchemaValidator = new AjvJsonSchemaValidator();

  const routes = new Map<string, Route>();
  for (const route of [...(options.routes ?? []), ...middleware.flatMap((m) => m.routes ?? [])]) {
    if (route.path === path)
      throw new TypeError(`createMcpHandler: route ${route.path} collides with the MCP endpoint`);
    if (routes.has(route.path)) throw new TypeError(`createMcpHandler: two routes claim ${route.path}`);
    routes.set(route.path, route);
  }

  const needsContext = hasRpcLayer(middleware);
  const contexts = new Map<string, HttpContext>();
  let contextCounter = 0;
  const httpContextOf = (extra: MessageExtraInfo | undefined): HttpContext | undefined => {
    const token = extra?.requestInfo?.headers[CONTEXT_HEADER];
    return typeof token === 'string' ? contexts.get(token) : undefined;
  };

  const sessions = new SessionTable<Session>(maxSessions, maxPerPrincipal);
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
    new MiddlewareTransport(transport, {
      middleware,
      onError: report,
      httpContext: httpContextOf,
      onCallStart: callStarted,
      onCallEnd: (t) => {
        callEnded();
        if (onIdle && t.inFlight === 0) onIdle();
      },
    });

  const sweeper = stateful
    ? setInterval(
        () => {
          const now = performance.now();
          for (const session of sessions.values()) {
            // Only unanswered calls count as work: an open GET stream alone must not keep a session forever.
            if (session.decorated.inFlight === 0 && now - session.lastSeen > idleMs)
              void closeSession(session);
          }
        },
        Math.max(1000, Math.min(idleMs / 2, 60_000)),
      )
    : undefined;
  sweeper?.unref?.();

  async function closeSession(session: Session): Promise<void> {
    sessions.delete(session);
    await session.server.close().catch((error) => report(error, { phase: 'transport' }));
  }

  /** Passes the request to the SDK transport, with the parsed body and identity, and the context marker. */
  async function handleWithTransport(
    transport: WebStandardStreamableHTTPServerTransport,
    req: Request,
    ctx: HttpContext,
    parsedBody: unknown,
  ): Promise<Response> {
    let forwarded = req;
    let token: string | undefined;
    if (needsContext) {
      // The request is copied to carry the context marker: hand over the body parsed rather than as a stream.
      parsedBody ??= await ctx.body();
      token = String(++contextCounter);
      const headers = new Headers(req.headers);
      headers.set(CONTEXT_HEADER, token); // overwrites anything a client sent under that name
      contexts.set(token, ctx);
      // A parsed body travels as parsedBody, so the copy needs none.
      forwarded =
        parsedBody !== undefined || req.body === null
          ? new Request(req.url, { method: req.method, headers, signal: req.signal })
          : new Request(req.url, {
              method: req.method,
              headers,
              signal: req.signal,
              body: req.body,
              duplex: 'half',
            } as RequestInit);
    }
    try {
      return await transport.handleRequest(forwarded, {
        ...(parsedBody === undefined ? {} : { parsedBody }),
        ...(ctx.authInfo ? { authInfo: ctx.authInfo } : {}),
      });
    } finally {
      // Every message of this HTTP request reached the decorator before handleRequest settled.
      if (token !== undefined) contexts.delete(token);
    }
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
    const transport = new WebStandardStreamableHTTPServerTransport({
      enableJsonResponse,
      maxRequestBodySize: maxBodySize,
    });
    const server = await options.server({ sessionId: undefined, jsonSchemaValidator, http: ctx });
    let answered = false;
    const release = () => {
      server.close().catch((error) => report(error, { phase: 'transport', http: ctx }));
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
      const session = sessions.get(ctx.sessionId);
      // Answered before the body is read: a stranger's upload costs nothing.
      if (!session || session.principal !== principalOf(ctx.authInfo)) {
        return jsonRpcErrorResponse(404, -32001, 'Session not found');
      }
      return serveInSession(session, req, ctx, req.method === 'POST' ? await ctx.body() : undefined);
    }
    const parsedBody = req.method === 'POST' ? await ctx.body() : undefined;
    const initialize = Array.isArray(parsedBody)
      ? parsedBody.find(isInitializeRequest)
      : isInitializeRequest(parsedBody)
        ? parsedBody
        : undefined;
    if (!initialize) {
      return jsonRpcErrorResponse(400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    }
    const batch = refuseBatch(parsedBody, []);
    if (batch) return batch;
    const owner = sessionOwner(principalOf(ctx.authInfo), ctx.clientAddress);
    const admission = sessions.admit(owner);
    if (!admission.ok) return SESSION_REFUSALS[admission.reason]();
    if (admission.evict) void closeSession(admission.evict);
    const session = await createSession(ctx, owner, negotiatedVersion(initialize.params.protocolVersion));
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
    try {
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

  async function createSession(ctx: HttpContext, owner: string, protocolVersion: string): Promise<Session> {
    const id = crypto.randomUUID();
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      enableJsonResponse,
      maxRequestBodySize: maxBodySize,
    });
    const server = await options.server({ sessionId: id, jsonSchemaValidator, http: ctx });
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
    return stateful ? serveStateful(req, ctx) : serveStateless(req, ctx);
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
    const session = sessions.get(sessionId);
    // No middleware, so no identity: only sessions opened anonymously are served here.
    if (session?.principal !== principalOf(undefined) || !info?.setHeader) return undefined;
    if (!checkOrigin(originPolicy, req.headers.get('host'), req.headers.get('origin')).ok) return undefined;
    info.setHeader('x-request-id', requestIdOf(req));
    return serveDirect(session, req);
  }

  async function serveDirect(session: Session, req: Request): Promise<Response> {
    let parsedBody: unknown;
    try {
      parsedBody = await readJsonBody(req, maxBodySize);
    } catch (error) {
      if (MiddlewareError.is(error)) return errorToResponse(error);
      throw error;
    }
    return serveInSession(session, req, undefined, parsedBody);
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
    // Headers for the final response: set on the outgoing message where the adapter allows (no Response copy or
    // Headers conversion on the hot path), else gathered and copied onto the Response once.
    const setHeader = info?.setHeader;
    const pending: Array<[string, string]> = [];
    let url: URL | undefined;
    let state: Map<string | symbol, unknown> | undefined;
    const ctx: WithBody = {
      get url() {
        url ??= new URL(req.url);
        return url;
      },
      clientAddress:
        trustProxy === false
          ? resolveClientAddress(info?.clientAddress, undefined, false)
          : resolveClientAddress(info?.clientAddress, req.headers.get('x-forwarded-for'), trustProxy),
      requestId: requestIdOf(req),
      authInfo: undefined,
      route,
      isProtected: route === 'mcp' || (route === 'route' && routes.get(pathname)!.protected === true),
      sessionId: req.headers.get(SESSION_ID_HEADER) ?? undefined,
      body() {
        ctx[BODY] ??= readJsonBody(req, maxBodySize);
        return ctx[BODY];
      },
      setResponseHeader: setHeader ?? ((name, value) => void pending.push([name, value])),
      get state() {
        state ??= new Map();
        return state;
      },
      startedAt: performance.now(),
    };
    ctx.setResponseHeader('x-request-id', ctx.requestId);
    let response: Response;
    // Origin guards what can change state (the MCP endpoint, protected routes); public metadata and probes may be
    // read cross-origin, as browser-based clients discovering the authorization server must, and answer probes
    // addressed by IP or a configured probe host whatever `allowedHosts` says.
    const host = req.headers.get('host');
    const verdict =
      route === 'route' && !ctx.isProtected && isProbeHost(host, probeHosts)
        ? ({ ok: true } as const)
        : checkOrigin(originPolicy, host, ctx.isProtected ? req.headers.get('origin') : null);
    if (!verdict.ok) {
      response = jsonRpcErrorResponse(403, -32000, verdict.message);
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
    return pending.length > 0 ? withHeaders(response, pending) : response;
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
      await Promise.all([...sessions.values()].map(closeSession));
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
  };
  for (const m of middleware) m.attach?.(host);

  const restrictHostsToLoopback = (port: number) => {
    if (!options.allowedHosts) originPolicy = { ...originPolicy, allowedHosts: loopbackHosts(port) };
  };

  return { fetch, close, closed, host, restrictHostsToLoopback };
}
