import { DEFAULT_MAX_BODY_SIZE, readJsonBody } from './body.js';
import { ERROR_CODES, errorToResponse, jsonRpcErrorResponse, MiddlewareError } from './errors.js';
import { requestIdOf } from './handler.js';
import type { AuthInfo, HttpContext, Middleware } from './types.js';

/**
 * A plain Fetch gate, the shape of SDK v2's `requireBearerAuth`: the caller's `AuthInfo` when the request may go
 * on, or the `Response` to send instead (a 401/403 challenge, or the document of one of the middleware's routes).
 */
export type FetchGate = (req: Request) => Promise<AuthInfo | Response>;

export interface FetchGateOptions {
  /** The client's address (from your runtime), for middleware that logs or keys on it. @default undefined */
  clientAddress?: (req: Request) => string | undefined;
  /** The most a JSON body read by the middleware may weigh, in bytes. @default 1 MiB */
  maxBodySize?: number;
}

function withHeaders(response: Response, headers: ReadonlyArray<[string, string]>): Response {
  if (headers.length === 0) return response;
  const copy = new Response(response.body, response);
  for (const [name, value] of headers) if (!copy.headers.has(name)) copy.headers.set(name, value);
  return copy;
}

/**
 * Turns a middleware's HTTP layer into a Fetch gate, for servers that do not use this project's handler (SDK v2's
 * own `createMiddlewareHandler`, say): every request counts as one to the MCP endpoint, except those to the middleware's
 * own routes (an OAuth metadata document), which the gate answers.
 *
 * ```ts
 * const gate = toFetchGate(apiKeyAuth({ store }));
 * const answer = await gate(request);
 * return answer instanceof Response ? answer : handler.fetch(request, { authInfo: answer });
 * ```
 *
 * The request's body is read (when the middleware asks for it) from a clone, so the handler can still read it.
 */
export function toFetchGate(middleware: Middleware, options: FetchGateOptions = {}): FetchGate {
  if (typeof middleware !== 'object' || middleware === null || typeof middleware.http !== 'function') {
    throw new TypeError('toFetchGate: middleware must have an http layer');
  }
  const clientAddress = options.clientAddress;
  if (clientAddress !== undefined && typeof clientAddress !== 'function') {
    throw new TypeError('toFetchGate: clientAddress must be a function');
  }
  const maxBodySize = options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE;
  if (!Number.isInteger(maxBodySize) || maxBodySize < 1) {
    throw new TypeError(`toFetchGate: maxBodySize must be a whole number >= 1, got ${String(maxBodySize)}`);
  }
  const routes = new Map((middleware.routes ?? []).map((r) => [r.path, r]));
  const http = middleware.http.bind(middleware);

  return async (req) => {
    const url = new URL(req.url);
    const route = routes.get(url.pathname);
    const pending: Array<[string, string]> = [];
    let body: Promise<unknown> | undefined;
    const sent: Array<(aborted: boolean) => void> = [];
    const state = new Map<string | symbol, unknown>();
    const ctx: HttpContext = {
      url,
      path: url.pathname,
      clientAddress: clientAddress?.(req),
      requestId: requestIdOf(req),
      authInfo: undefined,
      route: route ? 'route' : 'mcp',
      isProtected: route ? route.protected === true : true,
      sessionId: req.headers.get('mcp-session-id') ?? undefined,
      body() {
        body ??= readJsonBody(req.clone(), maxBodySize);
        return body;
      },
      setResponseHeader: (name, value) => void pending.push([name.toLowerCase(), value]),
      // A gate never sees its caller's response go out: listeners hear the gate's own end instead.
      onResponseSent: (listener) => void sent.push(listener),
      state,
      get: (key) => state.get(key) as never,
      set: (key, value) => void state.set(key, value),
      startedAt: performance.now(),
    };
    let passed = false;
    try {
      return await decide();
    } finally {
      for (const listener of sent) {
        try {
          listener(false);
        } catch {
          // A listener's failure must not change the gate's answer.
        }
      }
    }

    async function decide(): Promise<AuthInfo | Response> {
      try {
        const response = await http(req, ctx, async () => {
          passed = true;
          if (!route) return new Response(null, { status: 204 });
          const methods = route.methods ?? ['GET', 'HEAD'];
          return methods.includes(req.method)
            ? route.handle(req, ctx)
            : new Response(null, { status: 405, headers: { allow: methods.join(', ') } });
        });
        if (passed && !route) {
          return (
            ctx.authInfo ??
            jsonRpcErrorResponse(
              ERROR_CODES.unauthorized.status,
              ERROR_CODES.unauthorized.rpc,
              'Unauthorized: no credentials were accepted',
            )
          );
        }
        return withHeaders(response, pending);
      } catch (error) {
        if (MiddlewareError.is(error)) return withHeaders(errorToResponse(error), pending);
        // Whatever went wrong stays on the server: no stack trace to the client.
        return jsonRpcErrorResponse(ERROR_CODES.internal.status, ERROR_CODES.internal.rpc, 'Internal error');
      }
    }
  };
}
