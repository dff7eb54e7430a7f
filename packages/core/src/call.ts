import type { RequestInfo } from '@modelcontextprotocol/sdk/types.js';
import type { RpcCall } from './types.js';

/**
 * A typed key for per-call state: `call.set(KEY, value)` in a middleware, `callOf(extra)?.get(KEY)` in a tool.
 * A symbol underneath, so two packages can never collide by picking the same name.
 */
export type Key<T> = symbol & { readonly __valueType?: T };

/**
 * Makes a typed state key. Name it after your package (`'my-package/name'`): the name shows in debuggers only,
 * and two keys made with the same name are still distinct.
 */
export function createKey<T>(name: string): Key<T> {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError('createKey: name must be a non-empty string, e.g. "my-package/user"');
  }
  return Symbol(name) as Key<T>;
}

/** Where core stamps the call on the SDK's per-request object (`extra` on SDK v1, `ctx` on SDK v2). */
const CALL = Symbol('mcp-middleware.call');

/**
 * The call a tool (or any request handler) is serving, as the middleware saw it: identity, the HTTP request's
 * context, and what middleware stored with `call.set(key, value)`. Pass the handler's last argument: `extra` on
 * SDK v1, `ctx` on SDK v2. Undefined when the server was not wrapped by this project's middleware.
 *
 * ```ts
 * server.registerTool('whoami', {}, async (_args, extra) => {
 *   const tenant = callOf(extra)?.get(TENANT);
 *   ...
 * });
 * ```
 */
export function callOf(extraOrCtx: unknown): RpcCall | undefined {
  if (typeof extraOrCtx !== 'object' || extraOrCtx === null) return undefined;
  const stamped = (extraOrCtx as { [CALL]?: RpcCall })[CALL];
  if (stamped) return stamped;
  const meta = (extraOrCtx as { _meta?: unknown })._meta;
  return typeof meta === 'object' && meta !== null ? viaTransport.get(meta) : undefined;
}

/**
 * Calls seen by the deprecated `MiddlewareTransport`, which runs before the server and so cannot stamp the SDK's
 * per-request object: keyed by the request's own `_meta` object, which SDK v1 hands to the handler by reference.
 * Weak, so it holds nothing once the call is gone.
 */
const viaTransport = new WeakMap<object, RpcCall>();

/** @internal Links a call to the `_meta` object its request carries (the transport decorator's path). */
export function linkCallByMeta(meta: object, call: RpcCall): void {
  viaTransport.set(meta, call);
}

/** @internal Stamps a call on the SDK's per-request object, once. */
export function stampCall(extraOrCtx: object, call: RpcCall): void {
  // A symbol key: invisible to JSON and Object.keys, kept by spreads (a copied extra still finds its call).
  (extraOrCtx as { [CALL]?: RpcCall })[CALL] = call;
}

/**
 * One header from SDK v1's `requestInfo` (lower-case names, as Node and `Headers` give them), joined the way
 * `Headers.get` joins a repeated one: what `RpcCall.header()` answers where the call came with `requestInfo`.
 * @internal
 */
export function headerOf(info: RequestInfo | undefined, name: string): string | undefined {
  const headers = info?.headers;
  if (headers === undefined) return undefined;
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}
