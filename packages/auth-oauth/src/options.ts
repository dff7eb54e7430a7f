import { type Duration, type ToolScopePolicy, toMs } from '@mcp-middleware/core';
import { SCOPE_TOKEN } from './challenge.js';

export interface AuthorizationServerOptions {
  /** The issuer identifier: compared exactly with the `iss` claim, listed in the protected resource metadata. */
  issuer: string;
  /** Where the issuer's signing keys are. @default the `jwks_uri` of its metadata (RFC 8414, then OpenID discovery) */
  jwksUri?: string;
}

export interface IntrospectionOptions {
  /** The issuer that knows the opaque tokens. @default the first of `authorizationServers` */
  issuer?: string;
  /** The RFC 7662 endpoint. @default the `introspection_endpoint` of the issuer's metadata */
  endpoint?: string;
  /** This resource server's client id at the authorization server (sent with HTTP Basic). */
  clientId: string;
  /** This resource server's client secret at the authorization server. */
  clientSecret: string;
  /** How long an active answer is reused; revocation takes effect within this time. 0 asks every time. @default '30s' */
  cacheTtl?: Duration;
  /** Most answers kept at once. @default 10000 */
  cacheMax?: number;
  /** Require the answer's `aud` to contain the resource (servers that leave `aud` out need `false`). @default true */
  requireAudience?: boolean;
}

export interface OAuthOptions {
  /**
   * This server's resource identifier (RFC 8707), usually the MCP endpoint's public URL, e.g.
   * `https://mcp.example.com/mcp`. Tokens must name it in `aud`; the metadata is served under its path.
   */
  resource: string;
  /** The authorization servers whose tokens are accepted: issuer URLs, or issuers with their JWKS URL. */
  authorizationServers: readonly (string | AuthorizationServerOptions)[];
  /** Scopes every request needs; asked for in the 401 challenge. @default [] */
  requiredScopes?: readonly string[];
  /** Scopes per tool: a `tools/call` without them gets 403 `insufficient_scope` (step-up). @default {} */
  toolScopes?: ToolScopePolicy;
  /** `scopes_supported` in the protected resource metadata. @default requiredScopes and every scope in toolScopes */
  scopesSupported?: readonly string[];
  /** Signature algorithms accepted. `none` is never accepted; HS* only with `hmacSecret`. @default ['RS256', 'PS256', 'ES256', 'EdDSA'] */
  algorithms?: readonly string[];
  /** Shared secret for HS256/384/512 tokens (at least 32 bytes); list the HS algorithm in `algorithms` too. @default undefined */
  hmacSecret?: string | Uint8Array;
  /** Clock skew allowed on `exp`, `nbf` and `iat`. @default '5s' */
  clockTolerance?: Duration;
  /**
   * Require JWT access tokens to carry `typ: at+jwt` (RFC 9068). Set `false` for authorization servers that send
   * `JWT` or nothing; other `typ` values (ID tokens with `typ`, logout tokens...) are refused either way.
   * @default true
   */
  requireAtJwtType?: boolean;
  /** Time limit of each call to the authorization server (metadata, JWKS, introspection). @default '5s' */
  timeout?: Duration;
  /** Most verified JWTs remembered (each until its `exp`), so repeat requests skip the signature check. @default 10000 */
  tokenCacheMax?: number;
  /** How long authorization server metadata is reused. @default '1h' */
  metadataTtl?: Duration;
  /** A token naming an unknown key refetches the JWKS at most this often. @default '30s' */
  jwksCooldown?: Duration;
  /** Introspection (RFC 7662) for opaque tokens. @default undefined (opaque tokens are refused) */
  introspection?: IntrospectionOptions;
  /** `resource_name` in the protected resource metadata. @default undefined */
  resourceName?: string;
  /** `resource_documentation` in the protected resource metadata. @default undefined */
  resourceDocumentation?: string;
}

const ASYMMETRIC = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];
const HMAC = ['HS256', 'HS384', 'HS512'];

export interface ResolvedAuthorizationServer {
  readonly issuer: string;
  readonly jwksUri: string | undefined;
}

export interface ResolvedIntrospection {
  readonly issuer: string;
  readonly endpoint: string | undefined;
  readonly authorization: string;
  readonly cacheTtlMs: number;
  readonly cacheMax: number;
  readonly requireAudience: boolean;
}

export interface ResolvedOptions {
  readonly resource: string;
  readonly servers: readonly ResolvedAuthorizationServer[];
  readonly requiredScopes: readonly string[];
  readonly toolScopes: ToolScopePolicy | undefined;
  readonly scopesSupported: readonly string[];
  readonly algorithms: ReadonlySet<string>;
  readonly hmacKey: Uint8Array | undefined;
  readonly clockToleranceSec: number;
  readonly requireAtJwtType: boolean;
  readonly timeoutMs: number;
  readonly tokenCacheMax: number;
  readonly metadataTtlMs: number;
  readonly jwksCooldownMs: number;
  readonly introspection: ResolvedIntrospection | undefined;
  readonly resourceName: string | undefined;
  readonly resourceDocumentation: string | undefined;
}

function bad(option: string, message: string): never {
  throw new TypeError(`oauth: ${option} ${message}`);
}

