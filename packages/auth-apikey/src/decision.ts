import type { AuthInfo } from '@mcp-middleware/core';
import { API_KEY_PREFIX, type ParsedApiKey, secretMatches } from './key-format.js';
import { type ApiKeyRecord, timeOf } from './key-store.js';

/** Why a request was refused, precisely: what `onFailure` receives. */
export type ApiKeyFailureReason =
  | 'missing'
  | 'malformed'
  | 'unknown_key'
  | 'invalid_secret'
  | 'expired'
  | 'revoked';

/**
 * Why a request was refused, as the client is told (`error.data.reason` of the 401). An unknown id and a wrong
 * secret both read `invalid_key`: telling them apart would let anyone probe which key ids exist. `expired` and
 * `revoked` are only reported after the secret matched, so they tell nothing to someone without the key, and
 * tell its holder what to fix.
 */
export type ApiKeyClientReason = 'missing' | 'malformed' | 'invalid_key' | 'expired' | 'revoked';

/** Where keys are read from. */
export interface KeySources {
  /** Lowercase header name, e.g. `x-api-key`. */
  readonly header: string;
  /** Whether `Authorization: Bearer <key>` is accepted too. */
  readonly bearer: boolean;
}

export type ExtractResult =
  | { ok: true; key: string }
  | { ok: false; reason: 'missing' | 'malformed'; message: string };

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Finds the key a request carries. Two different keys at once are refused rather than guessed between. Never
 * puts the presented value in its message.
 */
export function extractApiKey(headers: Headers, sources: KeySources): ExtractResult {
  const fromHeader = headers.get(sources.header) ?? undefined;
  let fromBearer: string | undefined;
  if (sources.bearer) {
    const authorization = headers.get('authorization');
    if (authorization !== null) {
      const match = BEARER.exec(authorization);
      if (match) fromBearer = match[1];
      else if (fromHeader === undefined) {
        return {
          ok: false,
          reason: 'malformed',
          message: 'Unauthorized: the Authorization header must read "Bearer <api key>"',
        };
      }
    }
  }
  if (fromHeader !== undefined && fromBearer !== undefined && fromHeader !== fromBearer) {
    return {
      ok: false,
      reason: 'malformed',
      message: `Unauthorized: two different API keys were sent (${sources.header} and Authorization)`,
    };
  }
  const key = fromHeader ?? fromBearer;
  if (key === undefined || key === '') {
    return {
      ok: false,
      reason: 'missing',
      message: sources.bearer
        ? `Unauthorized: an API key is required in the ${sources.header} header or as Authorization: Bearer`
        : `Unauthorized: an API key is required in the ${sources.header} header`,
    };
  }
  return { ok: true, key };
}

/** The client-facing message for a malformed key. */
export const MALFORMED_KEY_MESSAGE = `Unauthorized: the API key is malformed (expected ${API_KEY_PREFIX}_<id>_<secret>)`;

export type KeyDecision =
  | { ok: true; record: ApiKeyRecord; expiresAt: number | undefined }
  | { ok: false; reason: 'unknown_key' | 'invalid_secret' | 'expired' | 'revoked' };

/**
 * Decides whether a parsed key is good against the record the store returned for its id. Pure: the time comes
 * in. The secret is checked first, in constant time, so expiry and revocation are only reported to the key's
 * holder. A record time that cannot be read counts as already passed: fail closed.
 */
export function checkApiKey(key: ParsedApiKey, record: ApiKeyRecord | undefined, now: number): KeyDecision {
  const known = record !== undefined && record.id === key.id;
  // Hash and compare even for an unknown id, so both refusals cost the same.
  const matches = secretMatches(key.secret, known ? record.secretHash : undefined);
  if (!known) return { ok: false, reason: 'unknown_key' };
  if (!matches) return { ok: false, reason: 'invalid_secret' };
  const revokedAt = record.revokedAt === undefined ? undefined : timeOf(record.revokedAt);
  if (revokedAt !== undefined && !(revokedAt > now)) return { ok: false, reason: 'revoked' };
  const expiresAt = record.expiresAt === undefined ? undefined : timeOf(record.expiresAt);
  if (expiresAt !== undefined && !(expiresAt > now)) return { ok: false, reason: 'expired' };
  // A scheduled revocation ends the key's life as surely as its expiry.
  const end = Math.min(expiresAt ?? Number.POSITIVE_INFINITY, revokedAt ?? Number.POSITIVE_INFINITY);
  return { ok: true, record, expiresAt: Number.isFinite(end) ? end : undefined };
}

/** What the client is told for a precise reason. */
export function clientReasonOf(reason: ApiKeyFailureReason): ApiKeyClientReason {
  return reason === 'unknown_key' || reason === 'invalid_secret' ? 'invalid_key' : reason;
}

/** The client-facing message for a refusal after the key parsed: never names which part was wrong. */
export function refusalMessage(reason: Exclude<KeyDecision, { ok: true }>['reason']): string {
  switch (reason) {
    case 'expired':
      return 'Unauthorized: the API key has expired';
    case 'revoked':
      return 'Unauthorized: the API key has been revoked';
    default:
      return 'Unauthorized: the API key is not valid';
  }
}

/**
 * The SDK identity for an accepted key. `token` carries only the public part (`mcpk_<id>`), never the secret, so
 * code that logs `AuthInfo` cannot leak a key.
 */
export function authInfoFor(record: ApiKeyRecord, expiresAtMs: number | undefined): AuthInfo {
  const extra: Record<string, unknown> = { subject: record.owner, owner: record.owner, keyId: record.id };
  if (record.tenant !== undefined) extra['tenant'] = record.tenant;
  if (record.name !== undefined) extra['keyName'] = record.name;
  return {
    token: `${API_KEY_PREFIX}_${record.id}`,
    clientId: record.id,
    scopes: [...record.scopes],
    ...(expiresAtMs === undefined ? {} : { expiresAt: Math.floor(expiresAtMs / 1000) }),
    extra,
  };
}
