/**
 * The contract between rate-limit middleware and where counts live. `@mcp-middleware/ratelimit-redis` ships a
 * Redis store and a memory store; write your own against this and run the shared contract tests.
 */
export interface RateLimitPolicy {
  /** Requests (or cost units) allowed per window. */
  readonly limit: number;
  /** Window length in milliseconds. */
  readonly windowMs: number;
  /**
   * `'gcra'` spreads the limit evenly with a burst of `burst` (smooth; the default), `'fixed-window'` counts
   * `limit` per clock-aligned window ("1000 per hour" quotas).
   */
  readonly algorithm?: 'gcra' | 'fixed-window';
  /** GCRA only: how many may arrive at once. @default limit */
  readonly burst?: number;
}

export interface RateLimitDecision {
  /** Whether this request is admitted. A denied request consumes nothing. */
  readonly allowed: boolean;
  readonly limit: number;
  /** What is left after this request. */
  readonly remaining: number;
  /** Milliseconds until the quota is fully restored. */
  readonly resetMs: number;
  /** Milliseconds to wait before a request of this cost could be admitted (0 when allowed). */
  readonly retryAfterMs: number;
}

export interface RateLimitStore {
  /** Checks and, when allowed, charges `cost` against `key` in one atomic step. */
  consume(key: string, policy: RateLimitPolicy, cost?: number): Promise<RateLimitDecision>;
  /** Forgets a key (tests, admin resets). */
  reset?(key: string): Promise<void>;
  close?(): Promise<void>;
}