function httpUrl(value: unknown, option: string): URL {
  if (typeof value !== 'string') bad(option, `must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    bad(option, `must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    bad(option, `must use https (or http), got ${value}`);
  if (value.includes('#')) bad(option, `must not have a fragment, got ${value}`);
  return url;
}

function scopeList(value: unknown, option: string): string[] {
  if (!Array.isArray(value)) bad(option, 'must be an array of scope strings');
  for (const s of value) {
    if (typeof s !== 'string' || !SCOPE_TOKEN.test(s))
      bad(option, `has an invalid scope ${JSON.stringify(s)}`);
  }
  return [...value] as string[];
}

function count(value: number, option: string): number {
  if (!Number.isInteger(value) || value < 0) bad(option, `must be a whole number >= 0, got ${value}`);
  return value;
}

/** Validates `oauth()` options once, at construction, and applies the defaults. */
export function resolveOptions(options: OAuthOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('oauth: options are required');
  httpUrl(options.resource, 'resource');
  const resource = options.resource;

  if (!Array.isArray(options.authorizationServers) || options.authorizationServers.length === 0) {
    bad('authorizationServers', 'must list at least one issuer');
  }
  const servers = options.authorizationServers.map((entry, i): ResolvedAuthorizationServer => {
    const server = typeof entry === 'string' ? { issuer: entry } : entry;
    const url = httpUrl(server?.issuer, `authorizationServers[${i}].issuer`);
    if (url.search !== '') bad(`authorizationServers[${i}].issuer`, 'must not have a query');
    if (server.jwksUri !== undefined) httpUrl(server.jwksUri, `authorizationServers[${i}].jwksUri`);
    return { issuer: server.issuer, jwksUri: server.jwksUri };
  });

  const requiredScopes = scopeList(options.requiredScopes ?? [], 'requiredScopes');
  let toolScopes: ToolScopePolicy | undefined;
  const toolScopeNames: string[] = [];
  if (options.toolScopes !== undefined) {
    const { tools = {}, default: fallback = [] } = options.toolScopes;
    if (typeof tools !== 'object' || tools === null)
      bad('toolScopes.tools', 'must map tool names to scope lists');
    for (const [name, scopes] of Object.entries(tools)) {
      toolScopeNames.push(...scopeList(scopes, `toolScopes.tools.${name}`));
    }
    toolScopeNames.push(...scopeList(fallback, 'toolScopes.default'));
    if (Object.keys(tools).length > 0 || fallback.length > 0) toolScopes = options.toolScopes;
  }
  const scopesSupported =
    options.scopesSupported !== undefined
      ? scopeList(options.scopesSupported, 'scopesSupported')
      : [...new Set([...requiredScopes, ...toolScopeNames])];

  const algorithmList = options.algorithms ?? ['RS256', 'PS256', 'ES256', 'EdDSA'];
  if (!Array.isArray(algorithmList) || algorithmList.length === 0)
    bad('algorithms', 'must list at least one algorithm');
  let hmacKey: Uint8Array | undefined;
  if (options.hmacSecret !== undefined) {
    hmacKey =
      typeof options.hmacSecret === 'string'
        ? new TextEncoder().encode(options.hmacSecret)
        : options.hmacSecret;
    if (!(hmacKey instanceof Uint8Array) || hmacKey.byteLength < 32)
      bad('hmacSecret', 'must be at least 32 bytes');
    if (!algorithmList.some((a) => HMAC.includes(a)))
      bad('hmacSecret', 'is set but algorithms lists no HS algorithm');
  }
  for (const alg of algorithmList) {
    if (typeof alg === 'string' && alg.toLowerCase() === 'none')
      bad('algorithms', "must never include 'none'");
    if (HMAC.includes(alg)) {
      if (!hmacKey) bad('algorithms', `lists ${alg}, which needs hmacSecret`);
    } else if (!ASYMMETRIC.includes(alg)) {
      bad('algorithms', `has an unknown algorithm ${JSON.stringify(alg)}`);
    }
  }

  let introspection: ResolvedIntrospection | undefined;
  if (options.introspection !== undefined) {
    const i = options.introspection;
    const issuer = i.issuer ?? servers[0]!.issuer;
    if (!servers.some((s) => s.issuer === issuer)) {
      bad('introspection.issuer', 'must be one of authorizationServers');
    }
    if (i.endpoint !== undefined) httpUrl(i.endpoint, 'introspection.endpoint');
    if (typeof i.clientId !== 'string' || i.clientId === '') bad('introspection.clientId', 'is required');
    if (typeof i.clientSecret !== 'string' || i.clientSecret === '')
      bad('introspection.clientSecret', 'is required');
    // RFC 6749 §2.3.1: form-encode both parts before Basic.
    const basic = Buffer.from(
      `${encodeURIComponent(i.clientId)}:${encodeURIComponent(i.clientSecret)}`,
    ).toString('base64');
    introspection = {
      issuer,
      endpoint: i.endpoint,
      authorization: `Basic ${basic}`,
      cacheTtlMs: toMs(i.cacheTtl ?? '30s', 'oauth: introspection.cacheTtl'),
      cacheMax: count(i.cacheMax ?? 10_000, 'introspection.cacheMax'),
      requireAudience: i.requireAudience ?? true,
    };
  }

  const timeoutMs = toMs(options.timeout ?? '5s', 'oauth: timeout');
  if (timeoutMs <= 0) bad('timeout', 'must be more than 0');

  return {
    resource,
    servers,
    requiredScopes,
    toolScopes,
    scopesSupported,
    algorithms: new Set(algorithmList),
    hmacKey,
    clockToleranceSec: toMs(options.clockTolerance ?? '5s', 'oauth: clockTolerance') / 1000,
    requireAtJwtType: options.requireAtJwtType ?? true,
    timeoutMs,
    tokenCacheMax: count(options.tokenCacheMax ?? 10_000, 'tokenCacheMax'),
    metadataTtlMs: toMs(options.metadataTtl ?? '1h', 'oauth: metadataTtl'),
    jwksCooldownMs: toMs(options.jwksCooldown ?? '30s', 'oauth: jwksCooldown'),
    introspection,
    resourceName: options.resourceName,
    resourceDocumentation: options.resourceDocumentation,
  };
}
