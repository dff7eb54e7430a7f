import type { HttpContext, Middleware, RpcCall, RpcResult } from './types.js';

export type HttpHandler = (req: Request, ctx: HttpContext) => Promise<Response>;
export type RpcHandler = (call: RpcCall) => Promise<RpcResult>;

function nextOnce(name: string): never {
  throw new Error(`middleware '${name}' called next() more than once`);
}

/**
 * Runs the HTTP layer of `middleware` in order around `final`. The list is filtered once, here, so a chain
 * of RPC-only middleware costs nothing per HTTP request.
 */
export function composeHttp(middleware: readonly Middleware[], final: HttpHandler): HttpHandler {
  const chain = middleware.filter((m) => typeof m.http === 'function');
  if (chain.length === 0) return final;
  return (req, ctx) => {
    const dispatch = (i: number): Promise<Response> => {
      if (i === chain.length) return final(req, ctx);
      const m = chain[i]!;
      let called = false;
      return m.http!(req, ctx, () => {
        if (called) nextOnce(m.name);
        called = true;
        return dispatch(i + 1);
      });
    };
    return dispatch(0);
  };
}

/** Runs the RPC layer of `middleware` in order around `final` (which reaches the server). */
export function composeRpc(middleware: readonly Middleware[], final: RpcHandler): RpcHandler {
  const chain = middleware.filter((m) => typeof m.rpc === 'function');
  if (chain.length === 0) return final;
  return (call) => {
    const dispatch = (i: number): Promise<RpcResult> => {
      if (i === chain.length) return final(call);
      const m = chain[i]!;
      let called = false;
      return m.rpc!(call, () => {
        if (called) nextOnce(m.name);
        called = true;
        return dispatch(i + 1);
      });
    };
    return dispatch(0);
  };
}

/** Whether any middleware in the list acts on the RPC layer. */
export function hasRpcLayer(middleware: readonly Middleware[]): boolean {
  return middleware.some((m) => typeof m.rpc === 'function');
}
