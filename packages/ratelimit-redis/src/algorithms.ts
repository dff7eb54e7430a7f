import type { RateLimitDecision, RateLimitPolicy } from '@mcp-middleware/core';

/**
 * A policy checked once and reduced to the numbers the algorithms need. Stores cache it per policy object, so
 * the hot path does no validation and no arithmetic that could be done once.
 */
export interface CompiledPolicy {
  readonly algorithm: 'gcra' | 'fixed-window';
  readonly limit: number;
  readonly windowMs: number;
  /**
   * GCRA: whole microseconds one unit takes to come back (the emission interval), rounded to the nearest and at
   * least 1: whole numbers keep the stored state an integer, which Redis stores and formats cheaply.
   */
  readonly intervalUs: number;
  /** GCRA: how far ahead of now the theoretical arrival time may run (interval × burst), in microseconds. */
  readonly toleranceUs: number;
  /** GCRA: the Redis script's arguments for a cost of 1 (increment, tolerance), formatted once. */
  readonly scriptArgs: readonly [string, string];
  /** The largest cost a single request may have: the burst (GCRA) or the limit (fixed window). */
  readonly capacity: number;
}

/**
 * Clocks count from 2025-01-01T00:00:00Z rather than 1970 (GCRA in microseconds, fixed windows in milliseconds):
 * smaller numbers stay exact in a double for centuries. A whole number of days after 1970, so daily and hourly
 * fixed windows still start at midnight and on the hour (UTC).
 */
export const EPOCH_MS = 1_735_689_600_000;

function isWhole(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min;
}

/** Validates a policy and computes its constants. Throws a `TypeError` naming the field. */
export function compilePolicy(policy: RateLimitPolicy): CompiledPolicy {
  if (typeof policy !== 'object' || policy === null) throw new TypeError('policy must be an object');
  const { limit, windowMs } = policy;
  const algorithm = policy.algorithm ?? 'gcra';
  if (!isWhole(limit, 1)) throw new TypeError(`policy.limit must be a whole number >= 1, got ${limit}`);
  if (typeof windowMs !== 'number' || !Number.isFinite(windowMs) || windowMs < 1) {
    throw new TypeError(`policy.windowMs must be a number of milliseconds >= 1, got ${windowMs}`);
  }
  if (algorithm !== 'gcra' && algorithm !== 'fixed-window') {
    throw new TypeError(`policy.algorithm must be 'gcra' or 'fixed-window', got ${String(algorithm)}`);
  }
  const burst = policy.burst ?? limit;
  if (!isWhole(burst, 1)) throw new TypeError(`policy.burst must be a whole number >= 1, got ${burst}`);
  if (algorithm === 'fixed-window' && policy.burst !== undefined) {
    throw new TypeError('policy.burst applies to GCRA only; fixed-window admits `limit` per window');
  }
  const intervalUs = Math.max(1, Math.round((windowMs * 1000) / limit));
  const toleranceUs = intervalUs * burst;
  return {
    algorithm,
    limit,
    windowMs,
    intervalUs,
    toleranceUs,
    scriptArgs: [String(intervalUs), String(toleranceUs)],
    capacity: algorithm === 'gcra' ? burst : limit,
  };
}

/** A cost must be a whole number of units a request could ever be admitted with. */
export function checkCost(cost: unknown, compiled: CompiledPolicy): number {
  if (!isWhole(cost, 1) || cost > compiled.capacity) {
    throw new TypeError(
      `cost must be a whole number from 1 to ${compiled.capacity} (the policy's ${
        compiled.algorithm === 'gcra' ? 'burst' : 'limit'
      }), got ${String(cost)}`,
    );
  }
  return cost;
}

export interface GcraResult {
  readonly decision: RateLimitDecision;
  /** The new theoretical arrival time to store (admitted), or undefined (denied: nothing changes). */
  readonly tat: number | undefined;
}

/**
 * GCRA: the stored state is one number, the theoretical arrival time (TAT, microseconds since `EPOCH_MS`). A
 * request of `cost` is admitted when the TAT it would push forward stays within the tolerance of now. All
 * integers, so the Redis script (this function in Lua) decides exactly as the memory store does.
 */
export function gcra(
  storedTat: number | undefined,
  now: number,
  p: CompiledPolicy,
  cost: number,
): GcraResult {
  const tat = storedTat === undefined || storedTat < now ? now : storedTat;
  const newTat = tat + p.intervalUs * cost;
  if (newTat - p.toleranceUs > now)
    return { tat: undefined, decision: gcraDecision(false, tat - now, p, cost) };
  return { tat: newTat, decision: gcraDecision(true, newTat - now, p, cost) };
}

/**
 * The decision, from how far the TAT runs ahead of now (µs): the new TAT when admitted, the unchanged one when
 * refused. The Redis script returns just this number (negated and less one when refused), so one integer crosses
 * the wire and the arithmetic happens here.
 */
export function gcraDecision(
  allowed: boolean,
  aheadUs: number,
  p: CompiledPolicy,
  cost: number,
): RateLimitDecision {
  return {
    allowed,
    limit: p.limit,
    remaining: Math.max(0, Math.floor((p.toleranceUs - aheadUs) / p.intervalUs)),
    resetMs: Math.ceil(aheadUs / 1000),
    retryAfterMs: allowed ? 0 : Math.ceil((aheadUs + p.intervalUs * cost - p.toleranceUs) / 1000),
  };
}

export interface FixedWindowResult {
  readonly decision: RateLimitDecision;
  /** The window's start and the new count to store (admitted), or undefined (denied). */
  readonly count: number | undefined;
  readonly windowStart: number;
  readonly windowEnd: number;
}

/** Fixed window: `limit` units per clock-aligned window. The Redis script is this function in Lua. */
export function fixedWindow(
  stored: { windowStart: number; count: number } | undefined,
  now: number,
  p: CompiledPolicy,
  cost: number,
): FixedWindowResult {
  const windowStart = Math.floor(now / p.windowMs) * p.windowMs;
  const windowEnd = windowStart + p.windowMs;
  const count = stored !== undefined && stored.windowStart === windowStart ? stored.count : 0;
  const untilEnd = Math.ceil(windowEnd - now);
  if (count + cost > p.limit) {
    return {
      count: undefined,
      windowStart,
      windowEnd,
      decision: {
        allowed: false,
        limit: p.limit,
        remaining: p.limit - count,
        resetMs: count > 0 ? untilEnd : 0,
        retryAfterMs: untilEnd,
      },
    };
  }
  return {
    count: count + cost,
    windowStart,
    windowEnd,
    decision: {
      allowed: true,
      limit: p.limit,
      remaining: p.limit - count - cost,
      resetMs: untilEnd,
      retryAfterMs: 0,
    },
  };
}

/**
 * Caches compiled policies per policy object. Callers pass the same object each time (the middleware compiles
 * its policies once), so this is a lookup; a new object per call still works, and the WeakMap lets it go.
 */
export class PolicyCache {
  readonly #cache = new WeakMap<RateLimitPolicy, CompiledPolicy>();

  get(policy: RateLimitPolicy): CompiledPolicy {
    let compiled = this.#cache.get(policy);
    if (compiled === undefined) {
      compiled = compilePolicy(policy);
      this.#cache.set(policy, compiled);
    }
    return compiled;
  }
}
