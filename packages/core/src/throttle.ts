import { type Duration, toMs } from './duration.js';

/**
 * Wraps a reporter (a log call, a metric) so that it runs at most once per `interval`: the first event of each
 * interval goes through, with how many were held back since the last one that did; the rest are only counted.
 * For hooks that fire per request while something is wrong (a store down, a flood of bad keys): one line per
 * interval instead of one per request, and the count still says how bad it was. Errors the reporter throws are
 * swallowed, so a failing log never fails a request.
 *
 * ```ts
 * onStoreError: throttled('10s', (error, event, suppressed) => log.warn({ err: error, ...event, suppressed }, 'store failure')),
 * ```
 */
export function throttled<A extends unknown[]>(
  interval: Duration,
  report: (...args: [...A, suppressed: number]) => void,
): (...args: A) => void {
  const intervalMs = toMs(interval, 'throttled: interval');
  if (typeof report !== 'function') throw new TypeError('throttled: report must be a function');
  let last = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (...args: A) => {
    const now = performance.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    last = now;
    const held = suppressed;
    suppressed = 0;
    try {
      report(...args, held);
    } catch {
      // A failing reporter must not fail what it reports on.
    }
  };
}
