import {
  type Duration,
  httpUrlOption,
  policyScopes,
  scopeListOption,
  type ToolScopePolicy,
  toMs,
  toolScopePolicyOption,
} from '@mcp-middleware/core';

export interface AuthorizationServerOptions {
  /**
   * The issuer identifier: compared exactly with the `iss` claim and the metadata's `issuer` (a trailing slash
   * counts), listed in the protected resource metadata. `https`, or `http` to a loopback host.
   */
  issuer: string;
  /**
   * Where the issuer's signing keys are (`https`, or `http` to a loopback host).
   * @default the `jwks_uri` of its metadata (RFC 8414, then OpenID discovery), read again as the metadata expires
   */
  jwksUri?: string;
  /**
   * Shared secret (at least 32 bytes) for this issuer's HS256/384/512 tokens; list the HS algorithm in `algorithms`
   * too. Each issuer has its own: a secret never verifies another issuer's tokens.
   * @default undefined (HS* tokens from this issuer are refused)
   */
  hmacSecret?: string | Uint8Array;
}

/** Claims a JWT access token must carry besides `iss`, `aud` and `exp`, which are always required. */
export type RequiredClaim = 'iat' | 'sub' | 'jti' | 'client_id' | (string & {});

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
  /**
   * How long a refusal (an inactive token, or one for another resource) is remembered, so a token sent again
   * and again costs one call. 0 asks every time. @default '10s'
   */
  negativeCacheTtl?: Duration;
  /**
   * Most introspection calls one client address may cause per window (cached answers are free); beyond it the
   * request gets 429. Stops random opaque tokens from turning this server into a load generator against the
   * authorization server. `false` for no limit. @default { calls: 60, per: '1m' }
   */
  clientLimit?: { calls: number; per: Duration } | false;
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
  /**
   * Shared secret for HS256/384/512 tokens (at least 32 bytes) when there is one authorization server; with several,
   * give each its own `hmacSecret`. List the HS algorithm in `algorithms` too. @default undefined
   */
  hmacSecret?: string | Uint8Array;
  /**
   * Claims a JWT access token must carry besides `iss`, `aud` and `exp` (always required). RFC 9068 §2.2 requires
   * `iat`, `sub`, `jti` and `client_id`; leave one out only for an authorization server that omits it. No `jti`:
   * Auth0's default token profile (its RFC 9068 profile has it) and Microsoft Entra ID (it sends `uti`). No
   * `client_id` but `azp`: the same two; leaving `client_id` out lets `azp` stand in for it. Add any other claim
   * name to require it too.
   * @default ['iat', 'sub', 'jti', 'client_id']
   */
  requiredClaims?: readonly RequiredClaim[];
  /**
   * The longest an access token may live: a token whose `exp` is further ahead, or whose `iat` is older, is
   * refused (clock tolerance aside), so a leaked long-lived token is not honoured for years. @default '24h'
   */
  maxTokenAge?: Duration;
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
  /**
   * Once the keys are older than `metadataTtl` they are refetched in the background; meanwhile, and while the JWKS
   * cannot be reached, the last good keys keep verifying tokens for at most this long. After that, requests get 503
   * until the JWKS answers. @default '10m'
   */
  jwksMaxStale?: Duration;
  /**
   * After a failed call for metadata or keys, the next one waits 1s, doubling with each failure up to this;
   * meanwhile requests that need it get 503 at once instead of calling again. @default '30s'
   */
  retryBackoff?: Duration;
  /** The clock, in milliseconds since the epoch: every time decision reads it (tests pass their own). @default Date.now */
  clock?: () => number;
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
  readonly hmacKey: Uint8Array | undefined;
}

export interface ResolvedIntrospection {
  readonly issuer: string;
  readonly endpoint: string | undefined;
  readonly authorization: string;
  readonly cacheTtlMs: number;
  readonly cacheMax: number;
  readonly requireAudience: boolean;
  readonly negativeCacheTtlMs: number;
  readonly clientLimit: { readonly calls: number; readonly perMs: number } | undefined;
}

