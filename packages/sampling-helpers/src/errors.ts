import { type ErrorCodeName, MiddlewareError, type MiddlewareErrorOptions } from '@mcp-middleware/core';

/** Why sampling failed. Switch on `err.reason`; `err.code` is core's wire code for it. */
export type SamplingFailure =
  /** Neither the client (no `sampling` capability) nor a fallback model can sample. */
  | 'unsupported'
  /** The client answered the request with an error (the user said no, say) and there is no fallback. */
  | 'declined'
  /** The model did not answer within the timeout. */
  | 'timeout'
  /** The model answered, but not with what was asked for (an off-label class, invalid JSON, no text). */
  | 'invalid_output'
  /** The tool call was cancelled, or the caller's signal aborted. */
  | 'aborted';

const BRAND = Symbol.for('@mcp-middleware/sampling-helpers.SamplingError');

const CODES: Record<SamplingFailure, ErrorCodeName> = {
  unsupported: 'unavailable',
  declined: 'unavailable',
  timeout: 'timeout',
  invalid_output: 'internal',
  aborted: 'unavailable',
};

/**
 * A sampling failure. Thrown inside a tool, the SDK turns it into an `isError` tool result with this message,
 * which is written for the person using the client.
 */
export class SamplingError extends MiddlewareError {
  readonly reason: SamplingFailure;

  constructor(reason: SamplingFailure, message: string, options: MiddlewareErrorOptions = {}) {
    super(CODES[reason], message, options);
    this.reason = reason;
  }

  /** True for a `SamplingError`, across duplicate bundled copies of this package (a brand, not `instanceof`). */
  static override is(value: unknown): value is SamplingError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

Object.defineProperty(SamplingError.prototype, BRAND, { value: true });
