import { type ErrorCodeName, MiddlewareError, type MiddlewareErrorOptions } from '@mcp-middleware/core';

/** The RFC 6750 error codes a resource server answers with. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export interface OAuthErrorOptions extends MiddlewareErrorOptions {
  /** The RFC 6750 `error` of the challenge, when there is one (none for a request without credentials). */
  bearerError?: BearerErrorCode;
}

/**
 * What `oauth()` refuses a request with: `unauthorized` (401), `bad_request` (400), `forbidden` (403, step-up) or
 * `unavailable` (503, the authorization server could not be reached). `headers` carries the `WWW-Authenticate`
 * challenge. Messages are fixed text: they never contain the token or anything read from it.
 */
export class OAuthError extends MiddlewareError {
  static override readonly code: ErrorCodeName = 'unauthorized';
  readonly bearerError: BearerErrorCode | undefined;

  constructor(code: ErrorCodeName, message: string, options: OAuthErrorOptions = {}) {
    super(code, message, options);
    this.bearerError = options.bearerError;
  }
}
