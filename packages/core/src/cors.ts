import { type Duration, toMs } from './duration.js';

export interface CorsOptions {
  /**
   * Browser origins allowed to call the server and read its answers: exact `scheme://host[:port]` values, or `'*'`
   * for any origin (only when given explicitly). Every origin allowed here also passes the handler's Origin check,
   * as if listed in `allowedOrigins`; `'*'` lets every Origin through that check (the `Host` check still applies).
   */
  origins: readonly string[] | '*';
  /** How long a browser may reuse a preflight answer. @default '10m' */
  maxAge?: Duration;
}

/** Request headers an MCP client sends, which a preflight must allow. */
const ALLOWED_HEADERS = [
  'Mcp-Session-Id',
  'Mcp-Protocol-Version',
  'Authorization',
  'Content-Type',
  'Last-Event-ID',
  'Mcp-Method',
  'Mcp-Name',
].join(', ');

/** Response headers a browser client needs to read: the session, auth challenges, rate limits. */
const EXPOSED_HEADERS = [
  'Mcp-Session-Id',
  'WWW-Authenticate',
  'RateLimit',
  'RateLimit-Policy',
  'Retry-After',
].join(', ');

/** The CORS decisions, made once from the options. */
export interface CorsPolicy {
  /** `'*'`, or the exact origins allowed. */
  readonly origins: ReadonlySet<string> | '*';
  /** Whether a request from `origin` gets CORS headers. */
  allows(origin: string | null): origin is string;
  /** The headers for a response to a request from `origin`; empty when that origin is not allowed. */
  responseHeaders(origin: string | null): Array<[string, string]>;
  /** The headers for a preflight from an allowed `origin` to a resource serving `methods`. */
  preflightHeaders(origin: string, methods: readonly string[]): Array<[string, string]>;
}

export function corsPolicy(options: CorsOptions): CorsPolicy {
  const any = options?.origins === '*' || (Array.isArray(options?.origins) && options.origins.includes('*'));
  if (!any && !Array.isArray(options?.origins)) {
    throw new TypeError("createMiddlewareHandler: cors.origins must be a list of origins or '*'");
  }
  const origins = any ? '*' : new Set(options.origins as readonly string[]);
  if (origins !== '*') {
    for (const origin of origins) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(origin);
      } catch {}
      if (!parsed || parsed.origin !== origin) {
        throw new TypeError(
          `createMiddlewareHandler: cors.origins takes origins such as 'https://app.example' (scheme, host, port; ` +
            `no path or trailing slash), got '${origin}'`,
        );
      }
    }
  }
  const maxAge = String(Math.floor(toMs(options.maxAge ?? '10m', 'cors.maxAge') / 1000));
  const allows = (origin: string | null): origin is string =>
    origin !== null && (origins === '*' || origins.has(origin));
  // Whether the answer carries CORS headers depends on the Origin: caches must key on it.
  const vary: Array<[string, string]> = [['vary', 'Origin']];
  return {
    origins,
    allows,
    responseHeaders(origin) {
      if (!allows(origin)) return vary;
      return [
        ['access-control-allow-origin', origins === '*' ? '*' : origin],
        ['access-control-expose-headers', EXPOSED_HEADERS],
        ...vary,
      ];
    },
    preflightHeaders(origin, methods) {
      return [
        ['access-control-allow-origin', origins === '*' ? '*' : origin],
        ['access-control-allow-methods', [...methods, 'OPTIONS'].join(', ')],
        ['access-control-allow-headers', ALLOWED_HEADERS],
        ['access-control-max-age', maxAge],
        ...vary,
      ];
    },
  };
}
