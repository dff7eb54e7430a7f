import type { RateLimitDecision, RateLimitPolicy } from '@mcp-middleware/core';

/**
 * A policy checked once and reduced to the numbers the algorithms need. Stores cache it per policy object, so
 * the hot path does no validation and no arithmetic that could be done once.
 */
export interface CompiledPolicy {
  readonly algorithm: 'gcra' | 'fixed-window';
  readonly limit: number;
  readonly windowMs: number;
  /** GCRA: milliseconds one unit takes to come back (the emission interval). */
  readonly intervalMs: number;
  /** GCRA: how far ahead of now the theoretical arrival time may run (interval × burst). */
  readonly toleranceMs: number;
  /** The largest cost a single request may have: the burst (GCRA) or the limit (fixed window). */
  readonly capacity: number;
}

/**
 * Clocks count milliseconds from 2025-01-01T00:00:00Z rather than 1970: a smaller number keeps sub-microsecond
 * precision in a double, so tiny emission intervals (high limits) still move the TAT. A whole number of days
 * after 1970, so daily and hourly fixed windows still start at midnight and on the hour (UTC).
 */
export const EPOCH_MS = 1_735_689_600_000;

/** Floating-point slack, in ms or units: far below anything a client could notice. */
const EPSILON = 1e-6;

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
  const intervalMs = windowMs / limit;
  return {
    algorithm,
    limit,
    windowMs,
    intervalMs,
    toleranceMs: intervalMs * burst,
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
 * GCRA: the stored state is one number, the theoretical arrival time (TAT). A request of `cost` is admitted when
 * the TAT it would push forward stays within the tolerance of now. The Redis script is this function in Lua.
 */
export function gcra(
  storedTat: number | undefined,
  now: number,
  p: CompiledPolicy,
  cost: number,
): GcraResult {
  const tat = storedTat === undefined || storedTat < now ? now : storedTat;
  const newTat = tat + p.intervalMs * cost;
  const allowAt = newTat - p.toleranceMs;
  if (allowAt - now > EPSILON) {
    return {
      tat: undefined,
      decision: {
        allowed: false,
        limit: p.limit,
        remaining: Math.max(0, Math.floor((p.toleranceMs - (tat - now)) / p.intervalMs + EPSILON)),
        resetMs: Math.ceil(tat - now),
        retryAfterMs: Math.ceil(allowAt - now),
      },
    };
  }
  return {
    tat: newTat,
    decision: {
      allowed: true,
      limit: p.limit,
      remaining: Math.max(0, Math.floor((p.toleranceMs - (newTat - now)) / p.intervalMs + EPSILON)),
      resetMs: Math.ceil(newTat - now),
      retryAfterMs: 0,
    },
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
