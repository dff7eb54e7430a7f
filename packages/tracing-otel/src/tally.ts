import type { Attributes, Meter, MetricOptions } from '@opentelemetry/api';

/** Distinct attribute sets one tally keeps; past it they count together, every value read as `_OTHER`. */
const MAX_TALLIES = 1000;

/**
 * A monotonic counter summed here and read by the SDK when it collects (an observable counter): counting costs a
 * map lookup on the hot path instead of the SDK hashing the attributes on every `add`. For small sets of
 * attributes, such as rate-limit decisions by policy and outcome.
 */
export class Tally {
  readonly #counts = new Map<string, { readonly attributes: Attributes; count: number }>();

  constructor(meter: Meter, name: string, options: MetricOptions) {
    meter.createObservableCounter(name, options).addCallback((result) => {
      for (const { count, attributes } of this.#counts.values()) result.observe(count, attributes);
    });
  }

  /** Adds one under `key`, which must name `attributes` exactly (they are read only the first time). */
  add(key: string, attributes: () => Attributes): void {
    const entry = this.#counts.get(key);
    if (entry) {
      entry.count++;
      return;
    }
    if (this.#counts.size < MAX_TALLIES) {
      this.#counts.set(key, { attributes: attributes(), count: 1 });
      return;
    }
    const other = this.#counts.get('\u0000other');
    if (other) other.count++;
    else {
      const masked = Object.fromEntries(Object.keys(attributes()).map((name) => [name, '_OTHER']));
      this.#counts.set('\u0000other', { attributes: masked, count: 1 });
    }
  }
}
