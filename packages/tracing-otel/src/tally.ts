import type { Attributes, Meter, MetricOptions } from '@opentelemetry/api';

/** One attribute set's running count, as `Tally.counter()` hands it out. */
export interface TallyCounter {
  count: number;
}

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
    this.counter(key, attributes).count++;
  }

  /**
   * The running count under `key`, made on first use: a caller that keeps it counts with `count++` and no lookup.
   * Past the limit of distinct sets, every new key shares one count with each attribute read as `_OTHER`.
   */
  counter(key: string, attributes: () => Attributes): TallyCounter {
    const entry = this.#counts.get(key);
    if (entry) return entry;
    if (this.#counts.size < MAX_TALLIES) {
      const made = { attributes: attributes(), count: 0 };
      this.#counts.set(key, made);
      return made;
    }
    let other = this.#counts.get('\u0000other');
    if (!other) {
      const masked = Object.fromEntries(Object.keys(attributes()).map((name) => [name, '_OTHER']));
      other = { attributes: masked, count: 0 };
      this.#counts.set('\u0000other', other);
    }
    return other;
  }
}