export interface ResolvedOptions {
  readonly resource: string;
  readonly servers: readonly ResolvedAuthorizationServer[];
  readonly requiredScopes: readonly string[];
  readonly toolScopes: ToolScopePolicy | undefined;
  readonly scopesSupported: readonly string[];
  readonly algorithms: ReadonlySet<string>;
  readonly clockToleranceSec: number;
  readonly requiredClaims: ReadonlySet<string>;
  readonly maxTokenAgeSec: number;
  readonly requireAtJwtType: boolean;
  readonly timeoutMs: number;
  readonly tokenCacheMax: number;
  readonly metadataTtlMs: number;
  readonly jwksCooldownMs: number;
  readonly jwksMaxStaleMs: number;
  readonly retryBackoffMs: number;
  readonly clock: () => number;
  readonly introspection: ResolvedIntrospection | undefined;
  readonly resourceName: string | undefined;
  readonly resourceDocumentation: string | undefined;
}

function bad(option: string, message: string): never {
  throw new TypeError(`oauth: ${option} ${message}`);
}

/** https, or http to a loopback host: a key set or secret sent over plain HTTP can be read or swapped in transit. */
const secureUrl = (value: unknown, option: string, query = true) =>
  httpUrlOption(value, `oauth: ${option}`, { query });

function hmacKeyOf(secret: unknown, option: string): Uint8Array {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (!(key instanceof Uint8Array) || key.byteLength < 32) bad(option, 'must be at least 32 bytes');
  return key;
}

const CLAIM_NAME = /^[A-Za-z0-9_.:-]+$/;
const ALWAYS_REQUIRED = ['iss', 'aud', 'exp'];

function count(value: number, option: string): number {
  if (!Number.isInteger(value) || value < 0) bad(option, `must be a whole number >= 0, got ${value}`);
  return value;
}

