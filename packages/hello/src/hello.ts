import type { Middleware, RpcCall } from '@mcp-middleware/core';

// #region options
export interface HelloOptions {
  /** The word every greeting starts with. @default 'Hello' */
  greeting?: string;
  /** The HTTP response header that carries the greeting; `false` sends none. @default 'x-hello' */
  header?: string | false;
  /** Whom to greet when no auth middleware has named the caller. @default 'there' */
  anonymous?: string;
}
// #endregion options

// #region meta
/** The `_meta` key the greeting travels under to the tool: namespaced to this package. */
export const HELLO_META_KEY = 'io.github.mcp-middleware/hello';

/** What the middleware hands every tool call. */
export interface HelloMeta {
  /** `Hello, alice`: the greeting for whoever is calling. */
  readonly greeting: string;
  /** How many calls of this tool succeeded before this one, in this process. */
  readonly previousCalls: number;
}

/** In a tool: `helloOf(extra)` is what the middleware found, or undefined when it is not in the chain. */
export function helloOf(extra: { readonly _meta?: Record<string, unknown> }): HelloMeta | undefined {
  const value = extra._meta?.[HELLO_META_KEY] as Partial<HelloMeta> | undefined;
  return typeof value?.greeting === 'string' && typeof value.previousCalls === 'number'
    ? { greeting: value.greeting, previousCalls: value.previousCalls }
    : undefined;
}
// #endregion meta

// #region state
/** For middleware later in the chain: `call.state.get(GREETING)`, typed through `greetingIn()`. */
export const GREETING: unique symbol = Symbol('@mcp-middleware/hello greeting');

/** The greeting a `hello()` earlier in the chain left in a call's (or a request's) `state`. */
export function greetingIn(state: ReadonlyMap<string | symbol, unknown>): string | undefined {
  const value = state.get(GREETING);
  return typeof value === 'string' ? value : undefined;
}
// #endregion state

/** The middleware, plus what it counted. */
export interface HelloMiddleware extends Middleware {
  /** Successful calls per tool so far. Only tools that answered are counted, so the map is as big as the server's tool list. */
  calls(): ReadonlyMap<string, number>;
}

// #region validate
function text(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(`hello: ${name} must be a non-empty string; got ${JSON.stringify(value)}`);
  }
  return value;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i; // an HTTP token (RFC 9110)
// #endregion validate

// #region factory
/**
 * Greets every caller: a response header at the HTTP layer, and at the RPC layer a greeting each tool can read
 * (`helloOf(extra)`) and a count of successful calls per tool (`calls()`).
 */
export function hello(options: HelloOptions = {}): HelloMiddleware {
  // Defaults applied once, and every option checked here: a mistake fails at start, not on the first request.
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('hello: options must be an object');
  }
  const greeting = text('greeting', options.greeting, 'Hello');
  const anonymous = text('anonymous', options.anonymous, 'there');
  const header = options.header === false ? false : text('header', options.header, 'x-hello');
  if (header !== false && !HEADER_NAME.test(header)) {
    throw new TypeError(`hello: header must be an HTTP header name; got ${JSON.stringify(header)}`);
  }
  // Per instance, never per module: two servers in one process count apart.
  const counts = new Map<string, number>();
  const greetingFor = (call: Pick<RpcCall, 'authInfo'>) =>
    `${greeting}, ${(call.authInfo?.extra?.['subject'] as string | undefined) ?? anonymous}`;

  return {
    name: 'hello',
    async http(_req, ctx, next) {
      // Set before next(): the header lands on whatever response this request ends with, refusals included.
      if (header !== false) ctx.setResponseHeader(header, greeting);
      return next();
    },
    async rpc(call, next) {
      if (call.method !== 'tools/call' || call.toolName === undefined) return next();
      const tool = call.toolName;
      const found: HelloMeta = { greeting: greetingFor(call), previousCalls: counts.get(tool) ?? 0 };
      call.state.set(GREETING, found.greeting);
      // The tool receives these very params: a namespaced `_meta` entry reaches it as `extra._meta`. Written over
      // whatever a client sent under the same key, so a client cannot forge it.
      const params = call.params as { _meta?: Record<string, unknown> } | undefined;
      if (params) params._meta = { ...params._meta, [HELLO_META_KEY]: found };
      const answer = await next();
      if (answer.result && answer.result['isError'] !== true) counts.set(tool, (counts.get(tool) ?? 0) + 1);
      return answer;
    },
    calls: () => new Map(counts),
  };
}
// #endregion factory
