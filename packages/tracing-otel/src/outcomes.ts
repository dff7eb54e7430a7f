import { ERROR_CODES, INSUFFICIENT_SCOPE_CODE } from '@mcp-middleware/core';

/**
 * What other middleware decided, read from what they put on the wire (status codes, `RateLimit` and
 * `WWW-Authenticate` headers, JSON-RPC error codes), so no package needs to import this one. Pure.
 */

/** One policy's part of a `RateLimit` header (draft-ietf-httpapi-ratelimit-headers): `"name";r=2;t=10`. */
export interface RateLimitItem {
  readonly policy: string;
  readonly remaining: number | undefined;
}

const MAX_ITEMS = 16;
const ITEM = /^\s*"((?:[^"\\]|\\.){1,64})"((?:;[a-z]+=[^;,]*)*)\s*$/;

/** The policies named in a `RateLimit` header value; malformed items are skipped, at most 16 are read. */
export function parseRateLimit(value: string | null | undefined): RateLimitItem[] {
  if (!value || value.length > 4096) return [];
  const items: RateLimitItem[] = [];
  for (const part of value.split(',', MAX_ITEMS)) {
    const match = ITEM.exec(part);
    if (!match) continue;
    const remaining = /;r=(\d{1,15})/.exec(match[2] ?? '');
    items.push({
      policy: match[1]!.replace(/\\(.)/g, '$1'),
      remaining: remaining ? Number(remaining[1]) : undefined,
    });
  }
  return items;
}

const PARAMS = /^(?:;[a-z]+=[^;,]*)*\s*$/;

/**
 * The policy names of a `RateLimit` header: what every admitted request needs. The usual header, one policy with
 * a plain name, is read with one small match; anything else goes through `parseRateLimit`, so both agree.
 */
export function policyNames(value: string): string[] {
  const close = value.indexOf('"', 1);
  if (
    value.charCodeAt(0) === 34 &&
    close > 1 &&
    close <= 65 &&
    !value.includes(',') &&
    !value.includes('\\') &&
    PARAMS.test(value.slice(close + 1))
  ) {
    return [value.slice(1, close)];
  }
  return parseRateLimit(value).map((item) => item.policy);
}

const REASON = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Why a request was refused by auth, or undefined if it was not: the `error` of its `WWW-Authenticate` challenge
 * (OAuth, RFC 6750), else the `reason` in its JSON-RPC error data (API keys), else whether credentials were missing.
 */
export function authRefusalReason(
  status: number,
  challenge: string | null | undefined,
  bodyReason?: unknown,
): string | undefined {
  if (status !== 401 && status !== 403) return undefined;
  const error = challenge ? /\berror="([A-Za-z0-9_.-]{1,64})"/.exec(challenge)?.[1] : undefined;
  if (error) return error;
  if (typeof bodyReason === 'string' && REASON.test(bodyReason)) return bodyReason;
  // RFC 6750 §3.1: a request without credentials gets a challenge with no error code.
  return status === 401 ? 'missing_credentials' : 'forbidden';
}

export type RpcRefusal =
  | { readonly kind: 'rate_limited'; readonly policy: string | undefined }
  | { readonly kind: 'auth'; readonly reason: string };

/** A refusal by a rate limit or a scope check at the RPC layer, from the JSON-RPC error it answered. */
export function rpcRefusal(code: number, data: unknown): RpcRefusal | undefined {
  if (code === ERROR_CODES.rate_limited.rpc) {
    const policy = (data as { policy?: unknown } | undefined)?.policy;
    return { kind: 'rate_limited', policy: typeof policy === 'string' ? policy.slice(0, 64) : undefined };
  }
  // Core answers a call the caller's scopes do not allow with -32003 (`INSUFFICIENT_SCOPE_CODE`).
  if (code === INSUFFICIENT_SCOPE_CODE) return { kind: 'auth', reason: 'insufficient_scope' };
  if (code === ERROR_CODES.unauthorized.rpc) return { kind: 'auth', reason: 'unauthorized' };
  return undefined;
}
