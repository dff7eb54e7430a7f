import {
  type AuthInfo,
  checkToolScopes,
  errorToResponse,
  type FetchGate,
  type HttpContext,
  type Middleware,
  type Route,
  type ToolScopePolicy,
  toFetchGate,
  toolScopes,
} from '@mcp-middleware/core';
import { extractBearerToken } from './bearer.js';
import { formatChallenge } from './challenge.js';
import { OAuthError } from './errors.js';
import { type OAuthOptions, resolveOptions } from './options.js';
import { TokenVerifier, type VerifyContext } from './verifier.js';

/** The RFC 9728 protected resource metadata document. */
export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly scopes_supported?: readonly string[];
  readonly bearer_methods_supported: readonly string[];
  readonly resource_name?: string;
  readonly resource_documentation?: string;
}

export interface OAuthMiddleware extends Middleware {
  readonly name: 'oauth';
  /** The metadata routes: `/.well-known/oauth-protected-resource` and its form suffixed with the resource's path. */
  readonly routes: readonly Route[];
  /** The document served at the metadata routes. */
  readonly metadata: ProtectedResourceMetadata;
  /** The metadata URL sent in every challenge as `resource_metadata`. */
  readonly resourceMetadataUrl: string;
  /**
   * Verifies a bearer token as the HTTP layer does (without scope checks). Resolves to its `AuthInfo`; rejects
   * with an `OAuthError`: `unauthorized` (401, with the challenge in `headers`), `unavailable` (503), or
   * `rate_limited` (429: `context.clientAddress` caused too many introspection calls).
   */
  verify(token: string, context?: VerifyContext): Promise<AuthInfo>;
  /**
   * The same checks as a plain Fetch gate, for servers without this project's handler (SDK v2's own
   * `createMiddlewareHandler`): the token's `AuthInfo`, or the `Response` to send (a challenge, or the metadata document
   * at its routes). See core's `toFetchGate`.
   */
  readonly gate: FetchGate;
  close(): Promise<void>;
}

export type ScopeShortfall = { ok: true } | { ok: false; required: string[] };

/**
 * Which scopes the `tools/call` requests of a JSON-RPC body need that `authInfo` lacks (a batch is checked
 * whole). Pure: the HTTP layer turns a shortfall into a 403 step-up challenge.
 */
export function checkToolCalls(body: unknown, policy: ToolScopePolicy, authInfo: AuthInfo): ScopeShortfall {
  const messages = Array.isArray(body) ? body : [body];
  const required = new Set<string>();
  let short = false;
  for (const message of messages) {
    if (typeof message !== 'object' || message === null) continue;
    const { method, params } = message as { method?: unknown; params?: { name?: unknown } };
    if (method !== 'tools/call' || typeof params?.name !== 'string') continue;
    const decision = checkToolScopes(policy, authInfo, params.name);
    if (!decision.ok) {
      short = true;
      for (const s of decision.required) required.add(s);
    }
  }
  return short ? { ok: false, required: [...required] } : { ok: true };
}

/** The well-known paths of a resource's metadata: path-suffixed (RFC 9728 §3.1) first, then the root one. */
export function metadataPaths(resource: string): string[] {
  const path = new URL(resource).pathname.replace(/\/+$/, '');
  const root = '/.well-known/oauth-protected-resource';
  return path === '' ? [root] : [`${root}${path}`, root];
}

/**
 * An OAuth 2.1 resource server for an MCP endpoint, following the MCP authorization spec: validates bearer
 * tokens (JWT via JWKS, opaque via introspection), answers RFC 6750 challenges that point to the protected
 * resource metadata it serves (RFC 9728), and asks for more scope (403 `insufficient_scope`) when a tool needs it.
 */
