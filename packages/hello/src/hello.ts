import { callOf, createKey, type Middleware, type RpcCall } from '@mcp-middleware/core';

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
/** What the middleware hands every tool call. */
export interface HelloInfo {
  /** `Hello, alice`: the greeting for whoever is calling. */
  readonly greeting: string;
  /** How many calls of this tool succeeded before this one, in this process. */
  readonly previousCalls: number;
}

/** The typed key it is stored under in the call: later middleware read `call.get(HELLO)`. */
export const HELLO = createKey<HelloInfo>('hello/info');

/**
 * In a tool: what the middleware found, or undefined when it is not in the chain. Pass the handler's last
 * argument (`extra` on SDK v1, `ctx` on SDK v2).
 */
export function helloOf(extraOrCtx: unknown): HelloInfo | undefined {
  return callOf(extraOrCtx)?.get(HELLO);
}
// #endregion meta

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
 * (`helloOf(extra)`, from the call context) and a count of successful calls per tool (`calls()`).
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
      // The call carries it to the tool (helloOf) and to later middleware (call.get(HELLO)); the tool's `_meta`
      // stays what the client sent.
      call.set(HELLO, { greeting: greetingFor(call), previousCalls: counts.get(tool) ?? 0 });
      const answer = await next();
      if (answer.result && answer.result['isError'] !== true) counts.set(tool, (counts.get(tool) ?? 0) + 1);
      return answer;
    },
    calls: () => new Map(counts),
  };
}
// #endregion factory
