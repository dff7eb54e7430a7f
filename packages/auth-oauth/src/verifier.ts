import type { AuthInfo } from '@mcp-middleware/core';
import { ExpiringCache } from '@mcp-middleware/core';
import {
  type CryptoKey,
  compactVerify,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type KeyObject,
} from 'jose';
import {
  type ClaimsPolicy,
  checkAccessTokenClaims,
  checkIntrospection,
  checkJwtHeader,
  type TokenDecision,
} from './claims.js';
import { type AuthorizationServerMetadata, discoverMetadata } from './discovery.js';
import { AuthorizationServerUnavailable, fetchJson } from './network.js';
import type { ResolvedOptions } from './options.js';

/** The verifier's verdict: a token is good, bad (401), or cannot be judged now (503). */
export type VerifyOutcome =
  | { ok: true; authInfo: AuthInfo }
  | { ok: false; error: 'invalid_token'; description: string }
  | { ok: false; error: 'unavailable'; description: string };

type KeyResolver = (
  header: JWSHeaderParameters,
  token: FlattenedJWSInput,
) => Promise<CryptoKey | KeyObject | Uint8Array>;

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
  readonly #tokens: ExpiringCache<AuthInfo>;
  readonly #introspected: ExpiringCache<AuthInfo>;
  readonly #metadata = new Map<
    string,
    { promise: Promise<AuthorizationServerMetadata>; expiresAt: number }
  >();
  readonly #jwks = new Map<string, KeyResolver>();
  readonly #closing = new AbortController();

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.#policy = {
      issuers: new Set(options.servers.map((s) => s.issuer)),
      resource: options.resource,
      clockTolerance: options.clockToleranceSec,
      requireAtJwtType: options.requireAtJwtType,
    };
    this.#tokens = new ExpiringCache(options.tokenCacheMax);
    this.#introspected = new ExpiringCache(options.introspection?.cacheMax ?? 0);
  }

  async verify(token: string): Promise<VerifyOutcome> {
    if (this.#closing.signal.aborted) return unavailable;
    if (token.length > MAX_TOKEN_LENGTH) return invalid('The token is too long');
    const now = Date.now();
    const cached = this.#tokens.get(token, now) ?? this.#introspected.get(token, now);
    if (cached) return { ok: true, authInfo: { ...cached, scopes: [...cached.scopes] } };
    try {
      const segments = token.split('.');
      if (segments.length === 3) return await this.#verifyJwt(token, segments, now);
      if (segments.length === 5) return invalid('Encrypted tokens are not accepted');
      if (this.#options.introspection) return await this.#introspect(token, now);
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
    const alg = header.alg!;
    let payload: Uint8Array;
    try {
      const key = alg.startsWith('HS') ? this.#options.hmacKey! : await this.#keysOf(issuer);
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

  /** The key resolver of an issuer's JWKS, found through its metadata unless configured. */
  async #keysOf(issuer: string): Promise<KeyResolver> {
    const existing = this.#jwks.get(issuer);
    if (existing) return existing;
    const server = this.#options.servers.find((s) => s.issuer === issuer)!;
    const jwksUri = server.jwksUri ?? (await this.#metadataOf(issuer)).jwks_uri;
    if (typeof jwksUri !== 'string')
      throw new AuthorizationServerUnavailable(`${issuer} publishes no jwks_uri`);
    const remote = createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: Math.ceil(this.#options.timeoutMs),
      cooldownDuration: this.#options.jwksCooldownMs,
      cacheMaxAge: this.#options.metadataTtlMs,
    });
    const resolver: KeyResolver = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (error) {
        // A key that is not there is the token's fault; anything else (network, timeout, bad JSON) is the server's.
        if (
          error instanceof errors.JWKSNoMatchingKey ||
          error instanceof errors.JWKSMultipleMatchingKeys ||
          error instanceof errors.JOSENotSupported
        ) {
          throw error;
        }
        throw new AuthorizationServerUnavailable(`JWKS of ${issuer} could not be read`, { cause: error });
      }
    };
    this.#jwks.set(issuer, resolver);
    return resolver;
  }

  /** Metadata per issuer, fetched once per `metadataTtl`; a failed fetch is forgotten so the next request retries. */
  #metadataOf(issuer: string): Promise<AuthorizationServerMetadata> {
    const now = Date.now();
    const entry = this.#metadata.get(issuer);
    if (entry && now < entry.expiresAt) return entry.promise;
    const promise = discoverMetadata(issuer, this.#options.timeoutMs, this.#closing.signal);
    const fresh = { promise, expiresAt: now + this.#options.metadataTtlMs };
    this.#metadata.set(issuer, fresh);
    promise.catch(() => {
      if (this.#metadata.get(issuer) === fresh) this.#metadata.delete(issuer);
    });
    return promise;
  }

  async #introspect(token: string, now: number): Promise<VerifyOutcome> {
    const config = this.#options.introspection!;
    const endpoint = config.endpoint ?? (await this.#metadataOf(config.issuer)).introspection_endpoint;
    if (typeof endpoint !== 'string') {
      throw new AuthorizationServerUnavailable(`${config.issuer} publishes no introspection_endpoint`);
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
    if (!decision.ok) return invalid(decision.description);
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
    this.#metadata.clear();
    this.#jwks.clear();
  }
}