export function oauth(options: OAuthOptions): OAuthMiddleware {
  const config = resolveOptions(options);
  const verifier = new TokenVerifier(config);
  const paths = metadataPaths(config.resource);
  const resourceMetadataUrl = new URL(paths[0]!, config.resource).href;

  const metadata: ProtectedResourceMetadata = {
    resource: config.resource,
    authorization_servers: config.servers.map((s) => s.issuer),
    ...(config.scopesSupported.length > 0 ? { scopes_supported: config.scopesSupported } : {}),
    bearer_methods_supported: ['header'],
    ...(config.resourceName !== undefined ? { resource_name: config.resourceName } : {}),
    ...(config.resourceDocumentation !== undefined
      ? { resource_documentation: config.resourceDocumentation }
      : {}),
  };
  const metadataBody = JSON.stringify(metadata);
  const metadataHeaders = {
    'content-type': 'application/json',
    'cache-control': 'public, max-age=3600',
    // Browser-based clients read the metadata cross-origin.
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'GET, HEAD, OPTIONS',
    'access-control-allow-headers': 'mcp-protocol-version',
  };
  const routes: Route[] = paths.map((path) => ({
    path,
    methods: ['GET', 'HEAD', 'OPTIONS'],
    handle: (req: Request) => {
      if (req.method === 'OPTIONS') return new Response(null, { status: 204, headers: metadataHeaders });
      return new Response(req.method === 'HEAD' ? null : metadataBody, {
        status: 200,
        headers: metadataHeaders,
      });
    },
  }));

  const challenge = (
    code: 'bad_request' | 'unauthorized' | 'forbidden',
    message: string,
    params: Omit<Parameters<typeof formatChallenge>[0], 'resourceMetadata'>,
  ) =>
    new OAuthError(code, message, {
      bearerError: params.error,
      headers: { 'www-authenticate': formatChallenge({ ...params, resourceMetadata: resourceMetadataUrl }) },
    });

  const notAuthorized = challenge('unauthorized', 'Unauthorized: a bearer token is required', {
    scope: config.requiredScopes,
  });

  async function verify(token: string, context?: VerifyContext): Promise<AuthInfo> {
    const outcome = await verifier.verify(token, context);
    if (outcome.ok) return outcome.authInfo;
    if (outcome.error === 'rate_limited') {
      throw new OAuthError('rate_limited', `Too Many Requests: ${outcome.description}`, {
        headers: { 'retry-after': String(outcome.retryAfter) },
      });
    }
    if (outcome.error === 'unavailable') {
      throw new OAuthError(
        'unavailable',
        'Service Unavailable: the authorization server could not be reached',
        {
          headers: { 'retry-after': '5' },
        },
      );
    }
    throw challenge('unauthorized', `Unauthorized: ${outcome.description}`, {
      error: 'invalid_token',
      scope: config.requiredScopes,
      description: outcome.description,
    });
  }

  /**
   * The 403 names the scopes this request needs (`requiredScopes` and the tool's), never the token's own: the MCP
   * step-up asks for what the operation needs, and the client adds what it already holds.
   */
  const stepUp = (needed: readonly string[], message: string) =>
    challenge('forbidden', message, {
      error: 'insufficient_scope',
      scope: [...new Set([...config.requiredScopes, ...needed])],
      description: 'The token lacks a scope this request needs',
    });

  async function authenticate(req: Request, ctx: HttpContext): Promise<AuthInfo> {
    const extracted = extractBearerToken(req.headers, req.url);
    if (!extracted.ok) {
      if (extracted.reason === 'missing') throw notAuthorized;
      throw challenge('bad_request', `Bad Request: ${extracted.description}`, {
        error: 'invalid_request',
        scope: config.requiredScopes,
        description: extracted.description,
      });
    }
    // A runtime that gives no address puts every client in one bucket: limited together rather than not at all.
    const authInfo = await verify(extracted.token, { clientAddress: ctx.clientAddress ?? 'unknown' });
    const missing = config.requiredScopes.filter((s) => !authInfo.scopes.includes(s));
    if (missing.length > 0)
      throw stepUp(missing, `Forbidden: this server requires scope ${missing.join(' ')}`);
    if (config.toolScopes && req.method === 'POST') {
      const shortfall = checkToolCalls(await ctx.body(), config.toolScopes, authInfo);
      if (!shortfall.ok) {
        throw stepUp(
          shortfall.required,
          `Forbidden: this tool requires scope ${shortfall.required.join(' ')}`,
        );
      }
    }
    return authInfo;
  }

  const middleware: OAuthMiddleware = {
    name: 'oauth',
    routes,
    metadata,
    resourceMetadataUrl,
    verify,
    gate: (req) => fetchGate(req),
    async http(req, ctx, next) {
      // Probes, metadata and CORS preflights carry no credentials by design.
      if (!ctx.isProtected || req.method === 'OPTIONS') return next();
      try {
        ctx.authInfo = await authenticate(req, ctx);
      } catch (error) {
        if (error instanceof OAuthError) return errorToResponse(error);
        throw error;
      }
      return next();
    },
    async close() {
      verifier.close();
    },
  };
  const fetchGate: FetchGate = toFetchGate(middleware);
  // tools/list shows only what the token may call; tools/call is refused again over transports without HTTP.
  if (config.toolScopes) {
    const scopes = toolScopes(config.toolScopes);
    return Object.assign(middleware, { rpc: scopes.rpc });
  }
  return middleware;
}
