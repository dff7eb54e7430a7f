import type { AuthInfo } from '@mcp-middleware/core';

/** A pure verdict on a token whose signature (or introspection) already checked out. */
export type TokenDecision = { ok: true; authInfo: AuthInfo } | { ok: false; description: string };

export interface ClaimsPolicy {
  /** Issuers accepted, compared exactly. */
  readonly issuers: ReadonlySet<string>;
  /** This resource server's identifier: must be in `aud`. */
  readonly resource: string;
  /** Seconds of clock skew allowed on `exp`, `nbf` and `iat`. */
  readonly clockTolerance: number;
  /** Require `typ: at+jwt` (RFC 9068); when false, `JWT` or no `typ` is accepted too. */
  readonly requireAtJwtType: boolean;
  /**
   * Claims that must be present besides `iss`, `aud` and `exp` (RFC 9068 §2.2: `iat`, `sub`, `jti`, `client_id`).
   * Without `client_id` in the set, `azp` may stand in for it.
   */
  readonly requiredClaims: ReadonlySet<string>;
  /** Seconds a token may live: `exp` no further ahead, `iat` no older (plus the tolerance). */
  readonly maxTokenAge: number;
}

/** Header parameters that would let a token name its own key (RFC 8725 §3.10): never trusted. */
export const KEY_BEARING_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;

const fail = (description: string): TokenDecision => ({ ok: false, description });

