import { type AuthInfo, ExpiringCache, httpUrlOption, sha256 } from '@mcp-middleware/core';
import {
  type CryptoKey,
  compactVerify,
  decodeProtectedHeader,
  errors,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
} from 'jose';
import {
  type ClaimsPolicy,
  checkAccessTokenClaims,
  checkIntrospection,
  checkJwtHeader,
  type TokenDecision,
} from './claims.js';
import { KeySets } from './key-sets.js';
import { AuthorizationServerUnavailable, fetchJson } from './network.js';
import type { ResolvedAuthorizationServer, ResolvedOptions } from './options.js';

/** The verifier's verdict: a token is good, bad (401), or cannot be judged now (503). */
export type VerifyOutcome =
  | { ok: true; authInfo: AuthInfo }
  | { ok: false; error: 'invalid_token'; description: string }
  | { ok: false; error: 'unavailable'; description: string }
  | { ok: false; error: 'rate_limited'; description: string; retryAfter: number };

type KeyResolver = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

/** Where a token came from, for the per-client introspection limit. */
export interface VerifyContext {
  /** The client's address; without one, the introspection calls the token causes are not limited. */
  readonly clientAddress?: string | undefined;
}

/** Most client addresses whose introspection calls are counted at once. */
const MAX_COUNTED_CLIENTS = 10_000;

/** Longest token looked at; anything longer is refused before parsing. */
const MAX_TOKEN_LENGTH = 8192;

const invalid = (description: string): VerifyOutcome => ({ ok: false, error: 'invalid_token', description });
const unavailable: VerifyOutcome = {
  ok: false,
  error: 'unavailable',
  description: 'The authorization server could not be reached',
};

