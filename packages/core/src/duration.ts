const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration: milliseconds as a number, or a string such as `'250ms'`, `'30s'`, `'5m'`, `'1h'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

/**
 * Parses a `Duration` to milliseconds. Throws a `TypeError` naming the option for anything else, so bad
 * configuration fails at start, not at the first request.
 */
export function toMs(value: Duration, optionName = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
  } else if (typeof value === 'string') {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
    if (match) return Number(match[1]) * UNITS[match[2]!]!;
  }
  throw new TypeError(
    `${optionName} must be a non-negative number of milliseconds or a string like '30s', got ${JSON.stringify(value)}`,
  );
}
