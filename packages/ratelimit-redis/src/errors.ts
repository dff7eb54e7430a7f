import { type ErrorCodeName, MiddlewareError } from '@mcp-middleware/core';

/** Why a store could not decide: it took longer than its timeout, it is not connected, or the command failed. */
export type StoreFailureReason = 'timeout' | 'not-connected' | 'command' | 'closed';

/**
 * A rate-limit store could not decide. Code `unavailable` (HTTP 503, JSON-RPC -32002) when it reaches a client
 * under `onStoreFailure: 'closed'`; the cause is kept for logs and never sent.
 */
export class RateLimitStoreError extends MiddlewareError {
  static override readonly code: ErrorCodeName = 'unavailable';
  readonly reason: StoreFailureReason;

  constructor(reason: StoreFailureReason, message: string, cause?: unknown) {
    super('unavailable', message, cause === undefined ? {} : { cause });
    this.reason = reason;
  }
}