/** Validates `oauth()` options once, at construction, and applies the defaults. */
export function resolveOptions(options: OAuthOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('oauth: options are required');
  // The resource is this server's own name, not a URL it calls: http stays allowed (behind a TLS proxy, say).
  httpUrlOption(options.resource, 'oauth: resource', { http: 'any' });
  const resource = options.resource;

  if (!Array.isArray(options.authorizationServers) || options.authorizationServers.length === 0) {
    bad('authorizationServers', 'must list at least one issuer');
  }
  const several = options.authorizationServers.length > 1;
  if (options.hmacSecret !== undefined && several) {
    bad('hmacSecret', 'is for one authorization server: with several, give each its own hmacSecret');
  }
  const servers = options.authorizationServers.map((entry, i): ResolvedAuthorizationServer => {
    const server = typeof entry === 'string' ? { issuer: entry } : entry;
    const option = `authorizationServers[${i}]`;
    secureUrl(server?.issuer, `${option}.issuer`, false);
    if (server.jwksUri !== undefined) secureUrl(server.jwksUri, `${option}.jwksUri`);
    const secret = server.hmacSecret ?? (several ? undefined : options.hmacSecret);
    const hmacKey =
      secret === undefined
        ? undefined
        : hmacKeyOf(secret, server.hmacSecret === undefined ? 'hmacSecret' : `${option}.hmacSecret`);
    return { issuer: server.issuer, jwksUri: server.jwksUri, hmacKey };
  });
  const issuers = servers.map((s) => s.issuer);
  if (new Set(issuers).size !== issuers.length) bad('authorizationServers', 'lists an issuer twice');

  const requiredScopes = scopeListOption(options.requiredScopes ?? [], 'oauth: requiredScopes');
  let toolScopes: ToolScopePolicy | undefined;
  let toolScopeNames: string[] = [];
  if (options.toolScopes !== undefined) {
    const policy = toolScopePolicyOption(options.toolScopes, 'oauth: toolScopes');
    toolScopeNames = policyScopes(policy);
    if (Object.keys(policy.tools ?? {}).length > 0 || (policy.default ?? []).length > 0) toolScopes = policy;
  }
  const scopesSupported =
    options.scopesSupported !== undefined
      ? scopeListOption(options.scopesSupported, 'oauth: scopesSupported')
      : [...new Set([...requiredScopes, ...toolScopeNames])];

  const algorithmList = options.algorithms ?? ['RS256', 'PS256', 'ES256', 'EdDSA'];
  if (!Array.isArray(algorithmList) || algorithmList.length === 0)
    bad('algorithms', 'must list at least one algorithm');
  const anyHmacKey = servers.some((s) => s.hmacKey !== undefined);
  if (anyHmacKey && !algorithmList.some((a) => HMAC.includes(a)))
    bad('hmacSecret', 'is set but algorithms lists no HS algorithm');
  for (const alg of algorithmList) {
    if (typeof alg === 'string' && alg.toLowerCase() === 'none')
      bad('algorithms', "must never include 'none'");
    if (HMAC.includes(alg)) {
      if (!anyHmacKey) bad('algorithms', `lists ${alg}, which needs hmacSecret`);
    } else if (!ASYMMETRIC.includes(alg)) {
      bad('algorithms', `has an unknown algorithm ${JSON.stringify(alg)}`);
    }
  }

  const claimList = options.requiredClaims ?? ['iat', 'sub', 'jti', 'client_id'];
  if (!Array.isArray(claimList)) bad('requiredClaims', 'must be an array of claim names');
  for (const claim of claimList) {
    if (typeof claim !== 'string' || !CLAIM_NAME.test(claim))
      bad('requiredClaims', `has an invalid claim name ${JSON.stringify(claim)}`);
  }
  const requiredClaims = new Set(claimList.filter((c) => !ALWAYS_REQUIRED.includes(c)));
  const maxTokenAgeMs = toMs(options.maxTokenAge ?? '24h', 'oauth: maxTokenAge');
  if (maxTokenAgeMs <= 0) bad('maxTokenAge', 'must be more than 0');

  let introspection: ResolvedIntrospection | undefined;
  if (options.introspection !== undefined) {
    const i = options.introspection;
    const issuer = i.issuer ?? servers[0]!.issuer;
    if (!servers.some((s) => s.issuer === issuer)) {
      bad('introspection.issuer', 'must be one of authorizationServers');
    }
    if (i.endpoint !== undefined) secureUrl(i.endpoint, 'introspection.endpoint');
    if (typeof i.clientId !== 'string' || i.clientId === '') bad('introspection.clientId', 'is required');
    if (typeof i.clientSecret !== 'string' || i.clientSecret === '')
      bad('introspection.clientSecret', 'is required');
    // RFC 6749 §2.3.1: form-encode both parts before Basic.
    const basic = Buffer.from(
      `${encodeURIComponent(i.clientId)}:${encodeURIComponent(i.clientSecret)}`,
    ).toString('base64');
    const limit = i.clientLimit ?? { calls: 60, per: '1m' };
    let clientLimit: ResolvedIntrospection['clientLimit'];
    if (limit !== false) {
      if (typeof limit !== 'object' || limit === null)
        bad('introspection.clientLimit', 'must be { calls, per } or false');
      const calls = count(limit.calls, 'introspection.clientLimit.calls');
      const perMs = toMs(limit.per, 'oauth: introspection.clientLimit.per');
      if (calls === 0 || perMs <= 0)
        bad('introspection.clientLimit', 'must allow at least one call per window');
      clientLimit = { calls, perMs };
    }
    introspection = {
      issuer,
      endpoint: i.endpoint,
      authorization: `Basic ${basic}`,
      cacheTtlMs: toMs(i.cacheTtl ?? '30s', 'oauth: introspection.cacheTtl'),
      cacheMax: count(i.cacheMax ?? 10_000, 'introspection.cacheMax'),
      requireAudience: i.requireAudience ?? true,
      negativeCacheTtlMs: toMs(i.negativeCacheTtl ?? '10s', 'oauth: introspection.negativeCacheTtl'),
      clientLimit,
    };
  }

  const timeoutMs = toMs(options.timeout ?? '5s', 'oauth: timeout');
  if (timeoutMs <= 0) bad('timeout', 'must be more than 0');
  const clock = options.clock ?? Date.now;
  if (typeof clock !== 'function') bad('clock', 'must be a function returning milliseconds');

  return {
    resource,
    servers,
    requiredScopes,
    toolScopes,
    scopesSupported,
    algorithms: new Set(algorithmList),
    clockToleranceSec: toMs(options.clockTolerance ?? '5s', 'oauth: clockTolerance') / 1000,
    requiredClaims,
    maxTokenAgeSec: maxTokenAgeMs / 1000,
    requireAtJwtType: options.requireAtJwtType ?? true,
    timeoutMs,
    tokenCacheMax: count(options.tokenCacheMax ?? 10_000, 'tokenCacheMax'),
    metadataTtlMs: toMs(options.metadataTtl ?? '1h', 'oauth: metadataTtl'),
    jwksCooldownMs: toMs(options.jwksCooldown ?? '30s', 'oauth: jwksCooldown'),
    jwksMaxStaleMs: toMs(options.jwksMaxStale ?? '10m', 'oauth: jwksMaxStale'),
    retryBackoffMs: toMs(options.retryBackoff ?? '30s', 'oauth: retryBackoff'),
    clock,
    introspection,
    resourceName: options.resourceName,
    resourceDocumentation: options.resourceDocumentation,
  };
}
