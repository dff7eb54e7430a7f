import type { RateLimitDecision } from '@mcp-middleware/core';

/** A structured-field string (RFC 8941): quoted, with `\` and `"` escaped. */
export function sfString(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/** One item of `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers): quota `q` per window `w` seconds. */
export function policyItem(name: string, limit: number, windowMs: number): string {
  return `${sfString(name)};q=${limit};w=${Math.max(1, Math.ceil(windowMs / 1000))}`;
}

/** One item of `RateLimit`: `r` units remaining, `t` seconds until the quota is fully restored. */
export function rateLimitItem(name: string, decision: RateLimitDecision): string {
  return quotedRateLimitItem(sfString(name), decision);
}

/** `rateLimitItem` for a name already quoted by `sfString` (once per policy, not per request). */
export function quotedRateLimitItem(quotedName: string, decision: RateLimitDecision): string {
  return `${quotedName};r=${decision.remaining};t=${Math.ceil(decision.resetMs / 1000)}`;
}

/** `Retry-After` in whole seconds, rounded up so a client that obeys it is not refused again. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}
