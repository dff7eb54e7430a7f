import { EPOCH_MS } from './algorithms.js';

/** A sample is sent at most this often (ms of this process's monotonic clock). */
const SAMPLE_EVERY_MS = 1000;
/** A sample with no answer after this long is given up, so that the next one can be sent. */
const GIVE_UP_AFTER_MS = 1000;
/** The estimate is used while its error bound is at most this (µs); beyond it, scripts read Redis's clock. */
const MAX_ERROR_US = 1000;
/** How fast the error bound grows as a sample ages: 100 ppm (µs per ms), well above a disciplined clock's drift. */
const DRIFT_US_PER_MS = 0.1;

const TIME_LUA = "return redis.call('TIME')";
const EPOCH_S = EPOCH_MS / 1000;

/**
 * Redis's clock, estimated in this process, so that a GCRA decision does not call `TIME` in its script (it was
 * a third of the script's cost). Instances still decide on Redis's clock, not their own, and so agree with each
 * other whatever their own clocks say.
 *
 * Once a second, `TIME` is sent (with `EVAL`: every client the store accepts has it). Redis answered somewhere
 * within the round trip, so its answer placed at the middle is off by at most half the round trip; it is
 * carried forward on `performance.now()`, which wall-clock steps do not move, and its bound grows by 100 ppm of
 * its age. A new sample replaces the estimate only when its bound is smaller, so round trips slowed by a busy
 * event loop do not spoil an estimate taken when it was quiet. While the bound is over 1 ms (before the first
 * quick sample, or when none has come for a while), `now()` returns `undefined` and the script reads `TIME`.
 */
export class RedisClock {
  readonly #sample: (script: string) => Promise<unknown>;
  /** Redis's microseconds since `EPOCH_MS`, less `performance.now()` in microseconds. */
  #offsetUs = 0;
  /** The estimate's error bound when it was taken (µs), and when that was (`performance.now()`). */
  #errorUs = Number.POSITIVE_INFINITY;
  #sampledAt = 0;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #inFlight = false;

  constructor(sample: (script: string) => Promise<unknown>) {
    this.#sample = sample;
  }

  /** Microseconds since `EPOCH_MS` on Redis's clock (a whole number), or `undefined` to read Redis's own. */
  now(): number | undefined {
    const t = performance.now();
    if (t - this.#lastAttempt >= (this.#inFlight ? GIVE_UP_AFTER_MS : SAMPLE_EVERY_MS)) this.#take(t);
    return this.#usable(t) ? Math.round(t * 1000 + this.#offsetUs) : undefined;
  }

  /** Whether decisions now use the estimate (`'estimate'`) or read `TIME` in Redis (`'redis'`). */
  get source(): 'estimate' | 'redis' {
    return this.#usable(performance.now()) ? 'estimate' : 'redis';
  }

  #usable(t: number): boolean {
    return this.#errorAt(t) <= MAX_ERROR_US;
  }

  #errorAt(t: number): number {
    return this.#errorUs + (t - this.#sampledAt) * DRIFT_US_PER_MS;
  }

  #take(sent: number): void {
    this.#lastAttempt = sent;
    this.#inFlight = true;
    const settled = () => {
      if (this.#lastAttempt === sent) this.#inFlight = false;
    };
    this.#sample(TIME_LUA).then((reply) => {
      settled();
      const received = performance.now();
      const errorUs = (received - sent) * 500;
      if (!Array.isArray(reply) || reply.length !== 2 || errorUs >= this.#errorAt(received)) return;
      const redisUs = (Number(reply[0]) - EPOCH_S) * 1_000_000 + Number(reply[1]);
      if (!Number.isFinite(redisUs)) return;
      this.#offsetUs = redisUs - (sent + received) * 500;
      this.#errorUs = errorUs;
      this.#sampledAt = received;
    }, settled); // A failed sample changes nothing: Redis is failing, and decisions fail on their own.
  }
}