function describeJoseError(error: unknown): string {
  if (error instanceof errors.JWKSNoMatchingKey) return 'The token is signed with an unknown key';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The token signature is invalid';
  if (error instanceof errors.JOSEAlgNotAllowed)
    return 'The token is signed with an algorithm that is not accepted';
  return 'The token signature could not be verified';
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const decodeJsonSegment = (segment: string) =>
  parseJsonObject(Buffer.from(segment, 'base64url').toString('utf8'));

/**
 * Verifies access tokens: JWTs (RFC 9068) against the issuer's JWKS, opaque tokens by introspection (RFC 7662).
 * Holds every cache and network client of one `oauth()` instance; `close()` aborts pending calls and forgets all.
 */
export class TokenVerifier {
  readonly #options: ResolvedOptions;
  readonly #policy: ClaimsPolicy;
  readonly #servers: ReadonlyMap<string, ResolvedAuthorizationServer>;
  readonly #tokens: ExpiringCache<AuthInfo>;
  readonly #introspected: ExpiringCache<AuthInfo>;
  /** Refusals by introspection, keyed by the token's hash: random tokens cost 43 bytes each, not 8 KiB. */
  readonly #refused: ExpiringCache<string>;
  readonly #introspectionCalls: ExpiringCache<{ count: number; resetAt: number }>;
  readonly #closing = new AbortController();
  readonly #keySets: KeySets;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.#policy = {
      issuers: new Set(options.servers.map((s) => s.issuer)),
      resource: options.resource,
      clockTolerance: options.clockToleranceSec,
      requireAtJwtType: options.requireAtJwtType,
      requiredClaims: options.requiredClaims,
      maxTokenAge: options.maxTokenAgeSec,
    };
    this.#servers = new Map(options.servers.map((s) => [s.issuer, s]));
    this.#tokens = new ExpiringCache(options.tokenCacheMax);
    this.#introspected = new ExpiringCache(options.introspection?.cacheMax ?? 0);
    this.#refused = new ExpiringCache(options.introspection?.cacheMax ?? 0);
    this.#introspectionCalls = new ExpiringCache(
      options.introspection?.clientLimit ? MAX_COUNTED_CLIENTS : 0,
    );
    this.#keySets = new KeySets(options, this.#closing.signal);
  }

  async verify(token: string, context: VerifyContext = {}): Promise<VerifyOutcome> {
    if (this.#closing.signal.aborted) return unavailable;
    if (token.length > MAX_TOKEN_LENGTH) return invalid('The token is too long');
    const now = this.#options.clock();
    const cached = this.#tokens.get(token, now) ?? this.#introspected.get(token, now);
    if (cached) return { ok: true, authInfo: { ...cached, scopes: [...cached.scopes] } };
    try {
      const segments = token.split('.');
      if (segments.length === 3) return await this.#verifyJwt(token, segments, now);
      if (segments.length === 5) return invalid('Encrypted tokens are not accepted');
      if (this.#options.introspection) return await this.#introspect(token, now, context);
      return invalid('The token is not a JWT');
    } catch (error) {
      if (error instanceof AuthorizationServerUnavailable) return unavailable;
      throw error;
    }
  }

  async #verifyJwt(token: string, segments: string[], now: number): Promise<VerifyOutcome> {
    let header: JWSHeaderParameters;
    try {
      header = decodeProtectedHeader(token) as JWSHeaderParameters;
    } catch {
      return invalid('The token is malformed');
    }
    const headerCheck = checkJwtHeader(header, this.#options.algorithms, this.#options.requireAtJwtType);
    if (!headerCheck.ok) return invalid(headerCheck.description);
    // The unverified issuer only picks which keys to try; it is checked again once the signature holds.
    const unverified = decodeJsonSegment(segments[1]!);
    if (!unverified) return invalid('The token is malformed');
    const issuer = unverified['iss'];
    if (typeof issuer !== 'string' || !this.#policy.issuers.has(issuer)) {
      return invalid('The token is from an untrusted issuer');
    }
    let key: Uint8Array | KeyResolver;
    if (header.alg!.startsWith('HS')) {
      // Each issuer's own secret: one issuer's secret never verifies another's tokens.
      const secret = this.#servers.get(issuer)!.hmacKey;
      if (!secret) return invalid('The token is signed with an algorithm that is not accepted');
      key = secret;
    } else {
      key = (h, t) => this.#keySets.key(issuer, h, t);
    }
    let payload: Uint8Array;
    try {
      payload = await this.#verifySignature(token, key);
    } catch (error) {
      if (error instanceof AuthorizationServerUnavailable) throw error;
      return invalid(describeJoseError(error));
    }
    const claims = parseJsonObject(new TextDecoder().decode(payload));
    if (!claims) return invalid('The token is malformed');
    const decision = checkAccessTokenClaims(token, claims, this.#policy, Math.floor(now / 1000));
    if (!decision.ok) return invalid(decision.description);
    const exp = decision.authInfo.expiresAt!;
    this.#tokens.set(token, decision.authInfo, exp * 1000, now);
    return decision;
  }

  /** Verifies the signature; a JWKS with several keys fitting a token without `kid` gets each tried. */
  async #verifySignature(token: string, key: Uint8Array | KeyResolver): Promise<Uint8Array> {
    const options = { algorithms: [...this.#options.algorithms] };
    try {
      return (await compactVerify(token, key, options)).payload;
    } catch (error) {
      if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
      for await (const candidate of error as unknown as AsyncIterable<CryptoKey>) {
        try {
          return (await compactVerify(token, candidate, options)).payload;
        } catch {
          // try the next key
        }
      }
      throw new errors.JWSSignatureVerificationFailed();
    }
  }

  async #introspect(token: string, now: number, context: VerifyContext): Promise<VerifyOutcome> {
    const config = this.#options.introspection!;
    const hash = sha256(token, 'base64url');
    const refused = this.#refused.get(hash, now);
    if (refused !== undefined) return invalid(refused);
    if (config.clientLimit && context.clientAddress !== undefined) {
      const key = context.clientAddress;
      const window = this.#introspectionCalls.get(key, now) ?? {
        count: 0,
        resetAt: now + config.clientLimit.perMs,
      };
      if (window.count >= config.clientLimit.calls) {
        return {
          ok: false,
          error: 'rate_limited',
          description: 'Too many unknown tokens from this client',
          retryAfter: Math.max(1, Math.ceil((window.resetAt - now) / 1000)),
        };
      }
      window.count++;
      this.#introspectionCalls.set(key, window, window.resetAt, now);
    }
    const endpoint = config.endpoint ?? (await this.#keySets.metadata(config.issuer)).introspection_endpoint;
    if (typeof endpoint !== 'string') {
      throw new AuthorizationServerUnavailable(`${config.issuer} publishes no introspection_endpoint`);
    }
    try {
      httpUrlOption(endpoint, 'introspection_endpoint');
    } catch (cause) {
      // Our client secret must not travel in clear.
      throw new AuthorizationServerUnavailable(
        `${config.issuer} publishes an insecure introspection_endpoint`,
        {
          cause,
        },
      );
    }
    const { status, body } = await fetchJson(
      endpoint,
      {
        method: 'POST',
        headers: {
          authorization: config.authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      },
      this.#options.timeoutMs,
      this.#closing.signal,
    );
    if (!body) throw new AuthorizationServerUnavailable(`introspection answered ${status}`);
    const decision: TokenDecision = checkIntrospection(
      token,
      body,
      {
        issuer: config.issuer,
        resource: this.#options.resource,
        clockTolerance: this.#options.clockToleranceSec,
        requireAudience: config.requireAudience,
      },
      Math.floor(now / 1000),
    );
    if (!decision.ok) {
      this.#refused.set(hash, decision.description, now + config.negativeCacheTtlMs, now);
      return invalid(decision.description);
    }
    const exp = decision.authInfo.expiresAt;
    const until = Math.min(
      now + config.cacheTtlMs,
      exp === undefined ? Number.POSITIVE_INFINITY : exp * 1000,
    );
    this.#introspected.set(token, decision.authInfo, until, now);
    return decision;
  }

  close(): void {
    this.#closing.abort();
    this.#tokens.clear();
    this.#introspected.clear();
    this.#refused.clear();
    this.#introspectionCalls.clear();
    this.#keySets.clear();
  }
}