/** `typ` per RFC 9068 §2.1: `at+jwt`, with the optional `application/` prefix, case-insensitive. */
function normalizedTyp(typ: unknown): string | undefined {
  if (typeof typ !== 'string') return undefined;
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

/**
 * Checks the protected header of a JWT before any key is looked up: the algorithm is on the allow list, no
 * key-bearing parameter is present, and `typ` says it is an access token.
 */
export function checkJwtHeader(
  header: Record<string, unknown>,
  algorithms: ReadonlySet<string>,
  requireAtJwtType: boolean,
): { ok: true } | { ok: false; description: string } {
  if (typeof header['alg'] !== 'string' || !algorithms.has(header['alg'])) {
    return { ok: false, description: 'The token is signed with an algorithm that is not accepted' };
  }
  for (const name of KEY_BEARING_HEADERS) {
    if (name in header) return { ok: false, description: 'The token header names its own key' };
  }
  if (header['kid'] !== undefined && typeof header['kid'] !== 'string') {
    return { ok: false, description: 'The token header has a malformed key id' };
  }
  const typ = normalizedTyp(header['typ']);
  const typOk = typ === 'at+jwt' || (!requireAtJwtType && (typ === undefined || typ === 'jwt'));
  if (!typOk) return { ok: false, description: 'The token is not an access token (typ)' };
  return { ok: true };
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function audiences(aud: unknown): string[] | undefined {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string')) return aud as string[];
  return undefined;
}

/** Scopes from `scope` (RFC 9068, space-separated) or `scp` (a list, as some servers send). */
function scopesOf(claims: Record<string, unknown>): string[] | undefined {
  const { scope, scp } = claims;
  if (scope !== undefined) {
    if (typeof scope !== 'string') return undefined;
    return scope.split(' ').filter((s) => s.length > 0);
  }
  if (scp !== undefined) {
    if (typeof scp === 'string') return scp.split(' ').filter((s) => s.length > 0);
    if (Array.isArray(scp) && scp.every((s) => typeof s === 'string')) return scp as string[];
    return undefined;
  }
  return [];
}

/** The time checks every token shares: `exp` (required unless told otherwise), `nbf`, `iat`. */
function checkTimes(claims: Record<string, unknown>, now: number, tolerance: number, expRequired: boolean) {
  const { exp, nbf, iat } = claims;
  if (exp === undefined) {
    if (expRequired) return 'The token has no expiry';
  } else if (!isNumericDate(exp)) {
    return 'The token has a malformed expiry';
  } else if (now >= exp + tolerance) {
    return 'The token has expired';
  }
  if (nbf !== undefined) {
    if (!isNumericDate(nbf)) return 'The token has a malformed not-before time';
    if (nbf > now + tolerance) return 'The token is not valid yet';
  }
  if (iat !== undefined) {
    if (!isNumericDate(iat)) return 'The token has a malformed issue time';
    if (iat > now + tolerance) return 'The token was issued in the future';
  }
  return undefined;
}

/** Builds the `AuthInfo` both token kinds share, once their claims are known good. */
function toAuthInfo(
  token: string,
  claims: Record<string, unknown>,
  clientId: string,
  scopes: string[],
  issuer: string,
  resource: string,
): AuthInfo {
  const authInfo: AuthInfo = { token, clientId, scopes, resource: new URL(resource), extra: {} };
  if (isNumericDate(claims['exp'])) authInfo.expiresAt = claims['exp'];
  authInfo.extra = {
    ...(typeof claims['sub'] === 'string' ? { subject: claims['sub'] } : {}),
    issuer,
    claims,
  };
  return authInfo;
}

const present = (value: unknown) => value !== undefined && value !== null && value !== '';

/**
 * Validates the claims of a JWT access token whose signature checked out (RFC 9068 §4, RFC 8725), in this order:
 * `iss` exact; `aud` contains this resource; `exp` present and not past, `nbf` and `iat` not in the future; the
 * token no older and its expiry no further ahead than `maxTokenAge`; the required claims (`iat`, `sub`, `jti`,
 * `client_id` by default) present and well-formed; no sender constraint this server cannot check; scopes
 * well-formed. Descriptions name the claim, never its value. `now` is in seconds.
 */
export function checkAccessTokenClaims(
  token: string,
  claims: Record<string, unknown>,
  policy: ClaimsPolicy,
  now: number,
): TokenDecision {
  const iss = claims['iss'];
  if (typeof iss !== 'string' || !policy.issuers.has(iss))
    return fail('The token is from an untrusted issuer');
  const aud = audiences(claims['aud']);
  if (!aud) return fail('The token has no audience');
  if (!aud.includes(policy.resource)) return fail('The token is not meant for this resource');
  const timeError = checkTimes(claims, now, policy.clockTolerance, true);
  if (timeError) return fail(timeError);
  const { exp, iat } = claims as { exp: number; iat?: number };
  if (exp - now > policy.maxTokenAge + policy.clockTolerance) {
    return fail('The token expires too far in the future (exp is beyond the maximum token age)');
  }
  if (iat !== undefined && now - iat > policy.maxTokenAge + policy.clockTolerance) {
    return fail('The token was issued too long ago (iat is beyond the maximum token age)');
  }
  for (const name of policy.requiredClaims) {
    if (name === 'client_id') continue; // below, with azp
    if (!present(claims[name])) return fail(`The token lacks the required claim ${name}`);
  }
  for (const name of ['sub', 'jti'] as const) {
    if (claims[name] !== undefined && typeof claims[name] !== 'string') {
      return fail(`The token has a malformed ${name}`);
    }
  }
  const clientIdRequired = policy.requiredClaims.has('client_id');
  if (clientIdRequired && !present(claims['client_id'])) {
    return fail('The token lacks the required claim client_id');
  }
  const clientId = present(claims['client_id']) ? claims['client_id'] : claims['azp'];
  if (typeof clientId !== 'string' || clientId === '') {
    return fail(
      clientIdRequired
        ? 'The token has a malformed client_id'
        : 'The token names no client (client_id or azp)',
    );
  }
  // A sender-constrained token (DPoP, mTLS) presented as a plain bearer token must not be accepted.
  if (claims['cnf'] !== undefined) return fail('The token is sender-constrained');
  const scopes = scopesOf(claims);
  if (!scopes) return fail('The token has malformed scopes');
  return { ok: true, authInfo: toAuthInfo(token, claims, clientId, scopes, iss, policy.resource) };
}

export interface IntrospectionPolicy {
  /** The issuer whose introspection endpoint answered. */
  readonly issuer: string;
  readonly resource: string;
  readonly clockTolerance: number;
  /** Require `aud` to contain the resource (RFC 8707); some servers leave `aud` out of introspection. */
  readonly requireAudience: boolean;
}

/** Validates an RFC 7662 introspection response for a token presented to this resource. `now` is in seconds. */
export function checkIntrospection(
  token: string,
  response: Record<string, unknown>,
  policy: IntrospectionPolicy,
  now: number,
): TokenDecision {
  if (response['active'] !== true) return fail('The token is not active');
  const iss = response['iss'];
  if (iss !== undefined && iss !== policy.issuer) return fail('The token is from an untrusted issuer');
  const tokenType = response['token_type'];
  if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer')) {
    return fail('The token is not a bearer token');
  }
  if (response['aud'] !== undefined || policy.requireAudience) {
    const aud = audiences(response['aud']);
    if (!aud) return fail('The token has no audience');
    if (!aud.includes(policy.resource)) return fail('The token is not meant for this resource');
  }
  const timeError = checkTimes(response, now, policy.clockTolerance, false);
  if (timeError) return fail(timeError);
  if (response['sub'] !== undefined && typeof response['sub'] !== 'string') {
    return fail('The token has a malformed subject');
  }
  const clientId = response['client_id'];
  if (typeof clientId !== 'string' || clientId === '') return fail('The token names no client');
  if (response['cnf'] !== undefined) return fail('The token is sender-constrained');
  const scopes = scopesOf(response);
  if (!scopes) return fail('The token has malformed scopes');
  return {
    ok: true,
    authInfo: toAuthInfo(token, response, clientId, scopes, policy.issuer, policy.resource),
  };
}
